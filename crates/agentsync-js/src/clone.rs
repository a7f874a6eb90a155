//! Structured clone between agents: the engine's own object serializer, with shared buffers
//! passed by address.
//!
//! QuickJS-ng writes a value graph (primitives, strings, arrays, plain objects, typed arrays,
//! array buffers, maps, sets, dates, cycles) to bytes; a `SharedArrayBuffer` is written as the
//! address of its memory, which the receiving agent wraps again: the same bytes, never copied.
//! While a message is in flight it holds every buffer it names, so a buffer whose last object
//! was collected in the sender stays alive until the receiver has it.

use std::sync::Arc;

use agentsync::memory::SharedMemory;
use rquickjs::{qjs, Ctx, Exception, Value};

use crate::sab;

/// A message between agents, or from the embedder to a script.
///
/// ```
/// let message = agentsync_js::Message::text("hello");
/// # drop(message);
/// ```
pub struct Message {
    payload: Payload,
    /// Message ports in its transfer list: claimed by the agent that receives it, closed (by
    /// the port registry's `close`, given with them) if it is never delivered.
    ports: Vec<u64>,
    close_port: Option<fn(u64)>,
}

enum Payload {
    /// Serialized by the engine; holds one registry count per named buffer.
    Serialized { bytes: Vec<u8>, buffers: Vec<usize> },
    /// A string from the embedder.
    Text(String),
    /// A number from the embedder.
    Number(f64),
    /// A shared memory from the embedder, delivered as a `SharedArrayBuffer`.
    Memory(Arc<SharedMemory>),
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.payload {
            Payload::Serialized { bytes, buffers } => f
                .debug_struct("Message")
                .field("bytes", &bytes.len())
                .field("shared_buffers", &buffers.len())
                .finish(),
            Payload::Text(text) => f.debug_tuple("Message::text").field(text).finish(),
            Payload::Number(number) => f.debug_tuple("Message::number").field(number).finish(),
            Payload::Memory(memory) => f
                .debug_tuple("Message::shared_memory")
                .field(memory)
                .finish(),
        }
    }
}

impl Message {
    /// A string message.
    pub fn text(text: impl Into<String>) -> Self {
        Message {
            payload: Payload::Text(text.into()),
            ports: Vec::new(),
            close_port: None,
        }
    }

    /// A number message.
    pub fn number(number: f64) -> Self {
        Message {
            payload: Payload::Number(number),
            ports: Vec::new(),
            close_port: None,
        }
    }

    /// A message whose data is a `SharedArrayBuffer` over `memory` (shared, not copied).
    pub fn shared_memory(memory: &Arc<SharedMemory>) -> Self {
        Message {
            payload: Payload::Memory(memory.clone()),
            ports: Vec::new(),
            close_port: None,
        }
    }
}

impl Message {
    /// Carries `ports` (already detached from the sending agent) with the message; `close`
    /// closes one that is never delivered.
    pub(crate) fn with_ports(mut self, ports: Vec<u64>, close: fn(u64)) -> Message {
        self.ports = ports;
        self.close_port = Some(close);
        self
    }

    /// The ports it carries, taken by the agent that receives it.
    pub(crate) fn take_ports(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.ports)
    }
}

impl Drop for Message {
    fn drop(&mut self) {
        if let Some(close) = self.close_port {
            for port in self.ports.drain(..) {
                close(port);
            }
        }
        if let Payload::Serialized { buffers, .. } = &self.payload {
            for &base in buffers {
                sab::release(base as *const u8);
            }
        }
    }
}

const FLAGS: i32 = (qjs::JS_WRITE_OBJ_SAB | qjs::JS_WRITE_OBJ_REFERENCE) as i32;

/// Serializes `value`; a value that cannot be cloned is a `TypeError` naming what it was.
pub(crate) fn serialize(ctx: &Ctx<'_>, value: &Value<'_>) -> rquickjs::Result<Message> {
    let raw = ctx.as_raw().as_ptr();
    let mut size = 0;
    let mut tab = qjs::JSSABTab {
        tab: std::ptr::null_mut(),
        len: 0,
    };
    // SAFETY: live context and value; `size` and `tab` are valid out-places.
    let data = unsafe { qjs::JS_WriteObject2(raw, &mut size, value.as_raw(), FLAGS, &mut tab) };
    let buffers: Vec<usize> = if tab.tab.is_null() {
        Vec::new()
    } else {
        // SAFETY: the writer filled `len` pointers; we copy them, then free its array.
        let list = unsafe { std::slice::from_raw_parts(tab.tab, tab.len as usize) }
            .iter()
            .map(|&p| p as usize)
            .collect();
        // SAFETY: allocated by the engine for this context.
        unsafe { qjs::js_free(raw, tab.tab.cast()) };
        list
    };
    if data.is_null() {
        let error = ctx.catch();
        let message = error
            .as_object()
            .and_then(|o| o.get::<_, String>("message").ok())
            .unwrap_or_else(|| "the value cannot be cloned".into());
        return Err(Exception::throw_type(
            ctx,
            &format!("{message} (only primitives, arrays, plain objects, typed arrays and buffers can be posted)"),
        ));
    }
    // SAFETY: the engine returned `size` bytes; copied, then freed.
    let bytes = unsafe { std::slice::from_raw_parts(data, size as usize) }.to_vec();
    // SAFETY: allocated by the engine for this context.
    unsafe { qjs::js_free(raw, data.cast()) };
    for &base in &buffers {
        sab::hold(base as *const u8);
    }
    Ok(Message {
        payload: Payload::Serialized { bytes, buffers },
        ports: Vec::new(),
        close_port: None,
    })
}

