// main returns at once: the run is the runtime's start-up (a pool of 4 pthread workers), main
// and its exit.
#include <stdio.h>

int main(void) {
  printf("main\n");
  return 0;
}
