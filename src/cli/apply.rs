//! `skiff apply -f FILE|-`: create or update every object of the manifests, with server-side apply.
//!
//! Each object is sent as a server-side apply patch (`application/apply-patch+yaml`,
//! `fieldManager=skiff`, `force=true`: this CLI takes over the fields it sets, as a client-side
//! `kubectl apply` would overwrite them). It prints `KIND/NAME created` when the object did not exist,
//! `unchanged` when a dry run of the patch leaves the object as it is (so nothing is written), else
//! `configured`. A failing object is reported as kubectl reports it and the others are still applied;
//! the exit code is then 1.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use serde_json::Value;
use skiff_core::codec::{DecodeOptions, Strictness};
use skiff_core::{ApiResource, Scope};

use super::client::{finish, path, server_message, Conn, ConnArgs};

/// Options of `skiff apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Manifest files (YAML or JSON, several documents each); `-` reads standard input.
    #[arg(short = 'f', long = "filename", required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Server and namespace (objects without `metadata.namespace` go to this one).
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// One object to apply, with where it came from.
pub(crate) struct Manifest {
    /// Its kind's resource.
    pub res: ApiResource,
    /// The object as written (plus the namespace it goes to).
    pub body: Value,
}

impl Manifest {
    /// `metadata.name`.
    pub(crate) fn name(&self) -> &str {
        self.body
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The namespace it lives in (`None` for cluster-scoped kinds).
    pub(crate) fn namespace(&self) -> Option<&str> {
        match self.res.scope {
            Scope::Namespaced => self
                .body
                .pointer("/metadata/namespace")
                .and_then(Value::as_str),
            Scope::Cluster => None,
        }
    }
}

/// kubectl's `pod` / `replicaset.apps`: how a kind is named in messages.
pub(crate) fn kind_name(res: &ApiResource) -> String {
    if res.group.is_empty() {
        res.singular.clone()
    } else {
        format!("{}.{}", res.singular, res.group)
    }
}

/// Reads `path` (`-`: standard input).
fn read(path: &Path) -> std::io::Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        Ok(s)
    } else {
        std::fs::read_to_string(path)
    }
}

/// Decodes every object of `files` (checked by the built-in scheme), each with its namespace set.
pub(crate) fn load(conn: &Conn, files: &[PathBuf]) -> anyhow::Result<Vec<Manifest>> {
    let mut all = Vec::new();
    for file in files {
        let shown = file.display().to_string();
        let text = read(file).with_context(|| format!("-f {shown}: cannot read it"))?;
        let decoded = conn
            .scheme
            .decode(
                &text,
                DecodeOptions {
                    strictness: Strictness::Warn,
                },
            )
            .with_context(|| format!("-f {shown}"))?;
        // The documents as written, so fields left out stay out of the applied configuration.
        let raw: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
            .filter_map(|d| serde::Deserialize::deserialize(d).ok())
            .filter(|v: &Value| !v.is_null())
            .collect();
        let same_count = raw.len() == decoded.len();
        for (i, doc) in decoded.into_iter().enumerate() {
            for w in &doc.warnings {
                eprintln!("Warning: {shown}: document {}: {w}", doc.document);
            }
            let origin = format!("-f {shown}: document {}", doc.document);
            let mut body = match raw.get(i).filter(|_| same_count) {
                Some(v) => v.clone(),
                None => doc
                    .object
                    .to_json()
                    .with_context(|| format!("{origin}: cannot encode it"))?,
            };
            let res = doc.object.resource();
            if doc.object.name().is_empty() {
                anyhow::bail!(
                    "{origin}: metadata.name is required to apply a {}",
                    res.kind
                );
            }
            if res.scope == Scope::Namespaced {
                let ns = doc
                    .object
                    .meta()
                    .namespace
                    .clone()
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| conn.namespace.clone());
                if let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.insert("namespace".into(), Value::String(ns));
                }
            }
            all.push(Manifest { res, body });
        }
    }
    Ok(all)
}

pub(crate) fn run(args: &ApplyArgs, out: &mut dyn Write) -> anyhow::Result<i32> {
    let conn = args.conn.connect()?;
    let manifests = load(&conn, &args.files)?;
    finish(apply_all(&conn, &manifests, out), &mut std::io::stderr())
}

async fn apply_all(
    conn: &Conn,
    manifests: &[Manifest],
    out: &mut dyn Write,
) -> anyhow::Result<i32> {
    let mut failed = false;
    for m in manifests {
        match apply(conn, m).await {
            Ok(verb) => {
                writeln!(out, "{}/{} {verb}", kind_name(&m.res), m.name())?;
                out.flush()?;
            }
            Err(e) => {
                failed = true;
                eprintln!("{}", server_message(&e));
            }
        }
    }
    Ok(i32::from(failed))
}

/// Applies one object; answers `created`, `configured` or `unchanged`.
async fn apply(conn: &Conn, m: &Manifest) -> Result<&'static str, skiff_core::client::ClientError> {
    let at = path(&m.res, m.namespace(), Some(m.name()));
    let body = serde_json::to_vec(&m.body)
        .map_err(|e| skiff_core::client::ClientError::Decode(e.to_string()))?;
    let query = "fieldManager=skiff&force=true";
    let content_type = "application/apply-patch+yaml";
    let live = match conn.client.get_raw(&at, "application/json").await {
        Ok(v) => v,
        Err(e) if e.is_not_found() => {
            conn.client
                .patch_raw(&format!("{at}?{query}"), content_type, body)
                .await?;
            return Ok("created");
        }
        Err(e) => return Err(e),
    };
    let dry = conn
        .client
        .patch_raw(
            &format!("{at}?{query}&dryRun=All"),
            content_type,
            body.clone(),
        )
        .await?;
    if comparable(dry) == comparable(live) {
        return Ok("unchanged");
    }
    conn.client
        .patch_raw(&format!("{at}?{query}"), content_type, body)
        .await?;
    Ok("configured")
}

/// The object without what every write changes (`managedFields`, `resourceVersion`).
fn comparable(mut v: Value) -> Value {
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        meta.remove("resourceVersion");
    }
    v
}

/// The `-f` manifests' objects, for `delete -f`.
pub(crate) fn targets(conn: &Conn, files: &[PathBuf]) -> anyhow::Result<Vec<Manifest>> {
    load(conn, files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bookkeeping_fields_do_not_count_as_changes() {
        let a = json!({"metadata": {"name": "x", "resourceVersion": "5", "managedFields": [1]}, "data": {"k": "v"}});
        let b = json!({"metadata": {"name": "x", "resourceVersion": "6"}, "data": {"k": "v"}});
        assert_eq!(comparable(a.clone()), comparable(b));
        let c = json!({"metadata": {"name": "x"}, "data": {"k": "w"}});
        assert_ne!(comparable(a), comparable(c));
    }
}
