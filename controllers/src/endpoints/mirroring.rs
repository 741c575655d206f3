//! The EndpointSlice mirroring controller: a Service without a selector has the Endpoints its user
//! writes by hand, and the proxy and DNS read EndpointSlices, so this controller copies each such
//! Endpoints object into slices, as Kubernetes' `endpointslicemirroring-controller` does.
//!
//! One sync of an Endpoints object (keyed like its Service, `<namespace>/<name>`):
//!
//! ```text
//! mirrored when: its Service exists, has no selector, is not ExternalName,
//!                and the Endpoints lacks endpointslice.kubernetes.io/skip-mirror=true
//! each subset ── addresses          → endpoints with ready=true
//!            └── notReadyAddresses  → endpoints with ready=false
//!                 grouped by the subset's ports and by address type (IPv4 / IPv6), <= 100 a slice,
//!                 at most 1000 addresses mirrored per Endpoints
//! labels: the Endpoints' own + kubernetes.io/service-name=<name>
//!         + endpointslice.kubernetes.io/managed-by=endpointslicemirroring-controller.k8s.io
//! owner:  the Endpoints object (its slices go with it)
//! otherwise (no Service, a selector, skip-mirror): its mirrored slices are deleted
//! ```
//!
//! Slices are planned by the EndpointSlice controller's [`plan_set`], so churn is as small: a change
//! of one address rewrites one slice. The API server's own `kubernetes` Endpoints carries
//! `skip-mirror` (it writes that Service's slice itself).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use skiff_core::client::{Api, Client, ClientError};
use skiff_core::controller::{Action, Context, Controller, ObjectRef, Reconciler};
use skiff_core::informer::{cache_key, Informer};
use skiff_core::kinds::{
    Endpoint, EndpointConditions, EndpointSlice, EndpointSlicePort, Endpoints, Service,
    MANAGED_BY_LABEL, SERVICE_NAME_LABEL,
};
use skiff_core::meta::OwnerReference;
use skiff_core::shutdown::Shutdown;
use skiff_core::Resource;

use super::slices::{apply, plan_set, Desired, Plan, SliceSet, Tracker, MAX_ENDPOINTS_PER_SLICE};

/// The `managed-by` value of mirrored slices.
pub const MIRRORING_CONTROLLER: &str = "endpointslicemirroring-controller.k8s.io";
/// The Endpoints label that turns mirroring off for it.
pub const SKIP_MIRROR_LABEL: &str = "endpointslice.kubernetes.io/skip-mirror";
/// Most addresses mirrored from one Endpoints (Kubernetes' `--mirroring-max-endpoints-per-subset`
/// bounds a subset; Skiff bounds the whole object, which a hand-written Endpoints rarely reaches).
pub const MAX_MIRRORED: usize = 1000;
/// Endpoints synced at once.
pub const WORKERS: usize = 2;

/// Name of the slice-cache index of mirrored slices on `<namespace>/<service>`.
pub const MIRROR_INDEX: &str = "mirrored-service";

/// The `<namespace>/<service>` a mirrored slice belongs to.
fn mirrored_service(s: &EndpointSlice) -> Vec<String> {
    let mirrored =
        s.metadata.labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MIRRORING_CONTROLLER);
    match (mirrored, s.service_name(), s.namespace()) {
        (true, Some(svc), Some(ns)) => vec![format!("{ns}/{svc}")],
        _ => Vec::new(),
    }
}

/// Whether `endpoints` is mirrored, given its Service (see the module docs).
pub fn wants_mirror(endpoints: &Endpoints, svc: Option<&Service>) -> bool {
    let skip = endpoints
        .metadata
        .labels
        .get(SKIP_MIRROR_LABEL)
        .map(String::as_str)
        == Some("true");
    match svc {
        Some(svc) => {
            !skip && svc.spec.selector.is_empty() && svc.spec.type_name() != "ExternalName"
        }
        None => false,
    }
}

