//! The control plane's controllers started together, sharing one informer per kind: the scheduler,
//! the ReplicaSet controller and the garbage collector watch pods and ReplicaSets through the same
//! caches (one copy of each object in memory, one watch per kind), and the node lifecycle controller
//! runs beside them. This is what `skiff up` runs.
//!
//! ```no_run
//! # async fn demo(client: std::sync::Arc<dyn skiff_core::client::Client>, shutdown: skiff_core::shutdown::Shutdown) {
//! use skiff_controllers::control_plane;
//! use skiff_controllers::node_lifecycle::NodeLifecycleConfig;
//! let tasks = control_plane::start(client, NodeLifecycleConfig::default(), shutdown);
//! # drop(tasks);
//! # }
//! ```

use std::sync::Arc;

use skiff_core::client::Client;
use skiff_core::informer::InformerFactory;
use skiff_core::kinds::{ConfigMap, Endpoints, Pod, ReplicaSet, Service};
use skiff_core::shutdown::Shutdown;
use tokio::task::JoinHandle;

use crate::gc::GarbageCollector;
use crate::node_lifecycle::{NodeLifecycle, NodeLifecycleConfig};
use crate::replicaset::ReplicaSetController;
use crate::scheduler::{Scheduler, SchedulerConfig};

/// Starts the scheduler, the ReplicaSet controller, the garbage collector and the node lifecycle
/// controller on `client` until `shutdown`; returns their tasks.
pub fn start(
    client: Arc<dyn Client>,
    lifecycle: NodeLifecycleConfig,
    shutdown: Shutdown,
) -> Vec<JoinHandle<()>> {
    let factory = InformerFactory::new(client.clone(), shutdown.clone());
    let pods = factory.informer::<Pod>();
    let sets = factory.informer::<ReplicaSet>();
    let scheduler = Scheduler::from_factory(&factory, SchedulerConfig::default());
    let replicasets = Arc::new(ReplicaSetController::with_informers(
        client.clone(),
        sets.clone(),
        pods.clone(),
    ));
    let gc = GarbageCollector::new(client.clone())
        .watch_informer(sets)
        .watch_informer(pods)
        .watch::<Service>()
        .watch::<Endpoints>()
        .watch::<ConfigMap>();
    vec![
        tokio::spawn(scheduler.run(shutdown.clone())),
        tokio::spawn(replicasets.run(shutdown.clone())),
        tokio::spawn(gc.run(shutdown.clone())),
        tokio::spawn(NodeLifecycle::new(client, lifecycle).run(shutdown)),
    ]
}
