// Timer delays past 2^31-1 ms (and Infinity) are 1 ms, as in node and browsers: each fires.
const fired = [];
const delays = [1e308, 2 ** 31, 2 ** 32 + 5, Infinity];
for (const d of delays) {
  setTimeout(() => {
    fired.push(String(d));
    if (fired.length === delays.length) print(fired.sort().join(' '));
  }, d);
}
