//! The waiting rules of the ECMAScript `Atomics` (S1…S32 of the notes), each checked by a script
//! run in a fresh host. A script throws (failing the run) on the first wrong result and ends with
//! `done()`. `mem` is a SharedArrayBuffer over Rust memory; `queued(byte, n)` resolves once `n`
//! waiters are queued on that byte (see tests/common).

mod common;

use common::{run_js, run_js_blocking};

/// A test whose script runs on a main agent that cannot block.
macro_rules! js {
    ($name:ident, $source:expr) => {
        #[test]
        fn $name() {
            run_js(concat!("(async () => {\n", $source, "\ndone();\n})();")).done();
        }
    };
}

/// A test whose script runs on a main agent that can block (`main_can_block(true)`).
macro_rules! js_blocking {
    ($name:ident, $source:expr) => {
        #[test]
        fn $name() {
            run_js_blocking(concat!("(async () => {\n", $source, "\ndone();\n})();")).done();
        }
    };
}

js!(
    s1_int32_notify_wakes_bigint64_waiter_on_the_same_bytes,
    r#"
    const big = new BigInt64Array(mem);
    const ia = new Int32Array(mem);
    for (const k of [0, 1, 5]) {
      const r = Atomics.waitAsync(big, k, 0n);
      eq(r.async, true, `BigInt64 waiter at ${k} is queued`);
      eq(Atomics.notify(ia, 2 * k + 1, 1), 0, `Int32 index ${2 * k + 1} is another location`);
      eq(Atomics.notify(ia, 2 * k, 1), 1, `Int32 index ${2 * k} wakes BigInt64 index ${k}`);
      eq(await r.value, 'ok', 'woken waiter result');
    }
    // And the other way round: a BigInt64 notify wakes an Int32 waiter at the same byte.
    const r = Atomics.waitAsync(ia, 4, 0);
    eq(Atomics.notify(big, 2), 1, 'BigInt64 index 2 wakes Int32 index 4');
    eq(await r.value, 'ok', 'Int32 waiter result');
    // A worker blocked in a BigInt64 wait is woken by an Int32 notify on its first word.
    const w = spawnFn(() => {
      onmessage = (e) => {
        postMessage(Atomics.wait(new BigInt64Array(e.data), 3, 0n));
        close();
      };
    });
    w.postMessage(mem);
    await queued(24, 1);
    eq(Atomics.notify(ia, 7), 0, 'the second word of the element is another location');
    eq(Atomics.notify(ia, 6), 1, 'Int32 index 6 wakes the blocked BigInt64 index 3');
    eq(await w.next(), 'ok', 'blocking BigInt64 result');
    "#
);

js!(
    s1_views_with_different_offsets_share_one_list,
    r#"
    const a = new Int32Array(mem, 8);  // a[1] is byte 12
    const b = new Int32Array(mem, 4);  // b[2] is byte 12
    const c = new BigInt64Array(mem, 8, 2); // c[0] is byte 8
    const r1 = Atomics.waitAsync(a, 1, 0);
    const r2 = Atomics.waitAsync(b, 2, 0);
    await queued(12, 2);
    eq(Atomics.notify(new Int32Array(mem), 3), 2, 'a plain view at byte 12 wakes both');
    eq(await r1.value, 'ok', 'first');
    eq(await r2.value, 'ok', 'second');
    const r3 = Atomics.waitAsync(c, 0, 0n);
    eq(Atomics.notify(b, 1), 1, 'b[1] is byte 8 = c[0]');
    eq(await r3.value, 'ok', 'BigInt64 at offset 8');
    "#
);

js!(
    s2_location_is_index_times_size_plus_byte_offset,
    r#"
    const big = new BigInt64Array(mem, 16); // big[1] is byte 24
    const r = Atomics.waitAsync(big, 1, 0n);
    await queued(24, 1); // Rust sees the waiter at base + 16 + 1 * 8
    const ia = new Int32Array(mem, 4);       // ia[5] is byte 24
    eq(Atomics.notify(ia, 4), 0, 'byte 20 is not it');
    eq(Atomics.notify(ia, 5), 1, 'byte 24 is it');
    eq(await r.value, 'ok', 'result');
    const i32 = new Int32Array(mem, 40);
    const r2 = Atomics.waitAsync(i32, 3, 0);
    await queued(52, 1);
    eq(Atomics.notify(new Int32Array(mem), 13), 1, '40 + 3 * 4 = 52 = 13 * 4');
    eq(await r2.value, 'ok', 'result 2');
    "#
);