/// The slice sets (one per address type) of `endpoints`, and what each should hold.
pub fn desired(endpoints: &Endpoints) -> Vec<(SliceSet, Desired)> {
    let mut labels: BTreeMap<String, String> = endpoints
        .metadata
        .labels
        .iter()
        .filter(|(k, _)| k.as_str() != SKIP_MIRROR_LABEL)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.insert(SERVICE_NAME_LABEL.into(), endpoints.name().to_string());
    labels.insert(MANAGED_BY_LABEL.into(), MIRRORING_CONTROLLER.into());
    let owner = OwnerReference {
        api_version: "v1".into(),
        kind: "Endpoints".into(),
        name: endpoints.name().to_string(),
        uid: endpoints.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let mut by_type: BTreeMap<&'static str, Desired> = BTreeMap::new();
    let mut mirrored = 0;
    for subset in &endpoints.subsets {
        let mut ports: Vec<EndpointSlicePort> = subset
            .ports
            .iter()
            .map(|p| EndpointSlicePort {
                name: Some(p.name.clone().unwrap_or_default()),
                protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                port: Some(p.port),
                app_protocol: p.app_protocol.clone(),
            })
            .collect();
        ports.sort();
        let all = subset
            .addresses
            .iter()
            .map(|a| (a, true))
            .chain(subset.not_ready_addresses.iter().map(|a| (a, false)));
        for (address, ready) in all {
            // An address that is no IP is not mirrored (the API server's validation refuses it).
            let Ok(ip) = address.ip.parse::<IpAddr>() else {
                continue;
            };
            if mirrored >= MAX_MIRRORED {
                break;
            }
            let kind = if ip.is_ipv4() { "IPv4" } else { "IPv6" };
            let endpoint = Endpoint {
                addresses: vec![address.ip.clone()],
                conditions: EndpointConditions {
                    ready: Some(ready),
                    ..EndpointConditions::default()
                },
                hostname: address.hostname.clone().filter(|h| !h.is_empty()),
                target_ref: address.target_ref.clone(),
                node_name: address.node_name.clone(),
                zone: None,
            };
            let at = by_type
                .entry(kind)
                .or_default()
                .entry(ports.clone())
                .or_default();
            // One address listed twice (ready and not): the first wins, as in Kubernetes.
            if !at.contains_key(&address.ip) {
                at.insert(address.ip.clone(), endpoint);
                mirrored += 1;
            }
        }
    }
    ["IPv4", "IPv6"]
        .into_iter()
        .map(|kind| {
            let set = SliceSet {
                prefix: endpoints.name().to_string(),
                namespace: endpoints.metadata.namespace.clone(),
                labels: labels.clone(),
                owner: owner.clone(),
                address_type: kind.into(),
                placeholder: false,
            };
            (set, by_type.remove(kind).unwrap_or_default())
        })
        .collect()
}

/// The writes that make `existing` (the mirrored slices of `endpoints`' Service) match it; with
/// `mirror` false, the deletion of them all.
pub fn plan(endpoints: &Endpoints, existing: &[Arc<EndpointSlice>], mirror: bool) -> Plan {
    if !mirror {
        return Plan {
            delete: existing.iter().map(|s| s.name().to_string()).collect(),
            ..Plan::default()
        };
    }
    let mut out = Plan::default();
    for (set, want) in desired(endpoints) {
        let of_type: Vec<Arc<EndpointSlice>> = existing
            .iter()
            .filter(|s| s.address_type == set.address_type)
            .cloned()
            .collect();
        let p = plan_set(&set, &of_type, &want, MAX_ENDPOINTS_PER_SLICE);
        out.create.extend(p.create);
        out.update.extend(p.update);
        out.delete.extend(p.delete);
    }
    // Slices of an address type the controller never writes are not its own to keep.
    out.delete.extend(
        existing
            .iter()
            .filter(|s| s.address_type != "IPv4" && s.address_type != "IPv6")
            .map(|s| s.name().to_string()),
    );
    out
}

/// The EndpointSlice mirroring controller. See the [module docs](self).
pub struct MirroringController {
    client: Arc<dyn Client>,
    endpoints: Arc<Informer<Endpoints>>,
    services: Arc<Informer<Service>>,
    slices: Arc<Informer<EndpointSlice>>,
    tracker: Tracker,
}

impl MirroringController {
    /// A controller over (possibly shared) informers; adds the [`MIRROR_INDEX`] to the slice cache.
    pub fn new(
        client: Arc<dyn Client>,
        endpoints: Arc<Informer<Endpoints>>,
        services: Arc<Informer<Service>>,
        slices: Arc<Informer<EndpointSlice>>,
    ) -> Self {
        slices.cache().add_index(MIRROR_INDEX, mirrored_service);
        Self {
            client,
            endpoints,
            services,
            slices,
            tracker: Tracker::default(),
        }
    }

    /// Runs with [`WORKERS`] workers until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown) {
        let by_name = |ns: Option<&str>, name: &str| vec![ObjectRef::new(ns, name)];
        Controller::new("endpointslicemirroring", self.endpoints.clone())
            .watches(self.services.clone(), move |svc: &Service| {
                by_name(svc.namespace(), svc.name())
            })
            .watches(self.slices.clone(), |s: &EndpointSlice| {
                mirrored_service(s)
                    .first()
                    .and_then(|k| k.split_once('/'))
                    .map(|(ns, name)| ObjectRef::new(Some(ns), name))
                    .into_iter()
                    .collect()
            })
            .concurrency(WORKERS)
            .run(self, shutdown)
            .await
    }

    /// Syncs the mirrored slices of one Endpoints object.
    pub async fn sync(&self, endpoints: &Endpoints) -> Result<Action, ClientError> {
        let key = cache_key(endpoints);
        let existing = self.slices.cache().by_index(MIRROR_INDEX, &key);
        if !self.tracker.is_current(&key, &existing) {
            return Ok(Action::requeue(Duration::from_millis(50)));
        }
        let svc = self.services.cache().get(&key);
        let mirror = wants_mirror(endpoints, svc.as_deref());
        let plan = plan(endpoints, &existing, mirror);
        if plan == Plan::default() {
            return Ok(Action::await_change());
        }
        let ns = endpoints.namespace().unwrap_or("default");
        let api: Api<EndpointSlice> = Api::namespaced(self.client.clone(), ns);
        let (writes, result) = apply(&api, &plan).await;
        self.tracker.record(&key, writes);
        result.map(|_| Action::await_change())
    }
}

