//! `WebAssembly.Instance`: instantiation with JavaScript imports, exports, and calls in both
//! directions.

use super::*;

/// Calls the JavaScript function of import `key`, in the context of the innermost call from
/// JavaScript (see [`FrameGuard`]).
pub(super) fn call_import(
    key: u64,
    results_ty: &[ValType],
    params: &[Val],
    results: &mut [Val],
) -> agentsync_wasm::wasmtime::Result<()> {
    let top = FRAMES.with(|f| f.borrow().last().map(|frame| frame.ctx));
    let function = agent_wasm().imports.borrow().get(&key).cloned();
    let (Some(raw), Some(function)) = (top, function) else {
        return Err(agentsync_wasm::wasmtime::format_err!(
            "a JavaScript import was called outside a call from JavaScript"
        ));
    };
    // SAFETY: the frame's context is the one whose native call is on this thread's stack
    // below us (it pushed the frame), so it is alive and its runtime is locked by this thread.
    let ctx = unsafe { Ctx::from_raw(raw) };
    let outcome = (|| -> rquickjs::Result<()> {
        // The guest may have grown a memory before calling out.
        if agent_wasm().exposed.get() {
            refresh(&ctx)?;
        }
        let function = function.restore(&ctx)?;
        let args = params
            .iter()
            .map(|v| to_js(&ctx, v))
            .collect::<rquickjs::Result<Vec<_>>>()?;
        let returned: Value = function.call((Rest(args),))?;
        match results_ty {
            [] => Ok(()),
            [one] => {
                results[0] = from_js(&ctx, one, &returned)?;
                Ok(())
            }
            many => {
                // Any iterable, iterated as the JS API says (IterableToList, in `wasm.js`).
                let to_list = agent_wasm()
                    .to_list
                    .borrow()
                    .clone()
                    .ok_or_else(|| Exception::throw_internal(&ctx, "WebAssembly is not set up"))?
                    .restore(&ctx)?;
                let list: Array = to_list.call((returned,))?;
                if list.len() != many.len() {
                    return Err(Exception::throw_type(
                        &ctx,
                        "WebAssembly: the import returned the wrong number of values",
                    ));
                }
                for (k, ty) in many.iter().enumerate() {
                    let item: Value = list.get(k)?;
                    results[k] = from_js(&ctx, ty, &item)?;
                }
                Ok(())
            }
        }
    })();
    match outcome {
        Ok(()) => Ok(()),
        Err(error) => {
            if !matches!(error, rquickjs::Error::Exception) {
                let _ = Exception::throw_type(&ctx, &error.to_string());
            }
            THREW.with(|t| t.set(true));
            Err(agentsync_wasm::wasmtime::format_err!(
                "a JavaScript import threw"
            ))
        }
    }
}

/// What one import of an instantiation is bound to.
pub(super) enum Binding {
    /// Calls the JavaScript function registered under this key in [`AgentWasm::imports`].
    Function(u64, agentsync_wasm::wasmtime::FuncType),
    /// A Wasm function (an exported function given back).
    Func(Func),
    Table(Table),
    Memory(AnyMemory),
    Global(Global),
    /// A new immutable global of this type and value (a number given for a global import).
    NewGlobal(GlobalType, Val),
}

