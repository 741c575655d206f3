//! The Endpoints controller: one core/v1 Endpoints per Service with a selector, named like it.
//!
//! Ready pods' addresses go to `addresses`, the others to `notReadyAddresses` (all to `addresses`
//! with `publishNotReadyAddresses`); terminating pods are left out unless the Service publishes
//! not-ready addresses. Addresses that share resolved ports share a subset, sorted by IP. Past 1,000
//! addresses the object is truncated (ready addresses kept first) and annotated
//! `endpoints.kubernetes.io/over-capacity: truncated`, as Kubernetes does. The Endpoints of a deleted
//! Service are deleted ([`Reconciler::cleanup`]); so are leftovers found at start.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use skiff_core::client::{Api, Client, ClientError, DeleteParams};
use skiff_core::controller::{Action, Context, Controller, ObjectRef, Reconciler};
use skiff_core::informer::{cache_key, Informer, NAMESPACE_INDEX};
use skiff_core::kinds::{EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Pod, Service};
use skiff_core::shutdown::Shutdown;
use skiff_core::Resource;

use super::{copied_labels, endpoints_of, services_for_pod, PodEndpoint};

/// Most addresses one Endpoints holds.
pub const MAX_ADDRESSES: usize = 1000;
/// The annotation on a truncated Endpoints.
pub const OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
/// Services synced at once.
pub const WORKERS: usize = 5;
/// The label that marks Endpoints used as a leader-election lock (never deleted as leftovers).
const LEADER_ANNOTATION: &str = "control-plane.alpha.kubernetes.io/leader";

fn address(e: &PodEndpoint) -> EndpointAddress {
    EndpointAddress {
        ip: e.ip.clone(),
        hostname: e.hostname.clone(),
        node_name: e.node_name.clone(),
        target_ref: Some(e.target_ref.clone()),
    }
}

fn ports_of(e: &PodEndpoint) -> Vec<EndpointPort> {
    let mut ports: Vec<EndpointPort> = e
        .ports
        .iter()
        .map(|p| EndpointPort {
            name: p.name.clone().filter(|n| !n.is_empty()),
            port: p.port.unwrap_or(0),
            protocol: p.protocol.clone(),
            app_protocol: p.app_protocol.clone(),
        })
        .collect();
    ports.sort_by(|a, b| a.name.cmp(&b.name).then(a.port.cmp(&b.port)));
    ports
}

/// The subsets of `endpoints` (at most [`MAX_ADDRESSES`] addresses, ready ones first) and whether
/// some were left out.
pub fn subsets(endpoints: &[PodEndpoint]) -> (Vec<EndpointSubset>, bool) {
    let mut ordered: Vec<&PodEndpoint> = endpoints.iter().filter(|e| !e.ports.is_empty()).collect();
    ordered.sort_by_key(|e| !e.ready);
    let truncated = ordered.len() > MAX_ADDRESSES;
    ordered.truncate(MAX_ADDRESSES);
    let mut by_ports: BTreeMap<String, EndpointSubset> = BTreeMap::new();
    for e in ordered {
        let ports = ports_of(e);
        let key = serde_json::to_string(&ports).unwrap_or_default();
        let subset = by_ports.entry(key).or_insert_with(|| EndpointSubset {
            ports,
            ..EndpointSubset::default()
        });
        if e.ready {
            subset.addresses.push(address(e));
        } else {
            subset.not_ready_addresses.push(address(e));
        }
    }
    let mut out: Vec<EndpointSubset> = by_ports.into_values().collect();
    for s in &mut out {
        s.addresses.sort_by(|a, b| a.ip.cmp(&b.ip));
        s.not_ready_addresses.sort_by(|a, b| a.ip.cmp(&b.ip));
    }
    (out, truncated)
}

/// The Endpoints controller.
pub struct EndpointsController {
    client: Arc<dyn Client>,
    services: Arc<Informer<Service>>,
    pods: Arc<Informer<Pod>>,
    endpoints: Arc<Informer<Endpoints>>,
}

impl EndpointsController {
    /// A controller over (possibly shared) informers.
    pub fn new(
        client: Arc<dyn Client>,
        services: Arc<Informer<Service>>,
        pods: Arc<Informer<Pod>>,
        endpoints: Arc<Informer<Endpoints>>,
    ) -> Self {
        Self {
            client,
            services,
            pods,
            endpoints,
        }
    }

