//! Finding the official suites under a directory: work trees and bare git repositories, at any
//! depth, each recognised by what it holds rather than by its name.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::temp::TempDir;

/// The official suites the gate knows, by what identifies them in a checkout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// WebAssembly/threads `test/core` (with `test/core/threads/*.wast`), run with
    /// `--profile threads-proposal`.
    ThreadsCore,
    /// WebAssembly/threads `test/js-api`: WPT-style `*.any.js` on the JS host.
    JsApi,
    /// tc39/test262 `test/built-ins/Atomics` and `test/built-ins/SharedArrayBuffer`.
    Test262,
    /// WebAssembly/wasi-testsuite (`tests/proposals/wasi-threads`).
    WasiTestsuite,
}

impl Kind {
    /// Every kind, in the order the table lists them.
    pub const ALL: [Kind; 4] = [
        Kind::ThreadsCore,
        Kind::JsApi,
        Kind::Test262,
        Kind::WasiTestsuite,
    ];

    /// The suite's name in the table, in `--only` and in the expectations file.
    pub fn name(self) -> &'static str {
        match self {
            Kind::ThreadsCore => "threads-core",
            Kind::JsApi => "js-api",
            Kind::Test262 => "test262",
            Kind::WasiTestsuite => "wasi-testsuite",
        }
    }

    /// The kind called `name`.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the tree at `root` holds this suite.
    fn is_in(self, root: &Path) -> bool {
        match self {
            Kind::ThreadsCore => has_file_with_extension(&root.join("test/core/threads"), "wast"),
            Kind::JsApi => root.join("test/js-api").is_dir(),
            Kind::Test262 => {
                root.join("test/built-ins/Atomics").is_dir() && root.join("harness").is_dir()
            }
            Kind::WasiTestsuite => root.join("tests/proposals/wasi-threads").is_dir(),
        }
    }

    /// The paths of a repository that this suite needs, extracted from a bare repository.
    fn paths(self) -> &'static [&'static str] {
        match self {
            Kind::ThreadsCore => &["test/core"],
            Kind::JsApi => &["test/js-api"],
            Kind::Test262 => &[
                "harness",
                "test/built-ins/Atomics",
                "test/built-ins/SharedArrayBuffer",
            ],
            Kind::WasiTestsuite => &["tests"],
        }
    }
}

/// A suite found under the directory.
#[derive(Debug)]
pub struct Found {
    /// Which suite.
    pub kind: Kind,
    /// The tree to run it in (a work tree, or where a bare repository was extracted).
    pub root: PathBuf,
    /// Where it was found, for the table: the work tree, or `repo.git@REF`.
    pub origin: String,
    /// The extracted tree of a bare repository, removed when the last suite of it is dropped.
    _extracted: Option<std::sync::Arc<TempDir>>,
}

/// How deep below the given directory suites are looked for.
const MAX_DEPTH: usize = 8;

/// The branch of WebAssembly/wasi-testsuite that holds the built binaries; a bare repository
/// that has it is read there, any other at HEAD.
const WASI_BRANCH: &str = "prod/testsuite-all";

/// Every suite under `dir`, at any depth up to `MAX_DEPTH`. Symlinked directories are not
/// entered (no loop can be walked twice) and `.git` directories are not walked. A directory
/// that holds a suite is not searched further.
///
/// # Errors
///
/// `dir` cannot be read, or a bare repository cannot be extracted (its reason named).
pub fn find_suites(dir: &Path) -> Result<Vec<Found>, String> {
    std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut found = Vec::new();
    walk(dir, 0, &mut found)?;
    found.sort_by(|a, b| (a.kind, &a.origin).cmp(&(b.kind, &b.origin)));
    Ok(found)
}

fn walk(dir: &Path, depth: usize, found: &mut Vec<Found>) -> Result<(), String> {
    if is_bare_repository(dir) {
        return extract(dir, found);
    }
    let kinds: Vec<Kind> = Kind::ALL.into_iter().filter(|k| k.is_in(dir)).collect();
    if !kinds.is_empty() {
        for kind in kinds {
            found.push(Found {
                kind,
                root: dir.to_path_buf(),
                origin: dir.display().to_string(),
                _extracted: None,
            });
        }
        return Ok(());
    }
    if depth >= MAX_DEPTH {
        return Ok(());
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| e.file_name() != ".git" && e.file_name() != "node_modules")
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for sub in dirs {
        walk(&sub, depth + 1, found)?;
    }
    Ok(())
}

/// A bare repository: `HEAD`, `objects/` and `refs/` at its top.
fn is_bare_repository(dir: &Path) -> bool {
    dir.join("HEAD").is_file() && dir.join("objects").is_dir() && dir.join("refs").is_dir()
}

/// Runs git on the bare repository `repo`; its stdout, or why it failed.
fn git(repo: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let output = Command::new("git")
        .arg("--git-dir")
        .arg(repo)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git for {}: {e}", repo.display()))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(format!(
            "git {} in {}: {}",
            args.join(" "),
            repo.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Extracts what the suites need from the bare repository `repo` (at [`WASI_BRANCH`] if it
/// has it, else at HEAD) into a temporary directory and recognises the suites there.
fn extract(repo: &Path, found: &mut Vec<Found>) -> Result<(), String> {
    let branch = format!("refs/heads/{WASI_BRANCH}");
    let reference = if git(repo, &["rev-parse", "--verify", "--quiet", &branch]).is_ok() {
        WASI_BRANCH
    } else {
        "HEAD"
    };
    let wanted: Vec<&str> = Kind::ALL.iter().flat_map(|k| k.paths()).copied().collect();
    let mut args = vec!["ls-tree", "-d", "--name-only", reference, "--"];
    args.extend(&wanted);
    let listed = git(repo, &args)?;
    let present: Vec<String> = String::from_utf8_lossy(&listed)
        .lines()
        .map(str::to_owned)
        .collect();
    if present.is_empty() {
        return Ok(());
    }
    let tree = TempDir::new_in(&std::env::temp_dir(), "agentsync-suite-")
        .map_err(|e| format!("cannot make a directory to extract {}: {e}", repo.display()))?;
    let mut archive = Command::new("git")
        .arg("--git-dir")
        .arg(repo)
        .args(["archive", "--format=tar", reference, "--"])
        .args(&present)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run git archive for {}: {e}", repo.display()))?;
    let tar = archive.stdout.take().map_or_else(Stdio::null, Stdio::from);
    let untar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(tree.path())
        .stdin(tar)
        .status();
    let archived = archive.wait();
    match (archived, untar) {
        (Ok(a), Ok(t)) if a.success() && t.success() => {}
        (a, t) => {
            return Err(format!(
                "cannot extract {reference} of {}: git archive {a:?}, tar {t:?}",
                repo.display()
            ))
        }
    }
    let tree = std::sync::Arc::new(tree);
    for kind in Kind::ALL {
        if kind.is_in(tree.path()) {
            found.push(Found {
                kind,
                root: tree.path().to_path_buf(),
                origin: format!("{}@{reference}", repo.display()),
                _extracted: Some(tree.clone()),
            });
        }
    }
    Ok(())
}

/// Whether `dir` directly holds a file ending in `.extension`.
fn has_file_with_extension(dir: &Path, extension: &str) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|e| e.path().extension().is_some_and(|x| x == extension))
    })
}
