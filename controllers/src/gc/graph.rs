//! The ownership graph the garbage collector works on: every watched object, by UID, with its owners.

use std::collections::HashMap;

use skiff_core::meta::OwnerReference;
use skiff_core::{ApiResource, Resource};

/// The `foregroundDeletion` finalizer: the owner waits until its blocking dependents are gone.
pub const FOREGROUND: &str = "foregroundDeletion";
/// The `orphan` finalizer: dependents lose their reference to the owner before the owner goes.
pub const ORPHAN: &str = "orphan";

/// What the collector knows about one object.
#[derive(Clone, Debug)]
pub struct GraphNode {
    /// The object's kind.
    pub resource: ApiResource,
    /// Namespace (namespaced kinds).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// UID.
    pub uid: String,
    /// resourceVersion seen (writes are conditional on it).
    pub resource_version: Option<String>,
    /// `metadata.ownerReferences`.
    pub owners: Vec<OwnerReference>,
    /// `metadata.finalizers`.
    pub finalizers: Vec<String>,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
}

impl GraphNode {
    /// The node of a typed object.
    pub fn of<K: Resource>(obj: &K) -> Self {
        let m = obj.meta();
        Self {
            resource: K::api_resource(),
            namespace: m.namespace.clone().filter(|n| !n.is_empty()),
            name: obj.name().to_string(),
            uid: m.uid.clone().unwrap_or_default(),
            resource_version: m.resource_version.clone(),
            owners: m.owner_references.clone(),
            finalizers: m.finalizers.clone(),
            deleting: m.deletion_timestamp.is_some(),
        }
    }

    /// True when the object carries `finalizer`.
    pub fn has_finalizer(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|f| f == finalizer)
    }

    /// `namespace/name` (or `name`), for logs.
    pub fn key(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// Every watched object, indexed by UID and by owner UID.
#[derive(Debug, Default)]
pub struct Graph {
    nodes: Vec<GraphNode>,
    by_uid: HashMap<String, usize>,
    dependents: HashMap<String, Vec<usize>>,
}

impl Graph {
    /// Builds the graph of `nodes`.
    pub fn new(nodes: Vec<GraphNode>) -> Self {
        let mut g = Self {
            nodes,
            ..Self::default()
        };
        for (i, n) in g.nodes.iter().enumerate() {
            g.by_uid.insert(n.uid.clone(), i);
            for r in &n.owners {
                g.dependents.entry(r.uid.clone()).or_default().push(i);
            }
        }
        g
    }

    /// Every object.
    pub fn nodes(&self) -> &[GraphNode] {
        &self.nodes
    }

    /// The object with this UID, if watched and present.
    pub fn get(&self, uid: &str) -> Option<&GraphNode> {
        self.by_uid.get(uid).map(|&i| &self.nodes[i])
    }

    /// The objects that name `uid` among their owners.
    pub fn dependents(&self, uid: &str) -> Vec<&GraphNode> {
        self.dependents
            .get(uid)
            .map(|v| v.iter().map(|&i| &self.nodes[i]).collect())
            .unwrap_or_default()
    }
}
