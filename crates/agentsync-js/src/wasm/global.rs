//! `WebAssembly.Global`: globals of the number types in the agent's store.

use super::*;

/// The natives of this part of the `WebAssembly` namespace, on the object `wasm.js` builds on.
pub(super) fn natives<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> rquickjs::Result<()> {
    native.set(
        "globalNew",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>,
             ty: String,
             mutable: bool,
             value: Value<'js>|
             -> rquickjs::Result<f64> {
                let content = value_type(&ty).ok_or_else(|| {
                    Exception::throw_type(
                        &ctx,
                        &format!("WebAssembly.Global: this host has no globals of type {ty:?}"),
                    )
                })?;
                let value = if value.is_undefined() {
                    default_value(&content).ok_or_else(|| {
                        Exception::throw_type(&ctx, "WebAssembly.Global: no default value")
                    })?
                } else {
                    from_js(&ctx, &content, &value)?
                };
                let mutability = if mutable {
                    Mutability::Var
                } else {
                    Mutability::Const
                };
                let global = with_store(&ctx, |store| {
                    Global::new(store, GlobalType::new(content, mutability), value)
                })?
                .map_err(|e| Exception::throw_type(&ctx, &describe(&e)))?;
                Ok(add_local(Local::Global(global)) as f64)
            },
        )?,
    )?;
    native.set(
        "globalInfo",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| {
            let global = global_of(&ctx, id)?;
            let ty = with_store(&ctx, |store| global.ty(&store))?;
            let info = Object::new(ctx.clone())?;
            info.set("value", type_name(ty.content()))?;
            info.set("mutable", ty.mutability() == Mutability::Var)?;
            Ok::<_, rquickjs::Error>(info)
        })?,
    )?;
    native.set(
        "globalGet",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| {
            let global = global_of(&ctx, id)?;
            let value = with_store(&ctx, |store| global.get(store))?;
            to_js(&ctx, &value)
        })?,
    )?;
    native.set(
        "globalSet",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, id: f64, value: Value<'js>| -> rquickjs::Result<()> {
                let global = global_of(&ctx, id)?;
                let ty = with_store(&ctx, |store| global.ty(&store))?;
                if ty.mutability() != Mutability::Var {
                    return Err(Exception::throw_type(
                        &ctx,
                        "WebAssembly.Global: the global is immutable",
                    ));
                }
                let value = from_js(&ctx, ty.content(), &value)?;
                with_store(&ctx, |store| global.set(store, value))?
                    .map_err(|e| Exception::throw_type(&ctx, &describe(&e)))
            },
        )?,
    )?;
    Ok(())
}
