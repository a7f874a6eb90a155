// agentsync serve --run: put before every worker script the page starts, so that what a
// worker prints reaches the terminal too (a synchronous POST a line, in order).
(function () {
  'use strict';
  const send = (kind, body) => {
    const request = new XMLHttpRequest();
    request.open('POST', '/__agentsync/' + kind, false);
    try { request.send(body); } catch (_) { /* the terminal side has gone */ }
  };
  const show = (args) => args.map((value) => {
    if (typeof value === 'string') return value;
    if (value && typeof value === 'object' && !(value instanceof Error)) {
      try { return JSON.stringify(value); } catch (_) { /* below */ }
    }
    return String(value);
  }).join(' ');
  for (const name of ['log', 'info', 'debug']) console[name] = (...args) => send('out', show(args));
  for (const name of ['error', 'warn']) console[name] = (...args) => send('err', show(args));
  self.print = (...args) => send('out', show(args));
})();
