//! The host globals: `console`, `print`, timers, `queueMicrotask`, `performance`,
//! `crossOriginIsolated`, the non-standard `agentsync` namespace, and the native half of
//! `Worker` / `postMessage` that `prelude.js` builds on.

use std::rc::Rc;
use std::time::Duration;

use rquickjs::function::{Opt, Rest};
use rquickjs::{qjs, Ctx, Exception, Function, Object, Persistent, Value};

use crate::agent::{gc_function, now_ms, to_number, with_local, Extension, Local};
use crate::error::display;
use crate::Stream;

fn local(ctx: &Ctx<'_>) -> rquickjs::Result<Rc<Local>> {
    with_local(Rc::clone).ok_or_else(|| Exception::throw_internal(ctx, "no agent on this thread"))
}

/// Writes one line of console output; a failed write is recorded for the host and thrown.
fn write_line(ctx: &Ctx<'_>, stream: Stream, args: &[Value<'_>]) -> rquickjs::Result<()> {
    let line = args.iter().map(format).collect::<Vec<_>>().join(" ");
    let local = local(ctx)?;
    local
        .options
        .output
        .write(stream, &line)
        .map_err(|error| Exception::throw_internal(ctx, &format!("cannot write output: {error}")))
}

/// How `console.log` shows one value: strings as they are, objects as JSON when they can be.
fn format(value: &Value<'_>) -> String {
    if value.is_object() && !value.is_function() && !value.is_error() {
        let ctx = value.ctx();
        if let Ok(Some(json)) = ctx.json_stringify(value.clone()) {
            if let Ok(json) = json.to_string() {
                return json;
            }
        }
        ctx.catch();
    }
    display(value)
}

/// Resident set size of the process, from `/proc/self/statm`; 0 where unknown.
fn resident_bytes() -> f64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<f64>().ok())
        .unwrap_or(0.0);
    pages * 4096.0
}

/// The longest timer delay, in milliseconds: browsers and node keep delays in a signed 32-bit
/// integer and treat a longer one as 1 ms.
const TIMEOUT_MAX_MS: f64 = 2_147_483_647.0;

/// A timer delay: `ToNumber`, NaN or negative → 0, in milliseconds; above
/// [`TIMEOUT_MAX_MS`] (+∞ too) → 1 ms with a warning on stderr, as node does (otherwise such a
/// timer would never fire and the run would never end).
fn delay(ctx: &Ctx<'_>, value: Option<Value<'_>>) -> rquickjs::Result<Duration> {
    let ms = match value {
        Some(v) if !v.is_undefined() => to_number(ctx, &v)?,
        _ => 0.0,
    };
    if ms > TIMEOUT_MAX_MS {
        let shown = if ms.is_infinite() {
            "Infinity".to_string()
        } else if ms < 1e21 && ms.fract() == 0.0 {
            format!("{}", ms as u64)
        } else {
            format!("{ms:e}")
        };
        let warning = format!(
            "TimeoutOverflowWarning: {shown} does not fit into a 32-bit signed integer; the \
             timeout was set to 1 ms"
        );
        let _ = local(ctx)?.options.output.write(Stream::Stderr, &warning);
        return Ok(Duration::from_millis(1));
    }
    Ok(if ms > 0.0 {
        Duration::from_secs_f64(ms / 1e3)
    } else {
        Duration::ZERO
    })
}

fn set_timer<'js>(ctx: Ctx<'js>, args: Rest<Value<'js>>, repeat: bool) -> rquickjs::Result<f64> {
    let mut args = args.0.into_iter();
    let callback = args
        .next()
        .and_then(|v| v.into_function())
        .ok_or_else(|| Exception::throw_type(&ctx, "the timer callback is not a function"))?;
    let delay = delay(&ctx, args.next())?;
    let rest = args.map(|a| Persistent::save(&ctx, a)).collect();
    let local = local(&ctx)?;
    let id = local
        .timers
        .borrow_mut()
        .add(delay, Persistent::save(&ctx, callback), rest, repeat);
    Ok(id as f64)
}

fn clear_timer(ctx: Ctx<'_>, id: Opt<Value<'_>>) -> rquickjs::Result<()> {
    if let Some(id) = id.0.and_then(|v| v.as_number()) {
        if id >= 1.0 && id.fract() == 0.0 {
            local(&ctx)?.timers.borrow_mut().cancel(id as u64);
        }
    }
    Ok(())
}

fn function<'js, P>(
    ctx: &Ctx<'js>,
    name: &str,
    length: usize,
    f: impl rquickjs::function::IntoJsFunc<'js, P> + 'js,
) -> rquickjs::Result<Function<'js>> {
    Function::new(ctx.clone(), f)?
        .with_name(name)?
        .with_length(length)
}