    /// Runs with [`WORKERS`] workers until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown) {
        let services = self.services.cache();
        Controller::new("endpoints", self.services.clone())
            .watches(self.pods.clone(), move |pod: &Pod| {
                services_for_pod(&services, pod)
            })
            // Every Endpoints wakes its Service's key: leftovers of Services deleted while the
            // controller was down are cleaned up at start.
            .watches(self.endpoints.clone(), |ep: &Endpoints| {
                vec![ObjectRef::from_obj(ep)]
            })
            .concurrency(WORKERS)
            .run(self, shutdown)
            .await
    }

    /// Syncs one Service's Endpoints.
    pub async fn sync(&self, svc: &Service) -> Result<Action, ClientError> {
        if svc.spec.selector.is_empty() {
            return Ok(Action::await_change());
        }
        let ns = svc.namespace().unwrap_or("default");
        let api: Api<Endpoints> = Api::namespaced(self.client.clone(), ns);
        let current = self.endpoints.cache().get(&cache_key(svc));
        if svc.spec.type_name() == "ExternalName" {
            if current.is_some() {
                match api.delete(svc.name(), &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
            return Ok(Action::await_change());
        }
        let publish = svc.spec.publish_not_ready_addresses == Some(true);
        let pods = self.pods.cache().by_index(NAMESPACE_INDEX, ns);
        let (subsets, truncated) = subsets(&endpoints_of(svc, &pods, publish));
        let mut want = match &current {
            Some(c) => (**c).clone(),
            None => {
                let mut e = Endpoints::named(svc.name());
                e.metadata.namespace = Some(ns.to_string());
                e
            }
        };
        want.subsets = subsets;
        want.metadata.labels = copied_labels(svc);
        if truncated {
            want.metadata
                .annotations
                .insert(OVER_CAPACITY.into(), "truncated".into());
        } else {
            want.metadata.annotations.remove(OVER_CAPACITY);
        }
        match current {
            Some(c) if *c == want => {}
            Some(_) => {
                api.replace(svc.name(), &want).await?;
            }
            None => match api.create(&want).await {
                Ok(_) => {}
                // Created meanwhile (the cache lags): the next event syncs it.
                Err(e) if e.is_already_exists() => {
                    return Ok(Action::requeue(std::time::Duration::from_millis(50)))
                }
                Err(e) => return Err(e),
            },
        }
        Ok(Action::await_change())
    }
}

#[async_trait]
impl Reconciler<Service> for EndpointsController {
    type Error = ClientError;

    async fn reconcile(
        &self,
        svc: Arc<Service>,
        _ctx: &Context<Service>,
    ) -> Result<Action, ClientError> {
        self.sync(&svc).await
    }

    /// The Service is gone: so go its Endpoints (unless they are a leader-election lock).
    async fn cleanup(&self, ctx: &Context<Service>) -> Result<Action, ClientError> {
        let key = ctx.object_ref();
        let Some(ep) = self.endpoints.cache().get(&key.cache_key()) else {
            return Ok(Action::await_change());
        };
        if ep.metadata.annotations.contains_key(LEADER_ANNOTATION) {
            return Ok(Action::await_change());
        }
        let api: Api<Endpoints> =
            Api::namespaced(self.client.clone(), ep.namespace().unwrap_or("default"));
        match api.delete(ep.name(), &DeleteParams::default()).await {
            Ok(_) => Ok(Action::await_change()),
            Err(e) if e.is_not_found() => Ok(Action::await_change()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{pod, service};
    use super::*;
    use skiff_core::IntOrString;

    #[test]
    fn ready_and_not_ready_addresses_and_truncation() {
        let svc = service(IntOrString::Int(8080));
        let pods: Vec<Arc<Pod>> = vec![
            Arc::new(pod("b", "10.0.0.2", true)),
            Arc::new(pod("a", "10.0.0.1", true)),
            Arc::new(pod("c", "10.0.0.3", false)),
        ];
        let (packed, truncated) = subsets(&endpoints_of(&svc, &pods, false));
        assert!(!truncated);
        assert_eq!(packed.len(), 1);
        let ips: Vec<&str> = packed[0].addresses.iter().map(|a| a.ip.as_str()).collect();
        assert_eq!(ips, vec!["10.0.0.1", "10.0.0.2"]);
        assert_eq!(packed[0].not_ready_addresses[0].ip, "10.0.0.3");
        assert_eq!(packed[0].ports[0].port, 8080);
        let many: Vec<Arc<Pod>> = (0..1100)
            .map(|i| {
                Arc::new(pod(
                    &format!("p{i}"),
                    &format!("10.1.{}.{}", i / 200, i % 200 + 1),
                    i % 2 == 0,
                ))
            })
            .collect();
        let (packed, truncated) = subsets(&endpoints_of(&svc, &many, false));
        assert!(truncated);
        let ready: usize = packed.iter().map(|s| s.addresses.len()).sum();
        let unready: usize = packed.iter().map(|s| s.not_ready_addresses.len()).sum();
        assert_eq!((ready, unready), (550, 450));
    }
}
