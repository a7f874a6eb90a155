//! `Atomics.waitAsync` create + notify per waiter, in one host: the native waitAsync (on
//! agentsync's futex) beside the helper-worker polyfill of `bench/js/polyfill.js`.
//!
//! `cargo bench -p agentsync-js --bench wait_async`. Each measurement queues waiters in batches
//! of [`BATCH`] on one index, notifies until all are woken, and awaits every promise; the time
//! is taken inside the script (`performance.now()`), so the event loop's exit is not counted.
//! The polyfill's helpers are warmed by one untimed batch per measurement. The last line
//! printed is native ÷ polyfill (below 1: native is cheaper).

use std::cell::Cell;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentsync_js::Host;
use criterion::{criterion_group, Criterion};

/// Waiters per batch: one helper thread each for the polyfill.
const BATCH: u64 = 64;

/// Defines `__bench(waitAsync, count, warm)`: prints the nanoseconds `count` waiters took.
const DRIVER: &str = r#"
globalThis.__bench = async function (waitAsync, count, warm) {
  const word = new Int32Array(new SharedArrayBuffer(4));
  const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
  async function batch(n) {
    const start = performance.now();
    const pending = new Array(n);
    for (let i = 0; i < n; i++) {
      const result = waitAsync(word, 0, 0);
      if (!result.async) throw new Error('settled at once: ' + result.value);
      pending[i] = result.value;
    }
    let woken = 0;
    for (;;) {
      woken += Atomics.notify(word, 0);
      if (woken >= n) break;
      await tick(); // a polyfill helper may not be waiting yet
    }
    const results = await Promise.all(pending);
    const elapsed = performance.now() - start;
    if (woken !== n || results.some((r) => r !== 'ok')) throw new Error('a waiter was lost');
    return elapsed;
  }
  if (warm) await batch(Math.min(count, __BATCH));
  let ms = 0;
  for (let done = 0; done < count; done += __BATCH) ms += await batch(Math.min(__BATCH, count - done));
  if (globalThis.waitAsyncPolyfill) waitAsyncPolyfill.shutdown();
  print(String(Math.round(ms * 1e6)));
};
"#;

/// Total nanoseconds and waiters measured, per implementation.
#[derive(Default)]
struct Totals {
    nanos: Cell<f64>,
    waiters: Cell<f64>,
}

impl Totals {
    fn per_waiter(&self) -> f64 {
        self.nanos.get() / self.waiters.get().max(1.0)
    }
}

fn bench(c: &mut Criterion) {
    let printed = Arc::new(Mutex::new(String::new()));
    let sink = printed.clone();
    let host = Host::builder()
        .on_output(move |_, line| {
            *sink.lock().unwrap_or_else(|p| p.into_inner()) = line.to_owned();
            Ok(())
        })
        .build()
        .expect("a host");
    host.eval("polyfill.js", include_str!("../../../bench/js/polyfill.js"))
        .expect("the polyfill loads");
    host.eval("driver.js", &DRIVER.replace("__BATCH", &BATCH.to_string()))
        .expect("the driver loads");

    let totals = [Totals::default(), Totals::default()];
    let mut group = c.benchmark_group("js_wait_async_create_notify");
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_millis(500));
    group.sample_size(10);
    for ((name, wait, warm), totals) in [
        ("native", "(a, i, v) => Atomics.waitAsync(a, i, v)", false),
        ("polyfill", "waitAsyncPolyfill", true),
    ]
    .into_iter()
    .zip(&totals)
    {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let call = format!("__bench({wait}, {iters}, {warm})");
                host.eval("call.js", &call).expect("the batch starts");
                host.run().expect("the batch runs");
                let nanos: f64 = printed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .parse()
                    .expect("the driver prints nanoseconds");
                totals.nanos.set(totals.nanos.get() + nanos);
                totals.waiters.set(totals.waiters.get() + iters as f64);
                Duration::from_nanos(nanos as u64)
            })
        });
    }
    group.finish();
    let (native, polyfill) = (totals[0].per_waiter(), totals[1].per_waiter());
    println!(
        "js_wait_async_create_notify: native {native:.0} ns/waiter, polyfill {polyfill:.0} ns/waiter, native / polyfill = {:.4}",
        native / polyfill
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
