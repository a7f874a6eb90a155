//! The `js_*` scenarios: the benchmark scripts of `bench/js/` run unchanged by agentsync's
//! JavaScript host (QuickJS-ng whose `SharedArrayBuffer`s and `Atomics` are agentsync's futex),
//! in this process, and by Node.js (V8's own `Atomics`) through the node shim, as a child
//! process.
//!
//! Every script and the shim are compiled into the binary. Each round writes them to a fresh
//! temporary directory (created exclusively under a random name, owner-only, removed
//! afterwards), so the bench works from any directory and never follows a planted file. The
//! `agentsync` implementation runs the script on a fresh [`agentsync_js::Host`] on its own
//! thread, console output captured; `js_polyfill` does the same with `--polyfill` (the helper
//! worker polyfill of `polyfill.js` instead of the native `Atomics.waitAsync`); `node` runs
//! `node --require node-shim.cjs FILE COUNT` and is skipped with the reason when node is
//! missing or fails. Each script times itself and prints one JSON line, in the protocol of the
//! Node.js peer ([`node::parse_line`]).

use std::fs::DirBuilder;
use std::io::{self, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentsync_js::{Host, Stream};

use super::report::Target;
use super::{node, thousands, Config, Impl, Outcome, Scenario, AGENTSYNC};
use crate::temp::create_exclusive;

/// The node shim: makes Node.js look like the agentsync host (`agentsync.args`, web workers).
const SHIM: &str = include_str!("../../../agentsync-js/js/node-shim.cjs");
/// The shim's file name in the temporary tree.
const SHIM_NAME: &str = "node-shim.cjs";

/// Embeds `bench/js/$name` as bytes (scripts and the binary Wasm module alike).
macro_rules! embed {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!("../../../../bench/js/", $name)),
        )
    };
}

/// The whole `bench/js` tree (scripts, the polyfill, worker scripts, the Wasm guest), relative
/// paths first.
const TREE: &[(&str, &[u8])] = &[
    embed!("wait_async_create.js"),
    embed!("wait_async_notify.js"),
    embed!("wait_async_bytes.js"),
    embed!("worker_pingpong.js"),
    embed!("main_worker_pingpong.js"),
    embed!("parking_lock_2w.js"),
    embed!("wasm_main_guest_pingpong.js"),
    embed!("wasm_guest_pingpong.js"),
    embed!("polyfill.js"),
    embed!("floor.js"),
    embed!("agents_blocked.js"),
    embed!("workers/blocked-worker.js"),
    embed!("workers/pingpong-worker.js"),
    embed!("workers/parking_lock-worker.js"),
    embed!("workers/wasm-pingpong-worker.js"),
    embed!("wasm/pingpong.wat"),
    embed!("wasm/pingpong.wasm"),
    embed!("README.md"),
];

/// How long one script may run before the round fails (agentsync) or is skipped (node).
const TIME_LIMIT: Duration = Duration::from_secs(300);

/// How many random directory names to try before giving up.
const ATTEMPTS: usize = 16;

/// The `bench/js` tree and the shim written to a fresh temporary directory; removed on drop.
struct Tree {
    dir: PathBuf,
}

impl Tree {
    /// Creates `$TMPDIR/agentsync-bench-js-{random}` (mode 0700, failing on anything already
    /// there, a symlink included) and writes every embedded file into it.
    fn write() -> io::Result<Tree> {
        let base = std::env::temp_dir();
        let mut created = None;
        for _ in 0..ATTEMPTS {
            let dir = base.join(format!("agentsync-bench-js-{:016x}", fastrand::u64(..)));
            match DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {
                    created = Some(dir);
                    break;
                }
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(error) => return Err(error),
            }
        }
        let tree = Tree {
            dir: created.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{ATTEMPTS} random names in {} all existed", base.display()),
                )
            })?,
        };
        for (name, bytes) in TREE.iter().copied().chain([(SHIM_NAME, SHIM.as_bytes())]) {
            let path = tree.dir.join(name);
            if let Some(parent) = path.parent() {
                if !parent.exists() {
                    DirBuilder::new().mode(0o700).create(parent)?;
                }
            }
            let mut file = create_exclusive(&path)?;
            file.write_all(bytes)?;
            file.flush()?;
        }
        Ok(tree)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One benchmark script and its counts.
