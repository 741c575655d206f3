//! `skiff get KIND [NAME] [-o wide|yaml|json|name] [-w] [-A]`: the server's Table, aligned as kubectl
//! prints it, or the objects themselves.

use std::io::Write;

use anyhow::Context;
use clap::{Args, ValueEnum};
use futures::StreamExt;
use serde_json::{json, Value};
use skiff_core::{ApiResource, Scope};

use super::client::{api, encode, finish, path, Conn, ConnArgs, TABLE_ACCEPT};

/// How `get` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GetOutput {
    /// The table with the extra (priority 1) columns.
    Wide,
    /// The object (or a `List` of them) as YAML.
    Yaml,
    /// The object (or a `List` of them) as JSON.
    Json,
    /// `kind/name`, one a line.
    Name,
}

/// Options of `skiff get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The kind: plural, singular, short name or Kind (`pods`, `pod`, `po`, `Pod`).
    pub kind: String,
    /// Only this object.
    pub name: Option<String>,
    /// Output format (default: a table).
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<GetOutput>,
    /// After printing, stream changes (one table row per change).
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// Every namespace (adds a NAMESPACE column).
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Only objects whose labels match this selector (`app=web,tier!=db`).
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Server and namespace.
    #[command(flatten)]
    pub conn: ConnArgs,
}

pub(crate) fn run(args: &GetArgs, out: &mut dyn Write) -> anyhow::Result<i32> {
    let conn = args.conn.connect()?;
    finish(get(args, &conn, out), &mut std::io::stderr())
}

async fn get(args: &GetArgs, conn: &Conn, out: &mut dyn Write) -> anyhow::Result<i32> {
    let res = conn.resource(&args.kind)?;
    // Cluster-scoped kinds have no namespace column, as in kubectl.
    let all = args.all_namespaces && args.name.is_none() && res.scope == Scope::Namespaced;
    let ns = if all { None } else { conn.ns_for(&res) };
    let base = path(&res, ns, args.name.as_deref());
    let mut query = Vec::new();
    if let Some(l) = &args.selector {
        query.push(format!("labelSelector={}", encode(l)));
    }
    let with_query = |extra: &[String]| {
        let q: Vec<String> = query.iter().chain(extra).cloned().collect();
        if q.is_empty() {
            base.clone()
        } else {
            format!("{base}?{}", q.join("&"))
        }
    };
    match args.output {
        Some(GetOutput::Yaml | GetOutput::Json | GetOutput::Name) => {
            let v = conn
                .client
                .get_raw(&with_query(&[]), "application/json")
                .await
                .map_err(api)?;
            let v = if args.name.is_some() {
                with_type(v, &res)
            } else {
                let items: Vec<Value> = v["items"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|i| with_type(i, &res))
                    .collect();
                json!({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}})
            };
            match args.output {
                Some(GetOutput::Yaml) => write!(out, "{}", serde_yaml::to_string(&v)?)?,
                Some(GetOutput::Json) => writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?,
                _ => {
                    let objs = match v["items"].as_array() {
                        Some(items) if args.name.is_none() => items.clone(),
                        _ => vec![v.clone()],
                    };
                    for o in objs {
                        let name = o.pointer("/metadata/name").and_then(Value::as_str);
                        writeln!(out, "{}/{}", res.singular, name.unwrap_or(""))?;
                    }
                }
            }
            out.flush()?;
            if args.watch {
                anyhow::bail!("-w/--watch prints table rows; use it without -o yaml|json|name");
            }
            Ok(0)
        }
        None | Some(GetOutput::Wide) => {
            let table = conn
                .client
                .get_raw(&with_query(&[]), TABLE_ACCEPT)
                .await
                .map_err(api)?;
            let shape = Shape::of(&table, args.output == Some(GetOutput::Wide), all);
            let rows = shape.rows(&table);
            let mut widths = Vec::new();
            if rows.is_empty() && !args.watch {
                eprintln!("{}", nothing_found(&res, ns, all));
                return Ok(0);
            }
            if !rows.is_empty() {
                let mut lines = vec![shape.header.clone()];
                lines.extend(rows);
                widths = column_widths(&lines);
                for line in &lines {
                    writeln!(out, "{}", align(line, &widths))?;
                }
                out.flush()?;
            }
            if args.watch {
                watch(args, conn, &res, &shape, &table, widths, out, &with_query).await?;
            }
            Ok(0)
        }
    }
}

