//! `skiff describe KIND NAME`: a summary of one object for people, and its events, as kubectl
//! describe prints them.

use std::fmt::Write as _;
use std::io::Write;

use clap::Args;
use serde_json::Value;
use skiff_core::meta::Time;

use super::client::{api, encode, finish, path, Conn, ConnArgs};

/// Options of `skiff describe`.
#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// The kind (`pods`, `pod`, `po`, `Pod`...).
    pub kind: String,
    /// The object's name.
    pub name: String,
    /// Server and namespace.
    #[command(flatten)]
    pub conn: ConnArgs,
}

pub(crate) fn run(args: &DescribeArgs, out: &mut dyn Write) -> anyhow::Result<i32> {
    let conn = args.conn.connect()?;
    finish(describe(args, &conn, out), &mut std::io::stderr())
}

async fn describe(args: &DescribeArgs, conn: &Conn, out: &mut dyn Write) -> anyhow::Result<i32> {
    let res = conn.resource(&args.kind)?;
    let ns = conn.ns_for(&res);
    let obj = conn
        .client
        .get_raw(&path(&res, ns, Some(&args.name)), "application/json")
        .await
        .map_err(api)?;
    let mut text = summary(&obj);
    if res.kind == "Pod" {
        text.push_str(&pod_details(&obj));
    } else {
        for section in ["spec", "data", "status"] {
            if let Some(v) = obj.get(section).filter(|v| !is_empty(v)) {
                let _ = writeln!(text, "{}:", capitalize(section));
                text.push_str(&indent(&serde_yaml::to_string(v).unwrap_or_default(), 2));
            }
        }
    }
    let events = events(conn, &obj).await?;
    text.push_str(&events_section(&events));
    write!(out, "{text}")?;
    out.flush()?;
    Ok(0)
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

/// `key=value` lines of a map, aligned under the first (or `<none>`).
fn map_lines(v: Option<&Value>) -> String {
    let Some(m) = v.and_then(Value::as_object).filter(|m| !m.is_empty()) else {
        return "<none>\n".into();
    };
    let mut out = String::new();
    for (i, (k, v)) in m.iter().enumerate() {
        let value = v.as_str().map_or_else(|| v.to_string(), str::to_string);
        if i > 0 {
            out.push_str(&" ".repeat(14));
        }
        let _ = writeln!(out, "{k}={value}");
    }
    out
}

/// Name, namespace, labels, annotations and creation time.
fn summary(obj: &Value) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "{:<14}{}", "Name:", s(obj, "/metadata/name"));
    if let Some(ns) = obj.pointer("/metadata/namespace").and_then(Value::as_str) {
        let _ = writeln!(t, "{:<14}{ns}", "Namespace:");
    }
    let _ = write!(
        t,
        "{:<14}{}",
        "Labels:",
        map_lines(obj.pointer("/metadata/labels"))
    );
    let _ = write!(
        t,
        "{:<14}{}",
        "Annotations:",
        map_lines(obj.pointer("/metadata/annotations"))
    );
    let created = s(obj, "/metadata/creationTimestamp");
    if !created.is_empty() {
        let _ = writeln!(t, "{:<14}{created}", "Created:");
    }
    if let Some(d) = obj
        .pointer("/metadata/deletionTimestamp")
        .and_then(Value::as_str)
    {
        let _ = writeln!(t, "{:<14}{d}", "Deleting:");
    }
    t
}

fn or_none(x: &str) -> &str {
    if x.is_empty() {
        "<none>"
    } else {
        x
    }
}

/// A pod's node, phase, IP and containers (image, state, ready, restarts).
fn pod_details(pod: &Value) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "{:<14}{}", "Node:", or_none(s(pod, "/spec/nodeName")));
    let phase = s(pod, "/status/phase");
    let _ = writeln!(
        t,
        "{:<14}{}",
        "Status:",
        if phase.is_empty() { "Pending" } else { phase }
    );
    let _ = writeln!(t, "{:<14}{}", "IP:", or_none(s(pod, "/status/podIP")));
    let statuses = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let _ = writeln!(t, "Containers:");
    for c in pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        let name = s(&c, "/name");
        let st = statuses.iter().find(|x| x["name"] == name);
        let _ = writeln!(t, "  {name}:");
        let _ = writeln!(t, "    {:<16}{}", "Image:", s(&c, "/image"));
        if let Some(cmd) = c.get("command").filter(|v| !is_empty(v)) {
            let _ = writeln!(t, "    {:<16}{cmd}", "Command:");
        }
        if let Some(a) = c.get("args").filter(|v| !is_empty(v)) {
            let _ = writeln!(t, "    {:<16}{a}", "Args:");
        }
        let (state, detail) = match st.and_then(|x| x.get("state")).and_then(Value::as_object) {
            Some(m) if m.contains_key("running") => (
                "Running".to_string(),
                format!("Started: {}", s(&m["running"], "/startedAt")),
            ),
            Some(m) if m.contains_key("terminated") => (
                "Terminated".to_string(),
                format!(
                    "Reason: {}, Exit Code: {}",
                    s(&m["terminated"], "/reason"),
                    m["terminated"]["exitCode"]
                ),
            ),
            Some(m) if m.contains_key("waiting") => (
                "Waiting".to_string(),
                format!("Reason: {}", s(&m["waiting"], "/reason")),
            ),
            _ => ("Waiting".to_string(), String::new()),
        };
        let _ = writeln!(t, "    {:<16}{state}", "State:");
        if !detail.is_empty() {
            let _ = writeln!(t, "      {detail}");
        }
        let ready = st.is_some_and(|x| x["ready"] == true);
        let _ = writeln!(
            t,
            "    {:<16}{}",
            "Ready:",
            if ready { "True" } else { "False" }
        );
        let restarts = st.and_then(|x| x["restartCount"].as_i64()).unwrap_or(0);
        let _ = writeln!(t, "    {:<16}{restarts}", "Restart Count:");
    }
    if let Some(conds) = pod.pointer("/status/conditions").and_then(Value::as_array) {
        let mut lines = vec![vec!["Type".to_string(), "Status".to_string()]];
        for c in conds {
            lines.push(vec![s(c, "/type").to_string(), s(c, "/status").to_string()]);
        }
        let widths = super::get::column_widths(&lines);
        let _ = writeln!(t, "Conditions:");
        for l in &lines {
            let _ = writeln!(t, "  {}", super::get::align(l, &widths));
        }
    }
    t
}