#[async_trait]
impl Reconciler<Endpoints> for MirroringController {
    type Error = ClientError;

    async fn reconcile(
        &self,
        endpoints: Arc<Endpoints>,
        _ctx: &Context<Endpoints>,
    ) -> Result<Action, ClientError> {
        self.sync(&endpoints).await
    }

    /// The Endpoints is gone: its slices go with it (they are owned by it; the garbage collector
    /// deletes them).
    async fn cleanup(&self, ctx: &Context<Endpoints>) -> Result<Action, ClientError> {
        self.tracker.forget(&ctx.object_ref().cache_key());
        Ok(Action::await_change())
    }
}

#[cfg(test)]
mod tests {
    use super::super::slices::tests::apply as apply_all;
    use super::*;
    use skiff_core::kinds::{EndpointAddress, EndpointPort, EndpointSubset};

    fn endpoints(ready: &[&str], not_ready: &[&str]) -> Endpoints {
        let mut e = Endpoints::named("db");
        e.metadata.namespace = Some("default".into());
        e.metadata.uid = Some("ep-uid".into());
        e.metadata.labels.insert("team".into(), "data".into());
        let addr = |ip: &&str| EndpointAddress {
            ip: ip.to_string(),
            ..EndpointAddress::default()
        };
        e.subsets.push(EndpointSubset {
            addresses: ready.iter().map(addr).collect(),
            not_ready_addresses: not_ready.iter().map(addr).collect(),
            ports: vec![EndpointPort {
                name: Some("sql".into()),
                port: 5432,
                ..EndpointPort::default()
            }],
        });
        e
    }

