//! The streaming calls of [`PodmanRuntime`]: logs, exec and attach over libpod's multiplexed
//! streams (podman-api's `TtyChunk`s; its stdin side is a `futures` writer, fed from the client's
//! tokio reader).

use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{AsyncWriteExt as _, StreamExt};
use podman_api::api::Container;
use podman_api::conn::TtyChunk;
use podman_api::opts::{
    ContainerAttachOpts, ContainerLogsOpts, EventsOpts, ExecCreateOpts, ExecStartOpts,
};
use podman_api::Podman;
use skiff_core::runtime::{ContainerState, ExecIo, LogOptions, RuntimeError, RuntimeEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::convert::{self, NODE, TYPE};
use crate::runtime::{engine_error, PodmanRuntime};

/// Writes a chunk of engine output to stdout or stderr.
async fn write_chunk(
    chunk: TtyChunk,
    stdout: &mut (impl tokio::io::AsyncWrite + Unpin),
    stderr: &mut (impl tokio::io::AsyncWrite + Unpin),
) -> std::io::Result<()> {
    match chunk {
        TtyChunk::StdErr(b) => stderr.write_all(&b).await,
        TtyChunk::StdOut(b) | TtyChunk::StdIn(b) => stdout.write_all(&b).await,
    }
}

/// Copies a client's stdin into an engine stream, then closes it.
async fn feed(
    stdin: Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>,
    input: &mut (impl futures::AsyncWrite + Unpin),
) {
    let Some(mut stdin) = stdin else { return };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match stdin.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if input.write_all(&buf[..n]).await.is_err() {
                    break;
                }
                let _ = input.flush().await;
            }
        }
    }
    let _ = input.close().await;
}

/// A container's logs as a `'static` stream: podman-api's stream borrows its container handle,
/// so a task owns both and forwards until the stream ends or the reader goes.
pub fn logs(
    container: Container,
    options: &LogOptions,
) -> BoxStream<'static, Result<Bytes, RuntimeError>> {
    let mut opts = ContainerLogsOpts::builder()
        .follow(options.follow)
        .stdout(true)
        .stderr(true);
    if let Some(n) = options.tail_lines {
        opts = opts.tail(n.to_string());
    }
    let opts = opts.build();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, RuntimeError>>(16);
    tokio::spawn(async move {
        let mut stream = container.logs(&opts);
        loop {
            tokio::select! {
                () = tx.closed() => return,
                next = stream.next() => {
                    let item = match next {
                        None => return,
                        Some(Ok(TtyChunk::StdOut(b) | TtyChunk::StdErr(b) | TtyChunk::StdIn(b))) => {
                            Ok(Bytes::from(b))
                        }
                        Some(Err(e)) => Err(engine_error(e)),
                    };
                    if tx.send(item).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    // limitBytes: chunks up to the budget, the last one cut.
    let budget = options.limit_bytes.unwrap_or(usize::MAX);
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .scan(budget, |left, chunk| {
        if *left == 0 {
            return futures::future::ready(None);
        }
        let out = chunk.map(|mut b| {
            b.truncate(*left);
            *left -= b.len();
            b
        });
        futures::future::ready(Some(out))
    });
    stream.boxed()
}

/// This node's containers' starts and exits from Podman's event stream, as a `'static` stream (a
/// task owns the client). libpod ORs filters of one key, so the stream is filtered by node
/// label only and the rest here.
pub fn events(podman: Podman, node: &str) -> BoxStream<'static, RuntimeEvent> {
    let label = if node.is_empty() {
        format!("{TYPE}=container")
    } else {
        format!("{NODE}={node}")
    };
    let opts = EventsOpts::builder()
        .stream(true)
        .filters([
            ("type".to_string(), vec!["container".to_string()]),
            (
                "event".to_string(),
                vec!["start".to_string(), "died".to_string()],
            ),
            ("label".to_string(), vec![label]),
        ])
        .build();
    let (tx, rx) = tokio::sync::mpsc::channel::<RuntimeEvent>(64);
    tokio::spawn(async move {
        let mut stream = podman.events(&opts);
        loop {
            tokio::select! {
                () = tx.closed() => return,
                next = stream.next() => {
                    let event = match next {
                        Some(Ok(e)) => convert::event(e),
                        // The service went away: the stream ends, the agent asks again.
                        _ => return,
                    };
                    if let Some(e) = event {
                        if tx.send(e).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    });
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) }).boxed()
}

/// Runs `command` in container `id` with the client's streams; returns its exit code.
pub async fn exec(
    rt: &PodmanRuntime,
    id: &str,
    command: &[String],
    io: ExecIo,
) -> Result<i32, RuntimeError> {
    let ExecIo {
        stdin,
        mut stdout,
        mut stderr,
    } = io;
    let container = rt.podman().containers().get(id);
    let opts = ExecCreateOpts::builder()
        .command(command.iter().map(String::as_str))
        .attach_stdin(stdin.is_some())
        .attach_stdout(true)
        .attach_stderr(true)
        .build();
    let exec = rt.call("exec", container.create_exec(&opts)).await?;
    let start = ExecStartOpts::builder().build();
    let attached = rt.call("exec start", exec.start(&start)).await?;
    if let Some(stream) = attached {
        let (mut output, mut input) = stream.split();
        let feeding = feed(stdin, &mut input);
        let pump = async {
            while let Some(Ok(chunk)) = output.next().await {
                let _ = write_chunk(chunk, &mut stdout, &mut stderr).await;
            }
            let _ = stdout.shutdown().await;
            let _ = stderr.shutdown().await;
        };
        tokio::join!(feeding, pump);
    }
    // The exit code may lag the end of the output a little.
    for _ in 0..50 {
        let inspected = rt.call("exec inspect", exec.inspect()).await?;
        let running = inspected
            .get("Running")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        if !running {
            if let Some(code) = inspected
                .get("ExitCode")
                .and_then(serde_json::Value::as_i64)
            {
                return Ok(i32::try_from(code).unwrap_or(255));
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(RuntimeError::Other(format!(
        "exec in {id}: no exit code from Podman"
    )))
}

/// Attaches the client's streams to container `id`'s own process until it exits.
pub async fn attach(rt: &PodmanRuntime, id: &str, io: ExecIo) -> Result<(), RuntimeError> {
    let ExecIo {
        stdin, mut stdout, ..
    } = io;
    let opts = ContainerAttachOpts::builder()
        .stdin(stdin.is_some())
        .stdout(true)
        .stderr(true)
        .build();
    let container = rt.podman().containers().get(id);
    let attached = rt.call("attach", container.attach(&opts)).await?;
    let (mut output, mut input) = attached.split();
    let feeding = async {
        feed(stdin, &mut input).await;
        futures::future::pending::<()>().await
    };
    // The stream may stay open after the container exits: watch the state too.
    let exited = async {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            match rt.inspect(id).await {
                Ok(c) if convert::container_info(&c).state == ContainerState::Running => {}
                _ => return,
            }
        }
    };
    let pump = async {
        while let Some(Ok(chunk)) = output.next().await {
            let mut sink = tokio::io::sink();
            let written = match chunk {
                TtyChunk::StdOut(b) | TtyChunk::StdErr(b) => stdout.write_all(&b).await,
                TtyChunk::StdIn(b) => sink.write_all(&b).await,
            };
            if written.is_err() {
                break;
            }
            let _ = stdout.flush().await;
        }
    };
    tokio::select! {
        () = pump => {}
        () = exited => {}
        () = feeding => {}
    }
    let _ = stdout.shutdown().await;
    Ok(())
}
