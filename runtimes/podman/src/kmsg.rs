//! OOM kills from the kernel's log, for what Podman does not report itself.
//!
//! On these machines' cgroup v1 hierarchy Podman 4.3 (conmon) never sets `OOMKilled` — `podman run
//! -m 32m` of a memory hog exits 137 with `OOMKilled: false` — while the kernel logs every
//! cgroup OOM kill with the victim's memory cgroup, which names the container
//! (`.../libpod-<id>`). So when a container exits 137 and Podman says no OOM, the runtime reads
//! `/dev/kmsg` (the node's own kernel: the libpod socket is local) and looks for that record,
//! as the kubelet's OOM watcher reads the kernel log for the same reason.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;

/// Whether `log` (kernel log records) holds an OOM kill whose victim's memory cgroup is the
/// container `id`'s.
///
/// ```text
/// 6,1234,557400868,-;oom-kill:constraint=CONSTRAINT_MEMCG,...,task_memcg=/libpod_parent/<pod>/libpod-<id>,task=sh,pid=16804,uid=0
/// ```
pub fn oom_killed(log: &str, id: &str) -> bool {
    !id.is_empty()
        && log.lines().any(|line| {
            line.contains("oom-kill:")
                && line
                    .split(',')
                    .filter_map(|f| f.strip_prefix("task_memcg="))
                    .any(|memcg| memcg.ends_with(&format!("libpod-{id}")) || memcg.ends_with(id))
        })
}

/// The kernel log records buffered now (`/dev/kmsg`, read without blocking); empty when it
/// cannot be read (not root, not Linux).
pub fn read() -> String {
    let Ok(mut f) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/kmsg")
    else {
        return String::new();
    };
    let mut out = String::new();
    // One record per read; EAGAIN at the end of the buffer; EPIPE when a record was overwritten
    // while reading (skip it and go on).
    let mut buf = vec![0u8; 8192];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.push_str(&String::from_utf8_lossy(&buf[..n]));
                if !out.ends_with('\n') {
                    out.push('\n');
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
            Err(_) => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_container_by_its_memcg() {
        let log = "6,1,1,-;eth0: link up\n\
                   4,2,2,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=libpod-ab,mems_allowed=0,oom_memcg=/libpod_parent/p1/libpod-ab,task_memcg=/libpod_parent/p1/libpod-ab,task=sh,pid=16804,uid=0\n";
        assert!(oom_killed(log, "ab"));
        assert!(!oom_killed(log, "cd"));
        assert!(!oom_killed(log, ""));
        assert!(!oom_killed("6,1,1,-;task_memcg=/x/libpod-ab\n", "ab"));
    }
}
