//! The EndpointSlice controller: each Service with a selector gets EndpointSlices of at most 100
//! endpoints, one set of ports per slice, rewritten only where they changed.
//!
//! One sync of a Service ([`plan`] decides, the controller writes):
//!
//! ```text
//! desired: the Service's endpoints (see the parent module), grouped by their resolved ports
//! existing: the slices labelled kubernetes.io/service-name=<svc> and managed by this controller
//!   ├─ a slice whose ports are still wanted keeps the endpoints still desired (updated in place)
//!   ├─ new endpoints fill the slices of their ports that have room, then new slices of <= 100
//!   ├─ a slice left empty, or of ports nobody has any more, is deleted
//!   └─ a Service with no endpoints keeps one empty placeholder slice, as Kubernetes does
//! ```
//!
//! Minimal churn: a slice is written only when its endpoints, ports or labels differ, so one pod
//! becoming ready rewrites one slice. Slices are named `<service>-<random>` and owned by the Service
//! (the garbage collector deletes them with it).
//!
//! The cache may not show this controller's own last writes yet; a sync that would act on a stale
//! view waits for it (see [`Tracker`]), so a burst of pod changes never creates duplicate slices.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use skiff_core::client::{Api, Client, ClientError, DeleteParams};
use skiff_core::controller::{Action, Context, Controller, Reconciler};
use skiff_core::informer::{Informer, NAMESPACE_INDEX};
use skiff_core::kinds::{
    Endpoint, EndpointConditions, EndpointSlice, EndpointSlicePort, Pod, Service,
    MANAGED_BY_CONTROLLER, MANAGED_BY_LABEL, SERVICE_NAME_LABEL,
};
use skiff_core::meta::OwnerReference;
use skiff_core::shutdown::Shutdown;
use skiff_core::Resource;
use tokio::time::Instant;

use super::{copied_labels, endpoints_of, services_for_pod, PodEndpoint};

/// Most endpoints the controller puts in one slice (Kubernetes' `--max-endpoints-per-slice` default).
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;
/// Services synced at once.
pub const WORKERS: usize = 5;
/// How long a sync waits for the cache to show its own writes before it trusts the cache anyway.
const STALE_AFTER: Duration = Duration::from_secs(5);

/// Name of the slice-cache index on `<namespace>/<service>`.
pub const SERVICE_INDEX: &str = "service";

/// The sorted ports of a slice: what groups endpoints into slices.
type PortSet = Vec<EndpointSlicePort>;

fn port_set(ports: &[EndpointSlicePort]) -> PortSet {
    let mut p = ports.to_vec();
    p.sort();
    p
}

fn to_endpoint(e: &PodEndpoint) -> Endpoint {
    Endpoint {
        addresses: vec![e.ip.clone()],
        conditions: EndpointConditions {
            ready: Some(e.ready),
            serving: Some(e.serving),
            terminating: Some(e.terminating),
        },
        hostname: e.hostname.clone(),
        target_ref: Some(e.target_ref.clone()),
        node_name: e.node_name.clone(),
        zone: None,
    }
}

/// What one sync writes.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// New slices (named by `generateName`).
    pub create: Vec<EndpointSlice>,
    /// Changed slices (with the resourceVersion they were read at).
    pub update: Vec<EndpointSlice>,
    /// Names of slices to delete.
    pub delete: Vec<String>,
}

/// What every slice of one set carries (the set is one Service's slices for this controller, one
/// Endpoints object's for the mirroring controller): where and how new slices are made, which labels
/// and owner all of them have, and whether an empty set keeps a placeholder slice.
#[derive(Clone, Debug)]
pub struct SliceSet {
    /// New slices are named `<prefix>-<random>`.
    pub prefix: String,
    /// Their namespace.
    pub namespace: Option<String>,
    /// The labels every slice has (and gets back when they were changed).
    pub labels: BTreeMap<String, String>,
    /// Their owner (the garbage collector deletes them with it).
    pub owner: OwnerReference,
    /// `IPv4` or `IPv6`.
    pub address_type: String,
    /// Whether a set without endpoints keeps one empty slice (a Service's does).
    pub placeholder: bool,
}

