// handoff-worker.js: the consumer of handoff.js (run that file, not this one).
// It receives the shared array, blocks on the flag ia[0] until it is woken, reads the payload
// ia[1] and reports both to the main agent, then ends.

onmessage = (event) => {
  const ia = event.data;
  const woke = Atomics.wait(ia, 0, 0);
  const payload = Atomics.load(ia, 1);
  postMessage({ woke, payload });
  close();
};
