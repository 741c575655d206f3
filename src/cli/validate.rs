//! `skiff validate -f FILE`: what the API server would say about a manifest, without a server.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use skiff_core::codec::{DecodeOptions, Scheme, Strictness};

/// Options of `skiff validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Manifest files (YAML or JSON, several documents each); `-` reads standard input.
    #[arg(short = 'f', long = "filename", required = true)]
    pub files: Vec<PathBuf>,
    /// Reject unknown fields instead of warning about them (kubectl's default is strict).
    #[arg(long)]
    pub strict: bool,
    /// Print each object after defaulting, as YAML.
    #[arg(short, long)]
    pub show_defaults: bool,
}

pub(crate) fn run(args: &ValidateArgs, out: &mut dyn Write) -> anyhow::Result<i32> {
    let scheme = Scheme::builtin();
    let opts = DecodeOptions {
        strictness: if args.strict {
            Strictness::Strict
        } else {
            Strictness::Warn
        },
    };
    let mut failures = 0;
    for path in &args.files {
        let shown = path.display();
        let text = read(path).with_context(|| format!("cannot read {shown}"))?;
        let docs = match scheme.decode(&text, opts) {
            Ok(docs) => docs,
            Err(e) => {
                writeln!(out, "{shown}: {e}")?;
                failures += 1;
                continue;
            }
        };
        for mut doc in docs {
            for w in &doc.warnings {
                writeln!(out, "{shown}: document {}: warning: {w}", doc.document)?;
            }
            doc.object.apply_defaults();
            let errs = doc.object.validate();
            let what = format!("{}/{}", doc.object.kind(), doc.object.name());
            if errs.is_empty() {
                writeln!(out, "{shown}: document {}: {what} is valid", doc.document)?;
                if args.show_defaults {
                    let yaml = serde_yaml::to_string(&doc.object.to_json()?)?;
                    writeln!(out, "{yaml}")?;
                }
            } else {
                failures += 1;
                writeln!(
                    out,
                    "{shown}: document {}: {what} is invalid:",
                    doc.document
                )?;
                for e in errs {
                    writeln!(out, "  {e}")?;
                }
            }
        }
    }
    Ok(if failures == 0 { 0 } else { 1 })
}

fn read(path: &PathBuf) -> std::io::Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        Ok(s)
    } else {
        std::fs::read_to_string(path)
    }
}
