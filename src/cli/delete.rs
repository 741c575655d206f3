//! `skiff delete KIND NAME... | -f FILE`: delete objects and, unless `--wait=false`, wait until they
//! are gone (a pod stays until its node agent has stopped its containers).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args};
use skiff_core::client::{Client, ClientError, DeleteParams};
use skiff_core::ApiResource;

use super::apply::{kind_name, targets};
use super::client::{api, finish, path, server_message, Conn, ConnArgs};

/// Options of `skiff delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The kind (`pods`, `pod`, `po`, `Pod`...), then the names.
    #[arg(required_unless_present = "files", value_name = "KIND NAME")]
    pub kind_and_names: Vec<String>,
    /// Delete the objects of these manifests instead (`-` reads standard input).
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE",
        conflicts_with = "kind_and_names"
    )]
    pub files: Vec<PathBuf>,
    /// Wait until the objects are gone (`--wait=false`: return once the deletion is accepted).
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = true, default_missing_value = "true")]
    pub wait: bool,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub timeout: u64,
    /// Seconds the containers get to stop (default: the pod's own grace period).
    #[arg(long, value_name = "SECONDS")]
    pub grace_period: Option<i64>,
    /// Server and namespace.
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// One object to delete.
struct Target {
    res: ApiResource,
    ns: Option<String>,
    name: String,
}

pub(crate) fn run(args: &DeleteArgs, out: &mut dyn Write) -> anyhow::Result<i32> {
    let conn = args.conn.connect()?;
    let mut list = Vec::new();
    if args.files.is_empty() {
        let Some((kind, names)) = args.kind_and_names.split_first() else {
            anyhow::bail!("give KIND NAME... or -f FILE");
        };
        if names.is_empty() {
            anyhow::bail!("delete {kind}: give the name(s) of the objects to delete");
        }
        let res = conn.resource(kind)?;
        let ns = conn.ns_for(&res).map(str::to_string);
        for name in names {
            list.push(Target {
                res: res.clone(),
                ns: ns.clone(),
                name: name.clone(),
            });
        }
    } else {
        for m in targets(&conn, &args.files)? {
            list.push(Target {
                ns: m.namespace().map(str::to_string),
                name: m.name().to_string(),
                res: m.res,
            });
        }
    }
    finish(delete_all(args, &conn, &list, out), &mut std::io::stderr())
}

async fn delete_all(
    args: &DeleteArgs,
    conn: &Conn,
    list: &[Target],
    out: &mut dyn Write,
) -> anyhow::Result<i32> {
    let params = DeleteParams {
        grace_period_seconds: args.grace_period,
        ..DeleteParams::default()
    };
    let mut failed = false;
    let mut pending = Vec::new();
    for t in list {
        match conn
            .client
            .delete(&t.res, t.ns.as_deref(), &t.name, &params)
            .await
        {
            Ok(outcome) => {
                let uid = match &outcome {
                    skiff_core::client::DeleteOutcome::Deleted(v)
                    | skiff_core::client::DeleteOutcome::Pending(v) => v
                        .pointer("/metadata/uid")
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_string),
                };
                writeln!(out, "{} \"{}\" deleted", kind_name(&t.res), t.name)?;
                out.flush()?;
                pending.push((t, uid));
            }
            Err(e) => {
                failed = true;
                eprintln!("{}", server_message(&e));
            }
        }
    }
    if args.wait {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout);
        for (t, uid) in pending {
            wait_gone(conn, t, uid.as_deref(), deadline).await?;
        }
    }
    Ok(i32::from(failed))
}

/// Polls until `t` is gone (or replaced by a new object of the same name).
async fn wait_gone(
    conn: &Conn,
    t: &Target,
    uid: Option<&str>,
    deadline: tokio::time::Instant,
) -> anyhow::Result<()> {
    let at = path(&t.res, t.ns.as_deref(), Some(&t.name));
    loop {
        match conn.client.get_raw(&at, "application/json").await {
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(api(e)),
            Ok(v) => {
                let now = v
                    .pointer("/metadata/uid")
                    .and_then(serde_json::Value::as_str);
                if uid.is_some() && now != uid {
                    return Ok(());
                }
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(api(ClientError::api(
                504,
                "Timeout",
                format!(
                    "timed out waiting for {} \"{}\" to be deleted (--timeout)",
                    kind_name(&t.res),
                    t.name
                ),
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
