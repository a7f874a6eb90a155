//! The web platform pieces that page scripts and Emscripten's web and worker output use:
//! `fetch` and `Response` (and `WebAssembly.compileStreaming` / `instantiateStreaming` over
//! them), `XMLHttpRequest`, `importScripts`, `location`, `window` / `document.currentScript`
//! on the main agent, `URL` and `URLSearchParams`, `Blob` and blob URLs, `TextEncoder` /
//! `TextDecoder`, `atob` / `btoa`, `crypto.getRandomValues` / `randomUUID`, and
//! `navigator.hardwareConcurrency`.
//!
//! `web.js` builds the classes; the natives here do what wants a well-kept crate (the WHATWG
//! URL parser of `url`, the Encoding Standard's decoders of `encoding_rs`, forgiving base64 of
//! `base64`, the OS's random source of `getrandom`) or the host (reading a URL within the read
//! scope, through the agent core's `resource` module).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use base64::Engine as _;
use rquickjs::function::Opt;
use rquickjs::{ArrayBuffer, Ctx, Exception, Function, Object, Value};
use url::Url;

use crate::agent::{self, resource, with_local, Extension, Local};

/// The web APIs (after WebAssembly, whose namespace gains the streaming functions).
pub(crate) const EXTENSION: Extension = Extension {
    name: "web",
    install: |ctx, _host, setup| install(ctx, setup.is_main),
    in_realms: false,
    on_interrupt: None,
};

fn local(ctx: &Ctx<'_>) -> rquickjs::Result<Rc<Local>> {
    with_local(Rc::clone).ok_or_else(|| Exception::throw_internal(ctx, "no agent on this thread"))
}

fn install(ctx: &Ctx<'_>, is_main: bool) -> rquickjs::Result<()> {
    let natives = Object::new(ctx.clone())?;
    natives.set("location", Function::new(ctx.clone(), location)?)?;
    natives.set("urlParse", Function::new(ctx.clone(), url_parse)?)?;
    natives.set("urlSet", Function::new(ctx.clone(), url_set)?)?;
    natives.set("formParse", Function::new(ctx.clone(), form_parse)?)?;
    natives.set("formSerialize", Function::new(ctx.clone(), form_serialize)?)?;
    natives.set("read", Function::new(ctx.clone(), read)?)?;
    natives.set("blobRegister", Function::new(ctx.clone(), blob_register)?)?;
    natives.set(
        "blobRevoke",
        Function::new(ctx.clone(), |url: String| resource::revoke_blob(&url))?,
    )?;
    natives.set("encodingName", Function::new(ctx.clone(), encoding_name)?)?;
    natives.set("decode", Function::new(ctx.clone(), decode)?)?;
    natives.set(
        "decoderFree",
        Function::new(ctx.clone(), |id: f64| {
            if let Some(decoders) = agent::slot::<Decoders>() {
                decoders.0.borrow_mut().remove(&(id as u64));
            }
        })?,
    )?;
    natives.set("atob", Function::new(ctx.clone(), atob)?)?;
    natives.set("btoa", Function::new(ctx.clone(), btoa)?)?;
    natives.set("random", Function::new(ctx.clone(), random)?)?;
    natives.set(
        "exit",
        Function::new(ctx.clone(), |status: f64| agent::exit(status as i32))?,
    )?;
    natives.set("evalScript", Function::new(ctx.clone(), eval_script)?)?;
    natives.set(
        "hardwareConcurrency",
        Function::new(ctx.clone(), || {
            std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
        })?,
    )?;
    static WEB_JS: agent::Compiled =
        agent::Compiled::new("<agentsync web>", include_str!("web.js"));
    let web: Function = WEB_JS.eval(ctx)?;
    web.call((natives, is_main))
}

/// The agent's location, `self.location.href`.
fn location(ctx: Ctx<'_>) -> rquickjs::Result<String> {
    Ok(resource::location(&*local(&ctx)?).into())
}

/// The URL's parts as `URL`'s getters show them: `[href, origin, protocol, username,
/// password, host, hostname, port, pathname, search, hash]`.
fn parts(url: &Url) -> Vec<String> {
    use url::quirks;
    vec![
        quirks::href(url).to_owned(),
        quirks::origin(url),
        quirks::protocol(url).to_owned(),
        quirks::username(url).to_owned(),
        quirks::password(url).to_owned(),
        quirks::host(url).to_owned(),
        quirks::hostname(url).to_owned(),
        quirks::port(url).to_owned(),
        quirks::pathname(url).to_owned(),
        quirks::search(url).to_owned(),
        quirks::hash(url).to_owned(),
    ]
}

