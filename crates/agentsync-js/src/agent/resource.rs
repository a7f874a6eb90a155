//! Where an agent's scripts and resources come from. Every agent has a location, the URL of
//! the script it runs (`file:` for a file, `blob:` for a worker started from a blob URL); URLs
//! resolve against it, and [`read`] returns the bytes behind one: a file inside the host's read
//! scope (the main script's directory and each `allow_read` directory), or a blob that
//! `URL.createObjectURL` registered. `fetch`, `XMLHttpRequest`, `importScripts` and `new
//! Worker(blobUrl)` all read through here, so the scope rule is enforced in one place.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use url::Url;

use super::{lock, Local};

/// Why a URL could not be read.
#[derive(Debug)]
pub(crate) enum ResourceError {
    /// The input is not a URL, even relative to the agent's location.
    Invalid { input: String, base: String },
    /// A scheme the host does not read (`http:`, `data:`…).
    Scheme(String),
    /// A file outside every directory the host may read.
    OutsideScope { path: PathBuf, scope: Vec<PathBuf> },
    /// The file does not exist or cannot be read.
    NotFound { path: PathBuf, source: io::Error },
    /// A blob URL that was never registered, or was revoked.
    NoBlob(String),
}

impl ResourceError {
    /// Whether this is a missing file, which `fetch` and `XMLHttpRequest` report as status 404
    /// (as a web server would) rather than as a network error.
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, ResourceError::NotFound { .. })
    }
}

impl fmt::Display for ResourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResourceError::Invalid { input, base } => {
                write!(f, "{input:?} is not a valid URL (relative to {base})")
            }
            ResourceError::Scheme(url) => write!(
                f,
                "{url} cannot be read: only file: and blob: URLs are (the host has no network)"
            ),
            ResourceError::OutsideScope { path, scope } => {
                let scope: Vec<String> = scope.iter().map(|d| d.display().to_string()).collect();
                write!(
                    f,
                    "{} is outside the directories scripts may read ({}); widen them with \
                     --allow-read DIR",
                    path.display(),
                    scope.join(", ")
                )
            }
            ResourceError::NotFound { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            ResourceError::NoBlob(url) => {
                write!(
                    f,
                    "{url} is not a blob URL of this host (or it was revoked)"
                )
            }
        }
    }
}

/// The bytes behind a URL and their MIME type.
#[derive(Clone)]
pub(crate) struct Resource {
    pub(crate) bytes: Arc<[u8]>,
    pub(crate) content_type: String,
}

/// The blob URL store, shared by every agent of the process (a worker reads the blob URL its
/// creator made). An entry lives until it is revoked.
static BLOBS: Mutex<Option<HashMap<String, Resource>>> = Mutex::new(None);

/// Registers `bytes` under a new `blob:` URL.
pub(crate) fn register_blob(bytes: Arc<[u8]>, content_type: String) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let mut random = [0u8; 8];
    // A unique URL needs only the counter; the random part keeps URLs unguessable across runs,
    // as browsers' UUIDs do. Without an OS random source the counter alone still works.
    let _ = getrandom::fill(&mut random);
    let url = format!(
        "blob:null/{:016x}-{:08x}",
        u64::from_le_bytes(random),
        NEXT.fetch_add(1, Relaxed)
    );
    let resource = Resource {
        bytes,
        content_type,
    };
    lock(&BLOBS)
        .get_or_insert_with(HashMap::new)
        .insert(url.clone(), resource);
    url
}

/// Revokes a blob URL; unknown URLs are ignored, as `URL.revokeObjectURL` does.
pub(crate) fn revoke_blob(url: &str) {
    if let Some(blobs) = lock(&BLOBS).as_mut() {
        blobs.remove(url);
    }
}

/// The agent's location: its script's URL, or its base directory's when it runs inline code.
pub(crate) fn location(local: &Local) -> Url {
    if let Some(url) = local.location.borrow().as_ref() {
        return url.clone();
    }
    let dir = std::path::absolute(&*local.base_dir.borrow())
        .unwrap_or_else(|_| local.base_dir.borrow().clone());
    Url::from_directory_path(&dir)
        .or_else(|()| Url::parse("file:///"))
        .expect("file:/// is a URL")
}

/// The `file:` URL of a script path (absolute, not canonical: what the user named).
pub(crate) fn file_url(path: &Path) -> Option<Url> {
    Url::from_file_path(std::path::absolute(path).ok()?).ok()
}

/// Resolves `input` against the agent's location.
pub(crate) fn resolve(local: &Local, input: &str) -> Result<Url, ResourceError> {
    let base = location(local);
    base.join(input).map_err(|_| ResourceError::Invalid {
        input: input.to_owned(),
        base: base.to_string(),
    })
}

/// The directories the agent may read: the scope the host was given, or its base directory.
fn scope(local: &Local) -> Vec<PathBuf> {
    let scope = lock(&local.options.read_scope).clone();
    if !scope.is_empty() {
        return scope;
    }
    let base = local.base_dir.borrow().clone();
    vec![std::fs::canonicalize(&base).unwrap_or(base)]
}

/// The bytes behind `url`.
pub(crate) fn read(local: &Local, url: &Url) -> Result<Resource, ResourceError> {
    match url.scheme() {
        "blob" => {
            let mut key = url.clone();
            key.set_fragment(None);
            lock(&BLOBS)
                .as_ref()
                .and_then(|blobs| blobs.get(key.as_str()).cloned())
                .ok_or_else(|| ResourceError::NoBlob(url.to_string()))
        }
        "file" => {
            let path = url
                .to_file_path()
                .map_err(|()| ResourceError::Scheme(url.to_string()))?;
            let scope = scope(local);
            // The canonical path when the file exists (a symbolic link out of the scope is
            // refused); otherwise the URL's own path, already free of `.` and `..`.
            let checked = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if !scope.iter().any(|dir| checked.starts_with(dir)) {
                return Err(ResourceError::OutsideScope { path, scope });
            }
            let bytes = std::fs::read(&checked).map_err(|source| ResourceError::NotFound {
                path: path.clone(),
                source,
            })?;
            Ok(Resource {
                bytes: bytes.into(),
                content_type: mime_type(&path).to_owned(),
            })
        }
        _ => Err(ResourceError::Scheme(url.to_string())),
    }
}

/// The MIME type a web server gives a file, by its extension.
pub(crate) fn mime_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("wasm") => "application/wasm",
        Some("js" | "mjs" | "cjs") => "text/javascript",
        Some("json" | "map") => "application/json",
        Some("html" | "htm") => "text/html",
        Some("css") => "text/css",
        Some("txt" | "c" | "h" | "md" | "wat" | "wast") => "text/plain",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

/// A name for errors and stacks: the file's path, or the URL itself.
pub(crate) fn display_name(url: &Url) -> String {
    match url.scheme() {
        "file" => url
            .to_file_path()
            .map_or_else(|()| url.to_string(), |p| p.display().to_string()),
        _ => url.to_string(),
    }
}
