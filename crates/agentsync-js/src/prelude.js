// The web-facing part of the agentsync JS host: Worker, MessageEvent, ErrorEvent, DOMException,
// event listeners, and the worker global scope. It is evaluated once per agent with `host`, the
// native functions of `src/globals.rs`, and returns the function the event loop calls to
// deliver an event. Everything else (threads, messages, timers, waiting) is native.
(function (host, isMain) {
  'use strict';
  const global = globalThis;

  function define(object, name, value) {
    Object.defineProperty(object, name, { value, writable: true, configurable: true, enumerable: false });
  }

  class DOMException extends Error {
    constructor(message = '', name = 'Error') {
      super(message);
      define(this, 'name', String(name));
    }
  }
  define(global, 'DOMException', DOMException);

  class Event {
    constructor(type, init) {
      this.type = String(type);
      if (init) Object.assign(this, init);
    }
  }
  class MessageEvent extends Event {}
  class ErrorEvent extends Event {}
  define(global, 'Event', Event);
  define(global, 'MessageEvent', MessageEvent);
  define(global, 'ErrorEvent', ErrorEvent);

  // A small EventTarget: `on<type>` handler plus addEventListener listeners, in that order.
  function makeTarget(target, onChange) {
    const listeners = new Map();
    const handlers = new Map();
    const count = () => {
      let n = handlers.size;
      for (const list of listeners.values()) n += list.length;
      return n;
    };
    define(target, 'addEventListener', function (type, listener) {
      if (typeof listener !== 'function' && !(listener && typeof listener.handleEvent === 'function')) return;
      const list = listeners.get(type) || [];
      if (!list.includes(listener)) list.push(listener);
      listeners.set(type, list);
      onChange(count());
    });
    define(target, 'removeEventListener', function (type, listener) {
      const list = listeners.get(type) || [];
      const at = list.indexOf(listener);
      if (at >= 0) list.splice(at, 1);
      onChange(count());
    });
    for (const type of ['message', 'error', 'messageerror']) {
      Object.defineProperty(target, 'on' + type, {
        configurable: true,
        enumerable: true,
        get() { return handlers.get(type) || null; },
        set(handler) {
          if (typeof handler === 'function') handlers.set(type, handler);
          else handlers.delete(type);
          onChange(count());
        },
      });
    }
    // Calls every handler; returns whether any ran. A throwing handler is this agent's
    // uncaught error, as in a browser or Node.
    return function dispatch(event) {
      let handled = false;
      const handler = handlers.get(event.type);
      if (handler) {
        handled = true;
        handler.call(target, event);
      }
      for (const listener of (listeners.get(event.type) || []).slice()) {
        handled = true;
        if (typeof listener === 'function') listener.call(target, event);
        else listener.handleEvent(event);
      }
      return handled;
    };
  }

  // The engine's serializer accepts symbols, which structured clone refuses: look for them
  // in the containers it walks (buffers and views hold none).
  function refuseSymbols(value, seen) {
    if (typeof value === 'symbol') throw new TypeError('a Symbol cannot be cloned');
    if (typeof value !== 'object' || value === null || seen.has(value)) return;
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) return;
    seen.add(value);
    if (value instanceof Map) {
      for (const [key, item] of value) {
        refuseSymbols(key, seen);
        refuseSymbols(item, seen);
      }
    } else if (value instanceof Set) {
      for (const item of value) refuseSymbols(item, seen);
    } else {
      for (const key of Object.keys(value)) refuseSymbols(value[key], seen);
    }
  }

  // The native clone throws a TypeError for what cannot be cloned; the web calls it this.
  function cloning(value, action) {
    try {
      refuseSymbols(value, new Set());
      return action();
    } catch (error) {
      if (error instanceof TypeError) throw new DOMException(error.message, 'DataCloneError');
      throw error;
    }
  }
  define(global, 'structuredClone', function structuredClone(value) {
    return cloning(value, () => host.structuredClone(value));
  });

  // A growable SharedArrayBuffer has one length in every agent (ArrayBufferByteLength), but
  // QuickJS-ng keeps a length in each buffer object. `grow` also records the new length in the
  // host's registry, and `byteLength` brings this object up to it before answering.
  {
    const proto = SharedArrayBuffer.prototype;
    const engineGrow = proto.grow;
    const engineLength = Object.getOwnPropertyDescriptor(proto, 'byteLength').get;
    const engineGrowable = Object.getOwnPropertyDescriptor(proto, 'growable').get;
    const catchUp = (buffer) => {
      if (!engineGrowable.call(buffer)) return;
      const grown = host.sabGrownLength(buffer);
      if (grown > engineLength.call(buffer)) engineGrow.call(buffer, grown);
    };
    const methods = {
      grow(newLength) {
        if (engineGrowable.call(this)) catchUp(this);
        engineGrow.call(this, newLength);
        host.sabGrown(this, engineLength.call(this));
      },
      get byteLength() {
        engineLength.call(this); // a TypeError for anything but a SharedArrayBuffer, first
        catchUp(this);
        return engineLength.call(this);
      },
    };
    define(proto, 'grow', methods.grow);
    Object.defineProperty(proto, 'byteLength', {
      get: Object.getOwnPropertyDescriptor(methods, 'byteLength').get,
      enumerable: false,
      configurable: true,
    });
  }

  const workers = new Map();

  class Worker {
    #id;
    #dispatch;
    constructor(specifier, options) {
      // As WebIDL's USVString conversion: required, and a Symbol is a TypeError (String()
      // would turn both into a file name: "undefined", "Symbol(x)").
      if (arguments.length === 0) {
        throw new TypeError("Worker constructor: 1 argument required, but only 0 present");
      }
      const source = `${specifier}`;
      const isEval = Boolean(options && options.eval);
      this.#dispatch = makeTarget(this, () => {});
      this.#id = host.spawn(source, isEval);
      workers.set(this.#id, this);
    }
    postMessage(value) {
      cloning(value, () => host.post(this.#id, value));
    }
    terminate() {
      host.terminate(this.#id);
      workers.delete(this.#id);
    }
    static deliver(worker, event) {
      return worker.#dispatch(event);
    }
  }
  define(global, 'Worker', Worker);

  let dispatchSelf = null;
  if (!isMain) {
    define(global, 'self', global);
    dispatchSelf = makeTarget(global, (listening) => host.listening(listening > 0));
    define(global, 'postMessage', function postMessage(value) {
      cloning(value, () => host.post(0, value));
    });
    define(global, 'close', function close() {
      host.close();
    });
  } else {
    // The embedder's messages to the main agent arrive as `message` events on the global;
    // they never keep the main agent alive.
    dispatchSelf = makeTarget(global, () => {});
  }

  // kind: 'message' | 'error' | 'exit'; id: 0 for our parent (or the embedder), else a worker.
  return function deliver(kind, id, data) {
    if (kind === 'message' && host.decode) data = host.decode(data);
    if (id === 0) {
      if (kind === 'message') dispatchSelf(new MessageEvent('message', { data }));
      return true;
    }
    const worker = workers.get(id);
    if (!worker) return true;
    if (kind === 'message') {
      Worker.deliver(worker, new MessageEvent('message', { data }));
      return true;
    }
    if (kind === 'error') {
      const event = new ErrorEvent('error', {
        message: data.message,
        filename: data.filename,
        lineno: data.lineno,
        colno: data.colno,
        error: data.error,
      });
      return Worker.deliver(worker, event);
    }
    workers.delete(id);
    return true;
  };
})