js!(
    s4_fifo_across_blocking_and_async_waiters,
    r#"
    const ia = new Int32Array(mem);
    const first = blocker(0);
    await queued(0, 1);
    const second = Atomics.waitAsync(ia, 0, 0);
    eq(second.async, true, 'main is queued');
    const third = blocker(0);
    await queued(0, 3);
    eq(Atomics.notify(ia, 0, 1), 1, 'one woken');
    eq(await first.next(), 'ok', 'the first (blocking) waiter is woken first');
    eq(await settled(second.value), false, 'the async waiter is still queued');
    eq(Atomics.notify(ia, 0, 1), 1, 'one woken');
    eq(await second.value, 'ok', 'the second (async) waiter is woken second');
    eq(Atomics.notify(ia, 0, 1), 1, 'one woken');
    eq(await third.next(), 'ok', 'the third (blocking) waiter last');
    eq(Atomics.notify(ia, 0), 0, 'nobody left');
    "#
);

js!(
    s5_one_agent_holds_several_records_in_one_list,
    r#"
    const ia = new Int32Array(mem);
    const order = [];
    const rs = [0, 1, 2].map((i) => Atomics.waitAsync(ia, 0, 0));
    rs.forEach((r, i) => { eq(r.async, true, `record ${i}`); r.value.then(() => order.push(i)); });
    await queued(0, 3);
    eq(Atomics.notify(ia, 0, 2), 2, 'two of the three records');
    await sleep(10);
    eq(order.join(), '0,1', 'the first two, in order');
    eq(Atomics.notify(ia, 0, 2), 1, 'one left');
    await rs[2].value;
    eq(order.join(), '0,1,2', 'all');
    "#
);

js!(
    s6_no_spurious_wakeups_and_writes_do_not_wake,
    r#"
    const ia = new Int32Array(mem);
    const start = performance.now();
    const r = Atomics.waitAsync(ia, 0, 0, 200);
    Atomics.store(ia, 0, 1);
    ia[0] = 2;
    Atomics.add(ia, 0, 1);
    Atomics.exchange(ia, 0, 5);
    eq(await r.value, 'timed-out', 'writes do not wake');
    const elapsed = performance.now() - start;
    if (elapsed < 190) throw new Error(`woke after ${elapsed} ms, before its 200 ms timeout`);
    // A blocking waiter is not woken by writes either.
    Atomics.store(ia, 1, 0);
    const w = blocker(1, 150);
    await queued(4, 1);
    Atomics.store(ia, 1, 7);
    eq(await w.next(), 'timed-out', 'blocking waiter after writes');
    "#
);

js_blocking!(
    s9_only_int32_and_bigint64_arrays_can_be_waited_on,
    r#"
    const sab = new SharedArrayBuffer(64);
    for (const T of [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array,
                     Uint32Array, BigUint64Array, Float32Array, Float64Array]) {
      const view = new T(sab);
      const value = T === BigUint64Array ? 0n : 0;
      throws(() => Atomics.waitAsync(view, 0, value, 0), 'TypeError', `waitAsync on ${T.name}`);
      throws(() => Atomics.wait(view, 0, value, 0), 'TypeError', `wait on ${T.name}`);
    }
    for (const notView of [{}, [0], sab, new DataView(sab), 1, undefined]) {
      throws(() => Atomics.waitAsync(notView, 0, 0, 0), 'TypeError', `waitAsync on ${show(notView)}`);
      throws(() => Atomics.wait(notView, 0, 0, 0), 'TypeError', `wait on ${show(notView)}`);
    }
    eq(Atomics.wait(new Int32Array(sab), 0, 0, 0), 'timed-out', 'Int32Array');
    eq(Atomics.wait(new BigInt64Array(sab), 0, 0n, 0), 'timed-out', 'BigInt64Array');
    // The type is checked before anything else is converted.
    let touched = false;
    const probe = { valueOf() { touched = true; return 0; } };
    throws(() => Atomics.waitAsync(new Uint32Array(sab), probe, probe, probe), 'TypeError', 'type first');
    eq(touched, false, 'nothing converted before the type check');
    "#
);

