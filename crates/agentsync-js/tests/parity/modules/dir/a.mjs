print("a ran");
export const x = 1;
