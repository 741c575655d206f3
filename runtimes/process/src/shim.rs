//! The shim: a small supervisor per container, started as a hidden subcommand of the `skiff` binary
//! (`skiff shim run DIR`). It detaches into its own session, joins the container's cgroup, network
//! namespace and (with volumes) a private mount namespace, starts the process with its stdout and
//! stderr going to the container's log, records `started.json`, waits, and records `exit.json` with
//! the exit code and whether the kernel OOM-killed it. The agent can die and come back meanwhile:
//! everything it needs is in the container directory.
//!
//! `skiff shim exec DIR -- CMD...` runs a command inside a running container's namespaces and cgroup
//! (what `kubectl exec` and exec probes use): it joins them and replaces itself with the command.
//!
//! A container with `stdin` reads it from a pipe the shim feeds from `attach.sock` (see
//! [`crate::attach`]); one with a target (an ephemeral container) joins the target's mount namespace.
//!
//! The shim is synchronous and single-threaded on purpose: `setns` into a mount namespace requires it.

use std::fs::{File, OpenOptions};
use std::os::unix::net::UnixListener;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::Utc;
use nix::mount::{mount, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

use crate::state::{read_json, write_json, ContainerDir, ContainerRecord, Exited, Started};

/// Entry point of `skiff shim ARGS...`; returns the process exit code.
pub fn main(args: &[String]) -> i32 {
    match args {
        [cmd, dir] if cmd == "run" => run(Path::new(dir)),
        [cmd, dir, sep, argv @ ..] if cmd == "exec" && sep == "--" && !argv.is_empty() => {
            exec(Path::new(dir), argv)
        }
        _ => {
            eprintln!("usage: skiff shim run DIR | skiff shim exec DIR -- CMD [ARGS...]");
            2
        }
    }
}

fn record_exit(dir: &ContainerDir, exited: &Exited) {
    if let Err(e) = write_json(&dir.exited(), exited) {
        eprintln!("shim: cannot write {}: {e}", dir.exited().display());
    }
}

fn start_error(dir: &ContainerDir, message: String) -> i32 {
    record_exit(
        dir,
        &Exited {
            code: 128,
            signal: None,
            oom_killed: false,
            start_error: Some(message),
            at: Utc::now(),
        },
    );
    1
}

/// Joins the cgroups (by writing our pid) and the network namespace of `record`.
fn join(record: &ContainerRecord, netns: Option<&Path>) -> Result<(), String> {
    let pid = std::process::id().to_string();
    for procs in &record.cgroup_procs {
        std::fs::write(procs, &pid)
            .map_err(|e| format!("cannot join cgroup {}: {e}", procs.display()))?;
    }
    if let Some(ns) = netns {
        let f = File::open(ns)
            .map_err(|e| format!("cannot open network namespace {}: {e}", ns.display()))?;
        setns(&f, CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("cannot join network namespace {}: {e}", ns.display()))?;
    }
    Ok(())
}

/// Joins the mount namespace of the container `record` targets, when it has one of its own.
fn join_target(record: &ContainerRecord, dir: &Path) -> Result<(), String> {
    let Some(target) = &record.config.target else {
        return Ok(());
    };
    let tdir = ContainerDir(dir.parent().unwrap_or(dir).join(target));
    let trecord: ContainerRecord = read_json(&tdir.record())
        .ok()
        .flatten()
        .ok_or_else(|| format!("target container {target} not found"))?;
    if trecord.mounts.is_empty() {
        // It shares the host's mount namespace, as this container does already.
        return Ok(());
    }
    let started: Started = read_json(&tdir.started())
        .ok()
        .flatten()
        .ok_or_else(|| format!("target container {target} is not running"))?;
    let ns = PathBuf::from(format!("/proc/{}/ns/mnt", started.pid));
    File::open(&ns)
        .map_err(|e| e.to_string())
        .and_then(|f| setns(&f, CloneFlags::CLONE_NEWNS).map_err(|e| e.to_string()))
        .map_err(|e| format!("cannot join the mount namespace of target container {target}: {e}"))
}

/// Binds the stdin socket, from inside the container's directory (see [`ContainerDir::ATTACH_SOCKET`]).
fn bind_stdin(dir: &Path) -> Result<UnixListener, String> {
    let path = dir.join(ContainerDir::ATTACH_SOCKET);
    let _ = std::fs::remove_file(&path);
    std::env::set_current_dir(dir)
        .and_then(|_| UnixListener::bind(ContainerDir::ATTACH_SOCKET))
        .map_err(|e| format!("cannot create {}: {e}", path.display()))
}

/// Feeds the process's stdin from attached clients, one after the other; with `once`, the end of
/// the first client's input is the end of stdin.
fn feed_stdin(
    listener: UnixListener,
    mut pipe: std::process::ChildStdin,
    once: bool,
    dir: PathBuf,
) {
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        let copied = std::io::copy(&mut conn, &mut pipe);
        if copied.is_err() || once {
            // The process is gone (its stdin is closed), or its one client is done.
            break;
        }
    }
    drop(pipe);
    let _ = std::fs::remove_file(dir.join(ContainerDir::ATTACH_SOCKET));
}

