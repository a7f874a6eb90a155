//! Small helpers of the agent core that every extension may use: `ToNumber`, the directory a
//! script's relative paths start from, the one clock of the process, and the collector.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use rquickjs::{qjs, Ctx, Function, Value};

/// `ToNumber`, with the engine's conversion (it may run `valueOf` and throw).
pub(crate) fn to_number(ctx: &Ctx<'_>, value: &Value<'_>) -> rquickjs::Result<f64> {
    let mut out = 0.0;
    // SAFETY: live context and value; `out` is a valid place for the result.
    if unsafe { qjs::JS_ToFloat64(ctx.as_raw().as_ptr(), &mut out, value.as_raw()) } < 0 {
        return Err(rquickjs::Error::Exception);
    }
    Ok(out)
}

/// The directory of `path`, for resolving what a script names relative to itself.
pub(crate) fn directory_of(path: &Path) -> PathBuf {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| ".".into())
}

/// Milliseconds since the process's first agent started: the one clock of `performance.now()`
/// and `$262.agent.monotonicNow()`.
pub(crate) fn now_ms() -> f64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e3
}

/// `gc()`: runs this agent's cycle collector (`agentsync.gc`, `$262.gc`), then gives what was
/// freed back to the OS, so that `agentsync.residentBytes()` after it measures what is alive.
/// (glibc keeps freed memory for reuse; the engine collects cycles only past a 32 MiB
/// threshold, so without the trim a program's resident memory shows garbage, not leaks.)
pub(crate) fn gc_function<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Function<'js>> {
    Function::new(ctx.clone(), |ctx: Ctx<'js>| {
        // SAFETY: the runtime of a live context.
        unsafe { qjs::JS_RunGC(qjs::JS_GetRuntime(ctx.as_raw().as_ptr())) };
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only releases free memory; any thread may call it at any time.
        unsafe {
            libc::malloc_trim(0);
        }
    })?
    .with_name("gc")?
    .with_length(0)
}
