// Structured clone as HTML defines it (and node does): a 1,000-node list, symbol keys skipped,
// errors and DataViews serializable, getters read, holes and extra array properties kept,
// platform objects and functions refused, no argument a TypeError, cycles and shared buffers.
const show = (v) => JSON.stringify(v, (k, x) => typeof x === 'bigint' ? x + 'n' : x);
let list = null; for (let i = 0; i < 1000; i++) list = { v: i, next: list };
let c = structuredClone(list); let n = 0; while (c) { n++; c = c.next; } print('list', n);
const sym = Symbol('s'); const o = { a: 1, [sym]: 2 }; print('symbol keys', Object.getOwnPropertySymbols(structuredClone(o)).length);
const e = structuredClone(new RangeError('bad', { cause: 1 })); print('error', e instanceof RangeError, e.name, e.message);
const dv = structuredClone(new DataView(new ArrayBuffer(8), 2, 4)); print('dataview', dv instanceof DataView, dv.byteOffset, dv.byteLength, dv.buffer.byteLength);
const g = structuredClone({ get x() { return 42; } }); print('getter', g.x, Object.getOwnPropertyDescriptor(g, 'x').value);
const arr = [1, , 3]; arr.extra = 'e'; const ac = structuredClone(arr); print('holes', 1 in ac, ac.length, ac.extra);
try { structuredClone(new WebAssembly.Global({ value: 'i32' }, 1)); print('global cloned'); } catch (x) { print('global', x.name); }
try { structuredClone(); } catch (x) { print('no arg', x.name); }
try { structuredClone(() => 1); } catch (x) { print('function', x.name); }
const cyc = { m: new Map(), s: new Set() }; cyc.self = cyc; cyc.m.set(cyc, cyc.s); cyc.s.add(cyc);
const cc = structuredClone(cyc); print('cycle', cc.self === cc, cc.m.get(cc) === cc.s, cc.s.has(cc));
const buf = new ArrayBuffer(4); const two = structuredClone({ a: new Uint8Array(buf), b: new DataView(buf) }); print('shared buffer', two.a.buffer === two.b.buffer);
print('misc', show(structuredClone([new Date(5).getTime(), Object(1n) instanceof BigInt, /a/g.flags])), structuredClone(new Date(7)).getTime(), structuredClone(/x/gi).flags, typeof structuredClone(Object(1n)));
const w = new Worker(`onmessage = (e) => { let n = 0, c = e.data.list; while (c) { n++; c = c.next; } postMessage({ n, err: e.data.err instanceof TypeError, msg: e.data.err.message, dv: e.data.dv.getUint8(1) }); }`, { eval: true });
const dvw = new DataView(new ArrayBuffer(4)); dvw.setUint8(1, 9);
w.postMessage({ list, err: new TypeError('t'), dv: dvw });
w.onmessage = (e) => { print('worker', show(e.data)); w.terminate(); };
