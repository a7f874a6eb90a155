// agentsync serve --run: loaded by the runner page before the program. It relays what the
// program prints and how it ends to `agentsync serve`, which prints it in the terminal and exits
// with the program's status (as emrun does for Emscripten's pages). Every report is a
// synchronous POST, so lines arrive in the order they were printed.
(function (config) {
  'use strict';
  const send = (kind, body) => {
    const request = new XMLHttpRequest();
    request.open('POST', '/__agentsync/' + kind, false);
    try { request.send(body); } catch (_) { /* the terminal side has gone: nothing to do */ }
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
  // What `agentsync js` offers its scripts beyond the web: the arguments, and the shell's
  // `readbuffer` (a .wat file arrives compiled, as there).
  self.agentsync = { args: config.args, isMain: true };
  self.readbuffer = (path) => {
    const request = new XMLHttpRequest();
    const url = new URL(path, document.currentScript ? document.currentScript.src : location.href);
    request.open('GET', '/__agentsync/readbuffer?url=' + encodeURIComponent(url.pathname), false);
    request.overrideMimeType('text/plain; charset=x-user-defined');
    request.send();
    if (request.status !== 200) throw new Error(`readbuffer: ${path}: ${request.responseText}`);
    const text = request.responseText;
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
    return bytes.buffer;
  };
  let ended = false;
  const exit = (status, message) => {
    if (ended) return;
    ended = true;
    send('exit', JSON.stringify({ status, message }));
  };
  // Emscripten's Module, as `agentsync js` hooks it: onExit(status) ends the run.
  let moduleObject;
  const hook = (object) => {
    if (object === null || (typeof object !== 'object' && typeof object !== 'function')) return;
    const theirs = object.onExit;
    if (typeof theirs === 'function' && theirs.agentsyncHook) return;
    const onExit = function (status) {
      try { if (typeof theirs === 'function') theirs.call(this, status); } finally { exit(status); }
    };
    onExit.agentsyncHook = true;
    object.onExit = onExit;
    if (object.arguments === undefined) object.arguments = config.args.slice();
  };
  Object.defineProperty(self, 'Module', {
    get() { return moduleObject; },
    set(value) { moduleObject = value; hook(value); },
    configurable: true,
  });
  self.addEventListener('error', (event) => {
    const error = event.error;
    if (error && error.name === 'ExitStatus' && Number.isInteger(error.status)) {
      exit(error.status);
      return;
    }
    const where = event.filename ? `${event.filename}:${event.lineno}:${event.colno}: ` : '';
    exit(1, `${where}${event.message}`);
  });
  self.addEventListener('unhandledrejection', (event) => {
    const reason = event.reason;
    if (reason && reason.name === 'ExitStatus' && Number.isInteger(reason.status)) {
      exit(reason.status);
      return;
    }
    exit(1, `Uncaught (in promise) ${reason && reason.stack ? reason.stack : String(reason)}`);
  });
  send('start', JSON.stringify({ crossOriginIsolated: self.crossOriginIsolated === true }));
})(AGENTSYNC_CONFIG);