/// Whether the engine's serializer carries `value` exactly as structured clone would, with no
/// pass of the prelude's encoder first: a primitive other than a symbol, or a plain object
/// (an ordinary object whose prototype is `Object.prototype`) whose own properties are all
/// string-keyed data properties holding such primitives (the writer skips the non-enumerable
/// ones, as structured clone does; it would write symbol keys and throw on accessors). That is what workers
/// post most (Emscripten's `{ cmd: 'run', … }`). It runs no JavaScript: a proxy, a getter or
/// anything else it does not know is simply "not flat".
pub(crate) fn is_flat(ctx: &Ctx<'_>, value: &Value<'_>) -> bool {
    if !value.is_object() {
        return !value.is_symbol();
    }
    let raw = ctx.as_raw().as_ptr();
    let object = value.as_raw();
    // SAFETY: for the whole block, a live context and a live object value of it; every value the
    // engine hands back owned is wrapped (freed on drop) or freed below, and the property
    // table is freed with the engine's own function.
    unsafe {
        if qjs::JS_GetClassID(object) != CLASS_OBJECT {
            return false;
        }
        let proto = Value::from_raw(ctx.clone(), qjs::JS_GetPrototype(raw, object));
        let plain = Value::from_raw(ctx.clone(), qjs::JS_GetClassProto(raw, CLASS_OBJECT));
        if !proto.is_object() || proto.as_raw().u.ptr != plain.as_raw().u.ptr {
            return false;
        }
        let mut tab = std::ptr::null_mut();
        let mut len = 0;
        let flags = (qjs::JS_GPN_STRING_MASK | qjs::JS_GPN_SYMBOL_MASK) as i32;
        if qjs::JS_GetOwnPropertyNames(raw, &mut tab, &mut len, object, flags) < 0 {
            drop(ctx.catch());
            return false;
        }
        let entries = std::slice::from_raw_parts(tab, len as usize);
        let flat = entries.iter().all(|entry| {
            let key = Value::from_raw(ctx.clone(), qjs::JS_AtomToValue(raw, entry.atom));
            if key.is_symbol() {
                return false;
            }
            let mut descriptor = std::mem::MaybeUninit::<qjs::JSPropertyDescriptor>::uninit();
            let found = qjs::JS_GetOwnProperty(raw, descriptor.as_mut_ptr(), object, entry.atom);
            if found <= 0 {
                if found < 0 {
                    drop(ctx.catch());
                }
                return false;
            }
            let descriptor = descriptor.assume_init();
            let item = Value::from_raw(ctx.clone(), descriptor.value);
            drop(Value::from_raw(ctx.clone(), descriptor.getter));
            drop(Value::from_raw(ctx.clone(), descriptor.setter));
            descriptor.flags & qjs::JS_PROP_GETSET as i32 == 0
                && !item.is_object()
                && !item.is_symbol()
        });
        qjs::JS_FreePropertyEnum(raw, tab, len);
        flat
    }
}

/// QuickJS's class id of ordinary objects (`JS_CLASS_OBJECT`, the first class).
const CLASS_OBJECT: qjs::JSClassID = 1;

/// The value of `message` in this context.
pub(crate) fn deserialize<'js>(ctx: &Ctx<'js>, message: &Message) -> rquickjs::Result<Value<'js>> {
    match &message.payload {
        Payload::Text(text) => {
            rquickjs::String::from_str(ctx.clone(), text).map(|s| s.into_value())
        }
        Payload::Number(number) => Ok(Value::new_number(ctx.clone(), *number)),
        Payload::Memory(memory) => sab::wrap(ctx, memory),
        Payload::Serialized { bytes, buffers } => {
            if let Some(&gone) = buffers
                .iter()
                .find(|&&b| sab::memory_at(b as *const u8).is_none())
            {
                return Err(Exception::throw_internal(
                    ctx,
                    &format!("message names a shared buffer at {gone:#x} that no longer exists"),
                ));
            }
            let raw = ctx.as_raw().as_ptr();
            let mut tab = qjs::JSSABTab {
                tab: std::ptr::null_mut(),
                len: 0,
            };
            // SAFETY:
            // - the bytes were written by `JS_WriteObject2` in this process with the same flags;
            // - every shared buffer they name is registered (checked above) and held by this
            //   message, so the addresses are live memories; the reader's `sab_dup` counts the
            //   new objects.
            let value = unsafe {
                qjs::JS_ReadObject2(raw, bytes.as_ptr(), bytes.len() as _, FLAGS, &mut tab)
            };
            if !tab.tab.is_null() {
                // SAFETY: allocated by the engine for this context.
                unsafe { qjs::js_free(raw, tab.tab.cast()) };
            }
            // SAFETY: an owned value or the exception marker.
            let value = unsafe { Value::from_raw(ctx.clone(), value) };
            if value.is_exception() {
                return Err(rquickjs::Error::Exception);
            }
            Ok(value)
        }
    }
}
