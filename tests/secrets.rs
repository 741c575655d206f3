//! Secrets end to end on `skiff up` with the process runtime and the real kubectl (root needed, see
//! `common`): `kubectl create secret` (protobuf bodies), the table, a Secret in a container's
//! environment and as files with their modes (and a ConfigMap's items beside it), a missing Secret
//! holding the container back with the reason, and bad input refused with the field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{can_run, Cluster};

const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: consumer}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: sh
    command: ["sleep", "600"]
    envFrom:
    - {prefix: DB_, secretRef: {name: db}}
    - configMapRef: {name: settings}
    - configMapRef: {name: absent, optional: true}
    env:
    - {name: color, value: red}
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: db, key: password}}
    - name: MAYBE
      valueFrom: {secretKeyRef: {name: db, key: absent, optional: true}}
    volumeMounts:
    - {name: creds, mountPath: MNT/creds}
    - {name: conf, mountPath: MNT/conf}
  volumes:
  - name: creds
    secret:
      secretName: db
      defaultMode: 0440
      items: [{key: password, path: nested/pw, mode: 0400}, {key: user, path: user}]
  - name: conf
    configMap: {name: settings, items: [{key: color, path: color.txt}]}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_reach_containers_as_env_and_files() {
    if !can_run() {
        return;
    }
    let cluster = Cluster::start("secrets", "");
    let ok = |args: &[&str]| {
        let (ok, out) = cluster.kubectl(args);
        assert!(ok, "kubectl {args:?}: {out}");
        out
    };
    ok(&[
        "create",
        "secret",
        "generic",
        "db",
        "--from-literal=password=hunter2",
        "--from-literal=user=admin",
    ]);
    ok(&[
        "create",
        "configmap",
        "settings",
        "--from-literal=color=blue",
    ]);
    let table = ok(&["get", "secrets"]);
    assert!(
        table.contains("TYPE")
            && table
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>()[..3] == ["db", "Opaque", "2"]),
        "{table}"
    );
    // Stored as base64, whatever the client sent.
    let stored = ok(&["get", "secret", "db", "-o", "jsonpath={.data.password}"]);
    assert_eq!(stored.trim(), "aHVudGVyMg==");

    let mnt = cluster.dir.join("mnt");
    let manifest = cluster.dir.join("pod.yaml");
    std::fs::write(&manifest, POD.replace("MNT", mnt.to_str().unwrap())).unwrap();
    ok(&["apply", "-f", manifest.to_str().unwrap()]);
    cluster
        .wait_for("consumer", "running", |p| common::is_running(p, "main"))
        .await;
    let env = ok(&["exec", "consumer", "--", "printenv", "PASSWORD"]);
    assert_eq!(env.trim(), "hunter2");
    // envFrom: each key of the Secret after its prefix, the ConfigMap's keys, an explicit `env`
    // winning over them.
    let from = ok(&[
        "exec",
        "consumer",
        "--",
        "printenv",
        "DB_user",
        "DB_password",
        "color",
    ]);
    assert_eq!(from, "admin\nhunter2\nred\n");
    let (has_maybe, _) = cluster.kubectl(&["exec", "consumer", "--", "printenv", "MAYBE"]);
    assert!(!has_maybe, "an optional missing key sets no variable");
    let creds = mnt.join("creds");
    let pw = format!("{}/nested/pw", creds.display());
    let user = format!("{}/user", creds.display());
    let listing = ok(&["exec", "consumer", "--", "stat", "-c", "%a %n", &pw, &user]);
    assert_eq!(
        listing.trim(),
        format!("400 {pw}\n440 {user}"),
        "item mode, then defaultMode"
    );
    let content = ok(&["exec", "consumer", "--", "cat", &pw]);
    assert_eq!(content, "hunter2", "decoded, no newline added");
    let color = ok(&[
        "exec",
        "consumer",
        "--",
        "cat",
        &format!("{}/conf/color.txt", mnt.display()),
    ]);
    assert_eq!(color, "blue");

    // A Secret that does not exist holds the container back, saying which.
    cluster
        .create(
            r#"
apiVersion: v1
kind: Pod
metadata: {name: orphan}
spec:
  containers:
  - name: main
    image: sh
    command: ["sleep", "600"]
    env:
    - name: TOKEN
      valueFrom: {secretKeyRef: {name: nope, key: token}}
"#,
        )
        .await;
    let pod = cluster
        .wait_for("orphan", "waiting on the missing Secret", |p| {
            common::status_of(p, "main")
                .and_then(|c| c.state.as_ref())
                .and_then(|s| s.waiting.as_ref())
                .is_some_and(|w| w.reason.as_deref() == Some("CreateContainerConfigError"))
        })
        .await;
    let waiting = common::status_of(&pod, "main")
        .and_then(|c| c.state.clone())
        .and_then(|s| s.waiting)
        .unwrap();
    assert!(
        waiting
            .message
            .as_deref()
            .unwrap_or("")
            .contains("secret \"nope\""),
        "{waiting:?}"
    );

    // Bad input: a key that is no key, a TLS Secret without its key, a type changed.
    // (kubectl checks keys itself on `create secret`; a manifest reaches the server.)
    let bad = cluster.dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: v1\nkind: Secret\nmetadata: {name: bad}\ndata: {\"a b\": eA==}\n",
    )
    .unwrap();
    let (refused, out) = cluster.kubectl(&["create", "-f", bad.to_str().unwrap()]);
    assert!(
        !refused && out.contains("data[a b]: Invalid value"),
        "{out}"
    );
    let (refused, out) = cluster.kubectl(&[
        "create",
        "secret",
        "generic",
        "tls",
        "--type=kubernetes.io/tls",
        "--from-literal=tls.crt=x",
    ]);
    assert!(
        !refused && out.contains("data[tls.key]: Required value"),
        "{out}"
    );
    let (refused, out) = cluster.kubectl(&[
        "patch",
        "secret",
        "db",
        "--type=merge",
        "-p",
        r#"{"type":"kubernetes.io/basic-auth"}"#,
    ]);
    assert!(!refused && out.contains("field is immutable"), "{out}");
    // ... and nothing stored changed.
    let stored = ok(&["get", "secret", "db", "-o", "jsonpath={.type} {.data.user}"]);
    assert_eq!(stored.trim(), "Opaque YWRtaW4=");

    cluster.stop().await;
}