js_blocking!(
    s10_non_shared_buffer_is_a_type_error_checked_before_the_index,
    r#"
    for (const view of [new Int32Array(4), new BigInt64Array(4)]) {
      const value = view instanceof BigInt64Array ? 0n : 0;
      const log = [];
      const index = { valueOf() { log.push('index'); return 0; } };
      throws(() => Atomics.waitAsync(view, index, value), 'TypeError', 'waitAsync non-shared');
      throws(() => Atomics.wait(view, index, value, 0), 'TypeError', 'wait non-shared');
      eq(log.length, 0, 'the index is not converted before the shared check');
      // An index out of range still gives the TypeError, not a RangeError.
      throws(() => Atomics.waitAsync(view, 100, value), 'TypeError', 'waitAsync non-shared, bad index');
      throws(() => Atomics.wait(view, -1, value), 'TypeError', 'wait non-shared, bad index');
    }
    "#
);

js_blocking!(
    s11_index_at_or_past_the_length_is_a_range_error,
    r#"
    const sab = new SharedArrayBuffer(32);
    const ia = new Int32Array(sab);          // length 8
    const tail = new Int32Array(sab, 16);    // length 4
    const big = new BigInt64Array(sab);      // length 4
    for (const [view, index, value] of [[ia, 8, 0], [ia, 1e9, 0], [ia, -1, 0], [ia, Infinity, 0],
                                        [tail, 4, 0], [big, 4, 0n], [big, -0.5 - 1, 0n]]) {
      throws(() => Atomics.waitAsync(view, index, value), 'RangeError', `waitAsync index ${index}`);
      throws(() => Atomics.wait(view, index, value, 0), 'RangeError', `wait index ${index}`);
      throws(() => Atomics.notify(view, index), 'RangeError', `notify index ${index}`);
    }
    // In range (ToIndex truncates; NaN and -0.5 are 0).
    eq(Atomics.wait(ia, 7.9, 0, 0), 'timed-out', 'index 7.9');
    eq(Atomics.wait(tail, 3, 0, 0), 'timed-out', 'last of an offset view');
    eq(Atomics.wait(ia, NaN, 0, 0), 'timed-out', 'NaN index');
    eq(Atomics.wait(ia, -0.5, 0, 0), 'timed-out', '-0.5 index');
    eq(Atomics.waitAsync(ia, '3', 0, 0).value, 'timed-out', 'string index');
    "#
);

js_blocking!(
    s13_timeouts_nan_infinity_absent_forever_negative_zero_fractions_kept,
    r#"
    const ia = new Int32Array(mem);
    // Forever: still pending after a while, and a notify ends them.
    const forever = [undefined, NaN, Infinity, 'forever', { valueOf() { return NaN; } }]
      .map((t) => Atomics.waitAsync(ia, 0, 0, t));
    const absent = Atomics.waitAsync(ia, 0, 0);
    for (const r of [...forever, absent]) eq(r.async, true, 'forever is async');
    await sleep(100);
    for (const r of [...forever, absent]) eq(await settled(r.value), false, 'forever is pending');
    eq(Atomics.notify(ia, 0), 6, 'all six woken');
    for (const r of [...forever, absent]) eq(await r.value, 'ok', 'forever woken');
    // Negative and -Infinity are zero: waitAsync's synchronous timed-out, wait's timed-out.
    for (const t of [-1, -0.5, -Infinity, 0, -0, '-3', null, false]) {
      const r = Atomics.waitAsync(ia, 0, 0, t);
      eq(r.async, false, `timeout ${show(t)} is zero`);
      eq(r.value, 'timed-out', `timeout ${show(t)}`);
      eq(Atomics.wait(ia, 0, 0, t), 'timed-out', `blocking timeout ${show(t)}`);
    }
    // Fractions are kept: 0.5 ms and 0.001 ms are not zero.
    for (const t of [0.5, 0.001, true]) {
      const r = Atomics.waitAsync(ia, 0, 0, t);
      eq(r.async, true, `timeout ${t} is not zero`);
      eq(await r.value, 'timed-out', `timeout ${t}`);
    }
    const start = performance.now();
    eq(Atomics.wait(ia, 0, 0, 20.75), 'timed-out', 'blocking fractional');
    const elapsed = performance.now() - start;
    if (elapsed < 20) throw new Error(`20.75 ms wait returned after ${elapsed} ms`);
    "#
);

