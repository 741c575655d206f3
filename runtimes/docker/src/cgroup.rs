//! The pod-level cgroup: every container of a pod (the pause container too) under one parent, as
//! the kubelet puts a pod's containers under `kubepods/.../pod<uid>` (Podman's pods have it of
//! their own). With Docker's cgroupfs driver the parent is `/skiff-docker/pod<uid>`, made by Docker
//! on the first container; with the systemd driver it is the slice `skiff_docker-pod<uid>.slice`
//! (dashes in the UID become underscores: a dash would nest the slice).
//!
//! Docker removes a container's own cgroup, not the parent it made: on cgroupfs the runtime removes
//! the pod's empty directories itself when the sandbox goes (the engine is local; the agent runs
//! beside it). systemd removes empty slices on its own.

use std::path::Path;

/// The cgroup parent of pod `uid`'s containers for Docker's cgroup driver (`cgroupfs` or `systemd`).
///
/// ```text
/// cgroupfs, 6f1c-2a -> /skiff-docker/pod6f1c-2a
/// systemd,  6f1c-2a -> skiff_docker-pod6f1c_2a.slice
/// ```
pub fn parent(driver: &str, uid: &str) -> String {
    if driver == "systemd" {
        format!("skiff_docker-pod{}.slice", uid.replace('-', "_"))
    } else {
        format!("/skiff-docker/pod{uid}")
    }
}

/// Removes the (empty) directories of a cgroupfs parent under `root` (`/sys/fs/cgroup`): one per
/// v1 controller, or the one of v2. Best effort: a directory still in use stays.
pub fn remove(root: &Path, parent: &str) {
    let relative = parent.trim_start_matches('/');
    if relative.is_empty() || relative.ends_with(".slice") {
        return;
    }
    let mut dirs = vec![root.join(relative)];
    if let Ok(controllers) = std::fs::read_dir(root) {
        for c in controllers.flatten() {
            dirs.push(c.path().join(relative));
        }
    }
    for dir in dirs {
        if dir.is_dir() {
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_per_driver() {
        assert_eq!(parent("cgroupfs", "6f1c-2a"), "/skiff-docker/pod6f1c-2a");
        assert_eq!(
            parent("systemd", "6f1c-2a"),
            "skiff_docker-pod6f1c_2a.slice"
        );
    }

    #[test]
    fn removes_only_empty_pod_dirs() {
        let root = std::env::temp_dir().join(format!("skiff-cgroup-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let pod = "skiff-docker/podA";
        for c in ["memory", "cpu"] {
            std::fs::create_dir_all(root.join(c).join(pod)).unwrap();
        }
        std::fs::create_dir_all(root.join("pids").join(pod).join("busy")).unwrap();
        remove(&root, "/skiff-docker/podA");
        assert!(!root.join("memory").join(pod).exists());
        assert!(!root.join("cpu").join(pod).exists());
        assert!(root.join("pids").join(pod).exists(), "in use: kept");
        let _ = std::fs::remove_dir_all(&root);
    }
}