impl SliceSet {
    /// The set of `svc`'s slices written by this controller.
    pub fn for_service(svc: &Service) -> Self {
        Self {
            prefix: svc.name().to_string(),
            namespace: svc.metadata.namespace.clone(),
            labels: desired_labels(svc),
            owner: owner(svc),
            address_type: "IPv4".into(),
            placeholder: true,
        }
    }

    /// A new slice of this set for `ports` holding `endpoints` (no name yet).
    fn new_slice(&self, ports: &PortSet, endpoints: Vec<Endpoint>) -> EndpointSlice {
        let mut s = EndpointSlice::default();
        s.metadata.generate_name = Some(format!("{}-", self.prefix));
        s.metadata.namespace = self.namespace.clone();
        s.metadata.labels = self.labels.clone();
        s.metadata.owner_references = vec![self.owner.clone()];
        s.address_type = self.address_type.clone();
        s.endpoints = endpoints;
        s.ports = ports.clone();
        s
    }
}

fn desired_labels(svc: &Service) -> BTreeMap<String, String> {
    let mut labels = copied_labels(svc);
    labels.insert(SERVICE_NAME_LABEL.into(), svc.name().to_string());
    labels.insert(MANAGED_BY_LABEL.into(), MANAGED_BY_CONTROLLER.into());
    labels
}

