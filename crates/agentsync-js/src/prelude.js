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

  // Structured clone, as HTML's StructuredSerialize / StructuredDeserialize define it, on top
  // of the engine's serializer. The engine recurses (a 1,000-node list overflows its stack),
  // copies symbol keys, fills array holes, drops extra array properties and refuses errors and
  // DataViews; so the value graph is first flattened here into a table of nodes (an explicit
  // work list, no recursion; memoized, so cycles and shared objects survive), and only that
  // table, whose depth is fixed, goes through the engine. Buffers, typed arrays and WebAssembly
  // modules and memories stay leaves for the engine (and wasm.js) to carry as before.
  const CLONE = '\u0000agentsync-clone';
  const toTag = Object.prototype.toString;
  const ERROR_NAMES = ['Error', 'EvalError', 'RangeError', 'ReferenceError', 'SyntaxError', 'TypeError', 'URIError'];
  const ERRORS = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };
  const cannotClone = (what) => new DOMException(`${what} is unsupported: it cannot be cloned ` +
    '(only primitives, arrays, plain objects, Map, Set, Date, RegExp, errors, buffers, typed ' +
    'arrays, DataViews, WebAssembly modules and shared memories can be posted)', 'DataCloneError');
  const isLeafBuffer = (v) => v instanceof ArrayBuffer || v instanceof SharedArrayBuffer ||
    (ArrayBuffer.isView(v) && !(v instanceof DataView));
  const wasmLeaf = (v) => {
    const api = global.WebAssembly;
    return typeof api === 'object' && api !== null &&
      ((typeof api.Module === 'function' && v instanceof api.Module) ||
       (typeof api.Memory === 'function' && v instanceof api.Memory));
  };
  const ownKeys = (v) => Object.keys(v);

  // A plain object whose own properties are all enumerable data properties holding
  // primitives (not symbols) or buffers, with no symbol keys.
  function flatRecord(value) {
    if (Object.getPrototypeOf(value) !== Object.prototype) return false;
    if (Object.getOwnPropertySymbols(value).length !== 0) return false;
    const descriptors = Object.getOwnPropertyDescriptors(value);
    for (const key in descriptors) {
      const descriptor = descriptors[key];
      if (!descriptor.enumerable || !('value' in descriptor)) return false;
      const item = descriptor.value;
      const type = typeof item;
      if (type === 'symbol' || type === 'function') return false;
      if (type === 'object' && item !== null && !isLeafBuffer(item)) return false;
    }
    return true;
  }

  // `ports`: the MessagePorts of the transfer list, in order; a port met in the value is
  // written as its index there (and must be in it).
  function encodeClone(root, ports = []) {
    if (typeof root === 'symbol') throw cannotClone('a Symbol');
    if (typeof root === 'function') throw cannotClone('a function');
    // Fast paths for what workers post most: primitives and buffers go as they are, and so
    // does a plain object of primitives and buffers (Emscripten's `{ cmd: 'run', … }`), which
    // the engine's serializer carries the same way (no symbol keys, no holes, no nesting).
    if (typeof root !== 'object' || root === null || isLeafBuffer(root)) return root;
    if (flatRecord(root)) return root;
    const nodes = [];
    const index = new Map();
    const work = [];
    const ref = (value) => {
      if (typeof value === 'symbol') throw cannotClone('a Symbol');
      if (typeof value === 'function') throw cannotClone(`a function (${value.name || 'anonymous'})`);
      if (typeof value !== 'object' || value === null) return value;
      let at = index.get(value);
      if (at === undefined) {
        at = nodes.length;
        index.set(value, at);
        nodes.push(null);
        work.push(value);
      }
      return [at];
    };
    const props = (value, keys) => {
      const values = [];
      for (const key of keys) values.push(ref(value[key]));
      return values;
    };
    const top = ref(root);
    while (work.length > 0) {
      const value = work.pop();
      const at = index.get(value);
      if (isLeafBuffer(value) || wasmLeaf(value)) {
        nodes[at] = ['X', value];
        continue;
      }
      if (value instanceof MessagePort) {
        const port = ports.indexOf(value);
        if (port < 0) {
          throw new DOMException('a MessagePort can only be posted in the transfer list', 'DataCloneError');
        }
        nodes[at] = ['T', port];
        continue;
      }
      const tag = toTag.call(value).slice(8, -1);
      switch (tag) {
        case 'Array': {
          const keys = ownKeys(value);
          nodes[at] = ['A', value.length, keys, props(value, keys)];
          break;
        }
        case 'Object': {
          const keys = ownKeys(value);
          nodes[at] = ['O', keys, props(value, keys)];
          break;
        }
        case 'Boolean': nodes[at] = ['P', Boolean.prototype.valueOf.call(value)]; break;
        case 'Number': nodes[at] = ['P', Number.prototype.valueOf.call(value)]; break;
        case 'String': nodes[at] = ['P', String.prototype.valueOf.call(value)]; break;
        case 'BigInt': nodes[at] = ['P', BigInt.prototype.valueOf.call(value)]; break;
        case 'Date': nodes[at] = ['D', Date.prototype.getTime.call(value)]; break;
        case 'RegExp': nodes[at] = ['R', value.source, value.flags]; break;
        case 'Map': {
          const entries = [];
          for (const [key, item] of Map.prototype.entries.call(value)) entries.push(ref(key), ref(item));
          nodes[at] = ['M', entries];
          break;
        }
        case 'Set': {
          const items = [];
          for (const item of Set.prototype.values.call(value)) items.push(ref(item));
          nodes[at] = ['S', items];
          break;
        }
        case 'Error': {
          const name = String(value.name);
          const hasMessage = Object.prototype.hasOwnProperty.call(value, 'message');
          const stack = Object.prototype.hasOwnProperty.call(value, 'stack') ? value.stack : undefined;
          nodes[at] = ['E', ERROR_NAMES.includes(name) ? name : 'Error',
            hasMessage ? String(value.message) : undefined, hasMessage,
            typeof stack === 'string' ? stack : undefined];
          break;
        }
        case 'DataView':
          nodes[at] = ['V', ref(value.buffer), value.byteOffset, value.byteLength];
          break;
        default:
          throw cannotClone(`${tag === 'Object' ? 'an object' : tag}`);
      }
    }
    return { [CLONE]: 1, nodes, top };
  }

  // `ports`: the MessagePort objects made for the transferred ports, in order.
  function decodeClone(data, ports = []) {
    if (typeof data !== 'object' || data === null || !Object.prototype.hasOwnProperty.call(data, CLONE)) {
      return data;
    }
    const { nodes, top } = data;
    const out = new Array(nodes.length);
    const value = (item) => (Array.isArray(item) ? out[item[0]] : item);
    const put = (object, key, item) => Object.defineProperty(object, key,
      { value: value(item), writable: true, enumerable: true, configurable: true });
    const hidden = (object, key, item) => Object.defineProperty(object, key,
      { value: item, writable: true, enumerable: false, configurable: true });
    // Shells first (so that any node can refer to any other), then their contents.
    nodes.forEach((node, at) => {
      switch (node[0]) {
        case 'X': out[at] = node[1]; break;
        case 'T': out[at] = ports[node[1]]; break;
        case 'A': out[at] = new Array(node[1]); break;
        case 'O': out[at] = {}; break;
        case 'P': out[at] = Object(node[1]); break;
        case 'D': out[at] = new Date(node[1]); break;
        case 'R': out[at] = new RegExp(node[1], node[2]); break;
        case 'M': out[at] = new Map(); break;
        case 'S': out[at] = new Set(); break;
        case 'E': {
          const error = new ERRORS[node[1]]();
          delete error.message;
          if (node[3]) hidden(error, 'message', node[2]);
          if (node[4] !== undefined) hidden(error, 'stack', node[4]);
          out[at] = error;
          break;
        }
        default: break;
      }
    });
    // DataViews once their buffers (leaves) exist.
    nodes.forEach((node, at) => {
      if (node[0] === 'V') out[at] = new DataView(value(node[1]), node[2], node[3]);
    });
    nodes.forEach((node, at) => {
      const object = out[at];
      switch (node[0]) {
        case 'A':
        case 'O': {
          const [keys, values] = node[0] === 'A' ? [node[2], node[3]] : [node[1], node[2]];
          keys.forEach((key, k) => put(object, key, values[k]));
          break;
        }
        case 'M':
          for (let k = 0; k < node[1].length; k += 2) object.set(value(node[1][k]), value(node[1][k + 1]));
          break;
        case 'S':
          for (const item of node[1]) object.add(value(item));
          break;
        default: break;
      }
    });
    return value(top);
  }

  // The transfer list of postMessage(value, transfer) / postMessage(value, { transfer }) /
  // structuredClone(value, { transfer }): MessagePorts and ArrayBuffers, each once.
  function transferList(options) {
    if (options === undefined || options === null) return [];
    const list = Array.isArray(options) ? options : options.transfer;
    if (list === undefined) return [];
    if (typeof list !== 'object' || list === null || typeof list[Symbol.iterator] !== 'function') {
      throw new TypeError('the transfer list is not a sequence');
    }
    const items = [...list];
    items.forEach((item, at) => {
      if (items.indexOf(item) !== at) throw new DOMException('an object is twice in the transfer list', 'DataCloneError');
      if (item instanceof MessagePort) {
        if (MessagePort.isDetached(item)) throw new DOMException('a MessagePort in the transfer list was already transferred', 'DataCloneError');
      } else if (item instanceof ArrayBuffer) {
        if (item.detached) throw new DOMException('an ArrayBuffer in the transfer list is detached', 'DataCloneError');
      } else {
        throw new DOMException('only MessagePorts and ArrayBuffers can be transferred', 'DataCloneError');
      }
    });
    return items;
  }

  // Whether postMessage's second argument transfers nothing: absent, or an empty array (as
  // Emscripten passes), so that the native fast path (`host.postFlat`) may take the value.
  const noTransfer = (options) => options === undefined || (Array.isArray(options) && options.length === 0);

  // Serializes (errors in getters propagate as thrown; what cannot be cloned is a
  // DataCloneError), then hands the encoding and the transferred ports' ids to `action`; the
  // native step's TypeErrors are DataCloneErrors too. Once it succeeded, the transferred
  // ArrayBuffers are detached and the ports belong to the receiver.
  function cloning(value, action, options) {
    const transfer = transferList(options);
    const ports = transfer.filter((item) => item instanceof MessagePort);
    const encoded = encodeClone(value, ports);
    let result;
    try {
      result = action(encoded, ports.map((port) => MessagePort.idOf(port)));
    } catch (error) {
      if (error instanceof TypeError) throw new DOMException(error.message, 'DataCloneError');
      throw error;
    }
    for (const item of transfer) {
      if (item instanceof ArrayBuffer) item.transfer();
      else MessagePort.detach(item);
    }
    return result;
  }
  define(global, 'structuredClone', function structuredClone(value, options) {
    if (arguments.length === 0) {
      throw new TypeError("structuredClone: 1 argument required, but only 0 present");
    }
    let moved = [];
    const copy = cloning(value, (encoded, ports) => {
      moved = ports;
      return host.structuredClone(encoded);
    }, options);
    // The ports move to new objects of this same agent.
    return decodeClone(copy, moved.map((id) => MessagePort.adopt(id)));
  });

  // Message ports: both ends of a MessageChannel, and BroadcastChannel members, are ids of the
  // host's port registry; messages to them arrive as 'port' events (see `deliver`).
  const portObjects = new Map();
  let selfListening = 0;
  let portsListening = 0;
  const updateListening = () => { if (!isMain) host.listening(selfListening + portsListening > 0); };

  class MessagePort {
    #id;
    #detached = false;
    #started = false;
    #queue = [];
    #dispatch;
    #listening = false;
    constructor(key, id) {
      if (key !== CLONE) throw new TypeError('Illegal constructor');
      this.#id = id;
      this.#dispatch = makeTarget(this, (count) => {
        const listening = count > 0 && !this.#detached;
        if (listening !== this.#listening) {
          portsListening += listening ? 1 : -1;
          this.#listening = listening;
          updateListening();
        }
        // Setting onmessage starts the port, as the standard says.
        if (this.onmessage) this.start();
      });
      portObjects.set(id, this);
    }
    static idOf(port) {
      if (port.#detached) throw new DOMException('the MessagePort was already transferred', 'DataCloneError');
      return port.#id;
    }
    static isDetached(port) { return port.#detached; }
    static detach(port) {
      port.#detached = true;
      if (port.#listening) { portsListening -= 1; port.#listening = false; updateListening(); }
      if (portObjects.get(port.#id) === port) portObjects.delete(port.#id);
    }
    static adopt(id) { return new MessagePort(CLONE, id); }
    static receive(port, event) {
      if (port.#started) port.#dispatch(event);
      else port.#queue.push(event);
    }
    postMessage(value, options) {
      if (this.#detached) return;
      const transfer = transferList(options);
      if (transfer.includes(this)) throw new DOMException('a MessagePort cannot transfer itself', 'DataCloneError');
      cloning(value, (encoded, ports) => host.portPost(this.#id, encoded, ports), options);
    }
    start() {
      if (this.#started || this.#detached) return;
      this.#started = true;
      const queued = this.#queue;
      this.#queue = [];
      for (const event of queued) this.#dispatch(event);
    }
    close() {
      if (this.#detached) return;
      host.portClose(this.#id);
      MessagePort.detach(this);
    }
    get [Symbol.toStringTag]() { return 'MessagePort'; }
  }
  define(global, 'MessagePort', MessagePort);

  class MessageChannel {
    #port1;
    #port2;
    constructor() {
      const [a, b] = host.portPair();
      this.#port1 = new MessagePort(CLONE, a);
      this.#port2 = new MessagePort(CLONE, b);
    }
    get port1() { return this.#port1; }
    get port2() { return this.#port2; }
    get [Symbol.toStringTag]() { return 'MessageChannel'; }
  }
  define(global, 'MessageChannel', MessageChannel);

  class BroadcastChannel {
    #id;
    #name;
    #closed = false;
    #dispatch;
    #listening = false;
    constructor(name) {
      if (arguments.length === 0) throw new TypeError('BroadcastChannel constructor: 1 argument required, but only 0 present');
      this.#name = `${name}`;
      this.#id = host.broadcastOpen(this.#name);
      this.#dispatch = makeTarget(this, (count) => {
        const listening = count > 0 && !this.#closed;
        if (listening !== this.#listening) {
          portsListening += listening ? 1 : -1;
          this.#listening = listening;
          updateListening();
        }
      });
      portObjects.set(this.#id, this);
    }
    static receive(channel, event) { if (!channel.#closed) channel.#dispatch(event); }
    get name() { return this.#name; }
    postMessage(value) {
      if (this.#closed) throw new DOMException('BroadcastChannel: the channel is closed', 'InvalidStateError');
      cloning(value, (encoded) => host.broadcastPost(this.#id, encoded));
    }
    close() {
      if (this.#closed) return;
      this.#closed = true;
      host.portClose(this.#id);
      portObjects.delete(this.#id);
      if (this.#listening) { portsListening -= 1; this.#listening = false; updateListening(); }
    }
    get [Symbol.toStringTag]() { return 'BroadcastChannel'; }
  }
  define(global, 'BroadcastChannel', BroadcastChannel);

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
      let kind = 'classic';
      let name = '';
      if (options !== undefined && options !== null) {
        if (options.eval) kind = 'eval';
        const type = options.type === undefined ? 'classic' : `${options.type}`;
        if (type !== 'classic' && type !== 'module') {
          throw new TypeError(`Worker constructor: type must be "classic" or "module", not "${type}"`);
        }
        if (type === 'module' && kind !== 'eval') kind = 'module';
        if (options.name !== undefined) name = `${options.name}`;
      }
      this.#dispatch = makeTarget(this, () => {});
      this.#id = host.spawn(source, kind, name);
      workers.set(this.#id, this);
    }
    postMessage(value, options) {
      if (noTransfer(options) && host.postFlat(this.#id, value)) return;
      cloning(value, (encoded, ports) => host.post(this.#id, encoded, ports), options);
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
    dispatchSelf = makeTarget(global, (listening) => { selfListening = listening; updateListening(); });
    define(global, 'postMessage', function postMessage(value, options) {
      if (noTransfer(options) && host.postFlat(0, value)) return;
      cloning(value, (encoded, ports) => host.post(0, encoded, ports), options);
    });
    define(global, 'close', function close() {
      host.close();
    });
    Object.defineProperty(global, 'name', {
      get() { return host.workerName(); },
      configurable: true,
      enumerable: true,
    });
  } else {
    // The embedder's messages to the main agent arrive as `message` events on the global;
    // they never keep the main agent alive.
    dispatchSelf = makeTarget(global, () => {});
  }

  // kind: 'message' | 'error' | 'exit'; id: 0 for our parent (or the embedder), else a worker.
  return function deliver(kind, id, data, portIds = []) {
    let ports = [];
    if (kind === 'message' || kind === 'port') {
      ports = portIds.map((portId) => new MessagePort(CLONE, portId));
      data = decodeClone(host.decode ? host.decode(data) : data, ports);
    }
    if (kind === 'port') {
      const target = portObjects.get(id);
      const event = new MessageEvent('message', { data, ports });
      if (target instanceof MessagePort) MessagePort.receive(target, event);
      else if (target instanceof BroadcastChannel) BroadcastChannel.receive(target, event);
      return true;
    }
    if (id === 0) {
      if (kind === 'message') dispatchSelf(new MessageEvent('message', { data, ports }));
      return true;
    }
    const worker = workers.get(id);
    if (!worker) return true;
    if (kind === 'message') {
      Worker.deliver(worker, new MessageEvent('message', { data, ports }));
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
