//! The control plane's controllers started together, sharing one informer per kind: the scheduler,
//! the ReplicaSet controller, the EndpointSlice, Endpoints and mirroring controllers, the service load balancer
//! and the garbage collector
//! watch pods, ReplicaSets and Services through the same caches (one copy of each object in memory,
//! one watch per kind), and the node lifecycle controller runs beside them. This is what `skiff up`
//! runs.
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
use skiff_core::kinds::{
    ConfigMap, EndpointSlice, Endpoints, Node, Pod, ReplicaSet, Secret, Service,
};
use skiff_core::shutdown::Shutdown;
use tokio::task::JoinHandle;

use crate::endpoints::legacy::EndpointsController;
use crate::endpoints::mirroring::MirroringController;
use crate::endpoints::slices::EndpointSliceController;
use crate::gc::GarbageCollector;
use crate::node_lifecycle::{NodeLifecycle, NodeLifecycleConfig};
use crate::replicaset::ReplicaSetController;
use crate::scheduler::{Scheduler, SchedulerConfig};
use crate::service_lb::ServiceLoadBalancer;

/// Starts the scheduler, the ReplicaSet, EndpointSlice, Endpoints and EndpointSlice mirroring
/// controllers, the garbage
/// collector and the node lifecycle controller on `client` until `shutdown`; returns their tasks.
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
    let services = factory.informer::<Service>();
    let endpoints = factory.informer::<Endpoints>();
    let slices = factory.informer::<EndpointSlice>();
    let slice_controller = Arc::new(EndpointSliceController::new(
        client.clone(),
        services.clone(),
        pods.clone(),
        slices.clone(),
    ));
    let endpoints_controller = Arc::new(EndpointsController::new(
        client.clone(),
        services.clone(),
        pods.clone(),
        endpoints.clone(),
    ));
    let mirroring = Arc::new(MirroringController::new(
        client.clone(),
        endpoints.clone(),
        services.clone(),
        slices.clone(),
    ));
    let load_balancer = Arc::new(ServiceLoadBalancer::new(
        client.clone(),
        services.clone(),
        factory.informer::<Node>(),
    ));
    let gc = GarbageCollector::new(client.clone())
        .watch_informer(sets)
        .watch_informer(pods)
        .watch_informer(services)
        .watch_informer(endpoints)
        .watch_informer(slices)
        .watch::<ConfigMap>()
        .watch::<Secret>();
    vec![
        tokio::spawn(slice_controller.run(shutdown.clone())),
        tokio::spawn(endpoints_controller.run(shutdown.clone())),
        tokio::spawn(mirroring.run(shutdown.clone())),
        tokio::spawn(load_balancer.run(shutdown.clone())),
        tokio::spawn(scheduler.run(shutdown.clone())),
        tokio::spawn(replicasets.run(shutdown.clone())),
        tokio::spawn(gc.run(shutdown.clone())),
        tokio::spawn(NodeLifecycle::new(client, lifecycle).run(shutdown)),
    ]
}
