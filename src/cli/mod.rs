//! The `skiff` command line: one binary, one subcommand per job.
//!
//! Today: `skiff up` (the API server on a store; controllers and a node agent join it as they land),
//! `skiff version` and `skiff validate`. Later issues add `server`, `controllers` and `node`.

mod secure;
mod up;
mod validate;
mod version;

use std::ffi::OsString;
use std::io::Write;

use clap::{Parser, Subcommand};

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
    /// Run a cluster in this process: the API server on the embedded store (kubectl works against it).
    Up(UpArgs),
    /// Run only the API server (with its store); the same flags as `up`.
    Server(UpArgs),
    /// Print the version of Skiff and the Kubernetes API it speaks.
    Version(VersionArgs),
    /// Decode, default and validate manifests as the API server would, without a server.
    Validate(ValidateArgs),
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
    let cli = Cli::try_parse_from(args)?;
    match cli.command {
        // Until controllers and a node agent exist, `up` and `server` run the same components.
        Command::Up(a) | Command::Server(a) => up::run(&a, out),
        Command::Version(a) => version::run(&a, out),
        Command::Validate(a) => validate::run(&a, out),
    }
}
