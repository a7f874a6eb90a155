// COUNT threads created and joined one after another; stderr: ns per create + join.
#include <pthread.h>
#include "common.h"

static long ran;

static void *work(void *arg) {
  (void)arg;
  __atomic_fetch_add(&ran, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

int main(int argc, char **argv) {
  long count = arg(argc, argv, 1, 200);
  double start = now_ns();
  for (long i = 0; i < count; i++) {
    pthread_t t;
    if (pthread_create(&t, NULL, work, NULL) != 0) return 1;
    pthread_join(t, NULL);
  }
  double took = now_ns() - start;
  printf("joined = %ld\n", ran);
  fprintf(stderr, "ns per spawn+join: %.1f\n", took / count);
  return ran == count ? 0 : 1;
}
