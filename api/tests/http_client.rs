//! The same client and controller scenarios over the in-process client and over HTTP (HttpClient → API
//! server → in-process client → store): components behave the same wherever they run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use skiff_api::{ApiServer, HttpClient};
use skiff_core::client::{
    Api, Client, DeleteOutcome, DeleteParams, Event, InProcessClient, ListParams, Patch,
    WatchParams,
};
use skiff_core::codec::Scheme;
use skiff_core::controller::{Action, Context, Controller, Reconciler};
use skiff_core::finalizer::{finalizer, FinalizerEvent};
use skiff_core::kinds::{ConfigMap, Node, NodeStatus};
use skiff_core::shutdown::{Shutdown, ShutdownTrigger};
use skiff_core::store::MemoryStore;
use skiff_core::Resource;

async fn in_process() -> (Arc<dyn Client>, Option<ShutdownTrigger>) {
    let client = InProcessClient::shared(Arc::new(MemoryStore::new()));
    let server = ApiServer::new(client.clone(), Scheme::builtin());
    server.ensure_namespaces().await.unwrap();
    (client, None)
}

async fn over_http() -> (Arc<dyn Client>, Option<ShutdownTrigger>) {
    let server = ApiServer::new(
        InProcessClient::shared(Arc::new(MemoryStore::new())),
        Scheme::builtin(),
    );
    server.ensure_namespaces().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, shutdown) = Shutdown::new();
    tokio::spawn(server.serve(listener, shutdown));
    (HttpClient::shared(&format!("http://{addr}")), Some(stop))
}

async fn crud_cas_selectors_and_pages(client: Arc<dyn Client>) {
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut a = ConfigMap::named("a");
    a.metadata.labels.insert("tier".into(), "web".into());
    let a = cms.create(&a).await.unwrap();
    assert!(a.metadata.uid.is_some());
    assert!(cms
        .create(&ConfigMap::named("a"))
        .await
        .unwrap_err()
        .is_already_exists());
    for i in 0..5 {
        cms.create(&ConfigMap::named(format!("p{i}")))
            .await
            .unwrap();
    }
    let mut stale = a.clone();
    stale.data.insert("k".into(), "1".into());
    cms.replace("a", &stale).await.unwrap();
    assert!(
        cms.replace("a", &stale).await.unwrap_err().is_conflict(),
        "second write with the old resourceVersion"
    );
    assert!(cms.get("missing").await.unwrap_err().is_not_found());
    assert_eq!(
        cms.list(&ListParams::default().labels("tier=web"))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let page = cms.list(&ListParams::default().limit(4)).await.unwrap();
    assert_eq!(page.items.len(), 4);
    let rest = cms
        .list(&ListParams {
            limit: Some(4),
            continue_token: page.metadata.continue_.clone(),
            ..ListParams::default()
        })
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 2);
    let p = cms
        .patch(
            "a",
            &Patch::Merge(serde_json::json!({"data": {"k": null, "x": "y"}})),
        )
        .await
        .unwrap();
    assert_eq!(p.data.keys().collect::<Vec<_>>(), ["x"]);
}

async fn status_subresource_and_finalizers(client: Arc<dyn Client>) {
    let nodes: Api<Node> = Api::all(client.clone());
    let n = nodes.create(&Node::named("n1")).await.unwrap();
    let mut s = n.clone();
    s.status = Some(NodeStatus {
        phase: Some("Running".into()),
        ..NodeStatus::default()
    });
    let after = nodes.replace_status("n1", &s).await.unwrap();
    assert_eq!(
        (
            after.metadata.generation,
            after.status.unwrap().phase.as_deref()
        ),
        (Some(1), Some("Running"))
    );
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut f = ConfigMap::named("held");
    f.metadata.finalizers.push("example.com/x".into());
    cms.create(&f).await.unwrap();
    let pending = match cms.delete("held", &DeleteParams::default()).await.unwrap() {
        DeleteOutcome::Pending(p) => p,
        other => panic!("{other:?}"),
    };
    assert!(pending.metadata.deletion_timestamp.is_some());
    cms.patch(
        "held",
        &Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert!(cms.get_opt("held").await.unwrap().is_none());
}

async fn watch_transitions(client: Arc<dyn Client>) {
    let nodes: Api<Node> = Api::all(client.clone());
    let mut w = nodes
        .watch(&WatchParams {
            label_selector: Some("pool=gpu".into()),
            ..WatchParams::default()
        })
        .await
        .unwrap();
    let mut n = Node::named("g1");
    n.metadata.labels.insert("pool".into(), "gpu".into());
    nodes.create(&n).await.unwrap();
    type Events =
        futures::stream::BoxStream<'static, Result<Event<Node>, skiff_core::client::ClientError>>;
    async fn next(w: &mut Events) -> Result<Event<Node>, skiff_core::client::ClientError> {
        tokio::time::timeout(Duration::from_secs(5), w.next())
            .await
            .unwrap()
            .unwrap()
    }
    assert!(matches!(next(&mut w).await, Ok(Event::Added(n)) if n.name() == "g1"));
    nodes
        .patch(
            "g1",
            &Patch::Merge(serde_json::json!({"metadata": {"labels": {"pool": "cpu"}}})),
        )
        .await
        .unwrap();
    assert!(matches!(next(&mut w).await, Ok(Event::Deleted(n)) if n.name() == "g1"));
}

struct Cleaner {
    client: Arc<dyn Client>,
    cleaned: Mutex<Vec<String>>,
    runs: AtomicUsize,
}

#[async_trait]
impl Reconciler<ConfigMap> for Cleaner {
    type Error = skiff_core::finalizer::FinalizerError<std::io::Error>;
    async fn reconcile(
        &self,
        cm: Arc<ConfigMap>,
        _ctx: &Context<ConfigMap>,
    ) -> Result<Action, Self::Error> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), "default");
        finalizer(&api, "example.com/cleanup", cm, |ev| async move {
            if let FinalizerEvent::Cleanup(cm) = ev {
                self.cleaned.lock().unwrap().push(cm.name().to_string());
            }
            Ok(Action::await_change())
        })
        .await
    }
}

async fn a_controller_with_a_finalizer(client: Arc<dyn Client>) {
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&ConfigMap::named("c")).await.unwrap();
    let rec = Arc::new(Cleaner {
        client: client.clone(),
        cleaned: Mutex::default(),
        runs: AtomicUsize::new(0),
    });
    let (stop, shutdown) = Shutdown::new();
    let run = tokio::spawn(
        Controller::for_api("cleaner", Api::<ConfigMap>::all(client.clone()))
            .run(rec.clone(), shutdown),
    );
    for _ in 0..400 {
        if cms.get("c").await.unwrap().metadata.finalizers == ["example.com/cleanup"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        cms.get("c").await.unwrap().metadata.finalizers,
        ["example.com/cleanup"]
    );
    cms.delete("c", &DeleteParams::default()).await.unwrap();
    for _ in 0..400 {
        if cms.get_opt("c").await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(cms.get_opt("c").await.unwrap().is_none());
    assert_eq!(*rec.cleaned.lock().unwrap(), ["c"]);
    stop.trigger();
    run.await.unwrap();
}

macro_rules! both {
    ($name:ident, $scenario:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn in_process_client() {
                let (client, _guard) = in_process().await;
                $scenario(client).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn http_client() {
                let (client, _guard) = over_http().await;
                $scenario(client).await;
            }
        }
    };
}

both!(crud, crud_cas_selectors_and_pages);
both!(status_and_finalizers, status_subresource_and_finalizers);
both!(watches, watch_transitions);
both!(controller, a_controller_with_a_finalizer);