    fn service(selector: bool) -> Service {
        let mut s = Service::named("db");
        s.metadata.namespace = Some("default".into());
        if selector {
            s.spec.selector.insert("app".into(), "db".into());
        }
        s
    }

    #[test]
    fn mirrored_only_for_selectorless_services_without_skip_mirror() {
        let e = endpoints(&["10.1.0.1"], &[]);
        assert!(wants_mirror(&e, Some(&service(false))));
        assert!(
            !wants_mirror(&e, Some(&service(true))),
            "the Endpoints controller's"
        );
        assert!(!wants_mirror(&e, None), "no Service");
        let mut skip = e.clone();
        skip.metadata
            .labels
            .insert(SKIP_MIRROR_LABEL.into(), "true".into());
        assert!(!wants_mirror(&skip, Some(&service(false))));
        let mut external = service(false);
        external.spec.type_ = Some("ExternalName".into());
        assert!(!wants_mirror(&e, Some(&external)));
    }

    #[test]
    fn addresses_become_endpoints_with_readiness_labels_and_owner() {
        let e = endpoints(&["10.1.0.1", "10.1.0.2"], &["10.1.0.3", "not-an-ip"]);
        let p = plan(&e, &[], true);
        assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (1, 0, 0));
        let s = &p.create[0];
        assert_eq!(s.address_type, "IPv4");
        assert_eq!(s.ports[0].port, Some(5432));
        assert_eq!(s.ports[0].protocol.as_deref(), Some("TCP"));
        let ready: Vec<(String, Option<bool>)> = s
            .endpoints
            .iter()
            .map(|x| (x.addresses[0].clone(), x.conditions.ready))
            .collect();
        assert_eq!(
            ready,
            [
                ("10.1.0.1".to_string(), Some(true)),
                ("10.1.0.2".to_string(), Some(true)),
                ("10.1.0.3".to_string(), Some(false))
            ]
        );
        assert_eq!(s.metadata.labels[SERVICE_NAME_LABEL], "db");
        assert_eq!(s.metadata.labels[MANAGED_BY_LABEL], MIRRORING_CONTROLLER);
        assert_eq!(s.metadata.labels["team"], "data");
        assert_eq!(s.metadata.owner_references[0].kind, "Endpoints");
        assert_eq!(s.metadata.owner_references[0].uid, "ep-uid");
        // Nothing changed: nothing written; one address more: one slice updated.
        let slices = apply_all(&[], &p);
        assert_eq!(plan(&e, &slices, true), Plan::default());
        let more = endpoints(&["10.1.0.1", "10.1.0.2", "10.1.0.4"], &["10.1.0.3"]);
        let p = plan(&more, &slices, true);
        assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (0, 1, 0));
        // No addresses: no placeholder, the slice goes; mirroring off: everything goes.
        let empty = endpoints(&[], &[]);
        assert_eq!(plan(&empty, &slices, true).delete.len(), 1);
        assert_eq!(plan(&e, &slices, false).delete.len(), 1);
    }

    #[test]
    fn address_types_get_their_own_slices_and_the_total_is_bounded() {
        let e = endpoints(&["10.1.0.1", "fd00::1"], &[]);
        let p = plan(&e, &[], true);
        let mut types: Vec<&str> = p.create.iter().map(|s| s.address_type.as_str()).collect();
        types.sort();
        assert_eq!(types, ["IPv4", "IPv6"]);
        let many: Vec<String> = (0..1500)
            .map(|i| format!("10.2.{}.{}", i / 250, i % 250 + 1))
            .collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let p = plan(&endpoints(&refs, &[]), &[], true);
        let total: usize = p.create.iter().map(|s| s.endpoints.len()).sum();
        assert_eq!(total, MAX_MIRRORED);
        assert!(p
            .create
            .iter()
            .all(|s| s.endpoints.len() <= MAX_ENDPOINTS_PER_SLICE));
    }
}
