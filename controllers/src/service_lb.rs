//! The service load balancer, as k3s's ServiceLB does it: a `type: LoadBalancer` Service gets the
//! addresses of the Ready nodes as `status.loadBalancer.ingress`, and every node's proxy forwards
//! those addresses at the Service's port to its endpoints (as kube-proxy does for load balancer
//! IPs). So `kubectl get svc` shows an EXTERNAL-IP and `curl http://<node>:<port>` answers, with no
//! cloud. A Service that stops being a LoadBalancer loses its ingress.
//!
//! ```text
//! Informer<Service> ──┐
//!                     ├─► reconcile(Service): want = Ready nodes' InternalIPs ─► patch status
//! Informer<Node> ─────┘   (a node change wakes every LoadBalancer Service)
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;
use skiff_core::client::{Api, Client, ClientError, Patch};
use skiff_core::controller::{Action, Context, Controller, ObjectRef, Reconciler};
use skiff_core::informer::Informer;
use skiff_core::kinds::{LoadBalancerIngress, Node, Service};
use skiff_core::shutdown::Shutdown;
use skiff_core::Resource;

/// The controller. See the [module docs](self).
pub struct ServiceLoadBalancer {
    client: Arc<dyn Client>,
    services: Arc<Informer<Service>>,
    nodes: Arc<Informer<Node>>,
}

/// The ingress points for `nodes`: the InternalIP of each Ready node, sorted.
pub fn ingress_for(nodes: &[Arc<Node>]) -> Vec<LoadBalancerIngress> {
    let mut ips: Vec<String> = nodes
        .iter()
        .filter_map(|n| n.status.as_ref())
        .filter(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
        .filter_map(|s| {
            s.addresses
                .iter()
                .find(|a| a.type_ == "InternalIP")
                .map(|a| a.address.clone())
        })
        .collect();
    ips.sort();
    ips.dedup();
    ips.into_iter()
        .map(|ip| LoadBalancerIngress {
            ip: Some(ip),
            hostname: None,
        })
        .collect()
}

impl ServiceLoadBalancer {
    /// A controller on shared informers.
    pub fn new(
        client: Arc<dyn Client>,
        services: Arc<Informer<Service>>,
        nodes: Arc<Informer<Node>>,
    ) -> Self {
        Self {
            client,
            services,
            nodes,
        }
    }

    /// Runs until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown) {
        let services = self.services.cache();
        Controller::new("service-lb", self.services.clone())
            .watches(self.nodes.clone(), move |_: &Node| {
                services
                    .list()
                    .iter()
                    .filter(|s| s.spec.type_name() == "LoadBalancer")
                    .map(|s| ObjectRef::from_obj(s.as_ref()))
                    .collect()
            })
            .run(self, shutdown)
            .await
    }
}

#[async_trait]
impl Reconciler<Service> for ServiceLoadBalancer {
    type Error = ClientError;

    async fn reconcile(
        &self,
        svc: Arc<Service>,
        _: &Context<Service>,
    ) -> Result<Action, ClientError> {
        let want = if svc.spec.type_name() == "LoadBalancer" {
            ingress_for(&self.nodes.cache().list())
        } else {
            Vec::new()
        };
        let have = svc
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .map(|l| l.ingress.clone())
            .unwrap_or_default();
        if want != have {
            let api: Api<Service> =
                Api::namespaced(self.client.clone(), svc.namespace().unwrap_or("default"));
            match api
                .patch_status(
                    svc.name(),
                    &Patch::Merge(json!({"status": {"loadBalancer": {"ingress": want}}})),
                )
                .await
            {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Action::await_change())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use skiff_core::kinds::{NodeAddress, NodeCondition, NodeStatus};

    fn node(ip: &str, ready: &str) -> Arc<Node> {
        let mut n = Node::named(ip);
        n.status = Some(NodeStatus {
            addresses: vec![NodeAddress {
                type_: "InternalIP".into(),
                address: ip.into(),
            }],
            conditions: vec![NodeCondition {
                type_: "Ready".into(),
                status: ready.into(),
                ..NodeCondition::default()
            }],
            ..NodeStatus::default()
        });
        Arc::new(n)
    }

    #[test]
    fn ready_nodes_are_the_ingress_points() {
        let nodes = [
            node("10.0.0.2", "True"),
            node("10.0.0.1", "True"),
            node("10.0.0.3", "Unknown"),
        ];
        let ips: Vec<_> = ingress_for(&nodes)
            .into_iter()
            .filter_map(|i| i.ip)
            .collect();
        assert_eq!(ips, ["10.0.0.1", "10.0.0.2"]);
    }
}