/// The events about `obj` (matched by name, namespace and uid).
async fn events(conn: &Conn, obj: &Value) -> anyhow::Result<Vec<Value>> {
    // Events about cluster-scoped objects (nodes) may live in any namespace: search them all.
    let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str);
    let mut selector = format!("involvedObject.name={}", s(obj, "/metadata/name"));
    match ns {
        Some(ns) => selector.push_str(&format!(",involvedObject.namespace={ns}")),
        None => selector.push_str(&format!(",involvedObject.kind={}", s(obj, "/kind"))),
    }
    let uid = s(obj, "/metadata/uid");
    if !uid.is_empty() && ns.is_some() {
        selector.push_str(&format!(",involvedObject.uid={uid}"));
    }
    let events = conn.resource("events")?;
    let at = format!(
        "{}?fieldSelector={}",
        path(&events, ns, None),
        encode(&selector)
    );
    let list = conn
        .client
        .get_raw(&at, "application/json")
        .await
        .map_err(api)?;
    let mut items = list["items"].as_array().cloned().unwrap_or_default();
    items.sort_by_key(|e| last_seen(e).to_string());
    Ok(items)
}

fn last_seen(e: &Value) -> &str {
    for p in [
        "/lastTimestamp",
        "/eventTime",
        "/firstTimestamp",
        "/metadata/creationTimestamp",
    ] {
        let t = s(e, p);
        if !t.is_empty() {
            return t;
        }
    }
    ""
}

/// kubectl's `HumanDuration`, to the precision describe shows.
fn age(timestamp: &str) -> String {
    let Ok(t) = serde_json::from_value::<Time>(Value::String(timestamp.to_string())) else {
        return "<unknown>".into();
    };
    let secs = (Time::now().0 - t.0).num_seconds().max(0);
    match secs {
        0..120 => format!("{secs}s"),
        120..10800 => format!("{}m", secs / 60),
        10800..172800 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

/// The `Events:` section: a table, or `<none>`.
fn events_section(events: &[Value]) -> String {
    if events.is_empty() {
        return "Events:       <none>\n".into();
    }
    let mut lines = vec![
        ["Type", "Reason", "Age", "From", "Message"]
            .map(String::from)
            .to_vec(),
        ["----", "------", "----", "----", "-------"]
            .map(String::from)
            .to_vec(),
    ];
    for e in events {
        let from = [s(e, "/source/component"), s(e, "/reportingComponent")]
            .into_iter()
            .find(|x| !x.is_empty())
            .unwrap_or("");
        let count = e["count"].as_i64().unwrap_or(1);
        let mut when = age(last_seen(e));
        if count > 1 {
            when = format!("{when} (x{count})");
        }
        lines.push(vec![
            s(e, "/type").to_string(),
            s(e, "/reason").to_string(),
            when,
            from.to_string(),
            s(e, "/message").to_string(),
        ]);
    }
    let widths = super::get::column_widths(&lines);
    let mut t = String::from("Events:\n");
    for l in &lines {
        let _ = writeln!(t, "  {}", super::get::align(l, &widths));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pods_are_summarised_for_people() {
        let pod = json!({"metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "sleep"}]},
            "status": {"phase": "Running", "podIP": "10.0.0.2", "containerStatuses": [
                {"name": "c", "ready": true, "restartCount": 1, "state": {"running": {"startedAt": "2020-01-01T00:00:00Z"}}}]}});
        let text = format!("{}{}", summary(&pod), pod_details(&pod));
        for want in [
            "Name:         web",
            "Labels:       app=web",
            "Annotations:  <none>",
            "Node:         n1",
            "Status:       Running",
            "IP:           10.0.0.2",
            "Image:          sleep",
            "Restart Count:  1",
        ] {
            assert!(text.contains(want), "{want} in\n{text}");
        }
        let ev = json!({"type": "Normal", "reason": "Started", "message": "started c",
            "source": {"component": "kubelet"}, "lastTimestamp": "2020-01-01T00:00:00Z"});
        let section = events_section(&[ev]);
        assert!(section.contains("Normal   Started"), "{section}");
        assert_eq!(events_section(&[]), "Events:       <none>\n");
    }
}
