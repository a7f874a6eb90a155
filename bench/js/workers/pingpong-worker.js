// pingpong-worker.js: a side of the ping-pong of worker_pingpong.js and main_worker_pingpong.js
// (run those, not this file). The message {shared, count, role} starts it.
//
// shared: [0] whose turn (PING = 0: the pinger's, PONG = 1: the ponger's), [1] ponger ready.
// role "pong": marks itself ready, then COUNT times waits for PONG and hands the turn back.
// role "ping": waits until the ponger is ready, then times COUNT round trips and posts
//              {ns}, the ns per round trip.
// Each side ends after its last turn.

const PING = 0;
const PONG = 1;

function pong(shared, count) {
  Atomics.store(shared, 1, 1);
  Atomics.notify(shared, 1);
  for (let i = 0; i < count; i++) {
    while (Atomics.load(shared, 0) !== PONG) Atomics.wait(shared, 0, PING);
    Atomics.store(shared, 0, PING);
    Atomics.notify(shared, 0, 1);
  }
  postMessage({ done: true });
}

function ping(shared, count) {
  while (Atomics.load(shared, 1) === 0) Atomics.wait(shared, 1, 0);
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    Atomics.store(shared, 0, PONG);
    Atomics.notify(shared, 0, 1);
    while (Atomics.load(shared, 0) !== PING) Atomics.wait(shared, 0, PONG);
  }
  postMessage({ ns: ((performance.now() - start) * 1e6) / count });
}

onmessage = (event) => {
  const { shared, count, role } = event.data;
  if (role === 'pong') pong(shared, count);
  else ping(shared, count);
  close();
};
