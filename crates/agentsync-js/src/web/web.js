// The web platform pieces of the agentsync JS host (see src/web/mod.rs): evaluated once per
// agent with `native`, the Rust half, and whether this is the main agent. Each class follows
// the WHATWG / W3C standard for the parts it implements; what it leaves out, docs/js-host.md
// says.
(function (native, isMain) {
  'use strict';
  const global = globalThis;

  function define(object, name, value) {
    Object.defineProperty(object, name, { value, writable: true, configurable: true, enumerable: false });
  }
  // DOMException and Event are the prelude's, which runs after the extensions: look them up
  // when needed.
  const domException = (message, name) => new global.DOMException(message, name);
  const isShared = (buffer) => typeof SharedArrayBuffer === 'function' && buffer instanceof SharedArrayBuffer;

  // Bytes of a BufferSource (copied), for Blob parts and bodies.
  function bytesOf(source, what) {
    if (source instanceof ArrayBuffer || isShared(source)) return new Uint8Array(source.slice(0));
    if (ArrayBuffer.isView(source)) {
      return new Uint8Array(source.buffer.slice(source.byteOffset, source.byteOffset + source.byteLength));
    }
    throw new TypeError(`${what}: not an ArrayBuffer or a view`);
  }

  // ---- URL and URLSearchParams (the parser is the `url` crate's) ------------------------------

  const PARTS = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port',
    'pathname', 'search', 'hash'];
  const SETTABLE = ['protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname',
    'search', 'hash'];

  let attachParams;
  class URLSearchParams {
    #list = [];
    #url = null;
    constructor(init = '') {
      if (typeof init === 'object' && init !== null) {
        if (typeof init[Symbol.iterator] === 'function') {
          for (const pair of init) {
            const items = [...pair];
            if (items.length !== 2) throw new TypeError('URLSearchParams: each pair must have two items');
            this.#list.push([`${items[0]}`, `${items[1]}`]);
          }
        } else {
          for (const key of Object.keys(init)) this.#list.push([key, `${init[key]}`]);
        }
      } else {
        let text = `${init}`;
        if (text.startsWith('?')) text = text.slice(1);
        this.#parse(text);
      }
    }
    #parse(text) {
      const flat = native.formParse(text);
      this.#list = [];
      for (let i = 0; i < flat.length; i += 2) this.#list.push([flat[i], flat[i + 1]]);
    }
    #update() {
      if (this.#url) setSearchFromParams(this.#url, this.toString());
    }
    static {
      attachParams = (params, url, query) => {
        params.#url = url;
        params.#parse(query);
      };
    }
    get size() { return this.#list.length; }
    append(name, value) { this.#list.push([`${name}`, `${value}`]); this.#update(); }
    delete(name, value) {
      name = `${name}`;
      this.#list = this.#list.filter(([n, v]) => n !== name || (value !== undefined && v !== `${value}`));
      this.#update();
    }
    get(name) {
      const found = this.#list.find(([n]) => n === `${name}`);
      return found ? found[1] : null;
    }
    getAll(name) { return this.#list.filter(([n]) => n === `${name}`).map(([, v]) => v); }
    has(name, value) {
      return this.#list.some(([n, v]) => n === `${name}` && (value === undefined || v === `${value}`));
    }
    set(name, value) {
      name = `${name}`;
      const at = this.#list.findIndex(([n]) => n === name);
      if (at < 0) {
        this.#list.push([name, `${value}`]);
      } else {
        this.#list[at][1] = `${value}`;
        this.#list = this.#list.filter(([n], i) => i <= at || n !== name);
      }
      this.#update();
    }
    sort() {
      // Stable, by UTF-16 code units, as the standard says.
      this.#list = this.#list.map((p, i) => [p, i])
        .sort((a, b) => (a[0][0] < b[0][0] ? -1 : a[0][0] > b[0][0] ? 1 : a[1] - b[1]))
        .map(([p]) => p);
      this.#update();
    }
    forEach(callback, thisArg) {
      for (const [name, value] of this.#list.slice()) callback.call(thisArg, value, name, this);
    }
    *entries() { for (const [n, v] of this.#list.slice()) yield [n, v]; }
    *keys() { for (const [n] of this.#list.slice()) yield n; }
    *values() { for (const [, v] of this.#list.slice()) yield v; }
    [Symbol.iterator]() { return this.entries(); }
    toString() { return native.formSerialize(this.#list.flat()); }
    get [Symbol.toStringTag]() { return 'URLSearchParams'; }
  }

  // Each URL's parts, `[href, origin, protocol, …, hash]` as `native.urlParse` returns them.
  const urlParts = new WeakMap();
  const partsOf = (url) => {
    const parts = urlParts.get(url);
    if (!parts) throw new TypeError('URL: the receiver is not a URL');
    return parts;
  };
  const urlParams = new WeakMap();
  // Runs one of the standard's setters on `url`, and brings its searchParams up to date.
  function setPart(url, name, value) {
    const parts = native.urlSet(partsOf(url)[0], name, `${value}`);
    if (!parts) throw new TypeError(`URL: ${value} is not a valid URL`);
    urlParts.set(url, parts);
    const params = urlParams.get(url);
    if (params && name !== 'query-from-params') attachParams(params, url, parts[9].slice(1));
  }

  class URL {
    constructor(url, base) {
      if (arguments.length === 0) throw new TypeError('URL constructor: 1 argument required, but only 0 present');
      const parts = base === undefined ? native.urlParse(`${url}`) : native.urlParse(`${url}`, `${base}`);
      if (!parts) {
        throw new TypeError(`URL constructor: ${url} is not a valid URL` +
          (base === undefined ? '' : ` (relative to ${base})`));
      }
      urlParts.set(this, parts);
    }
    static canParse(url, base) {
      return (base === undefined ? native.urlParse(`${url}`) : native.urlParse(`${url}`, `${base}`)) != null;
    }
    static parse(url, base) {
      try { return new URL(url, base); } catch { return null; }
    }
    static createObjectURL(blob) {
      if (!(blob instanceof Blob)) throw new TypeError('URL.createObjectURL: the argument is not a Blob');
      const bytes = blobBytes(blob);
      return native.blobRegister(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), blob.type);
    }
    static revokeObjectURL(url) { native.blobRevoke(`${url}`); }
    get searchParams() {
      let params = urlParams.get(this);
      if (!params) {
        params = new URLSearchParams();
        attachParams(params, this, partsOf(this)[9].slice(1));
        urlParams.set(this, params);
      }
      return params;
    }
    get href() { return partsOf(this)[0]; }
    set href(value) { setPart(this, 'href', value); }
    toString() { return partsOf(this)[0]; }
    toJSON() { return partsOf(this)[0]; }
    get [Symbol.toStringTag]() { return 'URL'; }
  }
  PARTS.forEach((name, index) => {
    if (name === 'href') return;
    const descriptor = { configurable: true, enumerable: true };
    descriptor.get = function () { return partsOf(this)[index]; };
    if (SETTABLE.includes(name)) descriptor.set = function (value) { setPart(this, name, value); };
    Object.defineProperty(URL.prototype, name, descriptor);
  });
  // URLSearchParams' mutations write the URL's query (an empty list leaves no `?`).
  const setSearchFromParams = (url, query) => {
    const parts = native.urlSet(partsOf(url)[0], 'search', query);
    if (parts) urlParts.set(url, parts);
  };
  define(global, 'URL', URL);
  define(global, 'URLSearchParams', URLSearchParams);

  // ---- Blob and File ------------------------------------------------------------------------

  const encoder = { encode: (text) => encodeUtf8(`${text}`) };

  let blobBytes;
  let blobFromBytes;
  class Blob {
    #bytes;
    #type;
    constructor(parts = [], options = {}) {
      if (typeof parts !== 'object' || parts === null || typeof parts[Symbol.iterator] !== 'function') {
        throw new TypeError('Blob constructor: the parts are not a sequence');
      }
      const chunks = [];
      let length = 0;
      for (const part of parts) {
        let chunk;
        if (part instanceof Blob) chunk = part.#bytes;
        else if (part instanceof ArrayBuffer || isShared(part) || ArrayBuffer.isView(part)) chunk = bytesOf(part, 'Blob');
        else chunk = encoder.encode(part);
        chunks.push(chunk);
        length += chunk.length;
      }
      this.#bytes = new Uint8Array(length);
      let at = 0;
      for (const chunk of chunks) {
        this.#bytes.set(chunk, at);
        at += chunk.length;
      }
      const type = options && options.type !== undefined ? `${options.type}` : '';
      this.#type = /^[\x20-\x7e]*$/.test(type) ? type.toLowerCase() : '';
    }
    static {
      blobBytes = (blob) => blob.#bytes;
      blobFromBytes = (bytes, type) => {
        const blob = new Blob([], { type });
        blob.#bytes = bytes;
        return blob;
      };
    }
    get size() { return this.#bytes.length; }
    get type() { return this.#type; }
    slice(start = 0, end = this.#bytes.length, type = '') {
      const size = this.#bytes.length;
      const clamp = (n) => (n < 0 ? Math.max(size + n, 0) : Math.min(n, size));
      return blobFromBytes(this.#bytes.slice(clamp(Number(start) || 0), clamp(Number(end))), `${type}`);
    }
    arrayBuffer() { return Promise.resolve(this.#bytes.slice().buffer); }
    bytes() { return Promise.resolve(this.#bytes.slice()); }
    text() { return Promise.resolve(decodeUtf8(this.#bytes)); }
    get [Symbol.toStringTag]() { return 'Blob'; }
  }
  class File extends Blob {
    #name;
    #lastModified;
    constructor(parts, name, options = {}) {
      if (arguments.length < 2) throw new TypeError('File constructor: 2 arguments required');
      super(parts, options);
      this.#name = `${name}`;
      this.#lastModified = options && options.lastModified !== undefined ? Number(options.lastModified) : Date.now();
    }
    get name() { return this.#name; }
    get lastModified() { return this.#lastModified; }
    get [Symbol.toStringTag]() { return 'File'; }
  }
  define(global, 'Blob', Blob);
  define(global, 'File', File);

  // ---- TextEncoder / TextDecoder (decoders are encoding_rs's) ------------------------------------

  function encodeUtf8(text) {
    const out = new Uint8Array(text.length * 3);
    let n = 0;
    for (let i = 0; i < text.length; i++) {
      let c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
        }
      }
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // a lone surrogate
      if (c < 0x80) out[n++] = c;
      else if (c < 0x800) { out[n++] = 0xc0 | (c >> 6); out[n++] = 0x80 | (c & 63); }
      else if (c < 0x10000) { out[n++] = 0xe0 | (c >> 12); out[n++] = 0x80 | ((c >> 6) & 63); out[n++] = 0x80 | (c & 63); }
      else {
        out[n++] = 0xf0 | (c >> 18); out[n++] = 0x80 | ((c >> 12) & 63);
        out[n++] = 0x80 | ((c >> 6) & 63); out[n++] = 0x80 | (c & 63);
      }
    }
    return out.slice(0, n);
  }
  let nextDecoder = 1;
  const decoderRegistry = typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry((id) => native.decoderFree(id)) : null;
  function decodeUtf8(bytes) {
    return native.decode(0, 'utf-8', 0, bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  class TextEncoder {
    get encoding() { return 'utf-8'; }
    encode(input = '') { return encodeUtf8(`${input}`); }
    encodeInto(source, destination) {
      if (!(destination instanceof Uint8Array)) throw new TypeError('TextEncoder.encodeInto: the destination is not a Uint8Array');
      const text = `${source}`;
      let read = 0;
      let written = 0;
      for (let i = 0; i < text.length;) {
        const c = text.codePointAt(i);
        const units = c > 0xffff ? 2 : 1;
        const bytes = encodeUtf8(text.slice(i, i + units));
        if (written + bytes.length > destination.length) break;
        destination.set(bytes, written);
        written += bytes.length;
        read += units;
        i += units;
      }
      return { read, written };
    }
    get [Symbol.toStringTag]() { return 'TextEncoder'; }
  }

  class TextDecoder {
    #encoding;
    #fatal;
    #ignoreBOM;
    #id = nextDecoder++;
    constructor(label = 'utf-8', options = {}) {
      const name = native.encodingName(`${label}`);
      if (name == null) throw new RangeError(`TextDecoder constructor: "${label}" is not a supported encoding`);
      this.#encoding = name;
      this.#fatal = Boolean(options && options.fatal);
      this.#ignoreBOM = Boolean(options && options.ignoreBOM);
      if (decoderRegistry) decoderRegistry.register(this, this.#id);
    }
    get encoding() { return this.#encoding; }
    get fatal() { return this.#fatal; }
    get ignoreBOM() { return this.#ignoreBOM; }
    decode(input, options = {}) {
      const stream = Boolean(options && options.stream);
      let buffer;
      let offset = 0;
      let length;
      if (input === undefined) {
        buffer = new ArrayBuffer(0);
        length = 0;
      } else if (input instanceof ArrayBuffer) {
        buffer = input;
        length = input.byteLength;
      } else if (ArrayBuffer.isView(input)) {
        buffer = input.buffer;
        offset = input.byteOffset;
        length = input.byteLength;
      } else if (isShared(input)) {
        buffer = input;
        length = input.byteLength;
      } else {
        throw new TypeError('TextDecoder.decode: the input is not an ArrayBuffer or a view');
      }
      // The standard's `decode` takes an [AllowShared]-less BufferSource: a view on a
      // SharedArrayBuffer is a TypeError (copy it first, as Emscripten does).
      if (isShared(buffer)) {
        throw new TypeError('TextDecoder.decode: the input is backed by a SharedArrayBuffer; copy it into an ArrayBuffer first');
      }
      const flags = (this.#ignoreBOM ? 1 : 0) | (this.#fatal ? 2 : 0) | (stream ? 4 : 0);
      return native.decode(this.#id, this.#encoding, flags, buffer, offset, length);
    }
    get [Symbol.toStringTag]() { return 'TextDecoder'; }
  }
  define(global, 'TextEncoder', TextEncoder);
  define(global, 'TextDecoder', TextDecoder);

  // ---- atob / btoa, crypto, navigator -------------------------------------------------------

  define(global, 'atob', function atob(data) {
    if (arguments.length === 0) throw new TypeError('atob: 1 argument required, but only 0 present');
    const decoded = native.atob(`${data}`);
    if (decoded === null || decoded === undefined) {
      throw domException('atob: the string to be decoded is not correctly encoded', 'InvalidCharacterError');
    }
    return decoded;
  });
  define(global, 'btoa', function btoa(data) {
    if (arguments.length === 0) throw new TypeError('btoa: 1 argument required, but only 0 present');
    const text = `${data}`;
    for (let i = 0; i < text.length; i++) {
      if (text.charCodeAt(i) > 255) {
        throw domException('btoa: the string contains characters outside of the Latin1 range', 'InvalidCharacterError');
      }
    }
    return native.btoa(text);
  });

  const INTEGER_VIEWS = ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
    'Int32Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array'];
  const crypto = {
    getRandomValues(array) {
      const tag = ArrayBuffer.isView(array) ? Object.prototype.toString.call(array).slice(8, -1) : '';
      if (!INTEGER_VIEWS.includes(tag)) {
        throw domException('crypto.getRandomValues: the argument is not an integer typed array', 'TypeMismatchError');
      }
      if (isShared(array.buffer)) {
        throw new TypeError('crypto.getRandomValues: the view is backed by a SharedArrayBuffer');
      }
      if (array.byteLength > 65536) {
        throw domException(`crypto.getRandomValues: ${array.byteLength} bytes asked, at most 65536 allowed`, 'QuotaExceededError');
      }
      new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(new Uint8Array(native.random(array.byteLength)));
      return array;
    },
    randomUUID() {
      const b = new Uint8Array(native.random(16));
      b[6] = (b[6] & 0x0f) | 0x40;
      b[8] = (b[8] & 0x3f) | 0x80;
      const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    },
  };
  define(global, 'crypto', crypto);
  define(global, 'navigator', Object.freeze({
    hardwareConcurrency: native.hardwareConcurrency(),
    userAgent: 'agentsync',
    language: 'en-US',
    languages: Object.freeze(['en-US']),
    onLine: false,
  }));

  // ---- Headers, Response, fetch -------------------------------------------------------------

  class Headers {
    #map = new Map();
    constructor(init) {
      if (init instanceof Headers) init = [...init];
      if (init && typeof init[Symbol.iterator] === 'function') {
        for (const [name, value] of init) this.append(name, value);
      } else if (init && typeof init === 'object') {
        for (const name of Object.keys(init)) this.append(name, init[name]);
      }
    }
    append(name, value) {
      const key = `${name}`.toLowerCase();
      const old = this.#map.get(key);
      this.#map.set(key, old === undefined ? `${value}`.trim() : `${old}, ${`${value}`.trim()}`);
    }
    set(name, value) { this.#map.set(`${name}`.toLowerCase(), `${value}`.trim()); }
    get(name) { const v = this.#map.get(`${name}`.toLowerCase()); return v === undefined ? null : v; }
    has(name) { return this.#map.has(`${name}`.toLowerCase()); }
    delete(name) { this.#map.delete(`${name}`.toLowerCase()); }
    forEach(callback, thisArg) { for (const [k, v] of this) callback.call(thisArg, v, k, this); }
    *entries() { yield* [...this.#map.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)); }
    *keys() { for (const [k] of this.entries()) yield k; }
    *values() { for (const [, v] of this.entries()) yield v; }
    [Symbol.iterator]() { return this.entries(); }
    get [Symbol.toStringTag]() { return 'Headers'; }
  }

  const STATUS_TEXT = { 200: 'OK', 404: 'Not Found' };

  let responseFromRead;
  class Response {
    #bytes;
    #status;
    #statusText;
    #headers;
    #url = '';
    #used = false;
    constructor(body = null, init = {}) {
      this.#status = init.status === undefined ? 200 : Number(init.status);
      if (!(this.#status >= 200 && this.#status <= 599) || this.#status % 1 !== 0) {
        throw new RangeError(`Response constructor: status ${init.status} is not in the range 200 to 599`);
      }
      this.#statusText = init.statusText === undefined ? '' : `${init.statusText}`;
      this.#headers = new Headers(init.headers);
      if (body === null || body === undefined) {
        this.#bytes = new Uint8Array(0);
      } else if (body instanceof Blob) {
        this.#bytes = blobBytes(body).slice();
        if (body.type && !this.#headers.has('content-type')) this.#headers.set('content-type', body.type);
      } else if (body instanceof ArrayBuffer || ArrayBuffer.isView(body) || isShared(body)) {
        this.#bytes = bytesOf(body, 'Response');
      } else if (body instanceof URLSearchParams) {
        this.#bytes = encodeUtf8(body.toString());
        if (!this.#headers.has('content-type')) this.#headers.set('content-type', 'application/x-www-form-urlencoded;charset=UTF-8');
      } else {
        this.#bytes = encodeUtf8(`${body}`);
        if (!this.#headers.has('content-type')) this.#headers.set('content-type', 'text/plain;charset=UTF-8');
      }
    }
    static {
      responseFromRead = (bytes, type, url, status) => {
        const response = new Response(bytes, { status, statusText: STATUS_TEXT[status] || '' });
        if (type) response.#headers.set('content-type', type);
        response.#url = url;
        return response;
      };
    }
    static error() { const r = new Response(); r.#status = 0; return r; }
    get ok() { return this.#status >= 200 && this.#status <= 299; }
    get status() { return this.#status; }
    get statusText() { return this.#statusText; }
    get headers() { return this.#headers; }
    get url() { return this.#url; }
    get type() { return 'basic'; }
    get redirected() { return false; }
    get bodyUsed() { return this.#used; }
    get body() { return null; }
    #consume() {
      if (this.#used) return Promise.reject(new TypeError('Response: the body has already been read'));
      this.#used = true;
      return Promise.resolve(this.#bytes);
    }
    arrayBuffer() { return this.#consume().then((b) => b.buffer); }
    bytes() { return this.#consume(); }
    text() { return this.#consume().then(decodeUtf8); }
    json() { return this.text().then((t) => JSON.parse(t)); }
    blob() { return this.#consume().then((b) => blobFromBytes(b, this.#headers.get('content-type') || '')); }
    clone() {
      if (this.#used) throw new TypeError('Response.clone: the body has already been read');
      const copy = new Response(this.#bytes.slice(), { status: this.#status, statusText: this.#statusText, headers: this.#headers });
      copy.#url = this.#url;
      return copy;
    }
    get [Symbol.toStringTag]() { return 'Response'; }
  }
  define(global, 'Headers', Headers);
  define(global, 'Response', Response);

  // Reads a URL relative to this agent's script: [bytes|null, type or message, url, status, name].
  const readUrl = (input) => native.read(`${input}`);

  define(global, 'fetch', function fetch(input, init) {
    return new Promise((resolve) => {
      if (arguments.length === 0) throw new TypeError('fetch: 1 argument required, but only 0 present');
      const method = init && init.method !== undefined ? `${init.method}`.toUpperCase() : 'GET';
      if (method !== 'GET' && method !== 'HEAD') {
        throw new TypeError(`fetch: ${method} is not supported: the host reads local files only (GET, HEAD)`);
      }
      const url = typeof input === 'object' && input !== null && 'url' in input ? input.url : input;
      const [bytes, type, href, status] = readUrl(url);
      if (bytes === null) {
        resolve(responseFromRead(null, 'text/plain', href, 404));
      } else {
        resolve(responseFromRead(method === 'HEAD' ? null : bytes, type, href, status));
      }
    });
  });

  // WebAssembly.compileStreaming / instantiateStreaming over a Response (or a promise of one).
  if (typeof global.WebAssembly === 'object' && global.WebAssembly !== null) {
    const api = global.WebAssembly;
    const bytesOfResponse = (source) => Promise.resolve(source).then((response) => {
      if (!(response instanceof Response)) {
        throw new TypeError('WebAssembly: the argument is not a Response (or a promise of one)');
      }
      if (!response.ok) {
        throw new TypeError(`WebAssembly: the response to ${response.url} has status ${response.status}`);
      }
      const type = (response.headers.get('content-type') || '').split(';')[0].trim().toLowerCase();
      if (type !== 'application/wasm') {
        throw new TypeError(`WebAssembly: the response's MIME type is "${type}", not "application/wasm"`);
      }
      return response.arrayBuffer();
    });
    define(api, 'compileStreaming', function compileStreaming(source) {
      return bytesOfResponse(source).then((bytes) => api.compile(bytes));
    });
    define(api, 'instantiateStreaming', function instantiateStreaming(source, imports) {
      return bytesOfResponse(source).then((bytes) => api.instantiate(bytes, imports));
    });
  }

  // ---- XMLHttpRequest (GET of local files) ----------------------------------------------------

  class XMLHttpRequest {
    static UNSENT = 0;
    static OPENED = 1;
    static HEADERS_RECEIVED = 2;
    static LOADING = 3;
    static DONE = 4;
    #listeners = new Map();
    #method = 'GET';
    #url = null;
    #async = true;
    #state = 0;
    #status = 0;
    #bytes = null;
    #type = '';
    #mime = null;
    #responseType = '';
    #response = null;
    #sent = false;
    #aborted = false;
    constructor() {
      for (const type of ['load', 'error', 'loadend', 'loadstart', 'progress', 'abort', 'timeout', 'readystatechange']) {
        this['on' + type] = null;
      }
      this.timeout = 0;
      this.withCredentials = false;
    }
    get readyState() { return this.#state; }
    get status() { return this.#status; }
    get statusText() { return STATUS_TEXT[this.#status] || ''; }
    get responseURL() { return this.#state === 4 && this.#url ? this.#url : ''; }
    get responseType() { return this.#responseType; }
    set responseType(value) {
      if (isMain && this.#state !== 0 && !this.#async) {
        throw domException('XMLHttpRequest: responseType cannot be set for a synchronous request of a window', 'InvalidAccessError');
      }
      if (['', 'text', 'arraybuffer', 'blob', 'json', 'document'].includes(`${value}`)) this.#responseType = `${value}`;
    }
    addEventListener(type, listener) {
      const list = this.#listeners.get(type) || [];
      if (!list.includes(listener)) list.push(listener);
      this.#listeners.set(type, list);
    }
    removeEventListener(type, listener) {
      const list = this.#listeners.get(type) || [];
      const at = list.indexOf(listener);
      if (at >= 0) list.splice(at, 1);
    }
    #fire(type) {
      const event = new global.Event(type);
      Object.defineProperty(event, 'target', { value: this });
      const handler = this['on' + type];
      if (typeof handler === 'function') handler.call(this, event);
      for (const listener of (this.#listeners.get(type) || []).slice()) {
        if (typeof listener === 'function') listener.call(this, event);
        else if (listener && typeof listener.handleEvent === 'function') listener.handleEvent(event);
      }
    }
    open(method, url, async = true) {
      this.#method = `${method}`.toUpperCase();
      this.#url = `${url}`;
      this.#async = Boolean(async);
      if (isMain && !this.#async && this.#responseType !== '') {
        throw domException('XMLHttpRequest: a synchronous request of a window cannot have a responseType', 'InvalidAccessError');
      }
      this.#state = 1;
      this.#sent = false;
      this.#aborted = false;
      this.#status = 0;
      this.#bytes = null;
      this.#response = null;
      this.#fire('readystatechange');
    }
    setRequestHeader() {
      if (this.#state !== 1 || this.#sent) throw domException('XMLHttpRequest: the request is not opened', 'InvalidStateError');
    }
    overrideMimeType(mime) { this.#mime = `${mime}`; }
    getResponseHeader(name) {
      if (this.#state < 2 || `${name}`.toLowerCase() !== 'content-type' || !this.#type) return null;
      return this.#type;
    }
    getAllResponseHeaders() { return this.#state >= 2 && this.#type ? `content-type: ${this.#type}\r\n` : ''; }
    abort() {
      this.#aborted = true;
      if (this.#sent && this.#state !== 4) {
        this.#state = 4;
        this.#fire('readystatechange');
        this.#fire('abort');
        this.#fire('loadend');
      }
      this.#state = 0;
    }
    send() {
      if (this.#state !== 1 || this.#sent) throw domException('XMLHttpRequest: the request is not opened', 'InvalidStateError');
      this.#sent = true;
      if (this.#method !== 'GET' && this.#method !== 'HEAD') {
        throw domException(`XMLHttpRequest: ${this.#method} is not supported: the host reads local files only`, 'NetworkError');
      }
      let result;
      let failure = null;
      try {
        result = readUrl(this.#url);
      } catch (error) {
        failure = error;
      }
      const finish = () => {
        if (this.#aborted) return;
        if (failure) {
          this.#state = 4;
          this.#fire('readystatechange');
          this.#fire('error');
          this.#fire('loadend');
          return;
        }
        const [bytes, type, href, status] = result;
        this.#url = href;
        this.#status = status;
        this.#bytes = bytes === null ? new Uint8Array(0) : new Uint8Array(bytes);
        this.#type = bytes === null ? 'text/plain' : type;
        this.#state = 4;
        this.#fire('readystatechange');
        this.#fire('load');
        this.#fire('loadend');
      };
      if (!this.#async) {
        if (failure) {
          this.#state = 4;
          throw domException(`XMLHttpRequest: ${failure.message}`, 'NetworkError');
        }
        finish();
        return;
      }
      this.#fire('loadstart');
      setTimeout(finish, 0);
    }
    get responseText() {
      if (this.#responseType !== '' && this.#responseType !== 'text') {
        throw domException('XMLHttpRequest: responseText needs responseType "" or "text"', 'InvalidStateError');
      }
      return this.#state === 4 && this.#bytes ? decodeUtf8(this.#bytes) : '';
    }
    get response() {
      if (this.#state !== 4 || !this.#bytes) return this.#responseType === '' || this.#responseType === 'text' ? '' : null;
      if (this.#response !== null) return this.#response;
      switch (this.#responseType) {
        case 'arraybuffer': this.#response = this.#bytes.slice().buffer; break;
        case 'blob': this.#response = blobFromBytes(this.#bytes.slice(), this.#mime || this.#type); break;
        case 'json':
          try { this.#response = JSON.parse(decodeUtf8(this.#bytes)); } catch { this.#response = null; }
          break;
        default: return decodeUtf8(this.#bytes);
      }
      return this.#response;
    }
    get [Symbol.toStringTag]() { return 'XMLHttpRequest'; }
  }
  define(global, 'XMLHttpRequest', XMLHttpRequest);

  // ---- location, window, document, importScripts ----------------------------------------------

  class Location {
    toString() { return this.href; }
    get [Symbol.toStringTag]() { return isMain ? 'Location' : 'WorkerLocation'; }
  }
  for (const [index, name] of PARTS.entries()) {
    Object.defineProperty(Location.prototype, name, {
      get() { return native.urlParse(native.location())[index]; },
      configurable: true,
      enumerable: true,
    });
  }
  const location = new Location();
  Object.defineProperty(global, 'location', {
    get() { return location; },
    configurable: true,
    enumerable: true,
  });

  if (isMain) {
    // Emscripten's `Module` object, as a page that embeds a program configures it: its
    // `onExit(status)` (which Emscripten calls when a program built with -sEXIT_RUNTIME
    // exits, or returns from main) ends the run with that status, after any `onExit` the
    // script set itself; and its `arguments` (main's argv) are the script's arguments,
    // `agentsync.args`, unless the script set them. The global starts undefined; whatever
    // object is assigned to it gets the hook.
    const HOOKED = Symbol('agentsync exit hook');
    let moduleObject;
    const hookExit = (object) => {
      if (object === null || (typeof object !== 'object' && typeof object !== 'function')) return;
      const theirs = object.onExit;
      if (typeof theirs === 'function' && theirs[HOOKED]) return;
      const onExit = function onExit(status) {
        try {
          if (typeof theirs === 'function') theirs.call(this, status);
        } finally {
          native.exit(status);
        }
      };
      onExit[HOOKED] = true;
      object.onExit = onExit;
      const namespace = global.agentsync;
      if (object.arguments === undefined && namespace && Array.isArray(namespace.args)) {
        object.arguments = namespace.args.slice();
      }
    };
    Object.defineProperty(global, 'Module', {
      get() { return moduleObject; },
      set(value) { moduleObject = value; hookExit(value); },
      configurable: true,
      enumerable: false,
    });

    // The main agent is a page's script: `window` and `self` are the global, and
    // `document.currentScript.src` names the script (Emscripten finds its files by it).
    define(global, 'window', global);
    define(global, 'self', global);
    const currentScript = Object.freeze({
      get src() { return native.location(); },
      get type() { return ''; },
    });
    define(global, 'document', {
      get currentScript() { return currentScript; },
      get URL() { return native.location(); },
      get documentURI() { return native.location(); },
      get baseURI() { return native.location(); },
      title: '',
      querySelector() { return null; },
      getElementById() { return null; },
    });
  } else {
    define(global, 'importScripts', function importScripts(...urls) {
      // Every script is fetched first, then they run in order (HTML's import scripts).
      const scripts = urls.map((url) => {
        let result;
        try {
          result = readUrl(url);
        } catch (error) {
          throw domException(`importScripts: ${error.message}`, 'NetworkError');
        }
        const [bytes, message, , status, name] = result;
        if (status !== 200) throw domException(`importScripts: ${message}`, 'NetworkError');
        return [decodeUtf8(new Uint8Array(bytes)), name];
      });
      for (const [source, name] of scripts) native.evalScript(source, name);
    });
  }
})
