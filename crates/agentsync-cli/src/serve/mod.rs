//! `agentsync serve`: a folder on loopback, served cross-origin isolated, so that
//! `SharedArrayBuffer` exists in the pages and workers a browser loads from it; and, with
//! `--run FILE.js`, a headless browser on a page that runs FILE.js, whose output and exit status
//! come back to the terminal (what emrun does for Emscripten's pages).
//!
//! Every response carries `Cross-Origin-Opener-Policy: same-origin`,
//! `Cross-Origin-Embedder-Policy: require-corp` and `Cross-Origin-Resource-Policy:
//! same-origin` (what makes a page `crossOriginIsolated`), the file's MIME type
//! (`application/wasm` for `.wasm`, as `WebAssembly.instantiateStreaming` requires), and
//! `Cache-Control: no-store`. Only files under the folder are served: a path is resolved, its
//! symbolic links followed, and refused with 403 if it leaves the folder.
//!
//! The runner page of `--run` is `FILE.js.agentsync.html`, beside the script, so relative URLs
//! (`fetch`, `new Worker`) resolve as they do in `agentsync js`. It loads `page.js` first (which
//! relays `print` and `console` output, an uncaught error, and Emscripten's `Module.onExit`, by
//! synchronous POSTs to `/__agentsync/…`), then the script; a worker script (a request with
//! `Sec-Fetch-Dest: worker`) gets `worker.js` in front, which relays its output too. The run
//! ends when the program exits (its status), throws (status 1), or has printed nothing for
//! `--quiet-exit` seconds (status 0: a browser cannot tell that a page has nothing left to do).

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use clap::Args;

use crate::{output, CliError};

/// `agentsync serve` arguments.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The folder to serve (default: the current one, or FILE's folder with `--run`).
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The port on 127.0.0.1 (0: any free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Run FILE.js in a headless browser, relay its output, and exit with its status.
    #[arg(long, value_name = "FILE.js")]
    pub run: Option<PathBuf>,
    /// The browser for `--run` (a Chromium: it gets headless flags and a fresh profile);
    /// default: the first of chromium, chromium-browser, google-chrome on PATH.
    #[arg(long, value_name = "PROGRAM", requires = "run")]
    pub browser: Option<String>,
    /// With `--run`: a program that printed nothing for this many seconds is taken to have
    /// ended (status 0).
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0, requires = "run")]
    pub quiet_exit: f64,
    /// With `--run`: the longest the whole run may take, in seconds (then status 124).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 300.0,
        requires = "run"
    )]
    pub timeout: f64,
    /// With `--run`: the script's arguments (`agentsync.args` in the page).
    #[arg(value_name = "ARGS", last = true)]
    pub args: Vec<String>,
}

/// The page side's relay script.
const PAGE_JS: &str = include_str!("page.js");
/// Put in front of every worker script.
const WORKER_JS: &str = include_str!("worker.js");
/// What the runner page's name ends with.
const RUNNER_SUFFIX: &str = ".agentsync.html";
/// How many threads answer requests (a page's workers post their lines concurrently).
const SERVER_THREADS: usize = 4;
/// The status of a run that took longer than `--timeout` (as `timeout(1)` exits).
const EXIT_TIMED_OUT: u8 = 124;

/// `agentsync serve`.
///
/// # Errors
/// [`CliError::Usage`] for a folder or file that does not exist, a port that cannot be bound, or
/// no browser; [`CliError::Status`] with the program's status for `--run`.
pub fn run(args: &ServeArgs) -> Result<(), CliError> {
    let (root, script) = match &args.run {
        Some(file) => {
            let file = std::fs::canonicalize(file)
                .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?;
            let root = match &args.dir {
                Some(dir) => canonical_dir(dir)?,
                None => file.parent().map(Path::to_path_buf).unwrap_or_default(),
            };
            if !file.starts_with(&root) {
                return Err(CliError::Usage(format!(
                    "{} is not inside the served folder {}",
                    file.display(),
                    root.display()
                )));
            }
            (root, Some(file))
        }
        None => (
            canonical_dir(args.dir.as_deref().unwrap_or(Path::new(".")))?,
            None,
        ),
    };
    let server = tiny_http::Server::http(("127.0.0.1", args.port))
        .map_err(|e| CliError::Usage(format!("cannot listen on 127.0.0.1:{}: {e}", args.port)))?;
    let address = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| CliError::Failed("the server has no IP address".into()))?;
    let state = Arc::new(State {
        root,
        config: serde_json::json!({ "args": args.args }).to_string(),
        run: Mutex::new(RunState::default()),
        changed: Condvar::new(),
    });
    let server = Arc::new(server);
    let workers: Vec<_> = (0..SERVER_THREADS)
        .map(|_| {
            let (server, state) = (server.clone(), state.clone());
            std::thread::Builder::new()
                .name("serve".into())
                .spawn(move || serve_requests(&server, &state))
        })
        .collect::<Result<_, _>>()
        .map_err(|e| CliError::Failed(format!("cannot start a server thread: {e}")))?;
    match script {
        None => {
            say!(
                "serving {} at http://{address}/ (cross-origin isolated: COOP same-origin, COEP require-corp); Ctrl-C stops",
                state.root.display()
            )?;
            for worker in workers {
                let _ = worker.join();
            }
            Ok(())
        }
        Some(script) => {
            let outcome = run_in_browser(args, &state, address, &script);
            // Each call frees one thread blocked in `recv`.
            for _ in 0..SERVER_THREADS {
                server.unblock();
            }
            for worker in workers {
                let _ = worker.join();
            }
            outcome
        }
    }
}