js!(
    s15_blocking_wait_on_non_blocking_agent_is_type_error_after_validation,
    r#"
    const ia = new Int32Array(mem);
    const log = [];
    const index = { valueOf() { log.push('index'); return 0; } };
    const value = { valueOf() { log.push('value'); return 0; } };
    const timeout = { valueOf() { log.push('timeout'); return 0; } };
    const e = throws(() => Atomics.wait(ia, index, value, timeout), 'TypeError', 'main wait');
    eq(e.message, 'Atomics.wait cannot be called in this context', 'message');
    eq(log.join(), 'index,value,timeout', 'every argument converted first, in order');
    // Argument errors win over the can-block error.
    throws(() => Atomics.wait(ia, 1e6, 0), 'RangeError', 'bad index first');
    throws(() => Atomics.wait(new Int32Array(4), 0, 0), 'TypeError', 'non-shared');
    throws(() => Atomics.wait(ia, 0, { valueOf() { throw new SyntaxError('from value'); } }),
           'SyntaxError', 'the value conversion throws first');
    throws(() => Atomics.wait(ia, 0, 0, { valueOf() { throw new URIError('from timeout'); } }),
           'URIError', 'the timeout conversion throws first');
    // Even a mismatch or a zero timeout cannot skip it.
    throws(() => Atomics.wait(ia, 0, 1), 'TypeError', 'not-equal still throws');
    throws(() => Atomics.wait(ia, 0, 0, 0), 'TypeError', 'zero timeout still throws');
    // waitAsync never checks it.
    const r = Atomics.waitAsync(ia, 0, 0);
    eq(r.async, true, 'waitAsync works on the main agent');
    eq(Atomics.notify(ia, 0), 1, 'and can be woken');
    eq(await r.value, 'ok', 'result');
    "#
);

js!(
    s16_mismatch_is_not_equal_and_queues_nothing,
    r#"
    const ia = new Int32Array(mem);
    const big = new BigInt64Array(mem);
    Atomics.store(ia, 2, 5);
    Atomics.store(big, 2, 9n);
    for (const [r, what] of [[Atomics.waitAsync(ia, 2, 4), 'Int32'],
                             [Atomics.waitAsync(ia, 2, 4, 1000), 'Int32 with timeout'],
                             [Atomics.waitAsync(big, 2, 8n), 'BigInt64']]) {
      eq(r.async, false, `${what} is synchronous`);
      eq(r.value, 'not-equal', what);
    }
    eq(Atomics.notify(ia, 2), 0, 'nothing was queued');
    eq(Atomics.notify(big, 2), 0, 'nothing was queued (BigInt64)');
    // A worker's blocking wait returns it too, and queues nothing.
    const w = blocker(2, undefined, mem, 4);
    eq(await w.next(), 'not-equal', 'blocking mismatch');
    eq(Atomics.notify(ia, 2), 0, 'still nothing queued');
    // ToInt32 wraps: 2**32 + 5 is 5, so that one waits.
    const r = Atomics.waitAsync(ia, 2, 2 ** 32 + 5, 0);
    eq(r.value, 'timed-out', 'ToInt32 wraps the expected value');
    Atomics.store(big, 3, -1n);
    eq(Atomics.waitAsync(big, 3, 2n ** 64n - 1n, 0).value, 'timed-out', 'ToBigInt64 wraps');
    "#
);

