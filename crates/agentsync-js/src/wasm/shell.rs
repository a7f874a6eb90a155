//! The shell globals `read` and `readbuffer` (a `.wat` file compiled on load).

use super::*;

/// A path relative to the calling agent's script directory.
pub(super) fn resolve(path: &str) -> std::path::PathBuf {
    with_local(|local| local.base_dir.borrow().join(path)).unwrap_or_else(|| path.into())
}

pub(super) fn read_file(ctx: &Ctx<'_>, what: &str, path: &str) -> rquickjs::Result<Vec<u8>> {
    let full = resolve(path);
    std::fs::read(&full).map_err(|error| {
        Exception::throw_message(
            ctx,
            &format!("{what}: cannot read {}: {error}", full.display()),
        )
    })
}

/// The path argument of `read` / `readbuffer`: required, and converted as `String(x)` would,
/// except that a Symbol is a TypeError (as any string conversion of one is).
pub(super) fn path_argument<'js>(
    ctx: &Ctx<'js>,
    what: &str,
    path: rquickjs::function::Opt<Value<'js>>,
) -> rquickjs::Result<String> {
    let Some(path) = path.0 else {
        return Err(Exception::throw_type(
            ctx,
            &format!("{what}: a file path is required"),
        ));
    };
    if path.is_symbol() {
        return Err(Exception::throw_type(
            ctx,
            &format!("{what}: the path is a Symbol, not a string"),
        ));
    }
    let path: rquickjs::convert::Coerced<String> = rquickjs::FromJs::from_js(ctx, path)?;
    Ok(path.0)
}

/// Defines `read` and `readbuffer` on `global`.
pub(super) fn globals<'js>(ctx: &Ctx<'js>, global: &Object<'js>) -> rquickjs::Result<()> {
    global.set(
        "read",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>,
             path: rquickjs::function::Opt<Value<'js>>|
             -> rquickjs::Result<String> {
                let path = path_argument(&ctx, "read", path)?;
                let bytes = read_file(&ctx, "read", &path)?;
                String::from_utf8(bytes).map_err(|_| {
                    Exception::throw_message(&ctx, &format!("read: {path} is not UTF-8 text"))
                })
            },
        )?
        .with_name("read")?,
    )?;
    global.set(
        "readbuffer",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>,
             path: rquickjs::function::Opt<Value<'js>>|
             -> rquickjs::Result<ArrayBuffer<'js>> {
                let path = path_argument(&ctx, "readbuffer", path)?;
                let mut bytes = read_file(&ctx, "readbuffer", &path)?;
                if path.ends_with(".wat") {
                    let text = String::from_utf8(bytes).map_err(|_| {
                        Exception::throw_message(
                            &ctx,
                            &format!("readbuffer: {path} is not UTF-8 text"),
                        )
                    })?;
                    bytes = agentsync_wasm::wat_to_binary(&text).map_err(|e| {
                        Exception::throw_syntax(&ctx, &format!("readbuffer: {path}: {e}"))
                    })?;
                }
                ArrayBuffer::new_copy(ctx.clone(), bytes)
            },
        )?
        .with_name("readbuffer")?,
    )?;

    Ok(())
}