/// Parses `input` (against `base`, if given) as the URL Standard does; `None` on failure.
fn url_parse(input: String, base: Opt<String>) -> Option<Vec<String>> {
    let url = match base.0 {
        Some(base) => Url::parse(&base).ok()?.join(&input).ok()?,
        None => Url::parse(&input).ok()?,
    };
    Some(parts(&url))
}

/// Runs one of `URL`'s setters on `href`; the new parts, or `None` if `href` (or, for the
/// `href` setter, the value) is not a URL.
fn url_set(href: String, setter: String, value: String) -> Option<Vec<String>> {
    use url::quirks;
    let mut url = Url::parse(&href).ok()?;
    // Each setter ignores a value it cannot use, as the standard says; only `href` fails.
    match setter.as_str() {
        "href" => quirks::set_href(&mut url, &value).ok()?,
        "protocol" => drop(quirks::set_protocol(&mut url, &value)),
        "username" => drop(quirks::set_username(&mut url, &value)),
        "password" => drop(quirks::set_password(&mut url, &value)),
        "host" => drop(quirks::set_host(&mut url, &value)),
        "hostname" => drop(quirks::set_hostname(&mut url, &value)),
        "port" => drop(quirks::set_port(&mut url, &value)),
        "pathname" => quirks::set_pathname(&mut url, &value),
        "search" => quirks::set_search(&mut url, &value),
        "hash" => quirks::set_hash(&mut url, &value),
        _ => return None,
    }
    Some(parts(&url))
}

/// `application/x-www-form-urlencoded` parsing: names and values, alternating.
fn form_parse(input: String) -> Vec<String> {
    url::form_urlencoded::parse(input.as_bytes())
        .flat_map(|(name, value)| [name.into_owned(), value.into_owned()])
        .collect()
}

/// `application/x-www-form-urlencoded` serializing of alternating names and values.
fn form_serialize(pairs: Vec<String>) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for pair in pairs.chunks(2) {
        if let [name, value] = pair {
            serializer.append_pair(name, value);
        }
    }
    serializer.finish()
}

/// Reads `input` (relative to the agent's location): `[bytes, content type, URL, status,
/// display name]`, status 200, or 404 with no bytes for a missing file or blob. A URL that is
/// invalid, of another scheme or outside the read scope is a `TypeError` naming the rule.
fn read<'js>(ctx: Ctx<'js>, input: String) -> rquickjs::Result<Vec<Value<'js>>> {
    let local = local(&ctx)?;
    let url = resource::resolve(&local, &input)
        .map_err(|e| Exception::throw_type(&ctx, &e.to_string()))?;
    let string = |s: &str| rquickjs::String::from_str(ctx.clone(), s).map(Value::from);
    let name = resource::display_name(&url);
    match resource::read(&local, &url) {
        Ok(resource) => Ok(vec![
            ArrayBuffer::new_copy(ctx.clone(), &*resource.bytes)?.into_value(),
            string(&resource.content_type)?,
            string(url.as_str())?,
            Value::new_number(ctx.clone(), 200.0),
            string(&name)?,
        ]),
        Err(error) if error.is_not_found() => Ok(vec![
            Value::new_null(ctx.clone()),
            string(&error.to_string())?,
            string(url.as_str())?,
            Value::new_number(ctx.clone(), 404.0),
            string(&name)?,
        ]),
        Err(error) => Err(Exception::throw_type(&ctx, &error.to_string())),
    }
}

/// Registers a copy of `bytes` under a new blob URL.
fn blob_register(bytes: ArrayBuffer<'_>, content_type: String) -> rquickjs::Result<String> {
    // SAFETY: the bytes are copied before any JavaScript runs that could detach the buffer.
    let data = unsafe { bytes.as_bytes() }.ok_or(rquickjs::Error::Exception)?;
    Ok(resource::register_blob(data.into(), content_type))
}

/// The name of the encoding a label stands for, lowercased as `TextDecoder.encoding` shows it,
/// or `None` for an unknown label (and for `replacement`, which cannot be decoded with).
fn encoding_name(label: String) -> Option<String> {
    let encoding = encoding_rs::Encoding::for_label(label.trim().as_bytes())?;
    (encoding != encoding_rs::REPLACEMENT).then(|| encoding.name().to_ascii_lowercase())
}

