//! The node lifecycle controller: notices nodes that stopped renewing their Lease, and evicts their pods.
//!
//! Every `period` (5 s) it looks at each Node and its Lease in `kube-node-lease`:
//! - a Lease not renewed for `grace` (40 s, Kubernetes' `node-monitor-grace-period`) makes the node's
//!   `Ready` condition `Unknown` (reason `NodeStatusUnknown`, "Kubelet stopped posting node status.") and
//!   adds the taints `node.kubernetes.io/unreachable` with effects `NoSchedule` and `NoExecute`;
//! - pods on a node tainted `NoExecute` longer than their toleration (`tolerationSeconds` of a matching
//!   toleration, else `eviction` = 300 s, the default Kubernetes' admission adds) are deleted — gracefully,
//!   so they show `Terminating` until the node's agent comes back and stops them; the ReplicaSet
//!   controller does not count them and creates replacements elsewhere;
//! - a node whose Lease is renewed again loses the taints; its agent reports `Ready` again.
//!
//! ```no_run
//! # async fn demo(client: std::sync::Arc<dyn skiff_core::client::Client>, shutdown: skiff_core::shutdown::Shutdown) {
//! use skiff_controllers::node_lifecycle::{NodeLifecycle, NodeLifecycleConfig};
//! NodeLifecycle::new(client, NodeLifecycleConfig::default()).run(shutdown).await;
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use skiff_core::client::{Api, Client, DeleteParams, ListParams, Patch};
use skiff_core::events::{EventType, Recorder};
use skiff_core::kinds::{Lease, Node, NodeCondition, ObjectReference, Pod, Taint};
use skiff_core::meta::Time;
use skiff_core::shutdown::Shutdown;

/// The taint of a node whose agent stopped reporting.
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";

/// Timings of the controller.
#[derive(Clone, Copy, Debug)]
pub struct NodeLifecycleConfig {
    /// How often nodes are checked (5 s).
    pub period: Duration,
    /// How long a Lease may go unrenewed before the node is Unknown (40 s).
    pub grace: Duration,
    /// How long pods without their own toleration stay on an unreachable node (300 s).
    pub eviction: Duration,
}

impl Default for NodeLifecycleConfig {
    fn default() -> Self {
        Self {
            period: Duration::from_secs(5),
            grace: Duration::from_secs(40),
            eviction: Duration::from_secs(300),
        }
    }
}

/// The controller. See the [module docs](self).
pub struct NodeLifecycle {
    client: Arc<dyn Client>,
    config: NodeLifecycleConfig,
    recorder: Recorder,
}

impl std::fmt::Debug for NodeLifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeLifecycle")
            .field("config", &self.config)
            .finish()
    }
}

/// How long a pod tolerates the unreachable `NoExecute` taint.
pub fn toleration_for(pod: &Pod, default: Duration) -> Option<Duration> {
    let tolerates = pod.spec.tolerations.iter().find(|t| {
        let key_ok = match (t.key.as_deref(), t.operator.as_deref()) {
            (None | Some(""), Some("Exists")) => true,
            (Some(k), _) => k == UNREACHABLE,
            _ => false,
        };
        let effect_ok = matches!(t.effect.as_deref(), None | Some("") | Some("NoExecute"));
        key_ok && effect_ok
    });
    match tolerates {
        // Tolerated for ever.
        Some(t) if t.toleration_seconds.is_none() => None,
        Some(t) => Some(Duration::from_secs(
            u64::try_from(t.toleration_seconds.unwrap_or(0)).unwrap_or(0),
        )),
        None => Some(default),
    }
}

impl NodeLifecycle {
    /// A controller over `client`.
    pub fn new(client: Arc<dyn Client>, config: NodeLifecycleConfig) -> Self {
        let recorder = Recorder::new(client.clone(), "node-controller", None);
        Self {
            client,
            config,
            recorder,
        }
    }

