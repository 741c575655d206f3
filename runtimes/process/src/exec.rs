//! `exec`: a command in a running container's namespaces and cgroup, through `skiff shim exec`.

use std::path::Path;
use std::process::Stdio;

use skiff_core::runtime::{ExecIo, RuntimeError};

/// Runs `command` through the shim's `exec` mode and pumps its streams; returns its exit code.
pub async fn run(
    program: &str,
    lead: &[String],
    dir: &Path,
    command: &[String],
    io: ExecIo,
) -> Result<i32, RuntimeError> {
    let ExecIo {
        stdin,
        mut stdout,
        mut stderr,
    } = io;
    let mut child = tokio::process::Command::new(program)
        .args(lead)
        .arg("exec")
        .arg(dir)
        .arg("--")
        .args(command)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| RuntimeError::io(format!("cannot start {program}"), e))?;
    let feed = async {
        if let (Some(mut input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            let _ = tokio::io::copy(&mut input, &mut pipe).await;
        }
    };
    let mut out_pipe = child.stdout.take();
    let mut err_pipe = child.stderr.take();
    let out = async {
        if let Some(p) = out_pipe.as_mut() {
            let _ = tokio::io::copy(p, &mut stdout).await;
        }
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut stdout).await;
    };
    let err = async {
        if let Some(p) = err_pipe.as_mut() {
            let _ = tokio::io::copy(p, &mut stderr).await;
        }
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut stderr).await;
    };
    tokio::join!(feed, out, err);
    let status = child
        .wait()
        .await
        .map_err(|e| RuntimeError::io("exec", e))?;
    Ok(status.code().unwrap_or(255))
}
