//! The `skiff` command line: one binary, one subcommand per job.
//!
//! `skiff up` (API server, store and a node agent in one process), `skiff server` (the API server
//! alone), `skiff node` (a node agent joining a server over HTTP), `skiff version`, `skiff validate`,
//! and a small client for people without kubectl: `skiff apply`, `get`, `delete`, `describe`, `logs`.

mod agent;
mod apply;
mod client;
mod config;
mod delete;
mod describe;
mod get;
mod logs;
mod node;
mod secure;
mod up;
mod validate;
mod version;

use std::ffi::OsString;
use std::io::Write;

use clap::{Parser, Subcommand};

pub use agent::{AgentArgs, RuntimeKind};
pub use apply::ApplyArgs;
pub use client::ConnArgs;
pub use delete::DeleteArgs;
pub use describe::DescribeArgs;
pub use get::{GetArgs, GetOutput};
pub use logs::LogsArgs;
pub use node::NodeArgs;
pub use up::{StoreKind, UpArgs};
pub use validate::ValidateArgs;
pub use version::VersionArgs;

/// Kubernetes' architecture in Rust: API server, store, controllers, node agent and proxy.
#[derive(Debug, Parser)]
#[command(name = "skiff", version = crate::VERSION, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a cluster in this process: API server, embedded store and a node agent (kubectl works against it).
    Up(UpArgs),
    /// Run only the API server (with its store); the same flags as `up`.
    Server(UpArgs),
    /// Run a node agent that joins a server over HTTP and runs the pods bound to it.
    Node(NodeArgs),
    /// The per-container supervisor the process runtime starts (not for direct use).
    #[command(hide = true)]
    Shim {
        /// `run DIR` or `exec DIR -- CMD...`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Print the version of Skiff and the Kubernetes API it speaks.
    Version(VersionArgs),
    /// Decode, default and validate manifests as the API server would, without a server.
    Validate(ValidateArgs),
    /// Create or update the objects of manifests (server-side apply): `skiff apply -f FILE`.
    Apply(ApplyArgs),
    /// List objects of a kind, or show one, as a table or YAML/JSON; `-w` streams changes.
    Get(GetArgs),
    /// Delete objects (by kind and name, or those of manifests) and wait until they are gone.
    Delete(DeleteArgs),
    /// Show one object for people, with its events.
    Describe(DescribeArgs),
    /// Print (or follow) a pod's container output.
    Logs(LogsArgs),
}

/// Parses `args` and runs the command, writing to `out`; returns the process exit code.
///
/// ```
/// let mut out = Vec::new();
/// let code = skiff::cli::run(["skiff", "version"], &mut out).unwrap();
/// assert_eq!(code, 0);
/// assert!(String::from_utf8(out).unwrap().starts_with("skiff "));
/// ```
pub fn run<I, T>(args: I, out: &mut dyn Write) -> anyhow::Result<i32>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = config::expand(args.into_iter().map(Into::into).collect())?;
    let cli = Cli::try_parse_from(args)?;
    match cli.command {
        Command::Up(a) => up::run(&a, out, true),
        Command::Server(a) => up::run(&a, out, false),
        Command::Node(a) => node::run(&a, out),
        Command::Shim { args } => Ok(skiff_runtime_process::shim::main(&args)),
        Command::Version(a) => version::run(&a, out),
        Command::Validate(a) => validate::run(&a, out),
        Command::Apply(a) => apply::run(&a, out),
        Command::Get(a) => get::run(&a, out),
        Command::Delete(a) => delete::run(&a, out),
        Command::Describe(a) => describe::run(&a, out),
        Command::Logs(a) => logs::run(&a, out),
    }
}
