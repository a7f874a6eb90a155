// A worker of js_stress.js: blocking Atomics.wait, Atomics.waitAsync with random timeouts and
// Atomics.notify on the shared words until STOP, then reports its counts once its own
// waitAsync promises have settled, and ends.

const WORDS = 4;
const STOP = WORDS;
const totals = { waits: 0, notifies: 0, woken: 0, oks: 0, notEqual: 0, timeouts: 0 };
let pending = 0;

function count(result) {
  if (result === 'ok') totals.oks += 1;
  else if (result === 'not-equal') totals.notEqual += 1;
  else if (result === 'timed-out') totals.timeouts += 1;
  else throw new Error(`unexpected wait result ${result}`);
}

onmessage = (event) => {
  const ia = event.data;
  onmessage = null;
  function busy() {
    for (let k = 0; k < 20; k++) {
      if (Atomics.load(ia, STOP) !== 0) {
        finish();
        return;
      }
      const word = Math.floor(Math.random() * WORDS);
      const expected = Math.random() < 0.05 ? 1 : 0;
      const timeout = Math.random() < 0.2 ? Infinity : Math.random() * 5;
      const r = Math.random();
      if (r < 0.35) {
        totals.waits += 1;
        count(Atomics.wait(ia, word, expected, timeout));
      } else if (r < 0.7) {
        totals.waits += 1;
        const result = Atomics.waitAsync(ia, word, expected, timeout);
        if (result.async) {
          pending += 1;
          result.value.then((value) => {
            pending -= 1;
            count(value);
          });
        } else {
          count(result.value);
        }
      } else {
        totals.notifies += 1;
        totals.woken += Atomics.notify(ia, word, Math.random() < 0.3 ? Infinity : 1);
      }
    }
    setTimeout(busy, 0);
  }
  function finish() {
    if (pending > 0) {
      setTimeout(finish, 1);
      return;
    }
    postMessage(totals);
    close();
  }
  busy();
};
