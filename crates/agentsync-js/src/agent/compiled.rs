//! The host's own scripts (the prelude, `wasm.js`, `web.js`), compiled to QuickJS bytecode once
//! per process and read into each new agent, instead of parsed again by every worker: parsing
//! them was most of a worker's start (about 7 ms of it, measured with `perf` on 100 workers
//! started one after another).
//!
//! The bytecode is what this very engine wrote, in this process, from sources compiled into
//! the binary; it is never read from outside. If compiling or writing fails, the agent parses
//! the source as before.

use std::ffi::CString;
use std::sync::OnceLock;

use rquickjs::{qjs, Ctx, FromJs, Value};

/// One of the host's scripts, and its bytecode once some agent compiled it.
pub(crate) struct Compiled {
    name: &'static str,
    source: &'static str,
    bytecode: OnceLock<Option<Vec<u8>>>,
}

impl Compiled {
    pub(crate) const fn new(name: &'static str, source: &'static str) -> Compiled {
        Compiled {
            name,
            source,
            bytecode: OnceLock::new(),
        }
    }

    /// Evaluates the script in `ctx` (a classic script, sloppy mode) and returns its value.
    pub(crate) fn eval<'js, T: FromJs<'js>>(&self, ctx: &Ctx<'js>) -> rquickjs::Result<T> {
        let bytecode = self
            .bytecode
            .get_or_init(|| compile(ctx, self.name, self.source));
        let Some(bytecode) = bytecode else {
            return ctx.eval_with_options(self.source, super::options(self.name));
        };
        // SAFETY: `ctx` is a live context of this thread; the bytes are bytecode this engine
        // wrote in this process (see `compile`), of the same length as given.
        let function = unsafe {
            qjs::JS_ReadObject(
                ctx.as_raw().as_ptr(),
                bytecode.as_ptr(),
                bytecode.len() as _,
                qjs::JS_READ_OBJ_BYTECODE as i32,
            )
        };
        // SAFETY: a value this context just returned, owned by us from here on.
        let function = unsafe { Value::from_raw(ctx.clone(), function) };
        if function.is_exception() {
            return Err(rquickjs::Error::Exception);
        }
        // SAFETY: JS_EvalFunction consumes its argument: hand it a reference of its own.
        let result = unsafe {
            qjs::JS_EvalFunction(
                ctx.as_raw().as_ptr(),
                qjs::JS_DupValue(ctx.as_raw().as_ptr(), function.as_raw()),
            )
        };
        // SAFETY: as above.
        let result = unsafe { Value::from_raw(ctx.clone(), result) };
        if result.is_exception() {
            return Err(rquickjs::Error::Exception);
        }
        T::from_js(ctx, result)
    }
}

/// The bytecode of `source`, or `None` (the pending exception cleared) if the engine refused.
fn compile(ctx: &Ctx<'_>, name: &str, source: &str) -> Option<Vec<u8>> {
    let source = CString::new(source).ok()?;
    let name = CString::new(name).ok()?;
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: a live context; NUL-terminated source and name, the length without the NUL.
    let function = unsafe {
        qjs::JS_Eval(
            raw,
            source.as_ptr(),
            source.as_bytes().len() as _,
            name.as_ptr(),
            (qjs::JS_EVAL_TYPE_GLOBAL | qjs::JS_EVAL_FLAG_COMPILE_ONLY) as i32,
        )
    };
    // SAFETY: a value this context just returned, owned by us from here on.
    let function = unsafe { Value::from_raw(ctx.clone(), function) };
    if function.is_exception() {
        ctx.catch();
        return None;
    }
    let mut size = 0;
    // SAFETY: a live context and a compiled function; `size` is a valid out-place.
    let bytes = unsafe {
        qjs::JS_WriteObject(
            raw,
            &mut size,
            function.as_raw(),
            qjs::JS_WRITE_OBJ_BYTECODE as i32,
        )
    };
    if bytes.is_null() {
        ctx.catch();
        return None;
    }
    // SAFETY: JS_WriteObject returned `size` bytes at `bytes`, allocated by the context,
    // copied before they are freed with the context's allocator.
    let copy = unsafe { std::slice::from_raw_parts(bytes, size as usize) }.to_vec();
    // SAFETY: as above; freed once.
    unsafe { qjs::js_free(raw, bytes.cast()) };
    Some(copy)
}
