//! `--config FILE`: the same options as the command line, in YAML, with the flags winning.
//!
//! Keys are the long flag names without dashes in front (`port`, `store`, `data-dir`, `node-labels`,
//! ...; `node_labels` and `nodeLabels` are accepted too). Lists become comma-separated values, `true`
//! turns a switch on. A flag given on the command line overrides the file.
//!
//! ```yaml
//! # skiff.yaml — `skiff up --config skiff.yaml`
//! port: 6443
//! store: embedded
//! data-dir: /var/lib/skiff
//! runtime: process
//! node-name: node-1
//! node-labels: [disktype=ssd, zone=a]
//! ```

use std::ffi::OsString;
use std::path::Path;

use anyhow::Context;

/// Options a config file may set (those of `up`, `server` and `node`).
const KNOWN: &[&str] = &[
    "data-dir",
    "port",
    "write-kubeconfig",
    "store",
    "etcd-endpoints",
    "bind-address",
    "insecure-http",
    "runtime",
    "container-runtime-endpoint",
    "pod-infra-image",
    "relist-period",
    "node-name",
    "node-labels",
    "pod-cidr",
    "node-monitor-grace-period",
    "pod-eviction-timeout",
    "event-ttl",
    "server",
    "kubeconfig",
    "token-file",
    "certificate-authority",
];

fn flag_name(key: &str) -> String {
    let mut out = String::new();
    for ch in key.chars() {
        match ch {
            '_' => out.push('-'),
            c if c.is_ascii_uppercase() => {
                out.push('-');
                out.push(c.to_ascii_lowercase());
            }
            c => out.push(c),
        }
    }
    out
}

fn scalar(v: &serde_yaml::Value) -> Option<String> {
    match v {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The flags `path` sets, as command-line arguments; errors name the file and the key.
pub fn flags_from_file(path: &Path) -> anyhow::Result<Vec<(String, Option<String>)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--config {}: cannot read it", path.display()))?;
    let doc: serde_yaml::Value = serde_yaml::from_str(&text)
        .with_context(|| format!("--config {}: not valid YAML", path.display()))?;
    let map = match doc {
        serde_yaml::Value::Mapping(m) => m,
        serde_yaml::Value::Null => return Ok(Vec::new()),
        _ => anyhow::bail!(
            "--config {}: expected a mapping of option: value",
            path.display()
        ),
    };
    let mut out = Vec::new();
    for (k, v) in map {
        let key = scalar(&k).unwrap_or_default();
        let flag = flag_name(&key);
        if !KNOWN.contains(&flag.as_str()) {
            anyhow::bail!(
                "--config {}: unknown option {key:?} (known: {})",
                path.display(),
                KNOWN.join(", ")
            );
        }
        let value = match &v {
            serde_yaml::Value::Sequence(items) => Some(
                items
                    .iter()
                    .map(|i| {
                        scalar(i).with_context(|| {
                            format!(
                                "--config {}: {key}: list items must be scalars",
                                path.display()
                            )
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?
                    .join(","),
            ),
            serde_yaml::Value::Mapping(m) => Some(
                m.iter()
                    .map(|(k, v)| {
                        format!(
                            "{}={}",
                            scalar(k).unwrap_or_default(),
                            scalar(v).unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            serde_yaml::Value::Bool(true) => None,
            serde_yaml::Value::Bool(false) | serde_yaml::Value::Null => continue,
            other => Some(scalar(other).with_context(|| {
                format!("--config {}: {key}: unsupported value", path.display())
            })?),
        };
        out.push((flag, value));
    }
    Ok(out)
}

/// `args` with the options of a `--config FILE` among them added where the command line does not give
/// them. Arguments without `--config` come back unchanged.
pub fn expand(args: Vec<OsString>) -> anyhow::Result<Vec<OsString>> {
    let strings: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut config = None;
    let mut rest = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let s = &strings[i];
        if s == "--config" {
            let path = strings.get(i + 1).context("--config needs a file name")?;
            config = Some(path.clone());
            i += 2;
            continue;
        }
        if let Some(p) = s.strip_prefix("--config=") {
            config = Some(p.to_string());
            i += 1;
            continue;
        }
        rest.push(args[i].clone());
        i += 1;
    }
    let Some(path) = config else {
        return Ok(args);
    };
    let given = |flag: &str| {
        strings
            .iter()
            .any(|s| s == &format!("--{flag}") || s.starts_with(&format!("--{flag}=")))
    };
    for (flag, value) in flags_from_file(Path::new(&path))? {
        if given(&flag) {
            continue;
        }
        rest.push(format!("--{flag}").into());
        if let Some(v) = value {
            rest.push(v.into());
        }
    }
    Ok(rest)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn file_options_fill_in_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("skiff.yaml");
        std::fs::write(
            &path,
            "port: 7000\nstore: memory\nnodeLabels: [disktype=ssd, zone=a]\ninsecure_http: true\n",
        )
        .unwrap();
        let args: Vec<OsString> = [
            "skiff",
            "up",
            "--config",
            path.to_str().unwrap(),
            "--port",
            "8000",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let out: Vec<String> = expand(args)
            .unwrap()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            out,
            [
                "skiff",
                "up",
                "--port",
                "8000",
                "--store",
                "memory",
                "--node-labels",
                "disktype=ssd,zone=a",
                "--insecure-http"
            ]
        );
    }

    #[test]
    fn unknown_keys_name_the_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.yaml");
        std::fs::write(&path, "prot: 1\n").unwrap();
        let err = flags_from_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("bad.yaml") && err.contains("\"prot\""),
            "{err}"
        );
    }
}
