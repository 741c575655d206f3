//! `skiff node`: a node agent in its own process, joining an API server over HTTP.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use skiff_core::client::Client;
use skiff_core::shutdown::Shutdown;

/// Options of `skiff node`.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// A YAML file with these options (keys are the flag names); flags given here win. Read before
    /// the other flags are parsed (see `skiff::cli` docs).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A kubeconfig giving the server, its CA and a token (what `skiff up` writes).
    #[arg(long, value_name = "PATH", required_unless_present = "server")]
    pub kubeconfig: Option<PathBuf>,
    /// The API server's URL, e.g. https://127.0.0.1:6443 (instead of --kubeconfig).
    #[arg(long, value_name = "URL", conflicts_with = "kubeconfig")]
    pub server: Option<String>,
    /// A file holding the bearer token (with --server).
    #[arg(long, value_name = "FILE", requires = "server")]
    pub token_file: Option<PathBuf>,
    /// The server's CA certificate, PEM (with --server over https).
    #[arg(long, value_name = "FILE", requires = "server")]
    pub certificate_authority: Option<PathBuf>,
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
        let (client, server) = connect(args)?;
        let (stop, shutdown) = Shutdown::new();
        tokio::spawn(async move {
            super::up::interrupted().await;
            stop.trigger();
        });
        let started = super::agent::start(&args.agent, client, &data_dir, shutdown).await?;
        let _ = writeln!(out, "skiff node agent joined {server}");
        let _ = out.flush();
        let _ = started.task.await;
        Ok(0)
    })
}

fn read(flag: &str, path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("{flag} {}: cannot read it", path.display()))
}

/// The client the flags describe, and the server's URL.
fn connect(args: &NodeArgs) -> anyhow::Result<(Arc<dyn Client>, String)> {
    if let Some(path) = &args.kubeconfig {
        let access = skiff_api::kubeconfig::Access::load(path)
            .with_context(|| format!("--kubeconfig {}", path.display()))?;
        let client = skiff_api::HttpClient::from_access(&access)
            .with_context(|| format!("--kubeconfig {}", path.display()))?;
        return Ok((Arc::new(client), access.server.clone()));
    }
    let server = args
        .server
        .clone()
        .context("--server or --kubeconfig is required")?;
    let mut builder = skiff_api::HttpClient::builder(&server);
    if let Some(f) = &args.token_file {
        builder = builder.bearer_token(read("--token-file", f)?.trim().to_string());
    }
    if let Some(f) = &args.certificate_authority {
        builder = builder.ca_pem(read("--certificate-authority", f)?);
    }
    let client = builder
        .build()
        .with_context(|| format!("--server {server}"))?;
    Ok((Arc::new(client), server))
}
