//! Loading (compile, rewrite, instantiate) a module whose wait/notify opcodes use 20,000
//! distinct static offsets beside one that uses a single offset 20,000 times: the rewrite adds
//! one host import per distinct offset, so the first does more work, but both must stay
//! linear in the module's size.
//!
//! `cargo bench -p agentsync-wasm --bench imports`; the ratio to watch is distinct / same.

use std::time::Duration;

use agentsync_wasm::{Runtime, Threads};
use criterion::{criterion_group, criterion_main, Criterion};

const OPCODES: usize = 20_000;

/// A module with `OPCODES` notifies at offset `4k` (`distinct`) or at offset 0.
fn module(distinct: bool) -> String {
    let mut wat = String::from(
        r#"(module (import "env" "memory" (memory 2 2 shared)) (func (export "nothing")) (func"#,
    );
    for k in 0..OPCODES {
        let offset = if distinct { 4 * k } else { 0 };
        wat.push_str(&format!(
            " (drop (memory.atomic.notify offset={offset} (i32.const 0) (i32.const 0)))"
        ));
    }
    wat.push_str("))");
    wat
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("wasm_load_20k_offsets");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    let runtime = Runtime::shared();
    for (name, distinct) in [("distinct", true), ("same", false)] {
        let wat = module(distinct);
        group.bench_function(name, |b| {
            b.iter(|| {
                let program = runtime
                    .compile(wat.as_bytes())
                    .expect("the module compiles");
                let memory = program.new_memory(runtime).expect("a memory");
                Threads::new(program, memory)
                    .run("nothing", &[])
                    .expect("instantiates and runs");
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
