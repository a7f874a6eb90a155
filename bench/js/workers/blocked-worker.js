// blocked-worker.js: a worker of agents_blocked.js (run that, not this file). Given the shared
// words, it counts itself in [1], then blocks in Atomics.wait on [0] until released, and ends.
onmessage = (event) => {
  const shared = event.data;
  onmessage = null;
  Atomics.add(shared, 1, 1);
  Atomics.notify(shared, 1);
  Atomics.wait(shared, 0, 0);
};
