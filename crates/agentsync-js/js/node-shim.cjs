// node-shim.cjs: makes Node.js (>= 20) look like the `agentsync js` host, so the same classic
// scripts run under both. The JS-visible contract is the one of the agentsync JS host: web-style
// workers, an `agentsync` namespace, Atomics.wait forbidden on the main agent.
//
// Usage:  node --require /abs/path/to/node-shim.cjs SCRIPT.js [ARGS...] [--main-can-block]
//
// What it defines
//   everywhere     agentsync = { args, residentBytes(), gc(), load(path), isMain }, print,
//                  read(path) (a UTF-8 file as a string), readbuffer(path) (a file's bytes as an
//                  ArrayBuffer; Node has no WAT compiler, so a `.wat` file throws instead of being
//                  compiled as on the agentsync host), crossOriginIsolated, Worker (workers may
//                  create workers), Atomics.pause if missing. Paths are relative to the calling
//                  agent's script directory, as on the agentsync host.
//   main agent     Atomics.wait throws TypeError (unless --main-can-block is among the args).
//   worker agents  self, postMessage, onmessage (a global accessor: `onmessage = f` and
//                  `self.onmessage = f` both work), addEventListener / removeEventListener('message'),
//                  close().
//
// How workers run: every `new Worker(...)` starts a Node worker that loads this shim and then runs
// the target as a *classic script* (vm.runInThisContext), so its top-level declarations are global
// as on the web. Node hands the parent's execArgv (including --require) to workers; the shim does
// not rely on that and requires itself by absolute path anyway (requiring it twice is harmless).
//
// Liveness, as on the web: a worker with a message handler stays alive (the handler is a listener
// on Node's parentPort, which refs the port); without handlers and with nothing to do, Node ends
// it. A pending Atomics.waitAsync also keeps an agent alive (Node alone does not count it): the
// shim holds a keep-alive timer while one is pending. It does not track infinite waits on the main
// agent, so the benchmarks measure Node's own waitAsync there: when the main agent is otherwise
// idle and no worker lives, nobody could ever notify such a wait, so exiting changes no result.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const v8 = require('node:v8');
const threads = require('node:worker_threads');

const SPEC_KEY = '__agentsyncWorkerSpec';
const MAIN_CAN_BLOCK = '--main-can-block';

function install() {
  const isMain = threads.isMainThread;
  const spec = isMain ? null : (threads.workerData && threads.workerData[SPEC_KEY]) || null;
  if (!isMain && spec === null) return; // a Node worker not started by this shim: leave it alone

  let args;
  let baseDir;
  let mainCanBlock;
  if (isMain) {
    const raw = process.argv.slice(2);
    mainCanBlock = raw.includes(MAIN_CAN_BLOCK);
    args = raw.filter((a) => a !== MAIN_CAN_BLOCK);
    baseDir = process.argv[1] ? path.dirname(path.resolve(process.argv[1])) : process.cwd();
  } else {
    args = spec.args.slice();
    baseDir = spec.baseDir;
    mainCanBlock = spec.mainCanBlock;
  }
  const shared = { args, baseDir, mainCanBlock };

  define('agentsync', Object.freeze({
    args: Object.freeze(args.slice()),
    isMain,
    residentBytes: () => process.memoryUsage.rss(),
    gc: engineGc(),
    load: (relative) => runClassicScript(path.resolve(baseDir, String(relative))),
  }));
  define('print', console.log);
  installReadFunctions(baseDir);
  if (globalThis.crossOriginIsolated === undefined) define('crossOriginIsolated', true);
  if (typeof Atomics.pause !== 'function') installPause();
  installWaitAsyncKeepAlive(isMain);
  define('Worker', makeWorkerClass(shared));

  if (isMain) {
    if (!mainCanBlock) forbidMainWait();
  } else {
    installWorkerScope();
  }
}

function define(name, value) {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
}

// Runs a file as a classic script in this agent's global scope; returns its completion value.
function runClassicScript(file) {
  const source = fs.readFileSync(file, 'utf8');
  return vm.runInThisContext(source, { filename: file });
}

