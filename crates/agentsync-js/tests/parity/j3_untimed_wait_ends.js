// J3: the only work left is an untimed waitAsync on a buffer no other agent has: nobody can
// notify it any more, so the program ends (status 0).
const i32 = new Int32Array(new SharedArrayBuffer(16));
Atomics.waitAsync(i32, 0, 0).value.then(() => print('never'));
setTimeout(() => print('the last timer ran'), 5);
print('queued');