fn canonical_dir(dir: &Path) -> Result<PathBuf, CliError> {
    let canonical = std::fs::canonicalize(dir)
        .map_err(|e| CliError::Usage(format!("cannot serve {}: {e}", dir.display())))?;
    if !canonical.is_dir() {
        return Err(CliError::Usage(format!(
            "{} is not a folder",
            dir.display()
        )));
    }
    Ok(canonical)
}

/// What the server threads share.
struct State {
    root: PathBuf,
    /// The page's `AGENTSYNC_CONFIG` (JSON).
    config: String,
    run: Mutex<RunState>,
    changed: Condvar,
}

/// What the page reported so far.
#[derive(Default)]
struct RunState {
    /// The page started; whether it is cross-origin isolated.
    started: Option<bool>,
    /// The program ended: its status, and a message for an uncaught error.
    exit: Option<(i32, Option<String>)>,
    /// When the page last reported anything.
    last_report: Option<Instant>,
    /// Writing to our stdout failed: the run stops.
    output_failed: Option<CliError>,
}

fn lock(state: &State) -> std::sync::MutexGuard<'_, RunState> {
    state.run.lock().unwrap_or_else(|p| p.into_inner())
}

fn serve_requests(server: &tiny_http::Server, state: &State) {
    while let Ok(mut request) = server.recv() {
        let response = respond(state, &mut request);
        // A client that went away is no concern of the others.
        let _ = request.respond(response);
    }
}

type Response = tiny_http::Response<std::io::Cursor<Vec<u8>>>;

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes())
        .expect("ASCII header names and values")
}

/// A response with the isolation headers every response carries.
fn reply(status: u16, content_type: &str, body: Vec<u8>) -> Response {
    tiny_http::Response::from_data(body)
        .with_status_code(status)
        .with_header(header("Content-Type", content_type))
        .with_header(header("Cross-Origin-Opener-Policy", "same-origin"))
        .with_header(header("Cross-Origin-Embedder-Policy", "require-corp"))
        .with_header(header("Cross-Origin-Resource-Policy", "same-origin"))
        .with_header(header("Cache-Control", "no-store"))
}

fn text(status: u16, body: &str) -> Response {
    reply(
        status,
        "text/plain; charset=utf-8",
        body.as_bytes().to_vec(),
    )
}

/// Answers one request.
fn respond(state: &State, request: &mut tiny_http::Request) -> Response {
    let url = request.url().to_owned();
    let path = url.split(['?', '#']).next().unwrap_or("/").to_owned();
    let query = url
        .split_once('?')
        .map(|(_, q)| q.to_owned())
        .unwrap_or_default();
    if let Some(kind) = path.strip_prefix("/__agentsync/") {
        match (request.method(), kind) {
            (tiny_http::Method::Post, _) => {
                let mut body = String::new();
                let _ = request.as_reader().take(16 << 20).read_to_string(&mut body);
                report(state, kind, &body);
                text(204, "")
            }
            (_, "page.js") => reply(
                200,
                "text/javascript",
                PAGE_JS
                    .replace("AGENTSYNC_CONFIG", &state.config)
                    .into_bytes(),
            ),
            (_, "readbuffer") => readbuffer(state, &query),
            _ => text(404, "no such agentsync resource"),
        }
    } else {
        let is_worker = request
            .headers()
            .iter()
            .any(|h| h.field.equiv("Sec-Fetch-Dest") && h.value.as_str() == "worker");
        serve_file(state, &path, is_worker)
    }
}