fn owner(svc: &Service) -> OwnerReference {
    OwnerReference {
        api_version: "v1".into(),
        kind: "Service".into(),
        name: svc.name().to_string(),
        uid: svc.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Decides the writes that turn `existing` (the Service's managed slices) into slices of
/// `endpoints`, at most `max` per slice (see the module docs).
pub fn plan(
    svc: &Service,
    existing: &[Arc<EndpointSlice>],
    endpoints: &[PodEndpoint],
    max: usize,
) -> Plan {
    let mut desired: Desired = BTreeMap::new();
    for e in endpoints {
        desired
            .entry(port_set(&e.ports))
            .or_default()
            .insert(e.ip.clone(), to_endpoint(e));
    }
    plan_set(&SliceSet::for_service(svc), existing, &desired, max)
}

/// The endpoints a set should hold: by port set, then by address.
pub type Desired = BTreeMap<Vec<EndpointSlicePort>, BTreeMap<String, Endpoint>>;

/// Decides the writes that turn `existing` (the slices of `set`) into slices holding `desired`, at
/// most `max` endpoints each, touching as few slices as it can (see the module docs).
pub fn plan_set(
    set: &SliceSet,
    existing: &[Arc<EndpointSlice>],
    desired: &Desired,
    max: usize,
) -> Plan {
    let labels = set.labels.clone();
    let mut plan = Plan::default();
    // Slices kept, by port set, with their new endpoints.
    let mut kept: BTreeMap<PortSet, Vec<EndpointSlice>> = BTreeMap::new();
    let mut placed: BTreeSet<(PortSet, String)> = BTreeSet::new();
    let mut sorted: Vec<&Arc<EndpointSlice>> = existing.iter().collect();
    sorted.sort_by(|a, b| a.name().cmp(b.name()));
    for slice in sorted {
        let ports = port_set(&slice.ports);
        let Some(want) = desired.get(&ports) else {
            plan.delete.push(slice.name().to_string());
            continue;
        };
        let mut next = (**slice).clone();
        next.endpoints = slice
            .endpoints
            .iter()
            .filter_map(|e| {
                let ip = e.addresses.first()?;
                if placed.contains(&(ports.clone(), ip.clone())) {
                    return None;
                }
                let d = want.get(ip)?;
                placed.insert((ports.clone(), ip.clone()));
                Some(d.clone())
            })
            .take(max)
            .collect();
        next.metadata.labels = labels.clone();
        if next.endpoints.is_empty() {
            plan.delete.push(slice.name().to_string());
            continue;
        }
        kept.entry(ports).or_default().push(next);
    }
    for (ports, want) in desired {
        let slices = kept.entry(ports.clone()).or_default();
        let mut fresh: Vec<Endpoint> = want
            .iter()
            .filter(|(ip, _)| !placed.contains(&(ports.clone(), (*ip).clone())))
            .map(|(_, e)| e.clone())
            .collect();
        for s in slices.iter_mut() {
            let room = max.saturating_sub(s.endpoints.len());
            let n = room.min(fresh.len());
            s.endpoints.extend(fresh.drain(..n));
        }
        for chunk in fresh.chunks(max) {
            plan.create.push(set.new_slice(ports, chunk.to_vec()));
        }
    }
    for (_, slices) in kept {
        for s in slices {
            let before = existing.iter().find(|e| e.name() == s.name());
            if before.is_none_or(|b| **b != s) {
                plan.update.push(s);
            }
        }
    }
    // A Service without endpoints keeps one empty slice.
    let remaining = existing.len() - plan.delete.len() + plan.create.len();
    if remaining == 0 && set.placeholder {
        let placeholder = plan.delete.iter().position(|name| {
            existing
                .iter()
                .any(|e| e.name() == name && e.endpoints.is_empty() && e.ports.is_empty())
        });
        match placeholder {
            Some(i) => {
                let name = plan.delete.remove(i);
                if let Some(e) = existing.iter().find(|e| e.name() == name) {
                    if e.metadata.labels != labels {
                        let mut s = (**e).clone();
                        s.metadata.labels = labels;
                        plan.update.push(s);
                    }
                }
            }
            None => plan.create.push(set.new_slice(&Vec::new(), Vec::new())),
        }
    }
    plan
}

/// The resourceVersion each slice was written at (`None`: deleted).
pub(super) type Writes = HashMap<String, Option<u64>>;

/// What the controller last wrote per Service (and when), until the cache shows it.
#[derive(Default)]
pub struct Tracker(Mutex<HashMap<String, (Instant, Writes)>>);

impl Tracker {
    fn rv(s: &EndpointSlice) -> u64 {
        s.metadata
            .resource_version
            .as_deref()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Whether `slices` (the cache's view of `svc`'s slices) show every write recorded for it.
    pub(super) fn is_current(&self, svc: &str, slices: &[Arc<EndpointSlice>]) -> bool {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let Some((at, writes)) = map.get(svc) else {
            return true;
        };
        let current = at.elapsed() > STALE_AFTER
            || writes.iter().all(|(name, rv)| {
                let seen = slices.iter().find(|s| s.name() == name);
                match (rv, seen) {
                    (Some(rv), Some(s)) => Self::rv(s) >= *rv,
                    (Some(_), None) => false,
                    (None, seen) => seen.is_none(),
                }
            });
        if current {
            map.remove(svc);
        }
        current
    }

    pub(super) fn record(&self, svc: &str, writes: Writes) {
        if !writes.is_empty() {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(svc.to_string(), (Instant::now(), writes));
        }
    }

    pub(super) fn forget(&self, svc: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(svc);
    }
}

/// Carries out `plan` through `api`: what was written (for the [`Tracker`]) and the last error.
pub(super) async fn apply(
    api: &Api<EndpointSlice>,
    plan: &Plan,
) -> (Writes, Result<(), ClientError>) {
    let mut writes = HashMap::new();
    let mut result = Ok(());
    for name in &plan.delete {
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => {
                writes.insert(name.clone(), None);
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => result = Err(e),
        }
    }
    for s in &plan.update {
        match api.replace(s.name(), s).await {
            Ok(w) => {
                writes.insert(w.name().to_string(), Some(Tracker::rv(&w)));
            }
            Err(e) => result = Err(e),
        }
    }
    for s in &plan.create {
        match api.create(s).await {
            Ok(w) => {
                writes.insert(w.name().to_string(), Some(Tracker::rv(&w)));
            }
            Err(e) => result = Err(e),
        }
    }
    (writes, result)
}

/// The EndpointSlice controller.
pub struct EndpointSliceController {
    client: Arc<dyn Client>,
    services: Arc<Informer<Service>>,
    pods: Arc<Informer<Pod>>,
    slices: Arc<Informer<EndpointSlice>>,
    tracker: Tracker,
    max_per_slice: usize,
}

/// The `<namespace>/<service>` a managed slice belongs to.
fn slice_service(s: &EndpointSlice) -> Vec<String> {
    let managed =
        s.metadata.labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY_CONTROLLER);
    match (managed, s.service_name(), s.namespace()) {
        (true, Some(svc), Some(ns)) => vec![format!("{ns}/{svc}")],
        _ => Vec::new(),
    }
}

impl EndpointSliceController {
    /// A controller over (possibly shared) informers; adds the [`SERVICE_INDEX`] to the slice cache.
    pub fn new(
        client: Arc<dyn Client>,
        services: Arc<Informer<Service>>,
        pods: Arc<Informer<Pod>>,
        slices: Arc<Informer<EndpointSlice>>,
    ) -> Self {
        slices.cache().add_index(SERVICE_INDEX, slice_service);
        Self {
            client,
            services,
            pods,
            slices,
            tracker: Tracker::default(),
            max_per_slice: MAX_ENDPOINTS_PER_SLICE,
        }
    }

    /// Sets the most endpoints per slice (default [`MAX_ENDPOINTS_PER_SLICE`]).
    pub fn max_endpoints_per_slice(mut self, max: usize) -> Self {
        self.max_per_slice = max.max(1);
        self
    }

    /// Runs with [`WORKERS`] workers until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown) {
        let services = self.services.cache();
        let slices = self.slices.clone();
        Controller::new("endpointslice", self.services.clone())
            .watches(self.pods.clone(), move |pod: &Pod| {
                services_for_pod(&services, pod)
            })
            .watches(slices, |s: &EndpointSlice| {
                slice_service(s)
                    .first()
                    .and_then(|k| k.split_once('/'))
                    .map(|(ns, name)| skiff_core::controller::ObjectRef::new(Some(ns), name))
                    .into_iter()
                    .collect()
            })
            .concurrency(WORKERS)
            .run(self, shutdown)
            .await
    }

    /// Syncs one Service's slices.
    pub async fn sync(&self, svc: &Service) -> Result<Action, ClientError> {
        let key = skiff_core::informer::cache_key(svc);
        if svc.spec.selector.is_empty() {
            return Ok(Action::await_change());
        }
        let existing = self.slices.cache().by_index(SERVICE_INDEX, &key);
        if !self.tracker.is_current(&key, &existing) {
            return Ok(Action::requeue(Duration::from_millis(50)));
        }
        let ns = svc.namespace().unwrap_or("default");
        let api: Api<EndpointSlice> = Api::namespaced(self.client.clone(), ns);
        let plan = if svc.spec.type_name() == "ExternalName" {
            Plan {
                delete: existing.iter().map(|s| s.name().to_string()).collect(),
                ..Plan::default()
            }
        } else {
            let pods = self.pods.cache().by_index(NAMESPACE_INDEX, ns);
            let endpoints = endpoints_of(svc, &pods, true);
            plan(svc, &existing, &endpoints, self.max_per_slice)
        };
        let (writes, result) = apply(&api, &plan).await;
        self.tracker.record(&key, writes);
        result.map(|_| Action::await_change())
    }
}

#[async_trait]
impl Reconciler<Service> for EndpointSliceController {
    type Error = ClientError;

    async fn reconcile(
        &self,
        svc: Arc<Service>,
        _ctx: &Context<Service>,
    ) -> Result<Action, ClientError> {
        self.sync(&svc).await
    }

    /// The slices go with the Service (the garbage collector deletes them: they are owned).
    async fn cleanup(&self, ctx: &Context<Service>) -> Result<Action, ClientError> {
        self.tracker.forget(&ctx.object_ref().cache_key());
        Ok(Action::await_change())
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::tests::{pod, service};
    use super::*;
    use skiff_core::IntOrString;

    fn eps(svc: &Service, n: usize, ready: bool) -> Vec<PodEndpoint> {
        let pods: Vec<Arc<Pod>> = (0..n)
            .map(|i| {
                Arc::new(pod(
                    &format!("p{i}"),
                    &format!("10.0.{}.{}", i / 250, i % 250 + 1),
                    ready,
                ))
            })
            .collect();
        endpoints_of(svc, &pods, true)
    }

    /// The slices `plan` leaves, as if every write succeeded.
    pub(in crate::endpoints) fn apply(
        existing: &[Arc<EndpointSlice>],
        plan: &Plan,
    ) -> Vec<Arc<EndpointSlice>> {
        let mut out: Vec<Arc<EndpointSlice>> = existing
            .iter()
            .filter(|s| !plan.delete.contains(&s.name().to_string()))
            .map(|s| {
                plan.update
                    .iter()
                    .find(|u| u.name() == s.name())
                    .map(|u| Arc::new(u.clone()))
                    .unwrap_or_else(|| s.clone())
            })
            .collect();
        for (i, c) in plan.create.iter().enumerate() {
            let mut c = c.clone();
            c.metadata.name = Some(format!("web-{}{i}", out.len()));
            out.push(Arc::new(c));
        }
        out
    }

    #[test]
    fn slices_hold_at_most_the_maximum_and_one_change_touches_one_slice() {
        let svc = service(IntOrString::Int(8080));
        let all = eps(&svc, 250, true);
        let p = plan(&svc, &[], &all, 100);
        assert_eq!(p.create.len(), 3);
        assert_eq!(
            p.create
                .iter()
                .map(|s| s.endpoints.len())
                .collect::<Vec<_>>(),
            vec![100, 100, 50]
        );
        let labels = &p.create[0].metadata.labels;
        assert_eq!(labels[SERVICE_NAME_LABEL], "web");
        assert_eq!(labels[MANAGED_BY_LABEL], MANAGED_BY_CONTROLLER);
        assert_eq!(p.create[0].metadata.owner_references[0].kind, "Service");
        let slices = apply(&[], &p);
        // Nothing changed: nothing written.
        assert_eq!(plan(&svc, &slices, &all, 100), Plan::default());
        // One pod stops being ready: one slice rewritten.
        let mut changed = all.clone();
        changed[7].ready = false;
        changed[7].serving = false;
        let p = plan(&svc, &slices, &changed, 100);
        assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (0, 1, 0));
        // One more pod: it goes where there is room.
        let more = eps(&svc, 251, true);
        let p = plan(&svc, &slices, &more, 100);
        assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (0, 1, 0));
        assert_eq!(p.update[0].endpoints.len(), 51);
    }

    #[test]
    fn no_endpoints_leave_one_placeholder_and_ports_group_slices() {
        let svc = service(IntOrString::String("http".into()));
        let p = plan(&svc, &[], &[], 100);
        assert_eq!(p.create.len(), 1);
        assert!(p.create[0].endpoints.is_empty() && p.create[0].ports.is_empty());
        let placeholder = apply(&[], &p);
        assert_eq!(plan(&svc, &placeholder, &[], 100), Plan::default());
        // Pods arrive: the placeholder goes, a slice with ports comes.
        let all = eps(&svc, 2, true);
        let p = plan(&svc, &placeholder, &all, 100);
        assert_eq!((p.create.len(), p.delete.len()), (1, 1));
        // A pod whose named port is another number lands in a slice of its own.
        let mut pods: Vec<Arc<Pod>> = vec![Arc::new(pod("a", "10.0.0.1", true))];
        let mut b = pod("b", "10.0.0.2", true);
        b.spec.containers[0].ports[0].container_port = 9090;
        pods.push(Arc::new(b));
        let p = plan(&svc, &[], &endpoints_of(&svc, &pods, true), 100);
        assert_eq!(p.create.len(), 2);
        assert_ne!(p.create[0].ports, p.create[1].ports);
    }
}