js!(
    s17_not_equal_comes_before_the_zero_timeout_shortcut,
    r#"
    const ia = new Int32Array(mem);
    for (const t of [0, -1, -Infinity]) {
      const r = Atomics.waitAsync(ia, 0, 1, t);
      eq(r.async, false, `timeout ${t}`);
      eq(r.value, 'not-equal', `mismatch with timeout ${t}`);
    }
    "#
);

js!(
    s18_wait_async_equal_value_and_zero_timeout_is_sync_timed_out,
    r#"
    const ia = new Int32Array(mem);
    const big = new BigInt64Array(mem);
    for (const [view, value] of [[ia, 0], [big, 0n]]) {
      const r = Atomics.waitAsync(view, 1, value, 0);
      eq(r.async, false, 'synchronous');
      eq(r.value, 'timed-out', 'timed-out');
      eq(Object.keys(r).join(), 'async,value', 'shape');
    }
    eq(Atomics.notify(ia, 2), 0, 'nothing queued');
    eq(Atomics.notify(ia, 3), 0, 'nothing queued');
    "#
);

js!(
    s19_blocking_wait_has_no_zero_timeout_shortcut,
    r#"
    const ia = new Int32Array(mem);
    // waitAsync answers a zero timeout without the can-block check; wait does not.
    eq(Atomics.waitAsync(ia, 0, 0, 0).value, 'timed-out', 'waitAsync shortcut');
    throws(() => Atomics.wait(ia, 0, 0, 0), 'TypeError', 'wait with timeout 0 on the main agent');
    // On an agent that can block, a zero-timeout wait times out and leaves nothing queued.
    const w = spawnFn(() => {
      onmessage = (e) => {
        const ia = new Int32Array(e.data);
        postMessage([Atomics.wait(ia, 0, 0, 0), Atomics.wait(ia, 0, 0, -5), Atomics.wait(ia, 0, 1, 0)]);
        close();
      };
    });
    w.postMessage(mem);
    eq((await w.next()).join(), 'timed-out,timed-out,not-equal', 'worker results');
    eq(Atomics.notify(ia, 0), 0, 'nothing left queued');
    "#
);

js!(
    s20_a_timed_out_waiter_is_off_the_list,
    r#"
    const ia = new Int32Array(mem);
    const r = Atomics.waitAsync(ia, 0, 0, 10);
    eq(await r.value, 'timed-out', 'async timed out');
    eq(Atomics.notify(ia, 0), 0, 'the timed-out async record is gone');
    const w = blocker(0, 10);
    eq(await w.next(), 'timed-out', 'blocking timed out');
    eq(Atomics.notify(ia, 0), 0, 'the timed-out blocking record is gone');
    // A timed-out record in the middle does not take a notify from the others.
    const a = Atomics.waitAsync(ia, 0, 0);
    const b = Atomics.waitAsync(ia, 0, 0, 5);
    const c = Atomics.waitAsync(ia, 0, 0);
    eq(await b.value, 'timed-out', 'middle timed out');
    eq(Atomics.notify(ia, 0, 2), 2, 'the two others');
    eq(await a.value, 'ok', 'a');
    eq(await c.value, 'ok', 'c');
    "#
);

js!(
    s21_result_is_sync_or_async,
    r#"
    const ia = new Int32Array(mem);
    const sync = Atomics.waitAsync(ia, 0, 1);
    eq(Object.keys(sync).join(), 'async,value', 'sync shape');
    eq(typeof sync.value, 'string', 'sync value is a string');
    eq(Object.getPrototypeOf(sync), Object.prototype, 'a plain object');
    const async_ = Atomics.waitAsync(ia, 0, 0);
    eq(Object.keys(async_).join(), 'async,value', 'async shape');
    eq(async_.async, true, 'async');
    eq(async_.value instanceof Promise, true, 'async value is a promise');
    Atomics.notify(ia, 0);
    eq(await async_.value, 'ok', 'result');
    "#
);

