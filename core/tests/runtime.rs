//! The controller runtime end to end on the in-process client: informers (sync, late handlers, relist on
//! Expired, no lost events), controllers (owns, watches, predicates, errors and backoff, graceful shutdown),
//! finalizers, leader election, events.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use skiff_core::client::{Api, Client, DeleteParams, InProcessClient, Patch};
use skiff_core::controller::{Action, Context, Controller, ErrorAction, ObjectRef, Reconciler};
use skiff_core::finalizer::{finalizer, FinalizerEvent};
use skiff_core::informer::{FnHandler, Informer};
use skiff_core::kinds::{ConfigMap, Node, Pod};
use skiff_core::leader_election::{LeaderElectionConfig, LeaderElector};
use skiff_core::meta::OwnerReference;
use skiff_core::shutdown::Shutdown;
use skiff_core::store::{MemoryStore, Store, StoreConfig};
use skiff_core::Resource;

fn setup() -> (Arc<MemoryStore>, Arc<dyn Client>) {
    let store = Arc::new(MemoryStore::new());
    (store.clone(), InProcessClient::shared(store))
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("timed out waiting for: {what}");
}

#[tokio::test]
async fn informer_syncs_and_late_handlers_get_synthetic_adds() {
    let (_, client) = setup();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..3 {
        cms.create(&ConfigMap::named(format!("c{i}")))
            .await
            .unwrap();
    }
    let inf = Informer::new(Api::<ConfigMap>::all(client.clone()));
    let (_stop, shutdown) = Shutdown::new();
    inf.start(shutdown);
    inf.wait_for_sync().await;
    assert_eq!(inf.cache().len(), 3);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    inf.add_handler(Arc::new(FnHandler(
        move |old: Option<&Arc<ConfigMap>>, new: Option<&Arc<ConfigMap>>| {
            s.lock().unwrap().push((
                old.map(|o| o.name().to_string()),
                new.map(|n| n.name().to_string()),
            ));
        },
    )));
    assert_eq!(
        seen.lock().unwrap().len(),
        3,
        "one synthetic add per cached object"
    );
    cms.create(&ConfigMap::named("c3")).await.unwrap();
    cms.delete("c0", &DeleteParams::default()).await.unwrap();
    eventually("add and delete seen", || seen.lock().unwrap().len() == 5).await;
    let s = seen.lock().unwrap();
    assert_eq!(s[3], (None, Some("c3".into())));
    assert_eq!(s[4], (Some("c0".into()), None));
    assert!(inf.cache().get("default/c0").is_none());
    assert_eq!(inf.cache().by_index("namespace", "default").len(), 3);
}

#[tokio::test]
async fn informer_reports_synced_when_nobody_was_waiting() {
    let (_store, client) = setup();
    let informer = Informer::new(Api::<ConfigMap>::all(client));
    let (stop, shutdown) = Shutdown::new();
    informer.start(shutdown);
    eventually("synced without a waiter", || informer.has_synced()).await;
    // A waiter that comes after the first list returns at once.
    tokio::time::timeout(Duration::from_secs(5), informer.wait_for_sync())
        .await
        .expect("wait_for_sync after the fact");
    stop.trigger();
}