struct Script {
    /// Its file in `bench/js`.
    file: &'static str,
    /// COUNT for a full run and for `--quick`.
    count: (usize, usize),
    /// COUNT with `--polyfill` (full, quick), for the scripts that take it.
    polyfill: Option<(usize, usize)>,
    /// Arguments after COUNT, for the scripts that measure more than one thing.
    flags: &'static [&'static str],
}

impl Script {
    fn count(&self, config: &Config, polyfill: bool) -> usize {
        let (full, quick) = match (polyfill, self.polyfill) {
            (true, Some(counts)) => counts,
            _ => self.count,
        };
        config.pick(full, quick)
    }

    fn args(&self, config: &Config, polyfill: bool) -> Vec<String> {
        let mut args = vec![self.count(config, polyfill).to_string()];
        args.extend(self.flags.iter().map(|f| f.to_string()));
        if polyfill {
            args.push("--polyfill".into());
        }
        args
    }
}

const CREATE: Script = Script {
    file: "wait_async_create.js",
    count: (100_000, 10_000),
    polyfill: None,
    flags: &[],
};
const NOTIFY: Script = Script {
    file: "wait_async_notify.js",
    count: (100_000, 10_000),
    polyfill: Some((32, 8)),
    flags: &[],
};
const BYTES: Script = Script {
    file: "wait_async_bytes.js",
    count: (100_000, 20_000),
    polyfill: None,
    flags: &[],
};
const WORKER_PINGPONG: Script = Script {
    file: "worker_pingpong.js",
    count: (20_000, 2_000),
    polyfill: None,
    flags: &[],
};
const MAIN_WORKER_PINGPONG: Script = Script {
    file: "main_worker_pingpong.js",
    count: (20_000, 2_000),
    polyfill: Some((5_000, 500)),
    flags: &[],
};
const WASM_MAIN_GUEST_PINGPONG: Script = Script {
    file: "wasm_main_guest_pingpong.js",
    count: (20_000, 2_000),
    polyfill: None,
    flags: &[],
};
const WASM_GUEST_PINGPONG: Script = Script {
    file: "wasm_guest_pingpong.js",
    count: (20_000, 2_000),
    polyfill: None,
    flags: &[],
};
const AGENTS_BYTES: Script = Script {
    file: "agents_blocked.js",
    count: (200, 50),
    polyfill: None,
    flags: &["--bytes"],
};
const AGENTS_START: Script = Script {
    file: "agents_blocked.js",
    count: (200, 50),
    polyfill: None,
    flags: &["--time"],
};
const PARKING_LOCK: Script = Script {
    file: "parking_lock_2w.js",
    count: (200_000, 20_000),
    polyfill: None,
    flags: &[],
};

/// What one run of a script on our host printed.
#[derive(Default)]
struct Captured {
    stdout: String,
    stderr: String,
}

