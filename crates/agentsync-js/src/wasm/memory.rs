//! `WebAssembly.Memory`: shared memories (process-wide, their buffer the guest bytes) and
//! non-shared ones (in the agent's store), their buffers, lengths and growth.

use super::*;

/// The natives of this part of the `WebAssembly` namespace, on the object `wasm.js` builds on.
pub(super) fn natives<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> rquickjs::Result<()> {
    native.set(
        "memoryNew",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>,
             initial: f64,
             maximum: Option<f64>,
             shared: bool|
             -> rquickjs::Result<f64> {
                let fail = |e: String| {
                    Exception::throw_range(
                        &ctx,
                        &format!("WebAssembly.Memory: cannot allocate: {e}"),
                    )
                };
                if shared {
                    let maximum = maximum.unwrap_or(initial);
                    let memory = GuestMemory::new(engine(), initial as u32, maximum as u32)
                        .map_err(|e| fail(e.to_string()))?;
                    return Ok(add_shared(Shared::Memory(memory)) as f64);
                }
                let ty = MemoryType::new(initial as u32, maximum.map(|m| m as u32));
                let memory = with_store(&ctx, |store| Memory::new(store, ty))?
                    .map_err(|e| fail(describe(&e)))?;
                Ok(add_local(Local::Memory(memory)) as f64)
            },
        )?,
    )?;
    native.set(
        "memoryShared",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| {
            memory_of(&ctx, id).map(|m| matches!(m, AnyMemory::Shared(_)))
        })?,
    )?;
    native.set(
        "memoryBuffer",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| {
            match memory_of(&ctx, id)? {
                AnyMemory::Shared(memory) => crate::sab::wrap(&ctx, &memory.agentsync_memory()),
                AnyMemory::Local(memory) => {
                    let (base, len) = with_store(&ctx, |store| {
                        (memory.data_ptr(&store), memory.data_size(&store))
                    })?;
                    borrowed_array_buffer(&ctx, base, len)
                }
            }
        })?,
    )?;
    native.set(
        "memoryLength",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| {
            match memory_of(&ctx, id)? {
                AnyMemory::Shared(memory) => Ok(memory.len() as f64),
                AnyMemory::Local(memory) => {
                    with_store(&ctx, |store| memory.data_size(&store) as f64)
                }
            }
        })?,
    )?;
    native.set(
        "memoryMaximum",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| {
            let ty = match memory_of(&ctx, id)? {
                AnyMemory::Shared(memory) => memory.shared_memory().ty(),
                AnyMemory::Local(memory) => with_store(&ctx, |store| memory.ty(&store))?,
            };
            Ok::<_, rquickjs::Error>(ty.maximum().map_or(65536.0, |pages| pages as f64))
        })?,
    )?;
    native.set(
        "memoryGrow",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, id: f64, delta: f64| -> rquickjs::Result<f64> {
                let grown = match memory_of(&ctx, id)? {
                    AnyMemory::Shared(memory) => {
                        memory.grow(delta as u64).map_err(|e| e.to_string())
                    }
                    AnyMemory::Local(memory) => {
                        with_store(&ctx, |store| memory.grow(store, delta as u64))?
                            .map_err(|e| describe(&e))
                    }
                };
                grown.map(|old| old as f64).map_err(|e| {
                    Exception::throw_range(&ctx, &format!("WebAssembly.Memory.grow: {e}"))
                })
            },
        )?,
    )?;
    native.set(
        "detach",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, buffer: Value<'js>| {
            if buffer.is_object() {
                // SAFETY: live context and value; detaching a non-shared ArrayBuffer made by
                // `borrowed_array_buffer` (no free function) only forgets its bytes.
                unsafe { qjs::JS_DetachArrayBuffer(ctx.as_raw().as_ptr(), buffer.as_raw()) };
            }
        })?,
    )?;
    Ok(())
}