#[tokio::test]
async fn informer_relists_after_expired_and_reports_what_changed() {
    // A tiny watch buffer: a watcher that is not drained is closed with Expired.
    let store = Arc::new(MemoryStore::with_config(StoreConfig {
        watch_buffer: 2,
        history_window: 5,
    }));
    let client = InProcessClient::shared(store.clone());
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&ConfigMap::named("keep")).await.unwrap();
    cms.create(&ConfigMap::named("gone")).await.unwrap();
    let inf = Informer::new(Api::<ConfigMap>::all(client.clone()));
    let deleted = Arc::new(AtomicUsize::new(0));
    let d = deleted.clone();
    inf.add_handler(Arc::new(FnHandler(
        move |old: Option<&Arc<ConfigMap>>, new: Option<&Arc<ConfigMap>>| {
            if old.is_some() && new.is_none() {
                d.fetch_add(1, Ordering::SeqCst);
            }
        },
    )));
    let (_stop, shutdown) = Shutdown::new();
    inf.start(shutdown);
    inf.wait_for_sync().await;
    // Burst far past the buffer and the history window, faster than the informer can read.
    let writer = async {
        for i in 0..200 {
            cms.create(&ConfigMap::named(format!("b{i}")))
                .await
                .unwrap();
        }
        cms.delete("gone", &DeleteParams::default()).await.unwrap();
    };
    writer.await;
    eventually("the cache converges", || {
        inf.cache().len() == 201 && inf.cache().get("default/gone").is_none()
    })
    .await;
    assert!(
        inf.stats().lists.load(Ordering::SeqCst) >= 2,
        "it relisted after Expired"
    );
    assert_eq!(
        deleted.load(Ordering::SeqCst),
        1,
        "the delete missed by the watch was reported by the relist"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_event_is_lost_under_a_burst_of_ten_thousand_changes() {
    let (store, client) = setup();
    let inf = Informer::new(Api::<ConfigMap>::all(client.clone()));
    // The handlers' view, rebuilt only from events.
    let view: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let v = view.clone();
    inf.add_handler(Arc::new(FnHandler(
        move |_old: Option<&Arc<ConfigMap>>, new: Option<&Arc<ConfigMap>>| {
            let _ = &_old;
            let mut v = v.lock().unwrap();
            match (new, _old) {
                (Some(n), _) => {
                    v.insert(
                        n.name().to_string(),
                        n.data.get("v").cloned().unwrap_or_default(),
                    );
                }
                (None, Some(o)) => {
                    v.remove(o.name());
                }
                _ => {}
            }
        },
    )));
    let (_stop, shutdown) = Shutdown::new();
    inf.start(shutdown);
    inf.wait_for_sync().await;
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
            tokio::spawn(async move {
                for i in 0..1250 {
                    let name = format!("w{w}-{}", i % 250);
                    let mut cm = ConfigMap::named(&name);
                    cm.data.insert("v".into(), i.to_string());
                    match api.get_opt(&name).await.unwrap() {
                        None => {
                            api.create(&cm).await.unwrap();
                        }
                        Some(_) if i % 7 == 0 => {
                            api.delete(&name, &DeleteParams::default()).await.unwrap();
                        }
                        Some(_) => {
                            api.replace(&name, &cm).await.unwrap();
                        }
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let truth: BTreeMap<String, String> = store
        .list("/registry/core/configmaps/", Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|kv| {
            let cm: ConfigMap = serde_json::from_slice(&kv.value).unwrap();
            (
                cm.name().to_string(),
                cm.data.get("v").cloned().unwrap_or_default(),
            )
        })
        .collect();
    eventually("the event-built view equals the store", || {
        *view.lock().unwrap() == truth
    })
    .await;
    assert_eq!(inf.cache().len(), truth.len());
}

/// Creates a ConfigMap per Node and records what it did.
struct NodeConfig {
    client: Arc<dyn Client>,
    runs: Mutex<Vec<String>>,
    fail_first: AtomicUsize,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Failure(String);

#[async_trait]
impl Reconciler<Node> for NodeConfig {
    type Error = Failure;
    async fn reconcile(&self, node: Arc<Node>, _ctx: &Context<Node>) -> Result<Action, Failure> {
        self.runs.lock().unwrap().push(node.name().to_string());
        if self.fail_first.load(Ordering::SeqCst) > 0 {
            self.fail_first.fetch_sub(1, Ordering::SeqCst);
            return Err(Failure("injected".into()));
        }
        let cms: Api<ConfigMap> = Api::namespaced(self.client.clone(), "default");
        let mut cm = ConfigMap::named(format!("node-{}", node.name()));
        cm.metadata.owner_references.push(OwnerReference {
            api_version: Node::api_version(),
            kind: Node::KIND.into(),
            name: node.name().to_string(),
            uid: node.metadata.uid.clone().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: None,
        });
        cm.data
            .insert("labels".into(), format!("{:?}", node.metadata.labels));
        if cms
            .get_opt(&format!("node-{}", node.name()))
            .await
            .map_err(|e| Failure(e.to_string()))?
            .is_none()
        {
            cms.create(&cm).await.map_err(|e| Failure(e.to_string()))?;
        }
        Ok(Action::await_change())
    }
}

#[tokio::test]
async fn owns_watches_errors_and_shutdown() {
    let (_, client) = setup();
    let nodes: Api<Node> = Api::all(client.clone());
    nodes.create(&Node::named("n1")).await.unwrap();
    let rec = Arc::new(NodeConfig {
        client: client.clone(),
        runs: Mutex::default(),
        fail_first: AtomicUsize::new(2),
    });
    let cms_inf = Informer::new(Api::<ConfigMap>::all(client.clone()));
    let pods_inf = Informer::new(Api::<Pod>::all(client.clone()));
    let controller = Controller::for_api("node-config", nodes.clone())
        .owns(cms_inf)
        .watches(pods_inf, |p: &Pod| {
            p.spec
                .node_name
                .iter()
                .map(|n| ObjectRef::new(None, n))
                .collect()
        })
        .concurrency(2);
    let (stop, shutdown) = Shutdown::new();
    let run = tokio::spawn(controller.run(rec.clone(), shutdown));
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    // Two injected failures, retried with backoff, then success.
    for _ in 0..400 {
        if cms.get_opt("node-n1").await.unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        cms.get_opt("node-n1").await.unwrap().is_some(),
        "reconciled after retries"
    );
    let runs_after_create = rec.runs.lock().unwrap().len();
    assert!(
        runs_after_create >= 3,
        "two failures then a success: {runs_after_create}"
    );
    // owns: deleting the owned ConfigMap wakes the owner, which recreates it.
    cms.delete("node-n1", &DeleteParams::default())
        .await
        .unwrap();
    eventually("recreated by the owner's reconcile", || {
        rec.runs.lock().unwrap().len() > runs_after_create
    })
    .await;
    for _ in 0..400 {
        if cms.get_opt("node-n1").await.unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(cms.get_opt("node-n1").await.unwrap().is_some());
    // watches: a pod bound to n1 maps to n1.
    let before = rec.runs.lock().unwrap().len();
    let mut pod = Pod::named("p");
    pod.spec.node_name = Some("n1".into());
    Api::<Pod>::namespaced(client.clone(), "default")
        .create(&pod)
        .await
        .unwrap();
    eventually("the pod woke its node", || {
        rec.runs.lock().unwrap().len() > before
    })
    .await;
    stop.trigger();
    tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .unwrap()
        .unwrap();
}

/// Counts reconciles; slow on purpose.
struct Slow {
    started: AtomicUsize,
    finished: AtomicUsize,
}

#[async_trait]
impl Reconciler<ConfigMap> for Slow {
    type Error = std::convert::Infallible;
    async fn reconcile(
        &self,
        _cm: Arc<ConfigMap>,
        _ctx: &Context<ConfigMap>,
    ) -> Result<Action, Self::Error> {
        self.started.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(5)).await;
        self.finished.fetch_add(1, Ordering::SeqCst);
        Ok(Action::await_change())
    }
}

#[tokio::test(start_paused = true)]
async fn graceful_shutdown_lets_in_flight_reconciles_finish() {
    let (_, client) = setup();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..3 {
        cms.create(&ConfigMap::named(format!("c{i}")))
            .await
            .unwrap();
    }
    let rec = Arc::new(Slow {
        started: AtomicUsize::new(0),
        finished: AtomicUsize::new(0),
    });
    let (stop, shutdown) = Shutdown::new();
    let run = tokio::spawn(
        Controller::for_api("slow", Api::<ConfigMap>::all(client))
            .concurrency(2)
            .run(rec.clone(), shutdown),
    );
    while rec.started.load(Ordering::SeqCst) < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.trigger();
    run.await.unwrap();
    assert_eq!(
        rec.started.load(Ordering::SeqCst),
        2,
        "no new work after shutdown"
    );
    assert_eq!(
        rec.finished.load(Ordering::SeqCst),
        2,
        "in-flight reconciles finished before run returned"
    );
}

/// A reconciler that only counts, to observe predicates.
struct Counter(AtomicUsize, Arc<dyn Client>);

#[async_trait]
impl Reconciler<Pod> for Counter {
    type Error = skiff_core::client::ClientError;
    async fn reconcile(&self, pod: Arc<Pod>, _ctx: &Context<Pod>) -> Result<Action, Self::Error> {
        self.0.fetch_add(1, Ordering::SeqCst);
        // Write status: with the generation predicate this must not wake the controller again.
        let mut p = (*pod).clone();
        p.status.get_or_insert_with(Default::default).message =
            Some(format!("seen {}", self.0.load(Ordering::SeqCst)));
        Api::<Pod>::namespaced(self.1.clone(), "default")
            .replace_status(pod.name(), &p)
            .await?;
        Ok(Action::await_change())
    }
}

#[tokio::test]
async fn generation_predicate_ignores_own_status_writes() {
    let (_, client) = setup();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&Pod::named("p")).await.unwrap();
    let rec = Arc::new(Counter(AtomicUsize::new(0), client.clone()));
    let (stop, shutdown) = Shutdown::new();
    let run = tokio::spawn(
        Controller::for_api("gen", Api::<Pod>::all(client.clone()))
            .generation_changed()
            .run(rec.clone(), shutdown),
    );
    eventually("first reconcile", || rec.0.load(Ordering::SeqCst) == 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        rec.0.load(Ordering::SeqCst),
        1,
        "its own status write did not re-trigger it"
    );
    pods.patch(
        "p",
        &Patch::Merge(serde_json::json!({"spec": {"nodeName": "n1"}})),
    )
    .await
    .unwrap();
    eventually("a spec change triggers", || {
        rec.0.load(Ordering::SeqCst) == 2
    })
    .await;
    stop.trigger();
    run.await.unwrap();
}

/// Keeps a log of cleanups, guarded by a finalizer.
struct WithFinalizer {
    client: Arc<dyn Client>,
    cleaned: Mutex<Vec<String>>,
}

#[async_trait]
impl Reconciler<ConfigMap> for WithFinalizer {
    type Error = skiff_core::finalizer::FinalizerError<std::io::Error>;
    async fn reconcile(
        &self,
        cm: Arc<ConfigMap>,
        _ctx: &Context<ConfigMap>,
    ) -> Result<Action, Self::Error> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), "default");
        finalizer(&api, "example.com/cleanup", cm, |ev| async move {
            if let FinalizerEvent::Cleanup(cm) = ev {
                self.cleaned.lock().unwrap().push(cm.name().to_string());
            }
            Ok(Action::await_change())
        })
        .await
    }

    fn error_policy(
        &self,
        _: &Arc<ConfigMap>,
        _: &Self::Error,
        _: &Context<ConfigMap>,
    ) -> ErrorAction {
        ErrorAction::RetryAfter(Duration::from_millis(10))
    }
}

#[tokio::test]
async fn finalizer_added_then_cleanup_then_removed() {
    let (_, client) = setup();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&ConfigMap::named("c")).await.unwrap();
    let rec = Arc::new(WithFinalizer {
        client: client.clone(),
        cleaned: Mutex::default(),
    });
    let (stop, shutdown) = Shutdown::new();
    let run = tokio::spawn(
        Controller::for_api("fin", Api::<ConfigMap>::all(client.clone()))
            .run(rec.clone(), shutdown),
    );
    for _ in 0..400 {
        if cms.get("c").await.unwrap().metadata.finalizers == ["example.com/cleanup"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        cms.get("c").await.unwrap().metadata.finalizers,
        ["example.com/cleanup"],
        "added on first sight"
    );
    cms.delete("c", &DeleteParams::default()).await.unwrap();
    for _ in 0..400 {
        if cms.get_opt("c").await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        cms.get_opt("c").await.unwrap().is_none(),
        "deleted once cleanup removed the finalizer"
    );
    assert_eq!(*rec.cleaned.lock().unwrap(), ["c"]);
    stop.trigger();
    run.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn leader_hand_over_after_the_lease_expires() {
    let (_, client) = setup();
    let leading: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let at_once = Arc::new(AtomicUsize::new(0));
    let max_at_once = Arc::new(AtomicUsize::new(0));
    let spawn = |id: &'static str, shutdown: Shutdown| {
        let (client, leading, at_once, max_at_once) = (
            client.clone(),
            leading.clone(),
            at_once.clone(),
            max_at_once.clone(),
        );
        tokio::spawn(async move {
            let elector = LeaderElector::new(
                client,
                LeaderElectionConfig::new("kube-system", "skiff", id),
            );
            elector
                .run(shutdown, |stop| {
                    let (leading, at_once, max_at_once) =
                        (leading.clone(), at_once.clone(), max_at_once.clone());
                    async move {
                        leading.lock().unwrap().push(id);
                        let n = at_once.fetch_add(1, Ordering::SeqCst) + 1;
                        max_at_once.fetch_max(n, Ordering::SeqCst);
                        stop.wait().await;
                        at_once.fetch_sub(1, Ordering::SeqCst);
                    }
                })
                .await;
        })
    };
    let (stop_a, shutdown_a) = Shutdown::new();
    let a = spawn("a", shutdown_a);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_stop_b, shutdown_b) = Shutdown::new();
    let _b = spawn("b", shutdown_b);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(*leading.lock().unwrap(), ["a"], "b waits while a renews");
    // a dies without releasing: abort it (no graceful release).
    a.abort();
    let _ = a.await;
    at_once.fetch_sub(1, Ordering::SeqCst);
    drop(stop_a);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        *leading.lock().unwrap(),
        ["a"],
        "not before the lease expires"
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        *leading.lock().unwrap(),
        ["a", "b"],
        "b takes over after expiry"
    );
    assert_eq!(
        max_at_once.load(Ordering::SeqCst),
        1,
        "never two leaders at once"
    );
}

