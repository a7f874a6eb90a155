//! `WebAssembly.Table`: funcref and externref tables in the agent's store, within the JS
//! embedding's limits.

use super::*;

/// The natives of this part of the `WebAssembly` namespace, on the object `wasm.js` builds on.
pub(super) fn natives<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> rquickjs::Result<()> {
    native.set(
        "tableNew",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>,
             funcref: bool,
             initial: f64,
             maximum: Option<f64>,
             init: Option<f64>|
             -> rquickjs::Result<f64> {
                let element = if funcref {
                    RefType::FUNCREF
                } else {
                    RefType::EXTERNREF
                };
                let ty = TableType::new(element, initial as u32, maximum.map(|m| m as u32));
                let made = with_store(&ctx, |mut store| {
                    let init = make_ref(&mut store, funcref, init)?;
                    Table::new(&mut store, ty, init).map_err(|e| describe(&e))
                })?;
                let table = made.map_err(|e| {
                    Exception::throw_range(&ctx, &format!("WebAssembly.Table: {e}"))
                })?;
                Ok(add_local(Local::Table(table)) as f64)
            },
        )?,
    )?;
    native.set(
        "tableInfo",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| {
            let table = table_of(&ctx, id)?;
            let (funcref, length, maximum) = with_store(&ctx, |store| {
                let ty = table.ty(&store);
                (is_funcref(&store, &table), table.size(&store), ty.maximum())
            })?;
            let info = Object::new(ctx.clone())?;
            info.set("funcref", funcref)?;
            info.set("length", length as f64)?;
            info.set("maximum", maximum.map_or(f64::INFINITY, |m| m as f64))?;
            Ok::<_, rquickjs::Error>(info)
        })?,
    )?;
    native.set(
        "tableGet",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64, index: f64| {
            let table = table_of(&ctx, id)?;
            let inner = ctx.clone();
            with_store(&ctx, move |mut store| {
                let got = table.get(&mut store, index as u64);
                if got.is_none() {
                    return Err(Exception::throw_range(
                        &inner,
                        "WebAssembly.Table.get: the index is out of bounds",
                    ));
                }
                ref_to_js(&inner, &mut store, got)
            })?
        })?,
    )?;
    native.set(
        "tableSet",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, id: f64, index: f64, value: Option<f64>| -> rquickjs::Result<()> {
                let table = table_of(&ctx, id)?;
                with_store(&ctx, |mut store| {
                    let funcref = is_funcref(&store, &table);
                    let value = make_ref(&mut store, funcref, value)?;
                    table
                        .set(&mut store, index as u64, value)
                        .map_err(|e| describe(&e))
                })?
                .map_err(|e| Exception::throw_range(&ctx, &format!("WebAssembly.Table.set: {e}")))
            },
        )?,
    )?;
    native.set(
        "tableGrow",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, id: f64, delta: f64, value: Option<f64>| -> rquickjs::Result<f64> {
                let table = table_of(&ctx, id)?;
                with_store(&ctx, |mut store| {
                    let funcref = is_funcref(&store, &table);
                    let value = make_ref(&mut store, funcref, value)?;
                    table
                        .grow(&mut store, delta as u64, value)
                        .map_err(|e| describe(&e))
                })?
                .map(|old| old as f64)
                .map_err(|e| Exception::throw_range(&ctx, &format!("WebAssembly.Table.grow: {e}")))
            },
        )?,
    )?;
    Ok(())
}