fn make_mounts(record: &ContainerRecord) -> Result<(), String> {
    if record.mounts.is_empty() {
        return Ok(());
    }
    unshare(CloneFlags::CLONE_NEWNS)
        .map_err(|e| format!("cannot create a mount namespace: {e}"))?;
    // Mounts made here must not propagate back to the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| format!("cannot make / private: {e}"))?;
    for m in &record.mounts {
        let target = &m.container_path;
        if !target.exists() {
            // The process runtime shares the host's filesystem: a missing mount point is created.
            let made = if m.host_path.is_dir() {
                std::fs::create_dir_all(target)
            } else {
                target
                    .parent()
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .and_then(|_| File::create(target).map(|_| ()))
            };
            made.map_err(|e| format!("cannot create mount point {}: {e}", target.display()))?;
        }
        mount(
            Some(&m.host_path),
            target,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| {
            format!(
                "cannot mount {} at {}: {e}",
                m.host_path.display(),
                target.display()
            )
        })?;
        if m.read_only {
            mount(
                None::<&str>,
                target,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(|e| format!("cannot make {} read-only: {e}", target.display()))?;
        }
    }
    Ok(())
}

fn run(dir: &Path) -> i32 {
    let cdir = ContainerDir(dir.to_path_buf());
    let record: ContainerRecord = match read_json(&cdir.record()) {
        Ok(Some(r)) => r,
        Ok(None) => return start_error(&cdir, format!("{} is missing", cdir.record().display())),
        Err(e) => return start_error(&cdir, e.to_string()),
    };
    // Our own session: signals to the agent's process group do not reach us.
    let _ = nix::unistd::setsid();
    // Bound in the host's namespaces, where attaching clients find it.
    let listener = match record.config.stdin.then(|| bind_stdin(dir)).transpose() {
        Ok(l) => l,
        Err(e) => return start_error(&cdir, e),
    };
    let _ = std::env::set_current_dir("/");
    if let Err(e) = join(&record, record.netns.as_deref())
        .and_then(|_| join_target(&record, dir))
        .and_then(|_| make_mounts(&record))
    {
        return start_error(&cdir, e);
    }
    let log = match OpenOptions::new()
        .create(true)
        .append(true)
        .open(cdir.log())
    {
        Ok(f) => f,
        Err(e) => return start_error(&cdir, format!("cannot open {}: {e}", cdir.log().display())),
    };
    let log2 = match log.try_clone() {
        Ok(f) => f,
        Err(e) => return start_error(&cdir, format!("cannot open the log twice: {e}")),
    };
    let Some((program, args)) = record.argv.split_first() else {
        return start_error(&cdir, "no command to run".into());
    };
    let spawned = Command::new(program)
        .args(args)
        .env_clear()
        .envs(record.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&record.cwd)
        .stdin(if listener.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(log)
        .stderr(log2)
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            return start_error(
                &cdir,
                format!("cannot run {program:?} in {}: {e}", record.cwd.display()),
            )
        }
    };
    if let (Some(listener), Some(pipe)) = (listener, child.stdin.take()) {
        // Threads only now: joining a mount namespace above needs a single-threaded process.
        let (once, dir) = (record.config.stdin_once, dir.to_path_buf());
        std::thread::spawn(move || feed_stdin(listener, pipe, once, dir));
    }
    let started = Started {
        pid: i32::try_from(child.id()).unwrap_or(-1),
        shim_pid: i32::try_from(std::process::id()).unwrap_or(-1),
        at: Utc::now(),
    };
    if let Err(e) = write_json(&cdir.started(), &started) {
        eprintln!("shim: cannot write {}: {e}", cdir.started().display());
    }
    let status = child.wait();
    let (code, signal) = match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(c), _) => (c, None),
            (None, Some(sig)) => (128 + sig, Some(sig)),
            (None, None) => (255, None),
        },
        Err(_) => (255, None),
    };
    let oom_killed = record
        .oom_file()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("oom_kill ")
                    .and_then(|v| v.trim().parse::<u64>().ok())
            })
        })
        .is_some_and(|n| n > 0);
    record_exit(
        &cdir,
        &Exited {
            code,
            signal,
            oom_killed,
            start_error: None,
            at: Utc::now(),
        },
    );
    0
}

fn exec(dir: &Path, argv: &[String]) -> i32 {
    let cdir = ContainerDir(dir.to_path_buf());
    let (record, started) = match (
        read_json::<ContainerRecord>(&cdir.record()),
        read_json::<Started>(&cdir.started()),
    ) {
        (Ok(Some(r)), Ok(Some(s))) => (r, s),
        _ => {
            eprintln!("container in {} is not running", dir.display());
            return 126;
        }
    };
    let proc_ns = |kind: &str| PathBuf::from(format!("/proc/{}/ns/{kind}", started.pid));
    let net = record.netns.as_ref().map(|_| proc_ns("net"));
    if let Err(e) = join(&record, net.as_deref()) {
        eprintln!("{e}");
        return 126;
    }
    if !record.mounts.is_empty() || record.config.target.is_some() {
        let joined = File::open(proc_ns("mnt"))
            .map_err(|e| e.to_string())
            .and_then(|f| setns(&f, CloneFlags::CLONE_NEWNS).map_err(|e| e.to_string()));
        if let Err(e) = joined {
            eprintln!("cannot join the container's mount namespace: {e}");
            return 126;
        }
    }
    let Some((program, args)) = argv.split_first() else {
        return 126;
    };
    let err = Command::new(program)
        .args(args)
        .env_clear()
        .envs(record.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&record.cwd)
        .exec();
    eprintln!("cannot run {program:?}: {err}");
    if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    }
}