/// Runs `file` from `tree` with `args` on a fresh [`Host`] on a fresh thread, and returns its
/// standard output; `Err` if the script failed (with its last line of error output), the host
/// could not start, or it ran past [`TIME_LIMIT`] (it is then terminated).
fn run_on_host(tree: &Tree, file: &str, args: Vec<String>) -> Result<String, String> {
    let path = tree.path(file);
    let captured = Arc::new(Mutex::new(Captured::default()));
    let sink = captured.clone();
    let (handle_tx, handle_rx) = mpsc::sync_channel(1);
    let (done_tx, done_rx) = mpsc::sync_channel(1);
    let thread = std::thread::Builder::new()
        .name("agentsync-bench-js".into())
        .spawn(move || {
            release_free_heap();
            let result = Host::builder()
                .args(args)
                .on_output(move |stream, line| {
                    let mut captured = sink.lock().unwrap_or_else(|p| p.into_inner());
                    let text = match stream {
                        Stream::Stdout => &mut captured.stdout,
                        Stream::Stderr => &mut captured.stderr,
                    };
                    text.push_str(line);
                    text.push('\n');
                    Ok(())
                })
                .build()
                .and_then(|host| {
                    let _ = handle_tx.send(host.handle());
                    host.run_file(&path)
                })
                .map_err(|error| error.to_string());
            let _ = done_tx.send(result);
        })
        .map_err(|e| format!("cannot start a thread for the host ({e})"))?;
    let handle = handle_rx.recv().ok();
    let result = match done_rx.recv_timeout(TIME_LIMIT) {
        Ok(result) => {
            let _ = thread.join();
            result
        }
        Err(RecvTimeoutError::Timeout) => {
            if let Some(handle) = &handle {
                handle.terminate();
            }
            // Joined only if it stops: a host that ignores terminate must not hang the bench.
            if done_rx.recv_timeout(Duration::from_secs(10)).is_ok() {
                let _ = thread.join();
            }
            Err(format!("ran longer than {} s", TIME_LIMIT.as_secs()))
        }
        Err(RecvTimeoutError::Disconnected) => Err("the host thread panicked".into()),
    };
    let captured = std::mem::take(&mut *captured.lock().unwrap_or_else(|p| p.into_inner()));
    result.map(|()| captured.stdout).map_err(|error| {
        match captured.stderr.lines().rev().find(|l| !l.trim().is_empty()) {
            Some(last) if !error.contains(last.trim()) => format!("{error} ({})", last.trim()),
            _ => error,
        }
    })
}

/// Hands the heap that earlier rounds freed back to the kernel, so that a script measuring its
/// resident-set growth (`wait_async_bytes.js`) starts as a fresh process would, instead of
/// refilling pages that are already resident and undercounting.
/// (glibc only: elsewhere nothing is released.)
fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory of the allocator's arenas to the kernel;
    // it touches no live allocation and has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// One round on agentsync's host: `Err` (which fails the bench) if the script failed.
fn ours(script: &Script, config: &Config, polyfill: bool) -> Result<Outcome, String> {
    on_host(script.args(config, polyfill), script, AGENTSYNC)
}

/// One round of the engine's floor (`--floor`, `bench/js/floor.js`) on agentsync's host.
fn floor(script: &Script, config: &Config) -> Result<Outcome, String> {
    let mut args = script.args(config, false);
    args.push("--floor".into());
    on_host(args, script, "quickjs_floor")
}

fn on_host(args: Vec<String>, script: &Script, name: &str) -> Result<Outcome, String> {
    let tree =
        Tree::write().map_err(|e| format!("cannot write bench/js to a temporary dir ({e})"))?;
    let stdout = run_on_host(&tree, script.file, args)?;
    node::parse_line(&stdout, name)
}

/// One round under Node.js with the shim; whatever goes wrong on node's side skips it with the
/// reason.
fn node_peer(script: &Script, config: &Config) -> Result<Outcome, String> {
    let outcome = Tree::write()
        .map_err(|e| format!("cannot write bench/js to a temporary dir ({e})"))
        .and_then(|tree| {
            node::outcome(
                Command::new("node")
                    .arg("--require")
                    .arg(tree.path(SHIM_NAME))
                    .arg(tree.path(script.file))
                    .args(script.args(config, false))
                    .output(),
            )
        });
    Ok(match outcome {
        Ok(outcome) => outcome,
        Err(reason) => Outcome::Skipped(format!("node: {reason}, skipped")),
    })
}

/// One extra implementation of a JS scenario: the engine's floor or our JS polyfill.
macro_rules! js_impl {
    ($script:expr, floor) => {
        Impl {
            name: "quickjs_floor",
            run: |c| floor(&$script, c),
        }
    };
    ($script:expr, polyfill) => {
        Impl {
            name: "js_polyfill",
            run: |c| ours(&$script, c, true),
        }
    };
}

