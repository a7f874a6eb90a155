//! WebAssembly errors as JavaScript sees them: `CompileError`, `LinkError`, `RuntimeError`.

use super::*;

/// Throws `new WebAssembly[kind](message)`, or a plain `Error` if that class is gone.
pub(super) fn throw_wasm(ctx: &Ctx<'_>, kind: &str, message: &str) -> rquickjs::Error {
    let made = (|| -> rquickjs::Result<Value<'_>> {
        let namespace: Object = ctx.globals().get("WebAssembly")?;
        let class: Constructor = namespace.get(kind)?;
        class.construct((message,))
    })();
    match made {
        Ok(error) => ctx.throw(error),
        Err(_) => {
            ctx.catch();
            Exception::throw_message(ctx, &format!("{kind}: {message}"))
        }
    }
}

/// The JS error class for an agentsync-wasm error.
pub(super) fn error_kind(error: &WasmError) -> &'static str {
    match error {
        e if e.is_link_error() => "LinkError",
        WasmError::Trap(_) | WasmError::Cancelled => "RuntimeError",
        _ => "CompileError",
    }
}

/// After a failed guest call: the JS exception an import threw, or a `RuntimeError`.
pub(super) fn guest_failed(
    ctx: &Ctx<'_>,
    error: &agentsync_wasm::wasmtime::Error,
) -> rquickjs::Error {
    if THREW.with(|t| t.replace(false)) {
        return rquickjs::Error::Exception;
    }
    throw_wasm(ctx, "RuntimeError", &describe(error))
}
