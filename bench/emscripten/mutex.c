// THREADS threads each take a pthread mutex N times; stderr: ns per lock/unlock.
#include <pthread.h>
#include "common.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter, rounds;

static void *work(void *arg) {
  (void)arg;
  for (long i = 0; i < rounds; i++) {
    pthread_mutex_lock(&lock);
    counter++;
    pthread_mutex_unlock(&lock);
  }
  return NULL;
}

int main(int argc, char **argv) {
  int threads = (int)arg(argc, argv, 1, 4);
  rounds = arg(argc, argv, 2, 100000);
  pthread_t t[64];
  if (threads < 1 || threads > 64) return 2;
  double start = now_ns();
  for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, work, NULL);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  double took = now_ns() - start;
  printf("counter = %ld\n", counter);
  fprintf(stderr, "ns per lock/unlock: %.1f\n", took / (threads * rounds));
  return counter == threads * rounds ? 0 : 1;
}