#[tokio::test(start_paused = true)]
async fn a_leader_that_shuts_down_releases_the_lease_at_once() {
    let (_, client) = setup();
    let b_leads = Arc::new(AtomicBool::new(false));
    let (stop_a, shutdown_a) = Shutdown::new();
    let a = {
        let client = client.clone();
        tokio::spawn(async move {
            LeaderElector::new(
                client,
                LeaderElectionConfig::new("kube-system", "skiff", "a"),
            )
            .run(shutdown_a, |stop| async move { stop.wait().await })
            .await
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let flag = b_leads.clone();
    let _b = tokio::spawn(async move {
        LeaderElector::new(
            client,
            LeaderElectionConfig::new("kube-system", "skiff", "b"),
        )
        .run(Shutdown::never(), |_| {
            let flag = flag.clone();
            async move { flag.store(true, Ordering::SeqCst) }
        })
        .await
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop_a.trigger();
    a.await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        b_leads.load(Ordering::SeqCst),
        "b leads within one retry period after a released"
    );
}

#[tokio::test]
async fn reconcile_metrics_in_prometheus_text() {
    let (_, client) = setup();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&ConfigMap::named("a")).await.unwrap();
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = skiff_core::controller::ControllerMetrics::register(&mut registry);
    let rec = Arc::new(Slow {
        started: AtomicUsize::new(0),
        finished: AtomicUsize::new(0),
    });
    let (stop, shutdown) = Shutdown::new();
    tokio::time::pause();
    let run = tokio::spawn(
        Controller::for_api("metered", Api::<ConfigMap>::all(client))
            .metrics(metrics)
            .run(rec.clone(), shutdown),
    );
    while rec.finished.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.trigger();
    run.await.unwrap();
    let text = skiff_core::controller::encode_text(&registry);
    assert!(
        text.contains(
            r#"skiff_controller_reconcile_total{controller="metered",result="success"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "skiff_controller_reconcile_duration_seconds_count{controller=\"metered\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("skiff_workqueue_adds_total{controller=\"metered\"} 1"),
        "{text}"
    );
}
