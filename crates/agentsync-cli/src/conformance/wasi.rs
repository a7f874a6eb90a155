//! WebAssembly/wasi-testsuite through `agentsync wasm run`, as the suite's own runner drives a
//! runtime: each test is a `.wasm` with an optional `.json` beside it that gives the
//! program's arguments, environment and directories, and what it must end with (exit code,
//! stdout). Each test runs as a child process of this binary, so a crash or a hang of one
//! test is that test's failure; directories are copied to a fresh temporary directory first,
//! so a test that writes into them leaves the suite as it found it.
//!
//! Two spellings of the JSON are read: the flat one (`args`, `env`, `dirs`, `exit_code`,
//! `stdout`) and the list of `operations` (`run` with args / env / dirs, `wait` with the
//! exit code, `read` of `stdout` with the payload). Components (`wasm32-wasip2`/`wasip3`
//! binaries) are skipped with the reason: agentsync runs core modules (preview1) only.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::case::{relative, Case, Verdict};
use crate::temp::TempDir;
use crate::CliError;

/// What a test asks for and expects.
#[derive(Debug, Default, PartialEq)]
pub struct Spec {
    /// The program's arguments (after `argv[0]`).
    pub args: Vec<String>,
    /// Its environment.
    pub env: Vec<(String, String)>,
    /// Directories beside the test to preopen under their own names.
    pub dirs: Vec<String>,
    /// The exit code it must end with.
    pub exit_code: i32,
    /// What it must print on stdout, if the test says.
    pub stdout: Option<String>,
}

/// Reads a test's JSON (either spelling, see the module documentation).
///
/// # Errors
///
/// Text that is not JSON, or fields of the wrong type, named.
pub fn parse_spec(text: &str) -> Result<Spec, String> {
    let json: Value = serde_json::from_str(text).map_err(|e| format!("bad test JSON: {e}"))?;
    let mut spec = Spec::default();
    match json.get("operations").and_then(Value::as_array) {
        Some(operations) => {
            for operation in operations {
                match operation.get("type").and_then(Value::as_str) {
                    Some("run") => read_run(operation, &mut spec)?,
                    Some("wait") => spec.exit_code = exit_code(operation)?,
                    Some("read")
                        if operation.get("id").and_then(Value::as_str) == Some("stdout") =>
                    {
                        spec.stdout = operation
                            .get("payload")
                            .and_then(Value::as_str)
                            .map(str::to_string);
                    }
                    _ => {}
                }
            }
        }
        None => {
            read_run(&json, &mut spec)?;
            spec.exit_code = exit_code(&json)?;
            spec.stdout = json
                .get("stdout")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
    }
    Ok(spec)
}

fn exit_code(json: &Value) -> Result<i32, String> {
    match json.get("exit_code") {
        None => Ok(0),
        Some(code) => code
            .as_i64()
            .and_then(|c| i32::try_from(c).ok())
            .ok_or_else(|| format!("bad exit_code {code}")),
    }
}

fn read_run(json: &Value, spec: &mut Spec) -> Result<(), String> {
    let strings = |key: &str| -> Result<Vec<String>, String> {
        match json.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or(format!("bad {key} {v}"))
                })
                .collect(),
            Some(other) => Err(format!("bad {key} {other}")),
        }
    };
    spec.args = strings("args")?;
    spec.dirs = strings("dirs")?;
    spec.env = match json.get("env") {
        None => Vec::new(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|v| (k.clone(), v.to_string()))
                    .ok_or(format!("bad env {k}"))
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(format!("bad env {other}")),
    };
    Ok(())
}

/// Whether the bytes are a component (not a core module): the preamble's version/layer.
fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes.starts_with(b"\0asm") && bytes[6..8] == [1, 0]
}

/// Every `.wasm` under `root/tests`, run and judged; `progress` sees each failure.
///
/// # Errors
///
/// What `progress` returns (a closed stdout).
pub fn run_all(
    root: &Path,
    timeout: Duration,
    progress: &mut dyn FnMut(&str) -> Result<(), CliError>,
) -> Result<Vec<Case>, CliError> {
    let tests = root.join("tests");
    let wasm = crate::walk::files(&tests, &|name| name.ends_with(".wasm")).unwrap_or_default();
    let mut cases = Vec::with_capacity(wasm.len());
    for path in wasm {
        let id = relative(&path, &tests);
        let verdict = judge(&path, timeout);
        if let Verdict::Fail(why) = &verdict {
            progress(&format!("FAIL {id}: {why}"))?;
        }
        cases.push(Case { id, verdict });
    }
    Ok(cases)
}

