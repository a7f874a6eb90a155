// Waits (on the main agent, without Atomics.wait) for `count` reports and returns them sorted.
function collectReports(count) {
  var reports = [];
  while (reports.length < count) {
    var report = $262.agent.getReport();
    if (report === null) $262.agent.sleep(5);
    else reports.push(report);
  }
  return reports.sort();
}
// Spins until element `index` of `view` is `value`.
function spinUntil(view, index, value) {
  while (Atomics.load(view, index) !== value) {}
}