/// Instantiates module `module` with `resolved[i]` for import `i`: a JavaScript function or a
/// Wasm function's id for a function, a memory id for a memory, a global id or `{ value }` for a
/// global, a table id for a table.
pub(super) fn instantiate<'js>(
    ctx: &Ctx<'js>,
    module: f64,
    resolved: Array<'js>,
) -> rquickjs::Result<f64> {
    let module = module_of(ctx, module)?;
    let runtime = engine();
    let link_error = |text: String| throw_wasm(ctx, "LinkError", &text);
    // Everything that may run JavaScript (conversions) happens before the store is taken.
    let mut bindings = Vec::new();
    for (i, import) in module.program.module().imports().enumerate() {
        let Some((_, _, kind)) = module.imports.get(i) else {
            break;
        };
        let (name_module, name) = (import.module(), import.name());
        let where_ = format!("import {name_module:?} {name:?}");
        let slot: Value = resolved.get(i)?;
        let binding = match (import.ty(), *kind) {
            (ExternType::Func(ty), "function") => match slot.as_number() {
                Some(id) => match local_of(id) {
                    Some(Local::Func(func)) => Binding::Func(func),
                    _ => return Err(link_error(format!("{where_}: a function is expected"))),
                },
                None => {
                    let function = Function::from_value(slot)
                        .map_err(|_| link_error(format!("{where_}: a function is expected")))?;
                    let key = next_id();
                    let saved = Persistent::save(ctx, function);
                    agent_wasm().imports.borrow_mut().insert(key, saved);
                    Binding::Function(key, ty)
                }
            },
            (ExternType::Table(_), "table") => match local_of(slot.as_number().unwrap_or(0.0)) {
                Some(Local::Table(table)) => Binding::Table(table),
                _ => {
                    return Err(link_error(format!(
                        "{where_}: a WebAssembly.Table is expected"
                    )))
                }
            },
            (ExternType::Memory(ty), "memory") => {
                let memory = memory_of(ctx, slot.as_number().unwrap_or(0.0))?;
                match (&memory, ty.is_shared()) {
                    (AnyMemory::Shared(_), true) | (AnyMemory::Local(_), false) => {}
                    (_, shared) => {
                        return Err(link_error(format!(
                            "{where_}: a {} memory is expected",
                            if shared { "shared" } else { "non-shared" }
                        )))
                    }
                }
                Binding::Memory(memory)
            }
            (ExternType::Global(ty), "global") => {
                if let Some(id) = slot.as_number() {
                    Binding::Global(global_of(ctx, id)?)
                } else {
                    let given: Value = slot
                        .as_object()
                        .map(|o| o.get("value"))
                        .transpose()?
                        .unwrap_or_else(|| Value::new_undefined(ctx.clone()));
                    if ty.mutability() == Mutability::Var {
                        return Err(link_error(format!(
                            "{where_}: a mutable global needs a WebAssembly.Global"
                        )));
                    }
                    let content = ty.content().clone();
                    let fits = match content {
                        ValType::I64 => given.is_big_int(),
                        ValType::I32 | ValType::F32 | ValType::F64 => given.is_number(),
                        _ => false,
                    };
                    if !fits {
                        return Err(link_error(format!(
                            "{where_}: the value does not fit a global of type {}",
                            type_name(&content)
                        )));
                    }
                    let value = from_js(ctx, &content, &given)?;
                    Binding::NewGlobal(ty, value)
                }
            }
            (_, kind) => {
                return Err(link_error(format!(
                    "{where_}: {kind} imports are not supported by this host"
                )))
            }
        };
        bindings.push((name_module.to_string(), name.to_string(), binding));
    }
    let made = with_own_store(ctx, |store| -> Result<Instance, String> {
        let mut linker: Linker<GuestState> = Linker::new(runtime.engine());
        linker.allow_shadowing(true);
        for (name_module, name, binding) in bindings {
            let item: Extern = match binding {
                Binding::Function(key, ty) => {
                    let results: Vec<ValType> = ty.results().collect();
                    linker
                        .func_new(
                            &name_module,
                            &name,
                            ty,
                            move |mut caller: Caller<'_, GuestState>,
                                  params: &[Val],
                                  out: &mut [Val]| {
                                let _caller = CallerGuard::push(&mut caller);
                                call_import(key, &results, params, out)
                            },
                        )
                        .map_err(|e| describe(&e))?;
                    continue;
                }
                Binding::Memory(AnyMemory::Shared(memory)) => memory.shared_memory().clone().into(),
                Binding::Memory(AnyMemory::Local(memory)) => memory.into(),
                Binding::Global(global) => global.into(),
                Binding::Func(func) => func.into(),
                Binding::Table(table) => table.into(),
                Binding::NewGlobal(ty, value) => Global::new(&mut *store, ty, value)
                    .map_err(|e| describe(&e))?
                    .into(),
            };
            linker
                .define(&*store, &name_module, &name, item)
                .map_err(|e| describe(&e))?;
        }
        let _frame = FrameGuard::push(ctx);
        module
            .program
            .instantiate_with(store, &[], Some(&linker))
            .map_err(|e| format!("{}\u{0}{}", error_kind(&e), e))
    })?;
    let instance = match made {
        Ok(instance) => instance,
        Err(_) if THREW.with(|t| t.replace(false)) => return Err(rquickjs::Error::Exception),
        Err(text) => {
            let (kind, message) = text.split_once('\u{0}').unwrap_or(("LinkError", &text));
            return Err(throw_wasm(ctx, kind, message));
        }
    };
    Ok(add_local(Local::Instance(instance, module)) as f64)
}