// The shell globals read(path) and readbuffer(path) of the agentsync host.
function installReadFunctions(baseDir) {
  define('read', function read(relative) {
    return fs.readFileSync(path.resolve(baseDir, String(relative)), 'utf8');
  });
  define('readbuffer', function readbuffer(relative) {
    const name = String(relative);
    if (name.endsWith('.wat')) {
      throw new TypeError(`readbuffer: ${name}: the node shim cannot compile WAT; load the binary .wasm`);
    }
    const bytes = fs.readFileSync(path.resolve(baseDir, name));
    // A fresh ArrayBuffer of exactly the file's bytes (a Buffer may view a larger pooled one).
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  });
}

// The engine GC of this agent. Without --expose-gc, V8 can still be asked for the gc function:
// set the flag at run time and read `gc` from a fresh context, which is created with it.
function engineGc() {
  let gc = typeof globalThis.gc === 'function' ? globalThis.gc : null;
  if (gc === null) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc');
  }
  return () => {
    gc();
  };
}

// Atomics.pause is newer than Node 20's V8. A no-op is a correct implementation (the hint only
// affects timing); the argument is validated as the proposal asks.
function installPause() {
  Object.defineProperty(Atomics, 'pause', {
    value: function pause(n) {
      if (n !== undefined && !Number.isInteger(n)) {
        throw new TypeError('Atomics.pause: argument must be undefined or an integral Number');
      }
    },
    writable: true,
    configurable: true,
    enumerable: false,
  });
}

function forbidMainWait() {
  Object.defineProperty(Atomics, 'wait', {
    value: function wait() {
      throw new TypeError('Atomics.wait cannot be called in this context');
    },
    writable: true,
    configurable: true,
    enumerable: false,
  });
}

// Node's event loop does not count a pending Atomics.waitAsync as work: an agent whose only work
// is such a wait ends (a worker) or exits (the main agent) before it settles. Hold a ref'd timer
// while tracked waits are pending.
function installWaitAsyncKeepAlive(isMain) {
  const nativeWaitAsync = Atomics.waitAsync;
  if (typeof nativeWaitAsync !== 'function') return;
  let pending = 0;
  let keepAlive = null;
  const release = () => {
    pending -= 1;
    if (pending === 0) {
      clearInterval(keepAlive);
      keepAlive = null;
    }
  };
  Object.defineProperty(Atomics, 'waitAsync', {
    value: function waitAsync(typedArray, index, value, timeout) {
      const result = nativeWaitAsync(typedArray, index, value, timeout);
      if (!result.async) return result;
      const t = timeout === undefined ? NaN : Number(timeout);
      if (isMain && (Number.isNaN(t) || t === Infinity)) return result; // see the header
      pending += 1;
      if (keepAlive === null) keepAlive = setInterval(() => {}, 1 << 30);
      result.value.then(release, release);
      return result;
    },
    writable: true,
    configurable: true,
    enumerable: false,
  });
}

// A tiny EventTarget-like list for 'message' / 'error' listeners.
class Listeners {
  constructor() {
    this.map = new Map();
  }
  add(type, fn) {
    if (typeof fn !== 'function' && !(fn && typeof fn.handleEvent === 'function')) return;
    const list = this.map.get(type) || [];
    if (!list.includes(fn)) list.push(fn);
    this.map.set(type, list);
  }
  remove(type, fn) {
    const list = this.map.get(type);
    if (!list) return;
    const i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.map.delete(type);
  }
  count(type) {
    const list = this.map.get(type);
    return list ? list.length : 0;
  }
  dispatch(type, event, thisArg) {
    const list = this.map.get(type);
    if (!list) return;
    for (const fn of list.slice()) {
      if (typeof fn === 'function') fn.call(thisArg, event);
      else fn.handleEvent(event);
    }
  }
}