    /// Checks nodes every `period` until `shutdown`.
    pub async fn run(self, shutdown: Shutdown) {
        loop {
            if let Err(e) = self.check_all().await {
                tracing::warn!(error = %e, "node lifecycle check failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.period) => {}
                _ = shutdown.wait() => return,
            }
        }
    }

    /// One pass over every node.
    pub async fn check_all(&self) -> Result<(), skiff_core::client::ClientError> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let leases: Api<Lease> = Api::namespaced(self.client.clone(), "kube-node-lease");
        for node in nodes.list(&ListParams::default()).await?.items {
            let name = node.metadata.name.clone().unwrap_or_default();
            let renewed = leases
                .get_opt(&name)
                .await?
                .and_then(|l| l.spec.renew_time)
                .map(|t| t.0);
            // A node that never renewed a Lease gets its grace from its creation, as Kubernetes'
            // controller starts its probe clock when it first sees a node: a node just registered
            // has not had the time to write its first Lease yet.
            let silent = renewed
                .or(node.metadata.creation_timestamp.map(|t| t.0))
                .map(|t| (Utc::now() - t).to_std().unwrap_or_default())
                .unwrap_or(Duration::MAX);
            let tainted = node
                .spec
                .taints
                .iter()
                .find(|t| t.key == UNREACHABLE && t.effect == "NoExecute");
            if silent > self.config.grace {
                if tainted.is_none() {
                    self.mark_unreachable(&nodes, &node).await?;
                } else if let Some(since) = tainted.and_then(|t| t.time_added) {
                    self.evict(&name, (Utc::now() - since.0).to_std().unwrap_or_default())
                        .await?;
                }
            } else if tainted.is_some() {
                let taints: Vec<&Taint> = node
                    .spec
                    .taints
                    .iter()
                    .filter(|t| t.key != UNREACHABLE)
                    .collect();
                nodes
                    .patch(&name, &Patch::Merge(json!({"spec": {"taints": taints}})))
                    .await?;
                self.event(
                    &node,
                    EventType::Normal,
                    "NodeReachable",
                    &format!("Node {name} is renewing its lease again"),
                )
                .await;
            }
        }
        Ok(())
    }

    async fn event(&self, node: &Node, type_: EventType, reason: &str, message: &str) {
        let about = ObjectReference::to(node);
        let _ = self.recorder.publish(&about, type_, reason, message).await;
    }

    async fn mark_unreachable(
        &self,
        nodes: &Api<Node>,
        node: &Node,
    ) -> Result<(), skiff_core::client::ClientError> {
        let name = node.metadata.name.clone().unwrap_or_default();
        let now = Time::now();
        let mut conditions: Vec<NodeCondition> = node.status.clone().unwrap_or_default().conditions;
        match conditions.iter_mut().find(|c| c.type_ == "Ready") {
            Some(c) => {
                c.status = "Unknown".into();
                c.reason = Some("NodeStatusUnknown".into());
                c.message = Some("Kubelet stopped posting node status.".into());
                c.last_transition_time = Some(now);
            }
            // Kubernetes' words for a node whose agent never posted a status.
            None => conditions.push(NodeCondition {
                type_: "Ready".into(),
                status: "Unknown".into(),
                reason: Some("NodeStatusNeverUpdated".into()),
                message: Some("Kubelet never posted node status.".into()),
                last_transition_time: Some(now),
                last_heartbeat_time: None,
            }),
        }
        nodes
            .patch_status(
                &name,
                &Patch::Merge(json!({"status": {"conditions": conditions}})),
            )
            .await?;
        let mut taints: Vec<Taint> = node
            .spec
            .taints
            .iter()
            .filter(|t| t.key != UNREACHABLE)
            .cloned()
            .collect();
        for effect in ["NoSchedule", "NoExecute"] {
            taints.push(Taint {
                key: UNREACHABLE.into(),
                value: None,
                effect: effect.into(),
                time_added: Some(now),
            });
        }
        nodes
            .patch(&name, &Patch::Merge(json!({"spec": {"taints": taints}})))
            .await?;
        self.event(
            node,
            EventType::Normal,
            "NodeNotReady",
            &format!("Node {name} status is now: NodeNotReady"),
        )
        .await;
        Ok(())
    }