/// A report from the page: a line of output, the start, or the end.
fn report(state: &State, kind: &str, body: &str) {
    let mut run = lock(state);
    run.last_report = Some(Instant::now());
    match kind {
        "out" if run.output_failed.is_none() => {
            if let Err(error) = output::line(format_args!("{body}")) {
                run.output_failed = Some(error);
            }
        }
        "err" => {
            let _ = writeln!(std::io::stderr().lock(), "{body}");
        }
        "start" => {
            let isolated = serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("crossOriginIsolated")?.as_bool())
                .unwrap_or(false);
            run.started = Some(isolated);
        }
        "exit" => {
            let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            let status = value
                .get("status")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(1) as i32;
            let message = value
                .get("message")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned);
            run.exit.get_or_insert((status, message));
        }
        _ => {}
    }
    drop(run);
    state.changed.notify_all();
}

/// The file (or folder listing) at URL path `path`, under the served folder only.
fn serve_file(state: &State, path: &str, is_worker: bool) -> Response {
    let Some(file) = file_of(state, path) else {
        return text(403, "outside the served folder");
    };
    if let Some(script) = path_strip_runner(&file) {
        if script.is_file() {
            return runner_page(&script);
        }
    }
    let Ok(canonical) = std::fs::canonicalize(&file) else {
        return text(404, "not found");
    };
    if !canonical.starts_with(&state.root) {
        return text(403, "outside the served folder");
    }
    if canonical.is_dir() {
        let index = canonical.join("index.html");
        if index.is_file() {
            return read_reply(&index, false);
        }
        return listing(&canonical, path);
    }
    read_reply(&canonical, is_worker)
}

/// The file a URL path names (percent-decoded, `.` and `..` resolved), if it is under the root.
fn file_of(state: &State, path: &str) -> Option<PathBuf> {
    let url = url::Url::parse("http://localhost").ok()?.join(path).ok()?;
    let mut file = state.root.clone();
    for segment in url.path_segments()? {
        let segment = percent_decode(segment)?;
        if segment.is_empty() {
            continue;
        }
        if segment.contains('/') || segment == ".." {
            return None;
        }
        file.push(segment);
    }
    Some(file)
}

/// `%XX` decoding of one path segment; `None` if the result is not UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

/// What a file name keeps unescaped in the runner page's `src` (RFC 3986's unreserved).
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The script a runner page stands for: `x.js.agentsync.html` → `x.js`.
fn path_strip_runner(file: &Path) -> Option<PathBuf> {
    let name = file.file_name()?.to_str()?;
    let script = name.strip_suffix(RUNNER_SUFFIX)?;
    Some(file.with_file_name(script))
}

/// The page that runs `script`: the relay first, then the script as a classic script.
fn runner_page(script: &Path) -> Response {
    let name = script
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let src = percent_encoding::utf8_percent_encode(&name, UNRESERVED).to_string();
    let page = format!(
        "<!doctype html>\n<meta charset=\"utf-8\">\n<title>{src}: agentsync serve</title>\n\
         <script src=\"/__agentsync/page.js\"></script>\n<script src=\"{src}\"></script>\n"
    );
    reply(200, "text/html; charset=utf-8", page.into_bytes())
}

/// A file's bytes with its MIME type; a worker script gets the relay in front.
fn read_reply(file: &Path, is_worker: bool) -> Response {
    match std::fs::read(file) {
        Ok(bytes) => {
            let content_type = agentsync_js::mime_type(file);
            let body = if is_worker && content_type == "text/javascript" {
                // On the script's first line, so its line numbers stay as they are.
                let relay: Vec<&str> = WORKER_JS
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.starts_with("//"))
                    .collect();
                let mut body = relay.join(" ").into_bytes();
                body.push(b' ');
                body.extend_from_slice(&bytes);
                body
            } else {
                bytes
            };
            reply(200, content_type, body)
        }
        Err(error) => text(404, &format!("cannot read: {error}")),
    }
}

/// An HTML list of a folder's entries.
fn listing(dir: &Path, path: &str) -> Response {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if e.path().is_dir() {
                        name + "/"
                    } else {
                        name
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let base = if path.ends_with('/') {
        path.to_owned()
    } else {
        format!("{path}/")
    };
    let mut page = format!(
        "<!doctype html>\n<meta charset=\"utf-8\">\n<title>{0}</title>\n<h1>{0}</h1>\n<ul>\n",
        escape(&base)
    );
    for name in names {
        let name = escape(&name);
        page.push_str(&format!(
            "<li><a href=\"{}{name}\">{name}</a></li>\n",
            escape(&base)
        ));
    }
    page.push_str("</ul>\n");
    reply(200, "text/html; charset=utf-8", page.into_bytes())
}

/// `readbuffer(path)` of the page: the file's bytes, a `.wat` file compiled first.
fn readbuffer(state: &State, query: &str) -> Response {
    let path = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("url="))
        .and_then(|p| percent_decode(&p.replace('+', " ")));
    let Some(file) = path.and_then(|p| file_of(state, &p)) else {
        return text(403, "outside the served folder");
    };
    match std::fs::canonicalize(&file) {
        Ok(canonical) if canonical.starts_with(&state.root) => match std::fs::read(&canonical) {
            Ok(bytes) if canonical.extension().is_some_and(|e| e == "wat") => {
                match String::from_utf8(bytes)
                    .map_err(|e| e.to_string())
                    .and_then(|t| agentsync_wasm::wat_to_binary(&t).map_err(|e| e.to_string()))
                {
                    Ok(binary) => reply(200, "application/octet-stream", binary),
                    Err(error) => text(422, &error),
                }
            }
            Ok(bytes) => reply(200, "application/octet-stream", bytes),
            Err(error) => text(404, &format!("cannot read: {error}")),
        },
        Ok(_) => text(403, "outside the served folder"),
        Err(error) => text(404, &format!("cannot read: {error}")),
    }
}

