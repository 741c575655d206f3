//! Named network namespaces (`/run/netns/NAME`, where iproute2 keeps them, so `ip netns` sees them),
//! made without starting a process: a short-lived thread unshares its network namespace and the
//! namespace is bind-mounted onto the name, which keeps it alive after the thread ends.

use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use skiff_core::runtime::RuntimeError;

const NETNS_DIR: &str = "/run/netns";

fn path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

fn err(what: &str, name: &str, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Network(format!("{what} network namespace {name}: {e}"))
}

/// Creates the namespace `name`.
pub async fn add(name: &str) -> Result<(), RuntimeError> {
    let target = path(name);
    let name = name.to_string();
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(NETNS_DIR).map_err(|e| err("cannot create", &name, e))?;
        std::fs::File::create(&target).map_err(|e| err("cannot create", &name, e))?;
        let t = target.clone();
        let made = std::thread::spawn(move || -> Result<(), String> {
            // Only this thread moves into the new namespace; it ends right after.
            unshare(CloneFlags::CLONE_NEWNET).map_err(|e| e.to_string())?;
            mount(
                Some("/proc/thread-self/ns/net"),
                &t,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| e.to_string())
        })
        .join()
        .map_err(|_| "the namespace thread panicked".to_string())
        .and_then(|r| r);
        if let Err(e) = made {
            let _ = std::fs::remove_file(&target);
            return Err(err("cannot create", &name, e));
        }
        Ok(())
    })
    .await
    .map_err(|e| RuntimeError::Other(e.to_string()))?
}

/// Deletes the namespace `name`; a missing one is fine.
pub async fn del(name: &str) -> Result<(), RuntimeError> {
    let target = path(name);
    if !target.exists() {
        return Ok(());
    }
    let _ = umount2(&target, MntFlags::MNT_DETACH);
    std::fs::remove_file(&target).map_err(|e| err("cannot remove", name, e))
}
