//! `attach`: a client joined to a running container's own process.
//!
//! Output is the container's log followed from its current end (the process writes stdout and
//! stderr to one log, so an attached client sees them interleaved, as on a terminal). Input goes
//! through the shim: a container created with `stdin` gets a pipe as its stdin, which the shim
//! feeds from the clients that connect to `attach.sock` in the container's directory, one after
//! the other; with `stdinOnce` the first client's end of input closes the pipe, so the process
//! reads end-of-file.
//!
//! Why a socket of our own rather than a FIFO: a FIFO cannot tell its reader that one writer
//! left while the shim keeps it open for the next, which `stdinOnce` needs.

use std::os::fd::AsRawFd;
use std::time::Duration;

use futures::StreamExt;
use skiff_core::runtime::{ExecIo, LogOptions, RuntimeError};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

use crate::state::ContainerDir;

/// How long a client waits for the shim's socket to appear (the shim binds it before starting the
/// process, so only a container that is starting right now lacks it).
const SOCKET_WAIT: Duration = Duration::from_secs(5);

/// Connects to the stdin socket of the container in `dir`.
///
/// The socket is reached through `/proc/self/fd/N/attach.sock`, `N` an open handle of the
/// directory, so that the length of the runtime's root never exceeds a socket path's limit.
pub async fn connect_stdin(dir: &ContainerDir) -> Result<UnixStream, RuntimeError> {
    let handle = std::fs::File::open(&dir.0)
        .map_err(|e| RuntimeError::io(format!("cannot open {}", dir.0.display()), e))?;
    let path = format!(
        "/proc/self/fd/{}/{}",
        handle.as_raw_fd(),
        ContainerDir::ATTACH_SOCKET
    );
    let deadline = tokio::time::Instant::now() + SOCKET_WAIT;
    loop {
        match UnixStream::connect(&path).await {
            Ok(s) => return Ok(s),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(RuntimeError::io(
                    "cannot reach the container's stdin (was it created with stdin: true?)",
                    e,
                ))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Runs one attach session: output until the container exits, input while the client sends it.
pub async fn run(dir: ContainerDir, has_stdin: bool, io: ExecIo) -> Result<(), RuntimeError> {
    let ExecIo {
        stdin, mut stdout, ..
    } = io;
    let input = match (stdin, has_stdin) {
        (Some(input), true) => Some((input, connect_stdin(&dir).await?)),
        _ => None,
    };
    let options = LogOptions {
        follow: true,
        tail_lines: Some(0),
        limit_bytes: None,
    };
    let mut output = crate::logs::stream(dir, options).await?;
    let feed = async {
        if let Some((mut input, mut sock)) = input {
            let _ = tokio::io::copy(&mut input, &mut sock).await;
            // End of this client's input: the shim closes stdin if the container is stdinOnce.
            let _ = sock.shutdown().await;
        }
        futures::future::pending::<()>().await
    };
    let forward = async {
        while let Some(chunk) = output.next().await {
            match chunk {
                Ok(bytes) => {
                    if stdout.write_all(&bytes).await.is_err() {
                        break;
                    }
                    let _ = stdout.flush().await;
                }
                Err(e) => return Err(e),
            }
        }
        let _ = stdout.shutdown().await;
        Ok(())
    };
    tokio::select! {
        r = forward => r,
        () = feed => Ok(()),
    }
}
