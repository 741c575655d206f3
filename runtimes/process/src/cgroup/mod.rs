//! cgroups for pods and containers, v1 and v2, chosen at run time.
//!
//! A pod gets `skiff/pod<UID>` and each container instance a child `skiff/pod<UID>/<container id>`,
//! so a restarted container starts with fresh counters (its OOM count says whether *it* was OOM-killed).
//! Limits are written as the kubelet writes them (see [`Resources`]): v1 `cpu.shares`,
//! `cpu.cfs_quota_us`/`cpu.cfs_period_us`, `memory.limit_in_bytes`; v2 `cpu.weight`, `cpu.max`, `memory.max`.
//!
//! The files are written directly rather than through a crate: the surface is a handful of files, the
//! hybrid v1 layout of these machines and pure v2 must both work, and going through the [`CgroupFs`]
//! trait lets the v2 writer be tested against a temporary directory laid out like cgroupfs.
//!
//! ```
//! use skiff_runtime_process::cgroup::{CgroupManager, CgroupVersion, RealFs};
//! use skiff_core::runtime::Resources;
//! let root = tempfile::tempdir().unwrap();
//! std::fs::write(root.path().join("cgroup.controllers"), "cpu memory pids").unwrap();
//! let cg = CgroupManager::new(std::sync::Arc::new(RealFs), root.path(), CgroupVersion::V2);
//! let res = Resources { cpu_shares: Some(256), cpu_quota_us: Some(50_000), memory_limit_bytes: Some(64 << 20) };
//! cg.create("skiff/pod1/c1", &res).unwrap();
//! let max = std::fs::read_to_string(root.path().join("skiff/pod1/c1/cpu.max")).unwrap();
//! assert_eq!(max, "50000 100000");
//! ```

mod fs;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use skiff_core::runtime::Resources;

pub use fs::{CgroupFs, RealFs};

/// Which cgroup hierarchy the host runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupVersion {
    /// One directory per controller (`/sys/fs/cgroup/memory/...`).
    V1,
    /// The unified hierarchy (`/sys/fs/cgroup/cgroup.controllers` exists).
    V2,
}

/// v1 controllers Skiff uses.
const V1_CONTROLLERS: &[&str] = &["cpu", "cpuacct", "memory", "pids"];

/// Creates, limits, joins and removes cgroups. See the [module docs](self).
#[derive(Clone)]
pub struct CgroupManager {
    fs: Arc<dyn CgroupFs>,
    root: PathBuf,
    version: CgroupVersion,
}

impl std::fmt::Debug for CgroupManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CgroupManager")
            .field("root", &self.root)
            .field("version", &self.version)
            .finish()
    }
}