/// The exports of instance `id`: `{name, kind, index, length?, memory?, global?}` each.
pub(super) fn exports<'js>(ctx: &Ctx<'js>, id: f64) -> rquickjs::Result<Array<'js>> {
    let (instance, module) = instance_of(ctx, id)?;
    let found: Vec<Option<(Extern, (f64, usize))>> = with_store(ctx, |mut store| {
        module
            .exports
            .iter()
            .map(|(name, _, _)| {
                let item = instance.get_export(&mut store, name)?;
                let facts = match &item {
                    Extern::Func(func) => func_facts(&mut store, func),
                    _ => (0.0, 0),
                };
                Some((item, facts))
            })
            .collect()
    })?;
    let list = Array::new(ctx.clone())?;
    for (k, ((name, kind, index), item)) in module.exports.iter().zip(found).enumerate() {
        let entry = Object::new(ctx.clone())?;
        entry.set("name", name.as_str())?;
        entry.set("kind", *kind)?;
        entry.set("index", *index)?;
        match item {
            Some((Extern::Func(func), (key, length))) => {
                entry.set("func", add_local(Local::Func(func)) as f64)?;
                entry.set("key", key)?;
                entry.set("length", length)?;
            }
            Some((Extern::Table(table), _)) => {
                entry.set("table", add_local(Local::Table(table)) as f64)?;
            }
            Some((Extern::SharedMemory(memory), _)) => {
                let guest = GuestMemory::from_shared(memory);
                entry.set("memory", add_shared(Shared::Memory(guest)) as f64)?;
            }
            Some((Extern::Memory(memory), _)) => {
                entry.set("memory", add_local(Local::Memory(memory)) as f64)?;
            }
            Some((Extern::Global(global), _)) => {
                entry.set("global", add_local(Local::Global(global)) as f64)?;
            }
            _ => {}
        }
        list.set(k, entry)?;
    }
    Ok(list)
}

/// A Wasm function as JavaScript sees it: its value types, read once when its JS function is
/// made (asking wasmtime for a function's type takes its engine-wide type registry).
struct Callee {
    func: Func,
    params: Box<[ValType]>,
    results: usize,
}

/// The JS function of Wasm function `id` (the exported function exotic object of the JS API):
/// a native function, so a call from JavaScript converts its arguments and enters the guest
/// without a JavaScript wrapper, named `name`, with `length` parameters, not a constructor.
pub(super) fn function<'js>(
    ctx: &Ctx<'js>,
    id: f64,
    name: String,
) -> rquickjs::Result<Function<'js>> {
    let Some(Local::Func(func)) = local_of(id) else {
        return Err(Exception::throw_type(ctx, "not a Wasm function"));
    };
    let (callee, key) = with_store(ctx, |mut store| {
        let ty = func.ty(&store);
        let params = ty.params().collect();
        let results = ty.results().len();
        let key = func_key(&mut store, &func);
        let callee = Callee {
            func,
            params,
            results,
        };
        (callee, key)
    })?;
    agent_wasm().functions.borrow_mut().insert(key);
    let length = callee.params.len();
    let function = Function::new(ctx.clone(), move |ctx: Ctx<'js>, args: Rest<Value<'js>>| {
        let outcome = call(&ctx, &callee, &args.0);
        after_guest(&ctx, outcome)
    })?
    .with_name(name)?
    .with_length(length)?;
    function.set_constructor(false);
    Ok(function)
}