/// Agentsync's host, the extras named (`floor`, `polyfill`) and node, on one script.
macro_rules! js_impls {
    ($script:expr $(, $extra:ident)*) => {
        &[
            Impl {
                name: AGENTSYNC,
                run: |c| ours(&$script, c, false),
            },
            $(js_impl!($script, $extra),)*
            Impl {
                name: "node",
                run: |c| node_peer(&$script, c),
            },
        ]
    };
}

/// The JS host scenarios.
pub(super) const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "js_wait_async_create",
        unit: "ns/waiter",
        what: |config| {
            format!(
                "JS: one Atomics.waitAsync that queues, {} pending on one index (bench/js/{})",
                thousands(CREATE.count(config, false)),
                CREATE.file
            )
        },
        impls: js_impls!(CREATE, floor),
    },
    Scenario {
        name: "js_wait_async_notify",
        unit: "ns/waiter",
        what: |config| {
            format!(
                "JS: one Atomics.notify of {} pending waitAsync waiters until every promise reaction ran (js_polyfill {}; bench/js/{})",
                thousands(NOTIFY.count(config, false)),
                thousands(NOTIFY.count(config, true)),
                NOTIFY.file
            )
        },
        impls: js_impls!(NOTIFY, floor, polyfill),
    },
    Scenario {
        name: "js_wait_async_bytes",
        unit: "bytes/waiter",
        what: |config| {
            format!(
                "JS: resident-set growth per pending Atomics.waitAsync, {} waiters, after gc (bench/js/{})",
                thousands(BYTES.count(config, false)),
                BYTES.file
            )
        },
        impls: js_impls!(BYTES, floor),
    },
    Scenario {
        name: "js_worker_pingpong",
        unit: "ns/round-trip",
        what: |config| {
            format!(
                "JS: {} round trips between two workers blocking in Atomics.wait (bench/js/{})",
                thousands(WORKER_PINGPONG.count(config, false)),
                WORKER_PINGPONG.file
            )
        },
        impls: js_impls!(WORKER_PINGPONG),
    },
    Scenario {
        name: "js_main_worker_pingpong",
        unit: "ns/round-trip",
        what: |config| {
            format!(
                "JS: {} round trips, main agent (waitAsync + await) and a worker (Atomics.wait) (js_polyfill {}; bench/js/{})",
                thousands(MAIN_WORKER_PINGPONG.count(config, false)),
                thousands(MAIN_WORKER_PINGPONG.count(config, true)),
                MAIN_WORKER_PINGPONG.file
            )
        },
        impls: js_impls!(MAIN_WORKER_PINGPONG, polyfill),
    },
    Scenario {
        name: "js_wasm_main_guest_pingpong",
        unit: "ns/round-trip",
        what: |config| {
            format!(
                "JS+Wasm: {} round trips, main agent (waitAsync + await) and a Wasm guest in a worker (memory.atomic.wait32) (bench/js/{})",
                thousands(WASM_MAIN_GUEST_PINGPONG.count(config, false)),
                WASM_MAIN_GUEST_PINGPONG.file
            )
        },
        impls: js_impls!(WASM_MAIN_GUEST_PINGPONG),
    },
    Scenario {
        name: "js_wasm_guest_pingpong",
        unit: "ns/round-trip",
        what: |config| {
            format!(
                "JS+Wasm: {} round trips between two Wasm guests in workers (memory.atomic.wait32 / notify) (bench/js/{})",
                thousands(WASM_GUEST_PINGPONG.count(config, false)),
                WASM_GUEST_PINGPONG.file
            )
        },
        impls: js_impls!(WASM_GUEST_PINGPONG),
    },
    Scenario {
        name: "js_parking_lock_2w",
        unit: "ns/op",
        what: |config| {
            format!(
                "JS: one lock/unlock of the guide's parking lock, 2 workers x {} pairs (bench/js/{}; no target)",
                thousands(PARKING_LOCK.count(config, false)),
                PARKING_LOCK.file
            )
        },
        impls: js_impls!(PARKING_LOCK),
    },
];