js!(
    s22_async_result_is_ok_or_timed_out_only,
    r#"
    const ia = new Int32Array(mem);
    const woken = Atomics.waitAsync(ia, 0, 0);
    const late = Atomics.waitAsync(ia, 1, 0, 5);
    const changed = Atomics.waitAsync(ia, 2, 0);
    Atomics.store(ia, 2, 99); // the value no longer matches: still never "not-equal"
    Atomics.notify(ia, 0);
    Atomics.notify(ia, 2);
    const results = await Promise.all([woken.value, late.value, changed.value]);
    eq(results.join(), 'ok,timed-out,ok', 'results');
    "#
);

js!(
    s23_finite_timeout_fires_and_notify_first_is_ok,
    r#"
    const ia = new Int32Array(mem);
    const start = performance.now();
    const r = Atomics.waitAsync(ia, 0, 0, 50);
    eq(await r.value, 'timed-out', 'timeout fires');
    const elapsed = performance.now() - start;
    if (elapsed < 45) throw new Error(`a 50 ms timeout fired after ${elapsed} ms`);
    const r2 = Atomics.waitAsync(ia, 0, 0, 60000);
    eq(Atomics.notify(ia, 0), 1, 'notify before the timeout');
    eq(await r2.value, 'ok', 'notify first gives ok');
    // A worker's finite blocking wait too.
    const w = blocker(0, 30);
    eq(await w.next(), 'timed-out', 'blocking timeout fires');
    "#
);

js!(
    s24_self_notify_resolves,
    r#"
    const ia = new Int32Array(mem);
    const r = Atomics.waitAsync(ia, 0, 0);
    eq(Atomics.notify(ia, 0, 1), 1, 'the agent wakes its own record');
    eq(await r.value, 'ok', 'resolved');
    "#
);

js!(
    s25_later_cell_changes_do_not_matter_once_queued,
    r#"
    const ia = new Int32Array(mem);
    const r = Atomics.waitAsync(ia, 0, 0);
    Atomics.store(ia, 0, 42);
    eq(Atomics.notify(ia, 0), 1, 'still queued after the change');
    eq(await r.value, 'ok', 'ok, not not-equal');
    Atomics.store(ia, 1, 0);
    const w = blocker(1);
    await queued(4, 1);
    Atomics.store(ia, 1, 7);
    eq(Atomics.notify(ia, 1), 1, 'the blocked worker');
    eq(await w.next(), 'ok', 'blocking ok after the change');
    "#
);

js!(
    s26_many_wait_async_on_one_location,
    r#"
    const ia = new Int32Array(mem);
    const rs = Array.from({ length: 200 }, () => Atomics.waitAsync(ia, 0, 0));
    await queued(0, 200);
    eq(Atomics.notify(ia, 0), 200, 'all woken');
    eq((await Promise.all(rs.map((r) => r.value))).every((v) => v === 'ok'), true, 'all ok');
    "#
);

js!(
    s26_blocking_and_async_waiters_mixed,
    r#"
    const ia = new Int32Array(mem);
    const workers = [blocker(0), blocker(0)];
    const rs = [Atomics.waitAsync(ia, 0, 0), Atomics.waitAsync(ia, 0, 0)];
    await queued(0, 4);
    eq(Atomics.notify(ia, 0), 4, 'two blocking and two async');
    for (const w of workers) eq(await w.next(), 'ok', 'blocking');
    for (const r of rs) eq(await r.value, 'ok', 'async');
    "#
);

js!(
    s26_wait_async_then_wait_in_one_agent_and_self_notify,
    r#"
    const ia = new Int32Array(mem);
    const w = spawnFn(() => {
      onmessage = async (e) => {
        const ia = new Int32Array(e.data);
        const log = [];
        const r = Atomics.waitAsync(ia, 0, 0);
        r.value.then((v) => log.push('async:' + v));
        log.push('wait:' + Atomics.wait(ia, 0, 0)); // blocks with its async record queued first
        await r.value;
        // Self-notify in a worker.
        const s = Atomics.waitAsync(ia, 1, 0);
        log.push('self:' + Atomics.notify(ia, 1));
        log.push('self:' + await s.value);
        postMessage(log);
        close();
      };
    });
    w.postMessage(mem);
    await queued(0, 2);
    eq(Atomics.notify(ia, 0, 1), 1, 'the async record (first in line)');
    eq(Atomics.notify(ia, 0, 1), 1, 'the blocking record');
    eq((await w.next()).join(), 'wait:ok,async:ok,self:1,self:ok', 'worker log');
    "#
);