function makeWorkerClass(shared) {
  const shimPath = __filename;
  const bootstrap = `require(${JSON.stringify(shimPath)}).runWorker();`;

  return class Worker {
    #node;
    #listeners = new Listeners();
    #onmessage = null;
    #onerror = null;

    constructor(scriptOrSource, options) {
      const opts = options || {};
      let spec;
      if (opts.eval) {
        spec = { kind: 'eval', source: String(scriptOrSource), file: null, baseDir: shared.baseDir };
      } else {
        const file = path.resolve(shared.baseDir, String(scriptOrSource));
        spec = { kind: 'file', source: null, file, baseDir: path.dirname(file) };
      }
      spec.args = shared.args;
      spec.mainCanBlock = shared.mainCanBlock;
      this.#node = new threads.Worker(bootstrap, { eval: true, workerData: { [SPEC_KEY]: spec } });
      this.#node.on('message', (data) => {
        const event = { type: 'message', data, target: this };
        if (typeof this.#onmessage === 'function') this.#onmessage.call(this, event);
        this.#listeners.dispatch('message', event, this);
      });
      this.#node.on('error', (error) => {
        const handled = typeof this.#onerror === 'function' || this.#listeners.count('error') > 0;
        if (!handled) {
          // No handler: the run fails as for an uncaught error in the main agent (exit 1).
          process.nextTick(() => {
            throw error;
          });
          return;
        }
        const message = error && error.message !== undefined ? String(error.message) : String(error);
        const event = {
          type: 'error',
          message,
          error,
          filename: spec.file || '[worker eval]',
          target: this,
          preventDefault() {},
        };
        if (typeof this.#onerror === 'function') this.#onerror.call(this, event);
        this.#listeners.dispatch('error', event, this);
      });
    }

    postMessage(value, transfer) {
      this.#node.postMessage(value, transfer);
    }

    terminate() {
      this.#node.terminate();
    }

    get onmessage() {
      return this.#onmessage;
    }
    set onmessage(fn) {
      this.#onmessage = typeof fn === 'function' ? fn : null;
    }
    get onerror() {
      return this.#onerror;
    }
    set onerror(fn) {
      this.#onerror = typeof fn === 'function' ? fn : null;
    }

    addEventListener(type, fn) {
      this.#listeners.add(String(type), fn);
    }
    removeEventListener(type, fn) {
      this.#listeners.remove(String(type), fn);
    }
  };
}

// The global scope of a worker agent: self, postMessage, onmessage, addEventListener, close.
function installWorkerScope() {
  const port = threads.parentPort;
  const listeners = new Listeners();
  let onmessage = null;
  let closing = false;
  let attached = false;

  const deliver = (data) => {
    if (closing) return;
    const event = { type: 'message', data, target: globalThis };
    if (typeof onmessage === 'function') onmessage.call(globalThis, event);
    listeners.dispatch('message', event, globalThis);
  };
  // While a handler exists the port has a 'message' listener, which keeps the worker alive.
  const sync = () => {
    const want = !closing && (typeof onmessage === 'function' || listeners.count('message') > 0);
    if (want && !attached) port.on('message', deliver);
    if (!want && attached) port.off('message', deliver);
    attached = want;
  };

  define('self', globalThis);
  define('postMessage', (value, transfer) => {
    port.postMessage(value, transfer);
  });
  Object.defineProperty(globalThis, 'onmessage', {
    get: () => onmessage,
    set: (fn) => {
      onmessage = typeof fn === 'function' ? fn : null;
      sync();
    },
    configurable: true,
    enumerable: true,
  });
  define('addEventListener', (type, fn) => {
    listeners.add(String(type), fn);
    sync();
  });
  define('removeEventListener', (type, fn) => {
    listeners.remove(String(type), fn);
    sync();
  });
  // Web close(): the running task (and its microtasks) finishes, then the worker ends; no
  // further messages are delivered.
  define('close', () => {
    if (closing) return;
    closing = true;
    sync();
    setImmediate(() => process.exit(0));
  });
}

// Entry point of every shim-started worker (the eval'd bootstrap calls it).
function runWorker() {
  const spec = threads.workerData[SPEC_KEY];
  if (spec.kind === 'eval') return vm.runInThisContext(spec.source, { filename: '[worker eval]' });
  return runClassicScript(spec.file);
}

module.exports = { runWorker };

// Last, so that every declaration above is initialised.
if (globalThis.agentsync === undefined) install();
