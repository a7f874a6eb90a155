//! Temporary files that nobody can plant for us: created exclusively under a random name and
//! removed when dropped.
//!
//! [`TempFile::new_in`] opens with `create_new` (`O_CREAT | O_EXCL`), which fails on any
//! existing entry, a symlink included, so a file or link planted in a shared directory is
//! never followed or overwritten; the name has 64 random bits, so it cannot be predicted.
//! The file is removed when the guard is dropped (every return and every unwinding panic),
//! unless [`TempFile::persist`] renamed it into place.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// How many random names to try before giving up (each collision means the name existed).
const ATTEMPTS: usize = 16;

/// A file created exclusively under a random name; removed on drop.
#[derive(Debug)]
pub struct TempFile {
    /// Where it is; `None` once persisted.
    path: Option<PathBuf>,
    /// The open file.
    file: File,
}

impl TempFile {
    /// Creates `dir/{prefix}{16 random hex digits}{suffix}`, readable and writable by the
    /// owner only.
    ///
    /// # Errors
    ///
    /// The directory cannot be written, or `ATTEMPTS` random names all existed.
    pub fn new_in(dir: &Path, prefix: &str, suffix: &str) -> io::Result<Self> {
        for _ in 0..ATTEMPTS {
            let path = dir.join(format!("{prefix}{:016x}{suffix}", fastrand::u64(..)));
            match create_exclusive(&path) {
                Ok(file) => {
                    return Ok(TempFile {
                        path: Some(path),
                        file,
                    })
                }
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(error) => return Err(error),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{ATTEMPTS} random names in {} all existed", dir.display()),
        ))
    }

    /// Its path (until persisted).
    pub fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }

    /// The open file.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Renames the file to `to` (same directory, so the rename is atomic: `to` appears whole
    /// or not at all); it is then no longer removed on drop.
    ///
    /// # Errors
    ///
    /// The rename failed; the temporary file is still removed on drop.
    pub fn persist(mut self, to: &Path) -> io::Result<()> {
        if let Some(path) = &self.path {
            std::fs::rename(path, to)?;
            self.path = None;
        }
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A directory created exclusively under a random name (`mkdir` fails on any existing entry);
/// removed with everything in it when dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `dir/{prefix}{16 random hex digits}`, accessible by the owner only.
    ///
    /// # Errors
    ///
    /// The directory cannot be written, or `ATTEMPTS` random names all existed.
    pub fn new_in(dir: &Path, prefix: &str) -> io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        for _ in 0..ATTEMPTS {
            let path = dir.join(format!("{prefix}{:016x}", fastrand::u64(..)));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(TempDir { path }),
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(error) => return Err(error),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{ATTEMPTS} random names in {} all existed", dir.display()),
        ))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Opens a new file at `path` for writing, failing if anything (a symlink too) is there.
pub fn create_exclusive(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// The directory a file named on the command line goes in (`.` for a bare name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("agentsync-temp-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_planted_symlink_is_refused_not_followed() {
        let dir = scratch("symlink");
        let victim = dir.join("victim");
        let link = dir.join("planted");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let error = create_exclusive(&link).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        assert!(!victim.exists(), "the link was followed");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_are_random_and_the_file_goes_on_drop_and_on_panic() {
        let dir = scratch("drop");
        let (a, b) = (
            TempFile::new_in(&dir, "x-", ".tmp").unwrap(),
            TempFile::new_in(&dir, "x-", ".tmp").unwrap(),
        );
        assert_ne!(a.path(), b.path());
        let path = a.path().to_path_buf();
        assert!(path.exists());
        drop((a, b));
        assert!(!path.exists());
        let panicked = std::panic::catch_unwind(|| {
            let _held = TempFile::new_in(&dir, "p-", ".tmp").unwrap();
            panic!("on purpose");
        });
        assert!(panicked.is_err());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn persist_moves_the_whole_file_into_place() {
        use std::io::Write;
        let dir = scratch("persist");
        let mut file = TempFile::new_in(&dir, ".out.", ".tmp").unwrap();
        file.file().write_all(b"whole").unwrap();
        file.persist(&dir.join("out.json")).unwrap();
        assert_eq!(std::fs::read(dir.join("out.json")).unwrap(), b"whole");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
