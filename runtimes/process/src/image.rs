//! The image contract of the process runtime: an image names an executable on the host.
//!
//! With a `command`, the image is only recorded. Without one, the image's last path segment before
//! any tag or digest (`python3`, `library/nginx:1.27` → `nginx`) is looked up in `PATH`.

use std::path::{Path, PathBuf};

/// The executable an image names: `library/nginx:1.27` → `nginx`.
///
/// ```
/// use skiff_runtime_process::image::executable_name;
/// assert_eq!(executable_name("library/nginx:1.27"), "nginx");
/// assert_eq!(executable_name("registry:5000/x/python3@sha256:ab"), "python3");
/// assert_eq!(executable_name("busybox"), "busybox");
/// ```
pub fn executable_name(image: &str) -> &str {
    let no_digest = image.split('@').next().unwrap_or(image);
    let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
    last.split(':').next().unwrap_or(last)
}

/// The search path used when the container's environment gives none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Finds `name` in `path` (a `PATH`-style list); an absolute or relative path is checked as is.
pub fn find_in_path(name: &str, path: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| is_executable(p))
}
