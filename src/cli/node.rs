//! `skiff node`: a node agent in its own process, joining an API server over HTTP.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use skiff_core::shutdown::Shutdown;

/// Options of `skiff node`.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// The API server's URL, e.g. http://127.0.0.1:6443.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// Where the agent keeps its state (runtime records, pod directories).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The node agent's options.
    #[command(flatten)]
    pub agent: super::AgentArgs,
}

pub(crate) fn run(args: &NodeArgs, out: &mut dyn Write) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let data_dir = args
            .data_dir
            .clone()
            .unwrap_or_else(|| super::up::default_data_dir().join("node"));
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("--data-dir {}: cannot create it", data_dir.display()))?;
        let client = skiff_api::HttpClient::shared(&args.server);
        let (stop, shutdown) = Shutdown::new();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            stop.trigger();
        });
        let task = super::agent::start(&args.agent, client, &data_dir, shutdown).await?;
        let _ = writeln!(out, "skiff node agent joined {}", args.server);
        let _ = out.flush();
        let _ = task.await;
        Ok(0)
    })
}
