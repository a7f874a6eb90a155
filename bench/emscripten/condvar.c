// Two threads pass a turn back and forth ROUNDS times under a condition variable; stderr: ns
// per round trip.
#include <pthread.h>
#include "common.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int turn;
static long handoffs, rounds;

static void *player(void *arg) {
  int me = (int)(long)arg;
  for (long i = 0; i < rounds; i++) {
    pthread_mutex_lock(&lock);
    while (turn != me) pthread_cond_wait(&changed, &lock);
    turn = 1 - me;
    handoffs++;
    pthread_cond_signal(&changed);
    pthread_mutex_unlock(&lock);
  }
  return NULL;
}

int main(int argc, char **argv) {
  rounds = arg(argc, argv, 1, 20000);
  pthread_t a, b;
  double start = now_ns();
  pthread_create(&a, NULL, player, (void *)0L);
  pthread_create(&b, NULL, player, (void *)1L);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  double took = now_ns() - start;
  printf("handoffs = %ld\n", handoffs);
  fprintf(stderr, "ns per round trip: %.1f\n", took / rounds);
  return handoffs == 2 * rounds ? 0 : 1;
}