js!(
    s27_notify_validates_the_view_type,
    r#"
    const sab = new SharedArrayBuffer(64);
    let touched = false;
    const probe = { valueOf() { touched = true; return 0; } };
    for (const T of [Int8Array, Uint8Array, Int16Array, Uint16Array, Uint32Array,
                     BigUint64Array, Float32Array, Float64Array]) {
      throws(() => Atomics.notify(new T(sab), probe, probe), 'TypeError', `notify on ${T.name}`);
      throws(() => Atomics.notify(new T(8), probe, probe), 'TypeError', `notify on non-shared ${T.name}`);
    }
    for (const notView of [{}, sab, new DataView(sab), null]) {
      throws(() => Atomics.notify(notView, probe, probe), 'TypeError', `notify on ${show(notView)}`);
    }
    eq(touched, false, 'the type is checked before the index and the count');
    eq(Atomics.notify(new Int32Array(sab), 0), 0, 'Int32Array');
    eq(Atomics.notify(new BigInt64Array(sab), 0), 0, 'BigInt64Array');
    "#
);

js!(
    s28_notify_checks_the_index_then_converts_the_count,
    r#"
    const ia = new Int32Array(new SharedArrayBuffer(16));
    const log = [];
    const count = { valueOf() { log.push('count'); return 1; } };
    throws(() => Atomics.notify(ia, 4, count), 'RangeError', 'index 4 of 4');
    throws(() => Atomics.notify(ia, -1, count), 'RangeError', 'index -1');
    eq(log.length, 0, 'the count is not converted after a bad index');
    const index = { valueOf() { log.push('index'); return 0; } };
    eq(Atomics.notify(ia, index, count), 0, 'valid');
    eq(log.join(), 'index,count', 'index, then count');
    throws(() => Atomics.notify(ia, 0, { valueOf() { throw new EvalError('count'); } }),
           'EvalError', 'a throwing count');
    throws(() => Atomics.notify(ia, 0, 1n), 'TypeError', 'a BigInt count');
    "#
);

js!(
    s29_notify_count_conversion,
    r#"
    const ia = new Int32Array(mem);
    const cases = [[undefined, 3, 'absent'], [1.9, 1, 'truncated'], [NaN, 0, 'NaN'],
                   [-1, 0, 'negative'], [-Infinity, 0, '-Infinity'], [Infinity, 3, '+Infinity'],
                   ['2', 2, 'string'], [0.5, 0, 'a half'], [null, 0, 'null'], [true, 1, 'true'],
                   [2 ** 53, 3, 'huge']];
    for (const [count, expected, what] of cases) {
      const rs = [0, 1, 2].map(() => Atomics.waitAsync(ia, 0, 0));
      await queued(0, 3);
      const woken = count === undefined ? Atomics.notify(ia, 0) : Atomics.notify(ia, 0, count);
      eq(woken, expected, `count ${what}`);
      eq(Atomics.notify(ia, 0), 3 - expected, `the rest after ${what}`);
      await Promise.all(rs.map((r) => r.value));
    }
    // An explicit undefined is absent too.
    const r = Atomics.waitAsync(ia, 0, 0);
    eq(Atomics.notify(ia, 0, undefined), 1, 'explicit undefined');
    await r.value;
    "#
);

