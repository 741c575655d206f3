//! A control loop, narrated. Kubernetes' central idea — compare the desired state with the current state
//! and act on the difference, again and again — step by step, with a failure that backs off and recovers,
//! and a "crash" that the loop repairs.
//!
//! ```sh
//! cargo run --example control_loop
//! ```
//!
//! Desired state: a ReplicaSet asking for 3 pods. Current state: the pods it owns. The reconciler
//! observes both, diffs them, acts (create or delete pods), and tells the queue when to come back.
//! (Nothing runs these pods: the node agent does that in a full cluster. This is the controller's half.)

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use skiff::core::client::{Api, ClientError, DeleteParams, InProcessClient, ListParams};
use skiff::core::controller::{Action, Context, Controller, Reconciler};
use skiff::core::informer::Informer;
use skiff::core::kinds::{Container, Pod, ReplicaSet};
use skiff::core::meta::{ObjectMeta, OwnerReference};
use skiff::core::selector::LabelSelector;
use skiff::core::shutdown::Shutdown;
use skiff::core::store::MemoryStore;
use skiff::core::Resource;

#[derive(Debug, thiserror::Error)]
enum LoopError {
    #[error("the API is unavailable (simulated outage)")]
    Outage,
    #[error(transparent)]
    Client(#[from] ClientError),
}

struct ReplicaLoop {
    pods: Arc<Informer<Pod>>,
    outages_left: AtomicU32,
    started: Instant,
}

impl ReplicaLoop {
    fn say(&self, step: &str, text: impl AsRef<str>) {
        println!(
            "[{:>7.3}s] {step:<8} {}",
            self.started.elapsed().as_secs_f64(),
            text.as_ref()
        );
    }
}

#[async_trait]
impl Reconciler<ReplicaSet> for ReplicaLoop {
    type Error = LoopError;

    async fn reconcile(
        &self,
        rs: Arc<ReplicaSet>,
        ctx: &Context<ReplicaSet>,
    ) -> Result<Action, LoopError> {
        // 1. Observe: the desired state comes from the object, the current state from the informer cache.
        let desired = rs.spec.replicas.unwrap_or(1).max(0) as usize;
        let uid = rs.metadata.uid.clone().unwrap_or_default();
        let mut owned: Vec<Arc<Pod>> = self
            .pods
            .cache()
            .list()
            .into_iter()
            .filter(|p| p.metadata.controller_ref().is_some_and(|r| r.uid == uid))
            .collect();
        owned.sort_by(|a, b| a.name().cmp(b.name()));
        self.say(
            "observe",
            format!(
                "ReplicaSet {} wants {desired} pods; {} exist",
                rs.name(),
                owned.len()
            ),
        );

        // 2. Diff.
        if owned.len() == desired {
            self.say("diff", "desired == current: nothing to do");
            self.say("requeue", "await the next change (or a resync in 60 s)");
            return Ok(Action::requeue(Duration::from_secs(60)));
        }
        self.say(
            "diff",
            format!(
                "{} pod(s) {}",
                owned.len().abs_diff(desired),
                if owned.len() < desired {
                    "missing"
                } else {
                    "too many"
                }
            ),
        );

        // 3. Act.
        let pods: Api<Pod> =
            Api::namespaced(ctx.client().clone(), rs.namespace().unwrap_or("default"));
        if owned.len() < desired {
            if self.outages_left.load(Ordering::SeqCst) > 0 {
                self.outages_left.fetch_sub(1, Ordering::SeqCst);
                self.say(
                    "act",
                    format!(
                        "creating a pod FAILED (attempt {} in a row): the queue will back off",
                        ctx.retries() + 1
                    ),
                );
                return Err(LoopError::Outage);
            }
            for _ in owned.len()..desired {
                let pod = pods.create(&pod_for(&rs)).await?;
                self.say("act", format!("created pod {}", pod.name()));
            }
        } else {
            for extra in &owned[desired..] {
                pods.delete(extra.name(), &DeleteParams::default()).await?;
                self.say("act", format!("deleted pod {}", extra.name()));
            }
        }
        // 4. Requeue: the pod events this caused will bring us back; that next pass will find no difference.
        //    (If the next pass could run before the cache has seen all our creations, it would count too
        //    few pods and create extras. The real ReplicaSet controller guards against that with
        //    "expectations": it remembers what it created and waits to observe it. Kept out of this lesson.)
        self.say(
            "requeue",
            "done for now; the changes we made will trigger the next pass",
        );
        Ok(Action::await_change())
    }
}

fn pod_for(rs: &ReplicaSet) -> Pod {
    let mut spec = rs.spec.template.spec.clone();
    if spec.containers.is_empty() {
        spec.containers.push(Container::new("web", "nginx"));
    }
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", rs.name())),
            labels: rs.spec.template.metadata.labels.clone(),
            owner_references: vec![OwnerReference {
                api_version: ReplicaSet::api_version(),
                kind: ReplicaSet::KIND.into(),
                name: rs.name().into(),
                uid: rs.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }],
            ..ObjectMeta::default()
        },
        spec,
        ..Pod::default()
    }
}

async fn wait_for(pods: &Api<Pod>, want: usize) -> Result<(), Box<dyn std::error::Error>> {
    for _ in 0..1000 {
        if pods.list(&ListParams::default()).await?.items.len() == want {
            tokio::time::sleep(Duration::from_millis(50)).await; // let the loop report "nothing to do"
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err(format!("did not reach {want} pods").into())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = InProcessClient::shared(Arc::new(MemoryStore::new()));
    let pods_informer = Informer::new(Api::<Pod>::all(client.clone()));
    let reconciler = Arc::new(ReplicaLoop {
        pods: pods_informer.clone(),
        outages_left: AtomicU32::new(2),
        started: Instant::now(),
    });
    let (stop, shutdown) = Shutdown::new();
    let controller = Controller::for_api("replica-loop", Api::<ReplicaSet>::all(client.clone()))
        .owns(pods_informer);
    let running = tokio::spawn(controller.run(reconciler.clone(), shutdown));

    println!("== the user states the desired state: a ReplicaSet of 3 ==");
    let mut rs = ReplicaSet::named("web");
    rs.spec.replicas = Some(3);
    rs.spec.selector = LabelSelector::from_labels([("app".to_string(), "web".to_string())].into());
    rs.spec
        .template
        .metadata
        .labels
        .insert("app".into(), "web".into());
    Api::<ReplicaSet>::namespaced(client.clone(), "default")
        .create(&rs)
        .await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    wait_for(&pods, 3).await?;

    println!("\n== a pod dies: the current state drifts from the desired state ==");
    let victim = pods.list(&ListParams::default()).await?.items[0]
        .name()
        .to_string();
    pods.delete(&victim, &DeleteParams::default()).await?;
    println!("(deleted {victim})");
    wait_for(&pods, 3).await?;

    println!("\n== converged: 3 pods, as desired ==");
    stop.trigger();
    running.await?;
    Ok(())
}
