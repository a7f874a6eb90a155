//! Files named on the command line (`bench --json/--plot`, `js test262 --json`), written the way
//! a user expects.
//!
//! - A symlink is followed: its target gets the content, the link stays a link.
//! - A FIFO, a character device or a socket is written into as it is (`--json /dev/stdout`,
//!   a pipe a reader waits on); it is never replaced by a regular file.
//! - A regular file (or a new name) is written whole or not at all: into a temporary file
//!   created exclusively, under a random name, beside the target, flushed to the disk, then
//!   renamed over it. A full disk or any write error leaves the old file as it was, and the
//!   error names the reason (`No space left on device`). A replaced file keeps its mode.
//! - The destination is resolved once, before writing, so that the only name that is replaced
//!   is the one the user named (or its link's target).

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::temp::{parent_dir, TempFile};

/// Where writing `path` goes, found before anything is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A regular file, or a name that does not exist yet: replaced whole, by rename.
    File {
        /// The path to rename onto (a symlink's target, resolved).
        path: PathBuf,
        /// The mode the replaced file had.
        mode: Option<u32>,
    },
    /// Something to write into as it is (a FIFO, a device, a socket).
    Stream(PathBuf),
}

/// Resolves `path`: follows symlinks (also a dangling one, to the name it points at), and tells
/// a directory (an error), a regular file or a new name, and anything else.
///
/// # Errors
///
/// `path` is a directory, or its metadata cannot be read for another reason than not existing.
pub fn destination(path: &Path) -> io::Result<Destination> {
    let target = resolve_links(path)?;
    match fs::metadata(&target) {
        Ok(meta) if meta.is_dir() => Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "it is a directory",
        )),
        Ok(meta) if meta.is_file() => Ok(Destination::File {
            path: target,
            mode: Some(meta.permissions().mode()),
        }),
        // A FIFO, a character or block device, a socket.
        Ok(_) => Ok(Destination::Stream(target)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(Destination::File {
            path: target,
            mode: None,
        }),
        Err(error) => Err(error),
    }
}

/// `path` with its symlinks followed, up to 40 of them (as the kernel allows); a dangling
/// link resolves to the name it points at.
fn resolve_links(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = fs::read_link(&current)?;
                current = if link.is_absolute() {
                    link
                } else {
                    parent_dir(&current).join(link)
                };
            }
            Ok(_) => return Ok(current),
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(error) => return Err(error),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

/// Checks, before a long run, that `path` can be written (a usage error found in a millisecond
/// rather than after minutes of work). Leaves nothing behind; a FIFO is not opened (that would
/// wait for a reader).
///
/// # Errors
///
/// `path` is a directory, or its directory cannot take a new file.
pub fn check_writable(path: &Path) -> io::Result<()> {
    match destination(path)? {
        Destination::File { path, .. } => {
            TempFile::new_in(parent_dir(&path), ".agentsync-", ".tmp").map(drop)
        }
        Destination::Stream(_) => Ok(()),
    }
}

/// Writes `path` as the module describes, with `write` producing the content.
///
/// # Errors
///
/// Resolving, creating, writing, flushing or renaming failed; the message says which and why.
pub fn write_file(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    match destination(path)? {
        Destination::Stream(target) => {
            let mut stream = OpenOptions::new().write(true).open(&target)?;
            write(&mut stream)?;
            stream.flush()
        }
        Destination::File { path: target, mode } => {
            let mut temp = TempFile::new_in(parent_dir(&target), ".agentsync-", ".tmp")?;
            write(temp.file())?;
            let file: &mut File = temp.file();
            file.flush()?;
            // The data must be on the disk before the rename makes it the file: a full disk
            // shows here, not later as a truncated file.
            file.sync_all()?;
            file.set_permissions(Permissions::from_mode(mode.unwrap_or(0o644) & 0o7777))?;
            temp.persist(&target)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("agentsync-outfile-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_symlink_is_followed_and_stays_a_link() {
        let dir = scratch("link");
        let target = dir.join("target.json");
        fs::write(&target, "old").unwrap();
        fs::set_permissions(&target, Permissions::from_mode(0o640)).unwrap();
        let link = dir.join("link.json");
        std::os::unix::fs::symlink("target.json", &link).unwrap();
        write_file(&link, |w| w.write_all(b"new")).unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "the replaced file keeps its mode");
        // A dangling link makes its target.
        let dangling = dir.join("dangling.json");
        std::os::unix::fs::symlink("made.json", &dangling).unwrap();
        write_file(&dangling, |w| w.write_all(b"made")).unwrap();
        assert_eq!(fs::read_to_string(dir.join("made.json")).unwrap(), "made");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = scratch("fail");
        let path = dir.join("out.json");
        fs::write(&path, "old").unwrap();
        let err = write_file(&path, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("the writer failed"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "the writer failed");
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no temporary left");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_directory_is_refused_and_a_link_loop_is_an_error() {
        let dir = scratch("dir");
        assert!(write_file(&dir, |_| Ok(())).is_err());
        let a = dir.join("a");
        let b = dir.join("b");
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        let err = write_file(&a, |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("symbolic links"), "{err}");
        let _ = fs::remove_dir_all(&dir);
    }
}