/// The agents-scale scenarios: what many blocked workers cost (no target: a regression shows
/// in the table).
pub(super) const AGENT_SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "js_agents_bytes",
        unit: "MiB/100 workers",
        what: |config| {
            format!(
                "JS: resident-set growth of {} workers each blocked in Atomics.wait (bench/js/{})",
                AGENTS_BYTES.count(config, false),
                AGENTS_BYTES.file
            )
        },
        impls: js_impls!(AGENTS_BYTES),
    },
    Scenario {
        name: "js_agents_start",
        unit: "s/100 workers",
        what: |config| {
            format!(
                "JS: time to start {} workers until each is in Atomics.wait (bench/js/{})",
                AGENTS_START.count(config, false),
                AGENTS_START.file
            )
        },
        impls: js_impls!(AGENTS_START),
    },
];

/// The targets of the JS scenarios: agentsync's median at most this times node's, same run.
pub(super) const TARGETS: &[(&str, Target)] = &[
    ("js_wait_async_create", Target::new("node", 0.5)),
    ("js_wait_async_notify", Target::new("node", 1.0)),
    ("js_wait_async_bytes", Target::new("node", 0.5)),
    ("js_worker_pingpong", Target::new("node", 1.0)),
    ("js_main_worker_pingpong", Target::new("node", 1.0)),
    ("js_wasm_main_guest_pingpong", Target::new("node", 1.0)),
    ("js_wasm_guest_pingpong", Target::new("node", 1.0)),
];

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Every file of `bench/js` is embedded, so a new one cannot be forgotten.
    #[test]
    fn the_whole_bench_js_tree_is_embedded() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/js");
        let mut on_disk = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    let relative = path.strip_prefix(&root).unwrap();
                    on_disk.push(relative.to_string_lossy().into_owned());
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = TREE.iter().map(|(name, _)| name.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
        for (name, bytes) in TREE {
            assert_eq!(&std::fs::read(root.join(name)).unwrap(), bytes, "{name}");
        }
    }

    #[test]
    fn the_tree_is_written_whole_and_removed_on_drop() {
        let tree = Tree::write().unwrap();
        let dir = tree.dir.clone();
        for (name, bytes) in TREE.iter().copied().chain([(SHIM_NAME, SHIM.as_bytes())]) {
            assert_eq!(std::fs::read(dir.join(name)).unwrap(), bytes, "{name}");
        }
        drop(tree);
        assert!(!dir.exists());
    }

    #[test]
    fn every_target_names_a_js_scenario_and_one_of_its_impls() {
        for (name, target) in TARGETS {
            let scenario = SCENARIOS.iter().find(|s| s.name == *name).unwrap();
            assert!(
                scenario.impls.iter().any(|i| i.name == target.peer),
                "{name}"
            );
        }
    }

    /// The committed `bench/js/wasm/pingpong.wasm` is `pingpong.wat` compiled, byte for byte, so
    /// the two cannot drift. After editing the text, regenerate the binary with
    /// `AGENTSYNC_BLESS_WASM=1 cargo test -p agentsync-cli --lib pingpong_wasm`.
    #[test]
    fn pingpong_wasm_is_pingpong_wat_compiled() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/js/wasm");
        let text = std::fs::read_to_string(dir.join("pingpong.wat")).unwrap();
        let buffer = wast::parser::ParseBuffer::new(&text).unwrap();
        let mut wat = wast::parser::parse::<wast::Wat>(&buffer).unwrap();
        let compiled = wat.encode().unwrap();
        let binary = dir.join("pingpong.wasm");
        if std::env::var_os("AGENTSYNC_BLESS_WASM").is_some() {
            std::fs::write(&binary, &compiled).unwrap();
        }
        let committed = std::fs::read(&binary).unwrap_or_default();
        assert!(
            committed == compiled,
            "bench/js/wasm/pingpong.wasm is not pingpong.wat compiled; regenerate it with \
             AGENTSYNC_BLESS_WASM=1 cargo test -p agentsync-cli --lib pingpong_wasm"
        );
    }
}