/// v2 `cpu.weight` from v1 shares, as the kubelet converts: `1 + (shares - 2) * 9999 / 262142`.
pub fn shares_to_weight(shares: u64) -> u64 {
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

impl CgroupManager {
    /// A manager over the hierarchy at `root` (normally `/sys/fs/cgroup`).
    pub fn new(fs: Arc<dyn CgroupFs>, root: &Path, version: CgroupVersion) -> Self {
        Self {
            fs,
            root: root.to_path_buf(),
            version,
        }
    }

    /// Detects the host's hierarchy under `/sys/fs/cgroup` and checks that Skiff may write it
    /// (creates `skiff/`); the error says why cgroups cannot be used (e.g. not root).
    pub fn detect() -> io::Result<Self> {
        let root = Path::new("/sys/fs/cgroup");
        let version = if root.join("cgroup.controllers").exists() {
            CgroupVersion::V2
        } else if root.join("memory").is_dir() {
            CgroupVersion::V1
        } else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no cgroup hierarchy under /sys/fs/cgroup",
            ));
        };
        let manager = Self::new(Arc::new(RealFs), root, version);
        manager.create("skiff", &Resources::default())?;
        Ok(manager)
    }

    /// Which hierarchy this is.
    pub fn version(&self) -> CgroupVersion {
        self.version
    }

    /// Directories of `path`, one per controller on v1, one on v2.
    pub fn dirs(&self, path: &str) -> Vec<PathBuf> {
        match self.version {
            CgroupVersion::V2 => vec![self.root.join(path)],
            CgroupVersion::V1 => {
                let mut seen: Vec<PathBuf> = Vec::new();
                let mut dirs = Vec::new();
                for c in V1_CONTROLLERS {
                    let base = self.root.join(c);
                    if !self.fs.exists(&base) {
                        continue;
                    }
                    // cpu and cpuacct are usually one hierarchy reached by two names.
                    let real = self.fs.canonicalize(&base);
                    if seen.contains(&real) {
                        continue;
                    }
                    seen.push(real);
                    dirs.push(base.join(path));
                }
                dirs
            }
        }
    }

    fn controller_dir(&self, controller: &str, path: &str) -> PathBuf {
        match self.version {
            CgroupVersion::V2 => self.root.join(path),
            CgroupVersion::V1 => self.root.join(controller).join(path),
        }
    }

    /// Creates `path` (and its parents) and writes `res`'s limits into it.
    pub fn create(&self, path: &str, res: &Resources) -> io::Result<()> {
        if self.version == CgroupVersion::V2 {
            // Each parent must delegate the controllers to its children.
            let mut cur = self.root.clone();
            for part in Path::new(path).components() {
                for c in ["cpu", "memory", "pids"] {
                    // A controller the kernel lacks is not an error worth failing a pod for.
                    let _ = self
                        .fs
                        .write(&cur.join("cgroup.subtree_control"), &format!("+{c}"));
                }
                cur.push(part);
                self.fs.create_dir(&cur)?;
            }
        } else {
            for dir in self.dirs(path) {
                self.fs.create_dir(&dir)?;
            }
        }
        self.set_limits(path, res)
    }

    fn set_limits(&self, path: &str, res: &Resources) -> io::Result<()> {
        let cpu = self.controller_dir("cpu", path);
        let memory = self.controller_dir("memory", path);
        match self.version {
            CgroupVersion::V1 => {
                if let Some(shares) = res.cpu_shares {
                    self.fs
                        .write(&cpu.join("cpu.shares"), &shares.to_string())?;
                }
                if let Some(quota) = res.cpu_quota_us {
                    self.fs.write(
                        &cpu.join("cpu.cfs_period_us"),
                        &Resources::CPU_PERIOD_US.to_string(),
                    )?;
                    self.fs
                        .write(&cpu.join("cpu.cfs_quota_us"), &quota.to_string())?;
                }
                if let Some(bytes) = res.memory_limit_bytes {
                    self.fs
                        .write(&memory.join("memory.limit_in_bytes"), &bytes.to_string())?;
                }
            }
            CgroupVersion::V2 => {
                if let Some(shares) = res.cpu_shares {
                    self.fs.write(
                        &cpu.join("cpu.weight"),
                        &shares_to_weight(shares).to_string(),
                    )?;
                }
                if let Some(quota) = res.cpu_quota_us {
                    self.fs.write(
                        &cpu.join("cpu.max"),
                        &format!("{quota} {}", Resources::CPU_PERIOD_US),
                    )?;
                }
                if let Some(bytes) = res.memory_limit_bytes {
                    self.fs
                        .write(&memory.join("memory.max"), &bytes.to_string())?;
                }
            }
        }
        Ok(())
    }

    /// The `cgroup.procs` files a process writes its pid into to join `path`.
    pub fn procs_files(&self, path: &str) -> Vec<PathBuf> {
        self.dirs(path)
            .into_iter()
            .map(|d| d.join("cgroup.procs"))
            .collect()
    }

    /// How many times the kernel OOM-killed a process in `path`.
    pub fn oom_kills(&self, path: &str) -> u64 {
        let dir = self.controller_dir("memory", path);
        let (file, key) = match self.version {
            CgroupVersion::V1 => ("memory.oom_control", "oom_kill"),
            CgroupVersion::V2 => ("memory.events", "oom_kill"),
        };
        self.fs
            .read(&dir.join(file))
            .ok()
            .and_then(|text| stat_value(&text, key))
            .unwrap_or(0)
    }

    /// CPU time used by `path`, in nanoseconds.
    pub fn cpu_usage_ns(&self, path: &str) -> Option<u64> {
        match self.version {
            CgroupVersion::V1 => self
                .fs
                .read(&self.controller_dir("cpuacct", path).join("cpuacct.usage"))
                .ok()?
                .trim()
                .parse()
                .ok(),
            CgroupVersion::V2 => self
                .fs
                .read(&self.root.join(path).join("cpu.stat"))
                .ok()
                .and_then(|t| stat_value(&t, "usage_usec"))
                .map(|us| us * 1000),
        }
    }

    /// Pids of the processes in `path` (not its children).
    pub fn pids(&self, path: &str) -> Vec<i32> {
        let dir = self.controller_dir(
            match self.version {
                CgroupVersion::V1 => "memory",
                CgroupVersion::V2 => "",
            },
            path,
        );
        self.fs
            .read(&dir.join("cgroup.procs"))
            .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Removes `path` and its children (they must hold no processes). Missing is fine.
    pub fn remove(&self, path: &str) -> io::Result<()> {
        for dir in self.dirs(path) {
            self.fs.remove_tree(&dir)?;
        }
        Ok(())
    }
}

/// The value of `key` in a `key value` per line file (`memory.events`, `cpu.stat`, `memory.oom_control`).
fn stat_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some(key))
            .then(|| it.next().and_then(|v| v.parse().ok()))
            .flatten()
    })
}

#[cfg(test)]
mod tests;
