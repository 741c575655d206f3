//! `skiff version`.

use std::io::Write;

use clap::{Args, ValueEnum};

/// The Kubernetes minor version Skiff's API speaks (kubectl picks its own version from it).
pub const KUBERNETES_MINOR: &str = "32";

/// Options of `skiff version`.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

/// How to print the version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line of text.
    Text,
    /// A JSON object.
    Json,
}

pub(crate) fn run(args: &VersionArgs, out: &mut dyn Write) -> anyhow::Result<i32> {
    match args.output {
        Format::Text => writeln!(
            out,
            "skiff {} (Kubernetes API 1.{KUBERNETES_MINOR})",
            crate::VERSION
        )?,
        Format::Json => {
            let v = serde_json::json!({
                "skiff": crate::VERSION,
                "kubernetes": {"major": "1", "minor": KUBERNETES_MINOR},
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?
        }
    }
    Ok(0)
}