/// Runs one test and judges it.
fn judge(path: &Path, timeout: Duration) -> Verdict {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => return Verdict::Fail(format!("cannot read it: {error}")),
    };
    if is_component(&bytes) {
        return Verdict::Skip("a component (WASI 0.2/0.3); agentsync runs core modules".into());
    }
    let spec = match std::fs::read_to_string(path.with_extension("json")) {
        Ok(text) => match parse_spec(&text) {
            Ok(spec) => spec,
            Err(why) => return Verdict::Fail(why),
        },
        Err(_) => Spec::default(),
    };
    match run_one(path, &spec, timeout) {
        Ok(()) => Verdict::Pass,
        Err(why) => Verdict::Fail(why),
    }
}

fn run_one(path: &Path, spec: &Spec, timeout: Duration) -> Result<(), String> {
    let scratch = TempDir::new_in(&std::env::temp_dir(), "agentsync-wasi-test-")
        .map_err(|e| format!("cannot make a scratch directory: {e}"))?;
    let beside = path.parent().unwrap_or(Path::new("."));
    let mut command = Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
    command.args(["wasm", "run"]);
    for dir in &spec.dirs {
        let copy = scratch.path().join(dir);
        copy_tree(&beside.join(dir), &copy).map_err(|e| format!("cannot copy {dir}: {e}"))?;
        command
            .arg("--dir")
            .arg(format!("{}::{dir}", copy.display()));
    }
    for (name, value) in &spec.env {
        command.arg("--env").arg(format!("{name}={value}"));
    }
    command.arg(path).arg("--").args(&spec.args);
    let output = finish_within(command, timeout)?;
    let code = output.status.code();
    if code != Some(spec.exit_code) {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().next().unwrap_or("");
        return Err(format!(
            "exit code {code:?}, expected {}: {first}",
            spec.exit_code
        ));
    }
    if let Some(expected) = &spec.stdout {
        if output.stdout != expected.as_bytes() {
            return Err(format!(
                "stdout {:?}, expected {expected:?}",
                String::from_utf8_lossy(&output.stdout)
            ));
        }
    }
    Ok(())
}

/// Runs `command` with stdin closed, killing it after `limit`.
fn finish_within(mut command: Command, limit: Duration) -> Result<std::process::Output, String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start agentsync: {e}"))?;
    let deadline = Instant::now() + limit;
    // The pipes are drained on other threads, so a chatty test cannot fill them and stall.
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(drain);
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break status,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("did not finish within {} s", limit.as_secs()));
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let take = |h: Option<std::thread::JoinHandle<Vec<u8>>>| {
        h.and_then(|h| h.join().ok()).unwrap_or_default()
    };
    Ok(std::process::Output {
        status,
        stdout: take(stdout),
        stderr: take(stderr),
    })
}

fn drain(mut pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// Copies the tree at `from` to `to` (files and directories; symlinks as links).
fn copy_tree(from: &Path, to: &PathBuf) -> std::io::Result<()> {
    let kind = std::fs::symlink_metadata(from)?.file_type();
    if kind.is_symlink() {
        return std::os::unix::fs::symlink(std::fs::read_link(from)?, to);
    }
    if kind.is_file() {
        return std::fs::copy(from, to).map(drop);
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        copy_tree(&entry.path(), &to.join(entry.file_name()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_of_a_test_parse_to_the_same_spec() {
        let flat = r#"{"args": ["a", "-b"], "env": {"K": "V"}, "dirs": ["fs-tests.dir"],
                       "exit_code": 3, "stdout": "hi\n"}"#;
        let operations = r#"{"operations": [
            {"type": "run", "args": ["a", "-b"], "env": {"K": "V"}, "dirs": ["fs-tests.dir"]},
            {"type": "wait", "exit_code": 3},
            {"type": "read", "id": "stdout", "payload": "hi\n"}]}"#;
        let expected = Spec {
            args: vec!["a".into(), "-b".into()],
            env: vec![("K".into(), "V".into())],
            dirs: vec!["fs-tests.dir".into()],
            exit_code: 3,
            stdout: Some("hi\n".into()),
        };
        assert_eq!(parse_spec(flat).unwrap(), expected);
        assert_eq!(parse_spec(operations).unwrap(), expected);
        assert_eq!(parse_spec("{}").unwrap(), Spec::default());
        assert!(parse_spec(r#"{"exit_code": "x"}"#)
            .unwrap_err()
            .contains("exit_code"));
        assert!(parse_spec("[").unwrap_err().contains("bad test JSON"));
    }

    #[test]
    fn a_component_is_told_from_a_core_module() {
        assert!(is_component(b"\0asm\x0d\0\x01\0"));
        assert!(!is_component(b"\0asm\x01\0\0\0"));
    }
}
