//! `skiff logs POD [-c CONTAINER] [-f] [--tail N] [--previous]`: a container's output, which the API
//! server fetches from the pod's node agent, streamed to standard output.

use std::io::Write;

use clap::Args;
use futures::StreamExt;

use super::client::{api, encode, finish, path, Conn, ConnArgs};

/// Options of `skiff logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The pod.
    pub pod: String,
    /// The container (default: the pod's only one).
    #[arg(short = 'c', long, value_name = "NAME")]
    pub container: Option<String>,
    /// Keep streaming new output until the container stops (or Ctrl-C).
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only the last N lines.
    #[arg(long, value_name = "N")]
    pub tail: Option<u64>,
    /// The output of the previous (restarted) container.
    #[arg(short = 'p', long)]
    pub previous: bool,
    /// Server and namespace.
    #[command(flatten)]
    pub conn: ConnArgs,
}

pub(crate) fn run(args: &LogsArgs, out: &mut dyn Write) -> anyhow::Result<i32> {
    let conn = args.conn.connect()?;
    finish(logs(args, &conn, out), &mut std::io::stderr())
}

async fn logs(args: &LogsArgs, conn: &Conn, out: &mut dyn Write) -> anyhow::Result<i32> {
    let pods = conn.resource("pods")?;
    let mut query = Vec::new();
    if let Some(c) = &args.container {
        query.push(format!("container={}", encode(c)));
    }
    if args.follow {
        query.push("follow=true".to_string());
    }
    if let Some(n) = args.tail {
        query.push(format!("tailLines={n}"));
    }
    if args.previous {
        query.push("previous=true".to_string());
    }
    let mut at = format!(
        "{}/log",
        path(&pods, Some(&conn.namespace), Some(&args.pod))
    );
    if !query.is_empty() {
        at = format!("{at}?{}", query.join("&"));
    }
    let mut stream = conn
        .client
        .stream_raw(&at, "text/plain, */*")
        .await
        .map_err(api)?;
    while let Some(chunk) = stream.next().await {
        out.write_all(&chunk.map_err(api)?)?;
        out.flush()?;
    }
    Ok(0)
}