/// Calls the guest function of `callee` with `args` (converted as the JS API says; a missing
/// one is `undefined`).
fn call<'js>(ctx: &Ctx<'js>, callee: &Callee, args: &[Value<'js>]) -> rquickjs::Result<Value<'js>> {
    // Converting may run JavaScript (valueOf), so it happens before the store is taken.
    let mut values = Vec::with_capacity(callee.params.len());
    for (k, ty) in callee.params.iter().enumerate() {
        let value = match args.get(k) {
            Some(arg) => from_js(ctx, ty, arg)?,
            None => from_js(ctx, ty, &Value::new_undefined(ctx.clone()))?,
        };
        values.push(value);
    }
    let mut results = [const { Val::I32(0) }; 4];
    let mut many = Vec::new();
    let results: &mut [Val] = if callee.results <= results.len() {
        &mut results[..callee.results]
    } else {
        many.resize(callee.results, Val::I32(0));
        &mut many
    };
    let outcome = {
        let _frame = FrameGuard::push(ctx);
        THREW.with(|t| t.set(false));
        with_store(ctx, |mut store| {
            callee.func.call(&mut store, &values, results)
        })?
    };
    if let Err(error) = outcome {
        return Err(guest_failed(ctx, &error));
    }
    match &*results {
        [] => Ok(Value::new_undefined(ctx.clone())),
        [one] => to_js(ctx, one),
        many => {
            let list = Array::new(ctx.clone())?;
            for (k, v) in many.iter().enumerate() {
                list.set(k, to_js(ctx, v)?)?;
            }
            Ok(list.into_value())
        }
    }
}

/// What a call into the guest gives JavaScript, after `wasm.js`'s `refresh` has detached the
/// buffers of the non-shared memories the guest grew (only when some buffer is exposed).
fn after_guest<'js>(
    ctx: &Ctx<'js>,
    outcome: rquickjs::Result<Value<'js>>,
) -> rquickjs::Result<Value<'js>> {
    if !agent_wasm().exposed.get() {
        return outcome;
    }
    // The exception in flight, if any, is taken while `refresh` runs and thrown again after.
    let thrown = match outcome {
        Err(rquickjs::Error::Exception) => Some(ctx.catch()),
        _ => None,
    };
    refresh(ctx)?;
    match thrown {
        Some(exception) => Err(ctx.throw(exception)),
        None => outcome,
    }
}

/// Runs `wasm.js`'s `refresh`.
fn refresh(ctx: &Ctx<'_>) -> rquickjs::Result<()> {
    let refresh = agent_wasm().refresh.borrow().clone();
    match refresh {
        Some(refresh) => refresh.restore(ctx)?.call(()),
        None => Ok(()),
    }
}

/// The natives of this part of the `WebAssembly` namespace, on the object `wasm.js` builds on.
pub(super) fn natives<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> rquickjs::Result<()> {
    native.set(
        "setToList",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, to_list: Function<'js>| {
            let saved = Persistent::save(&ctx, to_list);
            *agent_wasm().to_list.borrow_mut() = Some(saved);
        })?,
    )?;
    native.set(
        "dup",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| {
            let entry = shared().get(&(id as u64)).cloned();
            match entry {
                Some(entry) => Ok(add_shared(entry) as f64),
                None => Err(Exception::throw_type(
                    &ctx,
                    "the WebAssembly object is gone",
                )),
            }
        })?,
    )?;
    native.set(
        "release",
        Function::new(ctx.clone(), |id: f64| {
            let gone = shared().remove(&(id as u64));
            drop(gone);
        })?,
    )?;
    native.set(
        "instantiate",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, module: f64, resolved: Array<'js>| instantiate(&ctx, module, resolved),
        )?,
    )?;
    native.set(
        "exports",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64| exports(&ctx, id))?,
    )?;
    native.set(
        "function",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, id: f64, name: String| {
            function(&ctx, id, name)
        })?,
    )?;
    native.set(
        "setRefresh",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, refresh: Function<'js>| {
            let saved = Persistent::save(&ctx, refresh);
            *agent_wasm().refresh.borrow_mut() = Some(saved);
        })?,
    )?;
    native.set(
        "setExposed",
        Function::new(ctx.clone(), |exposed: bool| {
            agent_wasm().exposed.set(exposed);
        })?,
    )?;
    native.set(
        "dropLocal",
        Function::new(ctx.clone(), |id: f64| {
            let gone = agent_wasm().locals.borrow_mut().remove(&(id as u64));
            drop(gone);
        })?,
    )?;
    Ok(())
}
