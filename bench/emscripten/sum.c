// A parallel sum over MIB MiB of bytes by THREADS threads (compute-bound: the glue must not
// matter); stderr: milliseconds for the sum.
#include <pthread.h>
#include <stdint.h>
#include "common.h"

static unsigned char *data;
static size_t size;
static int threads;
static uint64_t partial[64];

static void *work(void *arg) {
  long me = (long)arg;
  size_t from = size / threads * me;
  size_t to = me == threads - 1 ? size : size / threads * (me + 1);
  uint64_t sum = 0;
  for (int pass = 0; pass < 8; pass++) {
    for (size_t i = from; i < to; i++) sum += data[i] ^ (unsigned char)pass;
  }
  partial[me] = sum;
  return NULL;
}

int main(int argc, char **argv) {
  size = (size_t)arg(argc, argv, 1, 64) << 20;
  threads = (int)arg(argc, argv, 2, 4);
  if (threads < 1 || threads > 64) return 2;
  data = malloc(size);
  if (!data) return 3;
  for (size_t i = 0; i < size; i++) data[i] = (unsigned char)(i * 31 + 7);
  pthread_t t[64];
  double start = now_ns();
  for (long i = 0; i < threads; i++) pthread_create(&t[i], NULL, work, (void *)i);
  uint64_t sum = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(t[i], NULL);
    sum += partial[i];
  }
  double took = now_ns() - start;
  printf("sum = %llu\n", (unsigned long long)sum);
  fprintf(stderr, "ms for the parallel sum: %.3f\n", took / 1e6);
  return 0;
}
