//! Walking a directory tree for test files: sorted, symlinks followed, but no directory visited
//! twice, so a symlink loop (or two links to one directory) cannot run a test more than once
//! or recurse until the kernel's link limit.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

/// The files under `path` (or `path` itself if it is a file) whose name `wanted` accepts, in
/// sorted order within each directory. A directory reached again through a link (its
/// canonical path already seen) is skipped.
///
/// # Errors
///
/// `path` cannot be read; unreadable entries below it are skipped.
pub fn files(path: &Path, wanted: &dyn Fn(&str) -> bool) -> io::Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    walk(path, wanted, &mut seen, &mut out)?;
    Ok(out)
}

fn walk(
    dir: &Path,
    wanted: &dyn Fn(&str) -> bool,
    seen: &mut HashSet<PathBuf>,
    out: &mut Vec<PathBuf>,
) -> io::Result<()> {
    let canonical = std::fs::canonicalize(dir)?;
    if !seen.insert(canonical) {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            // An unreadable subdirectory (or a dangling link) is skipped, not fatal.
            let _ = walk(&entry, wanted, seen, out);
        } else if entry
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(wanted)
        {
            out.push(entry);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlink_loop_and_a_second_link_to_a_directory_are_walked_once() {
        let dir = std::env::temp_dir().join(format!("agentsync-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::fs::write(dir.join("a/b/t.js"), "").unwrap();
        std::fs::write(dir.join("a/x.txt"), "").unwrap();
        std::os::unix::fs::symlink(dir.join("a"), dir.join("a/b/loop")).unwrap();
        std::os::unix::fs::symlink(dir.join("a/b"), dir.join("again")).unwrap();
        let found = files(&dir, &|name| name.ends_with(".js")).unwrap();
        assert_eq!(found, [dir.join("a/b/t.js")]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
