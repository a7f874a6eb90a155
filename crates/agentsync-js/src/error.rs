//! What can go wrong running JavaScript.

use std::fmt;
use std::io;
use std::path::PathBuf;

use rquickjs::{Ctx, Value};

/// An uncaught JavaScript error (a thrown value, a syntax error, an unhandled rejection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    /// Which agent it ended: `main`, or `worker N (what it runs)`.
    pub agent: String,
    /// `name: message` of an `Error`, or the thrown value as a string.
    pub message: String,
    /// Where it was thrown, `file:line:column`, when the engine knows.
    pub location: Option<String>,
    /// The engine's stack trace, one frame a line (may be empty).
    pub stack: String,
    /// The thrown value was an exit request: an object named `ExitStatus` with an integer
    /// `status`, which is how Emscripten's web output ends a program (`exit(n)`, or `main`
    /// returning with `-sEXIT_RUNTIME`). The host ends the run with that status.
    pub exit_status: Option<i32>,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        write!(f, "Uncaught {}", self.message)?;
        if self.agent != "main" {
            write!(f, " (in {})", self.agent)?;
        }
        for line in self.stack.lines().filter(|l| !l.trim().is_empty()) {
            write!(f, "\n{line}")?;
        }
        Ok(())
    }
}

impl ScriptError {
    /// The pending exception of `ctx`, taken out of the engine.
    pub(crate) fn catch(ctx: &Ctx<'_>, agent: &str) -> ScriptError {
        Self::from_value(&ctx.catch(), agent)
    }

    /// Describes a thrown value.
    pub(crate) fn from_value(value: &Value<'_>, agent: &str) -> ScriptError {
        let mut error = ScriptError {
            agent: agent.to_owned(),
            message: String::new(),
            location: None,
            stack: String::new(),
            exit_status: exit_status(value),
        };
        if let Some(object) = value
            .as_object()
            .filter(|o| o.get::<_, String>("message").is_ok())
        {
            let name: String = object.get("name").unwrap_or_else(|_| "Error".into());
            let message: String = object.get("message").unwrap_or_default();
            error.message = if message.is_empty() {
                name
            } else {
                format!("{name}: {message}")
            };
            error.stack = object.get("stack").unwrap_or_default();
            error.location = error.stack.lines().find_map(frame_location);
        } else {
            error.message = display(value);
        }
        error
    }
}

/// The status of an exit request (see [`ScriptError::exit_status`]).
fn exit_status(value: &Value<'_>) -> Option<i32> {
    let object = value.as_object()?;
    let name: String = object.get("name").ok()?;
    let status: f64 = object.get::<_, Value>("status").ok()?.as_number()?;
    let exact =
        status.fract() == 0.0 && status >= f64::from(i32::MIN) && status <= f64::from(i32::MAX);
    (name == "ExitStatus" && exact).then_some(status as i32)
}

/// `file:line:column` out of a stack frame such as `    at f (a.js:3:7)` or `    at a.js:3:7`.
fn frame_location(frame: &str) -> Option<String> {
    let frame = frame.trim().strip_prefix("at ")?;
    let inner = match (frame.rfind('('), frame.ends_with(')')) {
        (Some(open), true) => &frame[open + 1..frame.len() - 1],
        _ => frame,
    };
    let mut parts = inner.rsplitn(3, ':');
    let column = parts.next()?;
    let line = parts.next()?;
    let file = parts.next()?;
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (numeric(line) && numeric(column) && !file.starts_with('<') && file != "native")
        .then(|| inner.to_owned())
}

/// The value as `String(value)` would show it, or its type when even that throws.
pub(crate) fn display(value: &Value<'_>) -> String {
    if let Some(s) = value.as_string() {
        return s.to_string().unwrap_or_default();
    }
    let ctx = value.ctx();
    let string: rquickjs::Result<rquickjs::String> = ctx
        .globals()
        .get::<_, rquickjs::Function>("String")
        .and_then(|f| f.call((value.clone(),)));
    match string.and_then(|s| s.to_string()) {
        Ok(s) => s,
        Err(_) => {
            ctx.catch();
            format!("<{}>", value.type_name())
        }
    }
}

/// Why a host could not run, or what ended its run.
#[derive(Debug)]
#[non_exhaustive]
pub enum JsError {
    /// A script (of the main agent, or of a worker with no `onerror`) threw and nobody caught it.
    Script(ScriptError),
    /// A script file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// Writing `console.log` / `console.error` output failed (a closed pipe, a full disk).
    Output(io::Error),
    /// The engine could not be set up (out of memory).
    Engine(String),
    /// The thread of this host already runs an agent.
    AgentOnThread,
    /// The program asked to exit with this status (see [`ScriptError::exit_status`]); every
    /// worker was stopped.
    Exit(i32),
}

impl fmt::Display for JsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsError::Script(error) => error.fmt(f),
            JsError::Read { path, source } => {
                write!(f, "cannot read script {}: {source}", path.display())
            }
            JsError::Output(source) => write!(f, "cannot write output: {source}"),
            JsError::Engine(message) => write!(f, "cannot start the JavaScript engine: {message}"),
            JsError::Exit(status) => write!(f, "the program exited with status {status}"),
            JsError::AgentOnThread => {
                f.write_str("this thread already runs a JavaScript agent; use one host per thread")
            }
        }
    }
}

impl std::error::Error for JsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JsError::Read { source, .. } | JsError::Output(source) => Some(source),
            _ => None,
        }
    }
}

impl From<ScriptError> for JsError {
    fn from(error: ScriptError) -> Self {
        JsError::Script(error)
    }
}

#[cfg(test)]
mod tests {
    use super::frame_location;

    #[test]
    fn frame_locations_are_found_in_both_frame_shapes() {
        assert_eq!(
            frame_location("    at f (a.js:3:7)").as_deref(),
            Some("a.js:3:7")
        );
        assert_eq!(
            frame_location("    at /x/b c.js:10:2").as_deref(),
            Some("/x/b c.js:10:2")
        );
        assert_eq!(frame_location("    at <eval> (<input>:1:1)"), None);
        assert_eq!(frame_location("    at g (native)"), None);
        assert_eq!(frame_location("not a frame"), None);
    }
}
