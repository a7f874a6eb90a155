//! `WebAssembly.Module`: compiling bytes and describing a module's imports, exports and custom
//! sections.

use super::*;

/// The bytes of a `Uint8Array` (copied).
pub(super) fn bytes_of(ctx: &Ctx<'_>, view: &Value<'_>) -> rquickjs::Result<Vec<u8>> {
    let array = TypedArray::<u8>::from_value(view.clone())
        .map_err(|_| Exception::throw_type(ctx, "WebAssembly: expected the module's bytes"))?;
    let Some(raw) = array.as_raw() else {
        return Err(Exception::throw_type(
            ctx,
            "WebAssembly: the buffer is detached",
        ));
    };
    // SAFETY: the engine's pointer and length of a live, attached typed array; copied before
    // any JavaScript runs again.
    Ok(unsafe { raw.as_ref() }.to_vec())
}

/// Reads the import, export and custom sections of a (valid) binary.
pub(super) fn describe_module(binary: &[u8], program: Program) -> Result<ModuleData, String> {
    use wasmparser::{ExternalKind, Parser, Payload, TypeRef};
    let mut data = ModuleData {
        program,
        imports: Vec::new(),
        exports: Vec::new(),
        custom: Vec::new(),
    };
    for payload in Parser::new(0).parse_all(binary) {
        match payload.map_err(|e| e.to_string())? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(|e| e.to_string())?;
                    let kind = match import.ty {
                        TypeRef::Memory(_) => "memory",
                        TypeRef::Table(_) => "table",
                        TypeRef::Global(_) => "global",
                        TypeRef::Tag(_) => "tag",
                        _ => "function",
                    };
                    data.imports
                        .push((import.module.to_string(), import.name.to_string(), kind));
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(|e| e.to_string())?;
                    let kind = match export.kind {
                        ExternalKind::Memory => "memory",
                        ExternalKind::Table => "table",
                        ExternalKind::Global => "global",
                        ExternalKind::Tag => "tag",
                        _ => "function",
                    };
                    data.exports
                        .push((export.name.to_string(), kind, export.index));
                }
            }
            Payload::CustomSection(reader) => {
                data.custom
                    .push((reader.name().to_string(), reader.data().to_vec()));
            }
            _ => {}
        }
    }
    Ok(data)
}

/// Compiles binary Wasm (text is refused, as on the web).
pub(super) fn compile(ctx: &Ctx<'_>, bytes: &[u8]) -> rquickjs::Result<Arc<ModuleData>> {
    if !bytes.starts_with(b"\0asm") {
        return Err(throw_wasm(
            ctx,
            "CompileError",
            "WebAssembly.Module: the bytes do not start with the Wasm magic number",
        ));
    }
    let program = engine()
        .compile(bytes)
        .map_err(|e| throw_wasm(ctx, "CompileError", &e.to_string()))?;
    let data = describe_module(bytes, program).map_err(|e| throw_wasm(ctx, "CompileError", &e))?;
    Ok(Arc::new(data))
}

/// The module's imports or exports as `{module?, name, kind}` descriptors, and its custom
/// sections as `{name, data}`.
pub(super) fn module_info<'js>(ctx: &Ctx<'js>, id: f64) -> rquickjs::Result<Object<'js>> {
    let module = module_of(ctx, id)?;
    let info = Object::new(ctx.clone())?;
    let imports = Array::new(ctx.clone())?;
    for (k, (from, name, kind)) in module.imports.iter().enumerate() {
        let entry = Object::new(ctx.clone())?;
        entry.set("module", from.as_str())?;
        entry.set("name", name.as_str())?;
        entry.set("kind", *kind)?;
        imports.set(k, entry)?;
    }
    let exports = Array::new(ctx.clone())?;
    for (k, (name, kind, _)) in module.exports.iter().enumerate() {
        let entry = Object::new(ctx.clone())?;
        entry.set("name", name.as_str())?;
        entry.set("kind", *kind)?;
        exports.set(k, entry)?;
    }
    let custom = Array::new(ctx.clone())?;
    for (k, (name, data)) in module.custom.iter().enumerate() {
        let entry = Object::new(ctx.clone())?;
        entry.set("name", name.as_str())?;
        entry.set("data", ArrayBuffer::new_copy(ctx.clone(), data)?)?;
        custom.set(k, entry)?;
    }
    info.set("imports", imports)?;
    info.set("exports", exports)?;
    info.set("custom", custom)?;
    Ok(info)
}

/// The natives of this part of the `WebAssembly` namespace, on the object `wasm.js` builds on.
pub(super) fn natives<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> rquickjs::Result<()> {
    native.set(
        "validate",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, bytes: Value<'js>| {
            let bytes = bytes_of(&ctx, &bytes)?;
            Ok::<_, rquickjs::Error>(
                bytes.starts_with(b"\0asm") && engine().compile(&bytes).is_ok(),
            )
        })?,
    )?;
    native.set(
        "compile",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, bytes: Value<'js>| {
            let bytes = bytes_of(&ctx, &bytes)?;
            let module = compile(&ctx, &bytes)?;
            Ok::<_, rquickjs::Error>(add_shared(Shared::Module(module)) as f64)
        })?,
    )?;
    native.set(
        "moduleInfo",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| module_info(&ctx, id))?,
    )?;
    Ok(())
}
