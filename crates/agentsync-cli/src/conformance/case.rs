//! What every suite's run is made of: named cases and their verdicts. A leaf, so each suite's
//! runner (`suites`, `wasi`) builds on it without depending on the others.

use std::path::Path;

/// How one case of a suite went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It passed.
    Pass,
    /// It failed; the first line of why.
    Fail(String),
    /// It was not run; why.
    Skip(String),
}

/// One case: a spec script, a js-api subtest, a test262 file in one mode, a wasi test.
#[derive(Clone, Debug)]
pub struct Case {
    /// Its name in the suite, as the expectations file names it.
    pub id: String,
    /// How it went.
    pub verdict: Verdict,
}

/// `path` relative to `base`, with `/` separators, for case names.
pub(super) fn relative(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