    async fn evict(
        &self,
        node: &str,
        tainted_for: Duration,
    ) -> Result<(), skiff_core::client::ClientError> {
        let pods: Api<Pod> = Api::all(self.client.clone());
        let on_node = pods
            .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
            .await?;
        for pod in on_node.items {
            if pod.metadata.deletion_timestamp.is_some()
                || matches!(pod.phase(), "Succeeded" | "Failed")
            {
                continue;
            }
            let Some(allowed) = toleration_for(&pod, self.config.eviction) else {
                continue;
            };
            if tainted_for < allowed {
                continue;
            }
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            let name = pod.metadata.name.clone().unwrap_or_default();
            let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
            match api
                .delete(
                    &name,
                    &DeleteParams {
                        precondition_uid: pod.metadata.uid.clone(),
                        ..DeleteParams::default()
                    },
                )
                .await
            {
                Ok(_) => {
                    let about = ObjectReference::to(&pod);
                    let _ = self
                        .recorder
                        .publish(
                            &about,
                            EventType::Normal,
                            "TaintManagerEviction",
                            &format!("Marking for deletion Pod {ns}/{name}"),
                        )
                        .await;
                }
                Err(e) if e.is_not_found() || e.is_conflict() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use skiff_core::client::InProcessClient;
    use skiff_core::kinds::{Container, Toleration};
    use skiff_core::meta::MicroTime;
    use skiff_core::store::MemoryStore;

    async fn node_with_lease(client: &Arc<dyn Client>, name: &str, renewed_secs_ago: i64) {
        let nodes: Api<Node> = Api::all(client.clone());
        let mut node = Node::named(name);
        node.status = Some(skiff_core::kinds::NodeStatus {
            conditions: vec![NodeCondition {
                type_: "Ready".into(),
                status: "True".into(),
                ..NodeCondition::default()
            }],
            ..Default::default()
        });
        nodes.create(&node).await.unwrap();
        nodes
            .patch_status(name, &Patch::Merge(json!({"status": node.status})))
            .await
            .unwrap();
        let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
        let mut lease = Lease::named(name);
        lease.metadata.namespace = Some("kube-node-lease".into());
        lease.spec.renew_time = Some(MicroTime(
            Utc::now() - chrono::Duration::seconds(renewed_secs_ago),
        ));
        leases.create(&lease).await.unwrap();
    }

    fn pod_on(name: &str, node: &str) -> Pod {
        let mut p = Pod::named(name);
        p.metadata.namespace = Some("default".into());
        p.spec.node_name = Some(node.into());
        p.spec.containers.push(Container::new("c", "sleep"));
        p
    }

    #[tokio::test]
    async fn a_silent_node_becomes_unknown_tainted_and_its_pods_are_evicted() {
        let client: Arc<dyn Client> = InProcessClient::shared(Arc::new(MemoryStore::new()));
        node_with_lease(&client, "alive", 1).await;
        node_with_lease(&client, "gone", 120).await;
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        pods.create(&pod_on("on-alive", "alive")).await.unwrap();
        pods.create(&pod_on("on-gone", "gone")).await.unwrap();
        let mut patient = pod_on("patient", "gone");
        patient.spec.tolerations.push(Toleration {
            key: Some(UNREACHABLE.into()),
            operator: Some("Exists".into()),
            effect: Some("NoExecute".into()),
            toleration_seconds: Some(3600),
            value: None,
        });
        pods.create(&patient).await.unwrap();
        let config = NodeLifecycleConfig {
            period: Duration::from_millis(10),
            grace: Duration::from_secs(40),
            eviction: Duration::ZERO,
        };
        let c = NodeLifecycle::new(client.clone(), config);
        c.check_all().await.unwrap();
        let nodes: Api<Node> = Api::all(client.clone());
        let gone = nodes.get("gone").await.unwrap();
        let ready = gone
            .status
            .unwrap()
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_deref()),
            ("Unknown", Some("NodeStatusUnknown"))
        );
        let effects: Vec<String> = gone
            .spec
            .taints
            .iter()
            .filter(|t| t.key == UNREACHABLE)
            .map(|t| t.effect.clone())
            .collect();
        assert_eq!(effects, ["NoSchedule", "NoExecute"]);
        assert!(nodes.get("alive").await.unwrap().spec.taints.is_empty());
        // The next pass evicts (eviction timeout 0 here): the pod goes Terminating, the tolerant one stays.
        c.check_all().await.unwrap();
        let evicted = pods.get("on-gone").await.unwrap();
        assert!(
            evicted.metadata.deletion_timestamp.is_some(),
            "graceful: Terminating until its node returns"
        );
        assert!(pods
            .get("patient")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_none());
        assert!(pods
            .get("on-alive")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_none());
        // The node renews its lease again: the taints go.
        let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
        leases
            .patch(
                "gone",
                &Patch::Merge(json!({"spec": {"renewTime": MicroTime::now()}})),
            )
            .await
            .unwrap();
        c.check_all().await.unwrap();
        assert!(nodes.get("gone").await.unwrap().spec.taints.is_empty());
    }

    #[tokio::test]
    async fn a_node_just_registered_gets_its_grace_and_a_silent_one_without_status_gets_ready_unknown(
    ) {
        let client: Arc<dyn Client> = InProcessClient::shared(Arc::new(MemoryStore::new()));
        let nodes: Api<Node> = Api::all(client.clone());
        // Registered, no status and no Lease yet (its agent is about to write them).
        nodes.create(&Node::named("fresh")).await.unwrap();
        // A Lease long stale and no status at all.
        nodes.create(&Node::named("mute")).await.unwrap();
        let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
        let mut lease = Lease::named("mute");
        lease.metadata.namespace = Some("kube-node-lease".into());
        lease.spec.renew_time = Some(MicroTime(Utc::now() - chrono::Duration::seconds(120)));
        leases.create(&lease).await.unwrap();
        let c = NodeLifecycle::new(client.clone(), NodeLifecycleConfig::default());
        c.check_all().await.unwrap();
        let fresh = nodes.get("fresh").await.unwrap();
        assert!(fresh.spec.taints.is_empty(), "{:?}", fresh.spec.taints);
        assert!(fresh.status.unwrap_or_default().conditions.is_empty());
        let mute = nodes.get("mute").await.unwrap();
        let ready: Vec<_> = mute
            .status
            .unwrap()
            .conditions
            .into_iter()
            .filter(|c| c.type_ == "Ready")
            .map(|c| (c.status, c.reason))
            .collect();
        assert_eq!(
            ready,
            [(
                "Unknown".to_string(),
                Some("NodeStatusNeverUpdated".to_string())
            )]
        );
    }

    #[test]
    fn tolerations_decide_how_long_a_pod_stays() {
        let mut pod = pod_on("p", "n");
        let default = Duration::from_secs(300);
        assert_eq!(toleration_for(&pod, default), Some(default));
        pod.spec.tolerations.push(Toleration {
            operator: Some("Exists".into()),
            ..Toleration::default()
        });
        assert_eq!(
            toleration_for(&pod, default),
            None,
            "tolerates everything for ever"
        );
        pod.spec.tolerations[0] = Toleration {
            key: Some(UNREACHABLE.into()),
            operator: Some("Exists".into()),
            effect: Some("NoExecute".into()),
            toleration_seconds: Some(5),
            value: None,
        };
        assert_eq!(toleration_for(&pod, default), Some(Duration::from_secs(5)));
    }
}
