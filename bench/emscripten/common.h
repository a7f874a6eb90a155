// Shared by the benchmark programs: a monotonic clock and argument parsing.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static long arg(int argc, char **argv, int index, long fallback) {
  return argc > index ? atol(argv[index]) : fallback;
}