/// Streams watch events as table rows until the server ends the watch.
#[allow(clippy::too_many_arguments)]
async fn watch(
    args: &GetArgs,
    conn: &Conn,
    res: &ApiResource,
    shape: &Shape,
    table: &Value,
    mut widths: Vec<usize>,
    out: &mut dyn Write,
    with_query: &dyn Fn(&[String]) -> String,
) -> anyhow::Result<()> {
    let rv = table
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut extra = vec!["watch=true".to_string()];
    if !rv.is_empty() {
        extra.push(format!("resourceVersion={}", encode(rv)));
    }
    let path = match &args.name {
        // Watch the collection, narrowed to the one object.
        Some(name) => {
            let ns = if res.scope == Scope::Namespaced {
                Some(conn.namespace.as_str())
            } else {
                None
            };
            extra.push(format!(
                "fieldSelector={}",
                encode(&format!("metadata.name={name}"))
            ));
            let mut q: Vec<String> = Vec::new();
            if let Some(l) = &args.selector {
                q.push(format!("labelSelector={}", encode(l)));
            }
            q.extend(extra);
            format!("{}?{}", super::client::path(res, ns, None), q.join("&"))
        }
        None => with_query(&extra),
    };
    let mut stream = conn
        .client
        .stream_raw(&path, TABLE_ACCEPT)
        .await
        .map_err(api)?;
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        buf.extend_from_slice(&chunk.map_err(api)?);
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            let Ok(event) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            match event["type"].as_str() {
                Some("ADDED" | "MODIFIED" | "DELETED") => {}
                Some("ERROR") => {
                    let status: skiff_core::meta::Status =
                        serde_json::from_value(event["object"].clone())
                            .context("the watch failed")?;
                    return Err(api(skiff_core::client::ClientError::Api(Box::new(status))));
                }
                _ => continue,
            }
            let rows = shape.rows(&event["object"]);
            if widths.is_empty() {
                let mut lines = vec![shape.header.clone()];
                lines.extend(rows.iter().cloned());
                widths = column_widths(&lines);
                writeln!(out, "{}", align(&shape.header, &widths))?;
            }
            for row in rows {
                writeln!(out, "{}", align(&row, &widths))?;
            }
            out.flush()?;
        }
    }
    Ok(())
}

/// kubectl's `No resources found in NS namespace.`
fn nothing_found(res: &ApiResource, ns: Option<&str>, all: bool) -> String {
    match (res.scope, ns) {
        (Scope::Namespaced, Some(ns)) if !all => format!("No resources found in {ns} namespace."),
        _ => "No resources found".to_string(),
    }
}

/// Sets `apiVersion` and `kind` when the server left them out of list items.
fn with_type(mut v: Value, res: &ApiResource) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.entry("apiVersion")
            .or_insert_with(|| json!(res.api_version()));
        m.entry("kind").or_insert_with(|| json!(res.kind));
    }
    v
}

/// Which columns of a Table to print.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    /// Indexes of the printed columns.
    columns: Vec<usize>,
    /// Prefix each row with the object's namespace.
    namespace: bool,
    /// Upper-case headers (with NAMESPACE first when `namespace`).
    pub header: Vec<String>,
}

impl Shape {
    /// Priority-0 columns (all with `wide`), NAMESPACE first with `namespace`.
    pub(crate) fn of(table: &Value, wide: bool, namespace: bool) -> Self {
        let defs = table["columnDefinitions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut columns = Vec::new();
        let mut header = Vec::new();
        if namespace {
            header.push("NAMESPACE".to_string());
        }
        for (i, d) in defs.iter().enumerate() {
            if wide || d["priority"].as_i64().unwrap_or(0) == 0 {
                columns.push(i);
                header.push(d["name"].as_str().unwrap_or("").to_uppercase());
            }
        }
        Shape {
            columns,
            namespace,
            header,
        }
    }

    /// The printed cells of each row of `table`.
    pub(crate) fn rows(&self, table: &Value) -> Vec<Vec<String>> {
        let rows = table["rows"].as_array().cloned().unwrap_or_default();
        rows.iter()
            .map(|row| {
                let mut line = Vec::new();
                if self.namespace {
                    let ns = row
                        .pointer("/object/metadata/namespace")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    line.push(ns.to_string());
                }
                for &i in &self.columns {
                    line.push(cell(&row["cells"][i]));
                }
                line
            })
            .collect()
    }
}

/// A cell as kubectl prints it.
fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<none>".to_string(),
        other => other.to_string(),
    }
}

/// The width of each column over `lines`.
pub(crate) fn column_widths(lines: &[Vec<String>]) -> Vec<usize> {
    let mut widths: Vec<usize> = Vec::new();
    for line in lines {
        for (i, c) in line.iter().enumerate() {
            let w = c.chars().count();
            match widths.get_mut(i) {
                Some(x) => *x = (*x).max(w),
                None => widths.push(w),
            }
        }
    }
    widths
}

/// One line: cells padded to `widths` and three spaces apart, the last one unpadded.
pub(crate) fn align(line: &[String], widths: &[usize]) -> String {
    let mut s = String::new();
    for (i, c) in line.iter().enumerate() {
        if i + 1 == line.len() {
            s.push_str(c);
        } else {
            let w = widths.get(i).copied().unwrap_or(0);
            s.push_str(&format!("{c:<w$}   "));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_print_like_kubectl() {
        let table = json!({"columnDefinitions": [
                {"name": "Name", "priority": 0}, {"name": "Status", "priority": 0}, {"name": "IP", "priority": 1}],
            "rows": [
                {"cells": ["web", "Running", "10.0.0.1"], "object": {"metadata": {"namespace": "default"}}},
                {"cells": ["database", "Pending", null], "object": {"metadata": {"namespace": "kube-system"}}}]});
        let shape = Shape::of(&table, false, false);
        let mut lines = vec![shape.header.clone()];
        lines.extend(shape.rows(&table));
        let w = column_widths(&lines);
        let text: Vec<String> = lines.iter().map(|l| align(l, &w)).collect();
        assert_eq!(
            text,
            [
                "NAME       STATUS",
                "web        Running",
                "database   Pending"
            ]
        );
        let wide = Shape::of(&table, true, true);
        assert_eq!(wide.header, ["NAMESPACE", "NAME", "STATUS", "IP"]);
        assert_eq!(
            wide.rows(&table)[1],
            ["kube-system", "database", "Pending", "<none>"]
        );
    }
}
