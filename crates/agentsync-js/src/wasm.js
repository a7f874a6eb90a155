// The `WebAssembly` namespace of the agentsync JS host, on the native object of
// `src/wasm.rs` (`native`). It also wraps the prelude's `host.post` / `host.structuredClone`
// so modules and shared memories can be posted to workers, and gives `host.decode` for the
// receiving side. Evaluated once per agent, before the prelude.
(function (native, host) {
  'use strict';
  const global = globalThis;
  // The JS embedding's limit on a table's elements (the WebAssembly JS API's
  // implementation-defined limits, as V8 and SpiderMonkey have it).
  const TABLE_MAX = 10000000;

  function define(object, name, value) {
    Object.defineProperty(object, name, { value, writable: true, configurable: true, enumerable: false });
  }
  // A WebIDL operation of a namespace: enumerable.
  function operation(object, name, value) {
    Object.defineProperty(object, name, { value, writable: true, configurable: true, enumerable: true });
  }

  function errorClass(name) {
    const Class = class extends Error {};
    Object.defineProperty(Class, 'name', { value: name });
    define(Class.prototype, 'name', name);
    return Class;
  }
  const CompileError = errorClass('CompileError');
  const LinkError = errorClass('LinkError');
  const RuntimeError = errorClass('RuntimeError');

  // Each JS object owns one native id, released when the object is collected.
  const finalizer = typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry((release) => release())
    : null;
  function track(object, release) {
    if (finalizer) finalizer.register(object, release);
  }

  // IterableToList: what a JS import returns to a guest function with several results.
  function iterableToList(value) {
    if ((typeof value !== 'object' && typeof value !== 'function') || value === null) {
      throw new TypeError('WebAssembly: the import must return an iterable');
    }
    const method = value[Symbol.iterator];
    if (typeof method !== 'function') throw new TypeError('WebAssembly: the import must return an iterable');
    const iterator = method.call(value);
    if ((typeof iterator !== 'object' && typeof iterator !== 'function') || iterator === null) {
      throw new TypeError('WebAssembly: the iterator is not an object');
    }
    const next = iterator.next;
    const list = [];
    for (;;) {
      const result = next.call(iterator);
      if ((typeof result !== 'object' && typeof result !== 'function') || result === null) {
        throw new TypeError('WebAssembly: the iterator result is not an object');
      }
      if (result.done) return list;
      list.push(result.value);
    }
  }
  native.setToList(iterableToList);

  const modules = new WeakMap(); // Module → id
  const memories = new WeakMap(); // Memory → { id, shared, buffer, length }
  const globals = new WeakMap(); // Global → id
  // The states of non-shared memories whose `buffer` was read: a guest `memory.grow` must
  // detach it before JavaScript sees it again (see `refresh`).
  const exposed = new Set();

  // Detaches the buffer of each non-shared memory whose length changed (the guest grew it).
  // Runs when a guest call returns and when a guest calls a JavaScript import.
  // The native side runs it only while `exposed` is not empty (`native.setExposed`).
  function refresh() {
    for (const state of exposed) {
      if (native.memoryLength(state.id) !== state.length) {
        native.detach(state.buffer);
        state.buffer = null;
        unexpose(state);
      }
    }
  }
  native.setRefresh(refresh);
  function expose(state) {
    exposed.add(state);
    native.setExposed(true);
  }
  function unexpose(state) {
    exposed.delete(state);
    native.setExposed(exposed.size !== 0);
  }

  // [EnforceRange] unsigned long.
  function toU32(value, what) {
    const number = Number(value);
    if (!Number.isFinite(number)) throw new TypeError(`${what} must be a finite number`);
    const integer = Math.trunc(number);
    if (integer < 0 || integer > 0xffffffff) throw new TypeError(`${what} is out of the unsigned 32-bit range`);
    return integer;
  }

  // A Uint8Array over the bytes of a BufferSource.
  function bytesOf(source, what) {
    if (source instanceof ArrayBuffer || source instanceof SharedArrayBuffer) return new Uint8Array(source);
    if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    throw new TypeError(`${what}: the argument must be an ArrayBuffer or a typed array`);
  }

  function moduleId(value, what) {
    const id = modules.get(value);
    if (id === undefined) throw new TypeError(`${what}: the argument is not a WebAssembly.Module`);
    return id;
  }

  function adoptModule(id) {
    const module = Object.create(Module.prototype);
    modules.set(module, id);
    track(module, () => native.release(id));
    return module;
  }

  function memoryState(id) {
    const state = { id, shared: native.memoryShared(id), buffer: null, length: -1 };
    return state;
  }

  function adoptMemory(id) {
    const memory = Object.create(Memory.prototype);
    const state = memoryState(id);
    memories.set(memory, state);
    track(memory, () => forget(state));
    return memory;
  }

  function forget(state) {
    unexpose(state);
    if (state.shared) native.release(state.id);
    else native.dropLocal(state.id);
  }

  function adoptGlobal(id) {
    const global = Object.create(Global.prototype);
    globals.set(global, id);
    track(global, () => native.dropLocal(id));
    return global;
  }

  class Module {
    constructor(bytes) {
      const id = native.compile(bytesOf(bytes, 'WebAssembly.Module'));
      modules.set(this, id);
      track(this, () => native.release(id));
    }
    static exports(module) {
      return native.moduleInfo(moduleId(module, 'WebAssembly.Module.exports')).exports;
    }
    static imports(module) {
      return native.moduleInfo(moduleId(module, 'WebAssembly.Module.imports')).imports;
    }
    static customSections(module, name) {
      const info = native.moduleInfo(moduleId(module, 'WebAssembly.Module.customSections'));
      if (name === undefined) throw new TypeError('WebAssembly.Module.customSections: a section name is required');
      const wanted = String(name);
      return info.custom.filter((section) => section.name === wanted).map((section) => section.data);
    }
  }

  class Memory {
    constructor(descriptor) {
      if (typeof descriptor !== 'object' || descriptor === null) {
        throw new TypeError('WebAssembly.Memory: the descriptor must be an object');
      }
      // A WebIDL dictionary: each member is read once, in lexicographic order, and
      // converted right after it is read.
      const initialValue = descriptor.initial;
      if (initialValue === undefined) throw new TypeError('WebAssembly.Memory: initial is required');
      const initial = toU32(initialValue, 'WebAssembly.Memory: initial');
      const maximumValue = descriptor.maximum;
      const maximum = maximumValue === undefined ? undefined : toU32(maximumValue, 'WebAssembly.Memory: maximum');
      const shared = Boolean(descriptor.shared);
      if (initial > 65536) throw new RangeError('WebAssembly.Memory: initial is more than 65536 pages');
      if (maximum !== undefined && maximum > 65536) throw new RangeError('WebAssembly.Memory: maximum is more than 65536 pages');
      if (maximum !== undefined && maximum < initial) throw new RangeError('WebAssembly.Memory: maximum is below initial');
      if (shared && maximum === undefined) throw new TypeError('WebAssembly.Memory: a shared memory needs a maximum');
      const id = native.memoryNew(initial, maximum, shared);
      const state = { id, shared, buffer: null, length: -1 };
      memories.set(this, state);
      track(this, () => forget(state));
    }
    get buffer() {
      const state = memories.get(this);
      if (!state) throw new TypeError('WebAssembly.Memory.buffer: not a WebAssembly.Memory');
      const length = native.memoryLength(state.id);
      if (state.buffer === null || state.length !== length) {
        if (state.shared) {
          state.buffer = Object.freeze(native.memoryBuffer(state.id));
        } else {
          // A non-shared memory's buffer is over bytes its store may move when it grows: the
          // old one is detached before a new one is made.
          if (state.buffer !== null) native.detach(state.buffer);
          state.buffer = native.memoryBuffer(state.id);
          expose(state);
        }
        state.length = length;
      }
      return state.buffer;
    }
    grow(delta) {
      const state = memories.get(this);
      if (!state) throw new TypeError('WebAssembly.Memory.grow: not a WebAssembly.Memory');
      const pages = toU32(delta, 'WebAssembly.Memory.grow: delta');
      const length = native.memoryLength(state.id);
      const maximum = native.memoryMaximum(state.id);
      if (length / 65536 + pages > maximum) {
        throw new RangeError(`WebAssembly.Memory.grow: ${length / 65536} + ${pages} pages is more than the maximum ${maximum}`);
      }
      const old = native.memoryGrow(state.id, pages);
      if (!state.shared && state.buffer !== null) {
        native.detach(state.buffer);
        unexpose(state);
      }
      state.buffer = null;
      return old;
    }
  }

  // Wasm functions seen by this agent: one JS function object each, found by the function's
  // identity key (`{ func, key, length }` from the native side).
  const funcIds = new WeakMap(); // JS function → native function id
  const functionsByKey = new Map(); // identity key → JS function
  function wasmFunction(entry, name) {
    const known = functionsByKey.get(entry.key);
    if (known !== undefined) {
      native.dropLocal(entry.func);
      return known;
    }
    const id = entry.func;
    const value = native.function(id, name);
    funcIds.set(value, id);
    functionsByKey.set(entry.key, value);
    return value;
  }

  // externref values by the key the guest's reference holds.
  const externValues = new Map();
  let nextExtern = 1;
  // A JS value as a table element of the table `funcref` says: the native encoding.
  function toRef(funcref, value, what) {
    if (value === null) return undefined;
    if (funcref) {
      const id = funcIds.get(value);
      if (id === undefined) throw new TypeError(`${what}: the value must be null or an exported Wasm function`);
      return id;
    }
    const key = nextExtern++;
    externValues.set(key, value);
    return key;
  }
  function fromRef(funcref, reference) {
    if (reference === null) return null;
    // A function whose JS function exists comes as its key alone (see `ref_to_js`).
    if (funcref) return typeof reference === 'number' ? functionsByKey.get(reference) : wasmFunction(reference, '');
    return externValues.get(reference);
  }

  // [EnforceRange] unsigned long for an index or a delta: TypeError outside the range.
  function toIndex(value, what) {
    const number = Number(value);
    if (!Number.isFinite(number)) throw new TypeError(`${what} must be a finite number`);
    const integer = Math.trunc(number);
    if (integer < 0 || integer > 0xffffffff) throw new TypeError(`${what} is out of the unsigned 32-bit range`);
    return integer;
  }

  const tables = new WeakMap(); // Table → { id, funcref }
  function tableState(value, what) {
    const state = tables.get(value);
    if (state === undefined) throw new TypeError(`${what}: not a WebAssembly.Table`);
    return state;
  }
  function adoptTable(id) {
    const table = Object.create(Table.prototype);
    tables.set(table, { id, funcref: native.tableInfo(id).funcref });
    track(table, () => native.dropLocal(id));
    return table;
  }

  class Table {
    constructor(descriptor) {
      if (typeof descriptor !== 'object' || descriptor === null) {
        throw new TypeError('WebAssembly.Table: the descriptor must be an object');
      }
      // A WebIDL dictionary: members in lexicographic order.
      const elementValue = descriptor.element;
      if (elementValue === undefined) throw new TypeError('WebAssembly.Table: element is required');
      const element = String(elementValue);
      if (element !== 'anyfunc' && element !== 'externref') {
        throw new TypeError(`WebAssembly.Table: ${JSON.stringify(element)} is not an element type`);
      }
      const initialValue = descriptor.initial;
      if (initialValue === undefined) throw new TypeError('WebAssembly.Table: initial is required');
      const initial = toU32(initialValue, 'WebAssembly.Table: initial');
      const maximumValue = descriptor.maximum;
      const maximum = maximumValue === undefined ? undefined : toU32(maximumValue, 'WebAssembly.Table: maximum');
      if (maximum !== undefined && maximum < initial) throw new RangeError('WebAssembly.Table: maximum is below initial');
      if (initial > TABLE_MAX) throw new RangeError(`WebAssembly.Table: initial is more than ${TABLE_MAX}`);
      const funcref = element === 'anyfunc';
      const init = arguments.length > 1 && arguments[1] !== undefined
        ? toRef(funcref, arguments[1], 'WebAssembly.Table')
        : (funcref ? undefined : toRef(false, undefined, 'WebAssembly.Table'));
      const id = native.tableNew(funcref, initial, maximum, init);
      tables.set(this, { id, funcref });
      track(this, () => native.dropLocal(id));
    }
    get length() {
      return native.tableInfo(tableState(this, 'WebAssembly.Table.length').id).length;
    }
    get(index) {
      const state = tableState(this, 'WebAssembly.Table.get');
      if (arguments.length === 0) throw new TypeError('WebAssembly.Table.get: an index is required');
      const i = toIndex(index, 'WebAssembly.Table.get: index');
      return fromRef(state.funcref, native.tableGet(state.id, i));
    }
    set(index) {
      const state = tableState(this, 'WebAssembly.Table.set');
      if (arguments.length === 0) throw new TypeError('WebAssembly.Table.set: an index is required');
      const i = toIndex(index, 'WebAssembly.Table.set: index');
      const value = arguments.length > 1 ? arguments[1] : undefined;
      const reference = arguments.length > 1 || !state.funcref ? toRef(state.funcref, value, 'WebAssembly.Table.set') : undefined;
      if (i >= native.tableInfo(state.id).length) throw new RangeError('WebAssembly.Table.set: the index is out of bounds');
      native.tableSet(state.id, i, reference);
    }
    grow(delta) {
      const state = tableState(this, 'WebAssembly.Table.grow');
      if (arguments.length === 0) throw new TypeError('WebAssembly.Table.grow: a delta is required');
      const n = toIndex(delta, 'WebAssembly.Table.grow: delta');
      const value = arguments.length > 1 ? arguments[1] : undefined;
      const reference = arguments.length > 1 || !state.funcref ? toRef(state.funcref, value, 'WebAssembly.Table.grow') : undefined;
      const info = native.tableInfo(state.id);
      if (info.length + n > info.maximum) throw new RangeError('WebAssembly.Table.grow: past the maximum');
      // The JS embedding's table limit applies to growth as to construction (otherwise an
      // unbounded table could be asked to allocate and clear gigabytes at once).
      if (info.length + n > TABLE_MAX) throw new RangeError(`WebAssembly.Table.grow: ${info.length} + ${n} elements is more than ${TABLE_MAX}`);
      return native.tableGrow(state.id, n, reference);
    }
  }

  const valueTypes = ['i32', 'i64', 'f32', 'f64'];

  function globalId(value, what) {
    const id = globals.get(value);
    if (id === undefined) throw new TypeError(`${what}: not a WebAssembly.Global`);
    return id;
  }

  class Global {
    // `v` is optional: read from `arguments` so the constructor's length is 1.
    constructor(descriptor) {
      if (typeof descriptor !== 'object' || descriptor === null) {
        throw new TypeError('WebAssembly.Global: the descriptor must be an object');
      }
      // A WebIDL dictionary: members in lexicographic order.
      const mutable = Boolean(descriptor.mutable);
      const typeValue = descriptor.value;
      if (typeValue === undefined) throw new TypeError('WebAssembly.Global: value is required');
      const type = String(typeValue);
      if (!valueTypes.includes(type)) {
        throw new TypeError(`WebAssembly.Global: ${JSON.stringify(type)} is not a value type this host supports`);
      }
      const id = native.globalNew(type, mutable, arguments[1]);
      globals.set(this, id);
      track(this, () => native.dropLocal(id));
    }
    valueOf() {
      return native.globalGet(globalId(this, 'WebAssembly.Global.valueOf'));
    }
    get value() {
      return native.globalGet(globalId(this, 'WebAssembly.Global.value'));
    }
    set value(v) {
      const id = globalId(this, 'WebAssembly.Global.value');
      if (arguments.length === 0) throw new TypeError('WebAssembly.Global.value: a value is required');
      native.globalSet(id, v);
    }
  }

  // Makes an instance of the module `id`; returns its exports object.
  function instantiateCore(id, importObject) {
    const info = native.moduleInfo(id);
    if (importObject !== undefined && (typeof importObject !== 'object' || importObject === null)) {
      throw new TypeError('WebAssembly.Instance: the import object must be an object');
    }
    if (info.imports.length > 0 && importObject === undefined) {
      throw new TypeError('WebAssembly.Instance: the module has imports but no import object was given');
    }
    const resolved = [];
    const imported = { function: [], memory: [], global: [], table: [] }; // kind → values
    for (const entry of info.imports) {
      const space = importObject[entry.module];
      if ((typeof space !== 'object' && typeof space !== 'function') || space === null) {
        throw new TypeError(`WebAssembly.Instance: import module "${entry.module}" is not an object`);
      }
      const value = space[entry.name];
      const where = `import "${entry.module}" "${entry.name}"`;
      if (entry.kind === 'function') {
        if (typeof value !== 'function') throw new LinkError(`${where}: a function is expected`);
        const func = funcIds.get(value);
        if (func !== undefined) {
          resolved.push(func);
        } else {
          // The native side runs `refresh` before it calls out.
          resolved.push(value);
        }
      } else if (entry.kind === 'memory') {
        const state = memories.get(value);
        if (!state) throw new LinkError(`${where}: a WebAssembly.Memory is expected`);
        resolved.push(state.id);
      } else if (entry.kind === 'global') {
        const id = globals.get(value);
        if (id !== undefined) resolved.push(id);
        else if (typeof value === 'number' || typeof value === 'bigint') resolved.push({ value });
        else throw new LinkError(`${where}: a WebAssembly.Global, a number or a BigInt is expected`);
      } else if (entry.kind === 'table') {
        const table = tables.get(value);
        if (table === undefined) throw new LinkError(`${where}: a WebAssembly.Table is expected`);
        resolved.push(table.id);
      } else {
        throw new LinkError(`${where}: ${entry.kind} imports are not supported by this host`);
      }
      if (imported[entry.kind]) imported[entry.kind].push(value);
    }
    let instanceId;
    try {
      instanceId = native.instantiate(id, resolved);
    } finally {
      if (exposed.size !== 0) refresh();
    }
    const keep = { id: instanceId };
    track(keep, () => native.dropLocal(instanceId));
    const exports = Object.create(null);
    // One JS object per exported item: an item exported twice, or imported and exported
    // again, is the same object.
    const made = new Map(); // "kind index" → value
    for (const entry of native.exports(instanceId)) {
      const key = `${entry.kind} ${entry.index}`;
      const given = imported[entry.kind];
      let value;
      if (made.has(key)) {
        value = made.get(key);
      } else if (given && entry.index < given.length && !(entry.kind === 'global' && !globals.has(given[entry.index]))) {
        value = given[entry.index];
      } else if (entry.kind === 'function') {
        value = wasmFunction(entry, String(entry.index));
      } else if (entry.kind === 'table' && entry.table !== undefined) {
        value = adoptTable(entry.table);
      } else if (entry.kind === 'memory' && entry.memory !== undefined) {
        value = adoptMemory(entry.memory);
      } else if (entry.kind === 'global' && entry.global !== undefined) {
        value = adoptGlobal(entry.global);
      }
      made.set(key, value);
      exports[entry.name] = value;
    }
    return Object.freeze(exports);
  }

  const instanceExports = new WeakMap(); // Instance → its exports object

  class Instance {
    // `importObject` is optional: read from `arguments` so the constructor's length is 1.
    constructor(module) {
      const importObject = arguments[1];
      instanceExports.set(this, instantiateCore(moduleId(module, 'WebAssembly.Instance'), importObject));
    }
    get exports() {
      const exports = instanceExports.get(this);
      if (exports === undefined) throw new TypeError('WebAssembly.Instance.exports: not a WebAssembly.Instance');
      return exports;
    }
  }

  // WebIDL: operations and attributes are enumerable, and each prototype has its class
  // string ("[object WebAssembly.Module]").
  function webidl(Class, name, statics, members) {
    for (const key of statics) Object.defineProperty(Class, key, { enumerable: true });
    for (const key of members) Object.defineProperty(Class.prototype, key, { enumerable: true });
    Object.defineProperty(Class.prototype, Symbol.toStringTag, { value: `WebAssembly.${name}`, configurable: true });
  }
  webidl(Module, 'Module', ['exports', 'imports', 'customSections'], []);
  webidl(Instance, 'Instance', [], ['exports']);
  webidl(Memory, 'Memory', [], ['grow', 'buffer']);
  webidl(Global, 'Global', [], ['valueOf', 'value']);
  webidl(Table, 'Table', [], ['grow', 'get', 'set', 'length']);

  function later(action) {
    return new Promise((resolve, reject) => {
      try {
        resolve(action());
      } catch (error) {
        reject(error);
      }
    });
  }

  const WebAssembly = {};
  define(WebAssembly, 'Module', Module);
  define(WebAssembly, 'Instance', Instance);
  define(WebAssembly, 'Memory', Memory);
  define(WebAssembly, 'Global', Global);
  define(WebAssembly, 'Table', Table);
  define(WebAssembly, 'CompileError', CompileError);
  define(WebAssembly, 'LinkError', LinkError);
  define(WebAssembly, 'RuntimeError', RuntimeError);
  operation(WebAssembly, 'validate', function validate(bytes) {
    return native.validate(bytesOf(bytes, 'WebAssembly.validate'));
  });
  operation(WebAssembly, 'compile', function compile(bytes) {
    return later(() => new Module(bytes));
  });
  operation(WebAssembly, 'instantiate', function instantiate(source) {
    // `importObject` is optional: read from `arguments` so the function's length is 1.
    const importObject = arguments[1];
    if (modules.has(source)) return later(() => new Instance(source, importObject));
    // The import object is read once the module is compiled, not synchronously.
    return later(() => new Module(source)).then((module) => ({ module, instance: new Instance(module, importObject) }));
  });
  Object.defineProperty(WebAssembly, Symbol.toStringTag, { value: 'WebAssembly', configurable: true });
  define(global, 'WebAssembly', WebAssembly);

  // Posting: modules and shared memories travel as marker objects naming a fresh native id.
  function isWasm(value) {
    return modules.has(value) || memories.has(value);
  }
  function containsWasm(value, seen) {
    if (typeof value !== 'object' || value === null || seen.has(value)) return false;
    seen.add(value);
    if (isWasm(value)) return true;
    if (!Array.isArray(value) && Object.getPrototypeOf(value) !== Object.prototype) return false;
    return Object.keys(value).some((key) => containsWasm(value[key], seen));
  }
  function encode(value) {
    if (!containsWasm(value, new Set())) return value;
    const copies = new Map();
    function copy(item) {
      if (typeof item !== 'object' || item === null) return item;
      if (copies.has(item)) return copies.get(item);
      let out;
      if (modules.has(item)) {
        out = { __agentsyncWasmModule: native.dup(modules.get(item)) };
      } else if (memories.has(item)) {
        // Only shared memories can be posted; the prelude turns this TypeError into a
        // DataCloneError.
        const state = memories.get(item);
        if (!state.shared) throw new TypeError('a non-shared WebAssembly.Memory cannot be posted');
        out = { __agentsyncWasmMemory: native.dup(state.id) };
      } else if (Array.isArray(item)) {
        out = [];
        copies.set(item, out);
        item.forEach((element, index) => { out[index] = copy(element); });
      } else if (Object.getPrototypeOf(item) === Object.prototype) {
        out = {};
        copies.set(item, out);
        for (const key of Object.keys(item)) out[key] = copy(item[key]);
      } else {
        out = item;
      }
      copies.set(item, out);
      return out;
    }
    return { __agentsyncWasm: copy(value) };
  }
  function decode(data) {
    if (typeof data !== 'object' || data === null || !Object.prototype.hasOwnProperty.call(data, '__agentsyncWasm')) {
      return data;
    }
    const done = new Map();
    function restore(item) {
      if (typeof item !== 'object' || item === null) return item;
      if (done.has(item)) return done.get(item);
      let out = item;
      if (typeof item.__agentsyncWasmModule === 'number') out = adoptModule(item.__agentsyncWasmModule);
      else if (typeof item.__agentsyncWasmMemory === 'number') out = adoptMemory(item.__agentsyncWasmMemory);
      done.set(item, out);
      if (out === item && (Array.isArray(item) || Object.getPrototypeOf(item) === Object.prototype)) {
        for (const key of Object.keys(item)) item[key] = restore(item[key]);
      }
      return out;
    }
    return restore(data.__agentsyncWasm);
  }
  const post = host.post;
  host.post = (to, value, ports) => post(to, encode(value), ports);
  const portPost = host.portPost;
  host.portPost = (from, value, ports) => portPost(from, encode(value), ports);
  const broadcastPost = host.broadcastPost;
  host.broadcastPost = (from, value) => broadcastPost(from, encode(value));
  const clone = host.structuredClone;
  host.structuredClone = (value) => decode(clone(encode(value)));
  host.decode = decode;
});