/// The agent's streaming decoders, by the id `web.js` gave its `TextDecoder`.
#[derive(Default)]
struct Decoders(RefCell<HashMap<u64, encoding_rs::Decoder>>);

/// `decode`'s flags: `ignoreBOM`, `fatal`, `stream`.
const IGNORE_BOM: u32 = 1;
const FATAL: u32 = 2;
const STREAM: u32 = 4;

/// Decodes `length` bytes at `offset` of `buffer` (a non-shared `ArrayBuffer`) with decoder
/// `id`. A new decoder starts for each call unless the previous one was a `STREAM` call; with
/// `FATAL`, malformed input is a `TypeError`, else it becomes U+FFFD.
fn decode<'js>(
    ctx: Ctx<'js>,
    id: f64,
    encoding: String,
    flags: u32,
    buffer: ArrayBuffer<'js>,
    offset: f64,
    length: f64,
) -> rquickjs::Result<String> {
    let ignore_bom = flags & IGNORE_BOM != 0;
    let fatal = flags & FATAL != 0;
    let stream = flags & STREAM != 0;
    let decoders = agent::slot::<Decoders>()
        .ok_or_else(|| Exception::throw_internal(&ctx, "no agent on this thread"))?;
    // SAFETY: no JavaScript runs while the slice is in use (decoding is native).
    let all = unsafe { buffer.as_bytes() }
        .ok_or_else(|| Exception::throw_type(&ctx, "TextDecoder: the buffer is detached"))?;
    let start = (offset as usize).min(all.len());
    let end = start.saturating_add(length as usize).min(all.len());
    let bytes = &all[start..end];
    let mut map = decoders.0.borrow_mut();
    let id = id as u64;
    let decoder = match map.remove(&id) {
        Some(decoder) => decoder,
        None => {
            let encoding = encoding_rs::Encoding::for_label(encoding.as_bytes())
                .ok_or_else(|| Exception::throw_range(&ctx, "TextDecoder: unknown encoding"))?;
            if ignore_bom {
                encoding.new_decoder_without_bom_handling()
            } else {
                encoding.new_decoder_with_bom_removal()
            }
        }
    };
    let mut decoder = decoder;
    let capacity = decoder
        .max_utf8_buffer_length(bytes.len())
        .ok_or_else(|| Exception::throw_range(&ctx, "TextDecoder: the input is too large"))?;
    let mut out = String::with_capacity(capacity);
    let last = !stream;
    if fatal {
        let (result, _read) = decoder.decode_to_string_without_replacement(bytes, &mut out, last);
        if let encoding_rs::DecoderResult::Malformed(..) = result {
            return Err(Exception::throw_type(
                &ctx,
                "TextDecoder: the input is not valid for its encoding (fatal: true)",
            ));
        }
    } else {
        let _ = decoder.decode_to_string(bytes, &mut out, last);
    }
    if stream {
        map.insert(id, decoder);
    }
    Ok(out)
}

/// The forgiving-base64 decode of `atob`, as a binary string; `None` for input that is not
/// base64 (the caller throws `InvalidCharacterError`).
fn atob(input: String) -> Option<String> {
    let mut data: Vec<u8> = input
        .bytes()
        .filter(|b| !matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' '))
        .collect();
    if data.len() % 4 == 0 {
        for _ in 0..2 {
            if data.last() == Some(&b'=') {
                data.pop();
            }
        }
    }
    if data.len() % 4 == 1 || !input.is_ascii() {
        return None;
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    let bytes = engine.decode(&data).ok()?;
    Some(bytes.into_iter().map(char::from).collect())
}

/// The base64 of a binary string (the caller checked every code unit is below 256).
fn btoa(input: String) -> String {
    let bytes: Vec<u8> = input.chars().map(|c| c as u32 as u8).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `length` bytes from the OS's random source.
fn random<'js>(ctx: Ctx<'js>, length: f64) -> rquickjs::Result<ArrayBuffer<'js>> {
    let mut bytes = vec![0u8; length as usize];
    getrandom::fill(&mut bytes).map_err(|error| {
        Exception::throw_internal(&ctx, &format!("crypto: no random source: {error}"))
    })?;
    ArrayBuffer::new(ctx, bytes)
}

/// Runs a classic script (for `importScripts`) in the agent's global scope.
fn eval_script(ctx: Ctx<'_>, source: String, name: String) -> rquickjs::Result<()> {
    agent::eval_script(&ctx, &source, &name).map(drop)
}
