//! File access behind a trait, so the cgroup writers can be tested against a temporary directory.

use std::io;
use std::path::{Path, PathBuf};

/// The file operations cgroup management needs.
pub trait CgroupFs: Send + Sync {
    /// Creates a directory (succeeds when it exists).
    fn create_dir(&self, path: &Path) -> io::Result<()>;
    /// Writes `value` to an existing control file (or a new file in a test tree).
    fn write(&self, path: &Path, value: &str) -> io::Result<()>;
    /// Reads a control file.
    fn read(&self, path: &Path) -> io::Result<String>;
    /// Whether `path` exists.
    fn exists(&self, path: &Path) -> bool;
    /// The path with symlinks resolved (itself when that fails).
    fn canonicalize(&self, path: &Path) -> PathBuf;
    /// Removes a cgroup directory and its child cgroups, deepest first. Missing is fine.
    fn remove_tree(&self, path: &Path) -> io::Result<()>;
}

/// The real filesystem. On cgroupfs, `rmdir` removes a cgroup even though it lists control files;
/// in a test tree (a plain directory) the files are removed first.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealFs;

impl CgroupFs for RealFs {
    fn create_dir(&self, path: &Path) -> io::Result<()> {
        match std::fs::create_dir_all(path) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(io::Error::new(
                e.kind(),
                format!("cannot create cgroup {}: {e}", path.display()),
            )),
            _ => Ok(()),
        }
    }

    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        std::fs::write(path, value).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot write {value:?} to {}: {e}", path.display()),
            )
        })
    }

    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn canonicalize(&self, path: &Path) -> PathBuf {
        std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
    }

    fn remove_tree(&self, path: &Path) -> io::Result<()> {
        let entries = match std::fs::read_dir(path) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                self.remove_tree(&entry.path())?;
            }
        }
        match std::fs::remove_dir(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            // A plain directory (tests) still holds its files: clear them, then retry.
            Err(_) if !path.starts_with("/sys/fs/cgroup") => {
                for entry in std::fs::read_dir(path)?.flatten() {
                    let _ = std::fs::remove_file(entry.path());
                }
                std::fs::remove_dir(path)
            }
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("cannot remove cgroup {}: {e}", path.display()),
            )),
        }
    }
}