/// The browser to start: `--browser`, or the first Chromium on PATH.
fn browser(args: &ServeArgs) -> Result<String, CliError> {
    if let Some(browser) = &args.browser {
        return Ok(browser.clone());
    }
    find_browser().ok_or_else(|| {
        CliError::Usage(
            "no browser: none of chromium, chromium-browser, google-chrome is on PATH (install \
             Debian's chromium, or name one with --browser)"
                .into(),
        )
    })
}

/// The first Chromium on PATH.
pub fn find_browser() -> Option<String> {
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .into_iter()
    .find(|name| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
    .map(str::to_owned)
}

/// The browser process and its profile, both gone when dropped.
struct Browser {
    child: Child,
    _profile: crate::temp::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The browser and every process it started (it is a process group of its own).
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on our child's process group; no memory is involved.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
        let _ = self.child.wait();
    }
}

fn start_browser(program: &str, url: &str) -> Result<Browser, CliError> {
    use std::os::unix::process::CommandExt;
    let profile = crate::temp::TempDir::new_in(&std::env::temp_dir(), "agentsync-browser-")
        .map_err(|e| CliError::Failed(format!("cannot make a browser profile folder: {e}")))?;
    let child = Command::new(program)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| CliError::Usage(format!("cannot start the browser {program}: {e}")))?;
    Ok(Browser {
        child,
        _profile: profile,
    })
}

/// Runs `script` in a headless browser on the runner page; its status as the outcome.
fn run_in_browser(
    args: &ServeArgs,
    state: &State,
    address: SocketAddr,
    script: &Path,
) -> Result<(), CliError> {
    let relative = script.strip_prefix(&state.root).unwrap_or(script);
    let mut page = String::new();
    for segment in relative.iter() {
        page.push('/');
        page.push_str(&segment.to_string_lossy());
    }
    let url = url::Url::parse(&format!("http://{address}"))
        .and_then(|base| base.join(&format!("{page}{RUNNER_SUFFIX}")))
        .map_err(|e| CliError::Failed(format!("cannot make the page URL: {e}")))?;
    let program = browser(args)?;
    let mut browser = start_browser(&program, url.as_str())?;
    let quiet = Duration::from_secs_f64(args.quiet_exit.max(0.0));
    let deadline = Instant::now() + Duration::from_secs_f64(args.timeout.max(0.0));
    let mut run = lock(state);
    loop {
        if let Some(error) = run.output_failed.take() {
            return Err(error);
        }
        if let Some((status, message)) = run.exit.clone() {
            drop(run);
            drop(browser);
            return match (status, message) {
                (0, None) => Ok(()),
                (status, None) => Err(CliError::Status(status as u8, None)),
                (status, Some(message)) => Err(CliError::Status(
                    if status == 0 { 1 } else { status as u8 },
                    Some(message),
                )),
            };
        }
        let now = Instant::now();
        if let Some(last) = run.last_report {
            if run.started.is_some() && now >= last + quiet {
                drop(run);
                drop(browser);
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "agentsync serve: nothing printed for {:.1} s: the program is taken to have ended",
                    quiet.as_secs_f64()
                );
                return Ok(());
            }
        }
        if now >= deadline {
            drop(run);
            drop(browser);
            return Err(CliError::Status(
                EXIT_TIMED_OUT,
                Some(format!(
                    "the program did not end within {} s (--timeout)",
                    args.timeout
                )),
            ));
        }
        if let Ok(Some(status)) = browser.child.try_wait() {
            drop(run);
            return Err(CliError::Failed(format!(
                "the browser {program} ended ({status}) before the program did"
            )));
        }
        let wake = run
            .last_report
            .map_or(deadline, |last| (last + quiet).min(deadline))
            .min(now + Duration::from_millis(200));
        let (guard, _) = state
            .changed
            .wait_timeout(run, wake.saturating_duration_since(now))
            .unwrap_or_else(|p| p.into_inner());
        run = guard;
    }
}