/// Defines the globals on `ctx` and returns the native `host` object for the prelude.
/// Console, timers, `performance`, `queueMicrotask`, the `agentsync` namespace, and the natives
/// of the prelude's `SharedArrayBuffer` length fix.
pub(crate) const EXTENSION: Extension = Extension {
    name: "globals",
    install: |ctx, host, setup| install(ctx, host, setup.is_main),
    in_realms: false,
    on_interrupt: None,
};

fn install<'js>(ctx: &Ctx<'js>, host: &Object<'js>, is_main: bool) -> rquickjs::Result<()> {
    let global = ctx.globals();
    let console = Object::new(ctx.clone())?;
    for (name, stream) in [
        ("log", Stream::Stdout),
        ("info", Stream::Stdout),
        ("debug", Stream::Stdout),
        ("error", Stream::Stderr),
        ("warn", Stream::Stderr),
    ] {
        let f = function(
            ctx,
            name,
            0,
            move |ctx: Ctx<'js>, args: Rest<Value<'js>>| write_line(&ctx, stream, &args.0),
        )?;
        console.set(name, f)?;
    }
    global.set("console", console)?;
    global.set(
        "print",
        function(ctx, "print", 0, |ctx: Ctx<'js>, args: Rest<Value<'js>>| {
            write_line(&ctx, Stream::Stdout, &args.0)
        })?,
    )?;
    global.set(
        "setTimeout",
        function(
            ctx,
            "setTimeout",
            1,
            |ctx: Ctx<'js>, args: Rest<Value<'js>>| set_timer(ctx, args, false),
        )?,
    )?;
    global.set(
        "setInterval",
        function(
            ctx,
            "setInterval",
            1,
            |ctx: Ctx<'js>, args: Rest<Value<'js>>| set_timer(ctx, args, true),
        )?,
    )?;
    global.set(
        "clearTimeout",
        function(ctx, "clearTimeout", 1, clear_timer)?,
    )?;
    global.set(
        "clearInterval",
        function(ctx, "clearInterval", 1, clear_timer)?,
    )?;
    let performance = Object::new(ctx.clone())?;
    performance.set("now", function(ctx, "now", 0, now_ms)?)?;
    global.set("performance", performance)?;
    global.set("crossOriginIsolated", true)?;
    ctx.eval::<(), _>(
        "globalThis.queueMicrotask = function queueMicrotask(callback) {\n\
           if (typeof callback !== 'function') throw new TypeError('queueMicrotask: the callback is not a function');\n\
           Promise.resolve().then(() => callback());\n\
         };",
    )?;
    install_namespace(ctx, is_main)?;
    sab_natives(ctx, host)
}

/// The non-standard `agentsync` namespace: `args`, `isMain`, `residentBytes()`, `gc()`,
/// `load(path)`.
fn install_namespace<'js>(ctx: &Ctx<'js>, is_main: bool) -> rquickjs::Result<()> {
    let namespace = Object::new(ctx.clone())?;
    let args = local(ctx)?.options.args.clone();
    namespace.set("args", args)?;
    namespace.set("isMain", is_main)?;
    namespace.set(
        "residentBytes",
        function(ctx, "residentBytes", 0, resident_bytes)?,
    )?;
    namespace.set("gc", gc_function(ctx)?)?;
    namespace.set(
        "load",
        function(
            ctx,
            "load",
            1,
            |ctx: Ctx<'js>, path: String| -> rquickjs::Result<()> {
                let full = local(&ctx)?.base_dir.borrow().join(&path);
                let source = std::fs::read_to_string(&full).map_err(|error| {
                    Exception::throw_type(
                        &ctx,
                        &format!("agentsync.load: cannot read {}: {error}", full.display()),
                    )
                })?;
                crate::agent::eval_script(&ctx, &source, &full.display().to_string()).map(drop)
            },
        )?,
    )?;
    ctx.globals().set("agentsync", namespace)
}

/// The natives the prelude's `SharedArrayBuffer` length fix builds on.
fn sab_natives<'js>(ctx: &Ctx<'js>, host: &Object<'js>) -> rquickjs::Result<()> {
    host.set(
        "sabGrownLength",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, buffer: Value<'js>| {
            buffer_base(&ctx, &buffer).map(|base| crate::sab::grown_length(base) as f64)
        })?,
    )?;
    host.set(
        "sabGrown",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, buffer: Value<'js>, length: f64| -> rquickjs::Result<()> {
                crate::sab::record_growth(buffer_base(&ctx, &buffer)?, length as usize);
                Ok(())
            },
        )?,
    )?;
    Ok(())
}

/// The first byte of an array buffer's data.
fn buffer_base(ctx: &Ctx<'_>, buffer: &Value<'_>) -> rquickjs::Result<*const u8> {
    let mut size = 0;
    // SAFETY: a live context and value; the size out-pointer is valid.
    let data = unsafe { qjs::JS_GetArrayBuffer(ctx.as_raw().as_ptr(), &mut size, buffer.as_raw()) };
    if data.is_null() {
        return Err(rquickjs::Error::Exception);
    }
    Ok(data)
}