js!(
    s30_notify_removes_min_of_count_and_length_from_the_head,
    r#"
    const ia = new Int32Array(mem);
    const order = [];
    const rs = [0, 1, 2, 3].map((i) => {
      const r = Atomics.waitAsync(ia, 0, 0);
      r.value.then(() => order.push(i));
      return r;
    });
    await queued(0, 4);
    eq(Atomics.notify(ia, 0, 2), 2, 'two of four');
    await sleep(10);
    eq(order.join(), '0,1', 'from the head');
    eq(Atomics.notify(ia, 0, 5), 2, 'min(5, 2)');
    await Promise.all(rs.map((r) => r.value));
    eq(order.join(), '0,1,2,3', 'in order');
    eq(Atomics.notify(ia, 0, 5), 0, 'empty');
    "#
);

js!(
    s31_notify_wakes_only_the_exact_location,
    r#"
    const ia = new Int32Array(mem);
    const big = new BigInt64Array(mem);
    eq(Atomics.notify(ia, 0), 0, 'nobody waiting');
    const r = Atomics.waitAsync(ia, 2, 0); // byte 8
    for (const i of [0, 1, 3, 4]) eq(Atomics.notify(ia, i), 0, `Int32 index ${i}`);
    eq(Atomics.notify(new Int32Array(new SharedArrayBuffer(16)), 2), 0, 'same index, other buffer');
    const b = Atomics.waitAsync(big, 3, 0n); // bytes 24..32
    eq(Atomics.notify(ia, 7), 0, 'the upper half of a BigInt64 element is another location');
    eq(Atomics.notify(ia, 6), 1, 'byte 24');
    eq(Atomics.notify(ia, 2), 1, 'byte 8');
    eq(await r.value, 'ok', 'r');
    eq(await b.value, 'ok', 'b');
    "#
);

js!(
    s32_non_shared_notify_validates_then_returns_zero,
    r#"
    const ia = new Int32Array(8);
    const log = [];
    const count = { valueOf() { log.push('count'); return 1; } };
    eq(Atomics.notify(ia, 0, count), 0, 'non-shared Int32Array');
    eq(log.join(), 'count', 'the count is converted');
    eq(Atomics.notify(new BigInt64Array(2), 1), 0, 'non-shared BigInt64Array');
    throws(() => Atomics.notify(ia, 8), 'RangeError', 'index still checked');
    throws(() => Atomics.notify(new Float64Array(2), 0), 'TypeError', 'type still checked');
    "#
);

js_blocking!(
    order_of_conversions_follows_the_specification,
    r#"
    const ia = new Int32Array(mem);
    const big = new BigInt64Array(mem);
    const log = [];
    const index = { valueOf() { log.push('index'); return 0; } };
    const value = { valueOf() { log.push('value'); return 1; } };
    const timeout = { valueOf() { log.push('timeout'); return 0; } };
    eq(Atomics.wait(ia, index, value, timeout), 'not-equal', 'wait');
    eq(log.join(), 'index,value,timeout', 'wait converts index, value, timeout');
    log.length = 0;
    eq(Atomics.waitAsync(ia, index, value, timeout).value, 'not-equal', 'waitAsync');
    eq(log.join(), 'index,value,timeout', 'waitAsync converts index, value, timeout');
    // A bad index stops before the value; a bad value stops before the timeout.
    log.length = 0;
    throws(() => Atomics.waitAsync(ia, 1e9, value, timeout), 'RangeError', 'index');
    eq(log.length, 0, 'nothing converted after a bad index');
    throws(() => Atomics.waitAsync(ia, 0, 1n, timeout), 'TypeError', 'ToInt32 of a BigInt');
    eq(log.length, 0, 'no timeout converted after a bad value');
    throws(() => Atomics.waitAsync(big, 0, 0, timeout), 'TypeError', 'ToBigInt64 of a Number');
    eq(log.length, 0, 'no timeout converted after a bad BigInt value');
    throws(() => Atomics.waitAsync(ia, 0, 0, 1n), 'TypeError', 'ToNumber of a BigInt timeout');
    // BigInt64: ToBigInt64 through valueOf.
    const bigValue = { valueOf() { log.push('big'); return 1n; } };
    eq(Atomics.waitAsync(big, 0, bigValue, 0).value, 'not-equal', 'BigInt64 valueOf');
    eq(log.join(), 'big', 'the BigInt value was converted');
    "#
);
