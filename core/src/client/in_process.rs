//! `InProcessClient`: the client implemented directly over a store, in the caller's process.

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use serde_json::{Map, Value};

use super::filter::Filter;
use super::stored::{decode, desired, encode, key, meta, meta_mut, meta_str, parse_rv, stamp};
use super::{
    Client, ClientError, DeleteOutcome, DeleteParams, EventType, ListParams, Patch,
    PropagationPolicy, RawEvent, RawList, WatchParams,
};
use crate::meta::{StatusCause, StatusDetails, Time};
use crate::store::{
    resource_prefix, DryRunStore, EventKind, KeyValue, ListOptions, Store, StoreError,
};
use crate::{ApiResource, Scope};

/// How many times a write retries internally on a conflict it caused itself (patch, unconditional update).
const MAX_RETRIES: usize = 16;

/// The [`Client`] over a [`Store`], with the API server's bookkeeping of metadata. See the
/// [module docs](super).
pub struct InProcessClient {
    store: Arc<dyn Store>,
}

impl InProcessClient {
    /// A client over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// A client over `store`, ready to share between controllers (what [`Api`](super::Api) takes).
    pub fn shared(store: Arc<dyn Store>) -> Arc<dyn Client> {
        Arc::new(Self::new(store))
    }
}

fn invalid(res: &ApiResource, name: &str, field: &str, message: &str) -> ClientError {
    let status = crate::meta::Status::failure(
        422,
        "Invalid",
        format!(
            "{} {name:?} is invalid: {field}: {message}",
            res.qualified_kind()
        ),
    )
    .with_details(StatusDetails {
        name: Some(name.to_string()),
        group: Some(res.group.clone()).filter(|g| !g.is_empty()),
        kind: Some(res.kind.clone()),
        causes: vec![StatusCause {
            reason: Some("FieldValueInvalid".into()),
            message: Some(message.to_string()),
            field: Some(field.to_string()),
        }],
        ..StatusDetails::default()
    });
    ClientError::Api(Box::new(status))
}

/// The namespace a call is about: required for namespaced kinds, ignored for cluster-scoped ones.
fn scope_ns<'a>(res: &ApiResource, ns: Option<&'a str>) -> Result<Option<&'a str>, ClientError> {
    match (res.scope, ns.filter(|n| !n.is_empty())) {
        (Scope::Cluster, _) => Ok(None),
        (Scope::Namespaced, Some(ns)) => Ok(Some(ns)),
        (Scope::Namespaced, None) => Err(ClientError::bad_request(format!(
            "{} are namespaced: a namespace is required",
            res.plural
        ))),
    }
}

/// The grace period of a graceful pod deletion, or `None` when the pod goes at once (Kubernetes'
/// rules: not bound to a node, already finished, or a grace period of 0 asked).
fn pod_grace_period(res: &ApiResource, pod: &Value, params: &DeleteParams) -> Option<i64> {
    if !(res.group.is_empty() && res.plural == "pods") {
        return None;
    }
    let node = pod.pointer("/spec/nodeName").and_then(Value::as_str);
    if node.is_none_or(str::is_empty) {
        return None;
    }
    let phase = pod.pointer("/status/phase").and_then(Value::as_str);
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return None;
    }
    let grace = params.grace_period_seconds.or_else(|| {
        pod.pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
    });
    match grace.unwrap_or(30) {
        g if g > 0 => Some(g),
        _ => None,
    }
}

/// How many times a taken generated name is generated again (Kubernetes: 7).
const GENERATE_NAME_RETRIES: u32 = 7;

/// A random suffix for `generateName`, from Kubernetes' alphabet (no vowels, no look-alikes).
pub fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    uuid::Uuid::new_v4().as_bytes()[..5]
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

impl InProcessClient {
    async fn current(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
    ) -> Result<(KeyValue, Value), ClientError> {
        let kv = self
            .store
            .get(&key(res, ns, name))
            .await
            .map_err(|e| ClientError::from_store(e, res, name))?
            .ok_or_else(|| ClientError::not_found(res, name))?;
        let obj = decode(&kv, res)?;
        Ok((kv, obj))
    }

    /// Writes `new` over `cur` (at `cur_kv`'s revision); deletes instead when deletion is finished.
    async fn write(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        cur_kv: &KeyValue,
        cur: &Value,
        mut new: Value,
    ) -> Result<Value, StoreError> {
        let k = key(res, ns, name);
        // Gone once deletion started, no finalizer is left and no grace period runs (a pod being
        // terminated by its node agent has one until the agent deletes it with grace 0).
        let deleting = meta_str(&new, "deletionTimestamp").is_some()
            && meta(&new)
                .and_then(|m| m.get("deletionGracePeriodSeconds"))
                .and_then(Value::as_i64)
                .unwrap_or(0)
                == 0;
        let finalizers_left = meta(&new)
            .and_then(|m| m.get("finalizers"))
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        if deleting && !finalizers_left {
            let last = self.store.delete(&k, Some(cur_kv.mod_revision)).await?;
            stamp(&mut new, last.mod_revision);
            return Ok(new);
        }
        let mut unchanged = new.clone();
        if let (Ok(m), Some(rv)) = (meta_mut(&mut unchanged), meta_str(cur, "resourceVersion")) {
            m.insert("resourceVersion".into(), Value::String(rv.to_string()));
        }
        if &unchanged == cur {
            return Ok(unchanged); // a no-op write keeps the resourceVersion, as Kubernetes does
        }
        let bytes = encode(&mut new).map_err(|e| StoreError::Backend(e.to_string()))?;
        let rev = self
            .store
            .update(&k, bytes, Some(cur_kv.mod_revision))
            .await?;
        stamp(&mut new, rev);
        Ok(new)
    }

    /// Shared by replace and patch: carry over what a client may not change, bump generation, write.
    async fn update_with(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        status_only: bool,
        mut make: impl FnMut(&Value) -> Result<(Option<i64>, Value), ClientError> + Send,
    ) -> Result<Value, ClientError> {
        let ns = scope_ns(res, ns)?;
        for _ in 0..MAX_RETRIES {
            let (cur_kv, cur) = self.current(res, ns, name).await?;
            let (expected, given) = make(&cur)?;
            if let Some(expected) = expected {
                if expected != cur_kv.mod_revision {
                    return Err(ClientError::from_store(
                        StoreError::Conflict {
                            key: String::new(),
                            expected,
                            actual: cur_kv.mod_revision,
                        },
                        res,
                        name,
                    ));
                }
            }
            if meta_str(&given, "name").is_some_and(|n| n != name) {
                return Err(ClientError::bad_request(format!(
                    "the name of the object ({}) does not match the name on the URL ({name})",
                    meta_str(&given, "name").unwrap_or("")
                )));
            }
            let mut new = if status_only {
                let mut n = cur.clone();
                if let Some(m) = n.as_object_mut() {
                    match given.get("status") {
                        Some(s) => m.insert("status".into(), s.clone()),
                        None => m.remove("status"),
                    };
                }
                n
            } else {
                let mut n = given.clone();
                if let Some(m) = n.as_object_mut() {
                    match cur.get("status") {
                        Some(s) => m.insert("status".into(), s.clone()),
                        None => m.remove("status"),
                    };
                    m.insert("apiVersion".into(), Value::String(res.api_version()));
                    m.insert("kind".into(), Value::String(res.kind.clone()));
                }
                n
            };
            {
                let cur_meta = meta(&cur).cloned().unwrap_or_default();
                let m = meta_mut(&mut new)?;
                for field in [
                    "uid",
                    "creationTimestamp",
                    "deletionTimestamp",
                    "deletionGracePeriodSeconds",
                    "generation",
                    "namespace",
                    "name",
                ] {
                    match cur_meta.get(field) {
                        Some(v) => m.insert(field.into(), v.clone()),
                        None => m.remove(field),
                    };
                }
                if status_only {
                    // The status subresource changes nothing else.
                    *m = cur_meta.clone();
                }
            }
            if !status_only && desired(&new) != desired(&cur) {
                let generation = meta(&cur)
                    .and_then(|m| m.get("generation"))
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                meta_mut(&mut new)?.insert("generation".into(), Value::from(generation + 1));
            }
            match self.write(res, ns, name, &cur_kv, &cur, new).await {
                Ok(v) => return Ok(v),
                Err(StoreError::Conflict { .. }) if expected.is_none() => continue,
                Err(e) => return Err(ClientError::from_store(e, res, name)),
            }
        }
        Err(ClientError::api(
            409,
            "Conflict",
            format!(
                "{} {name:?}: too many concurrent writers, try again",
                res.plural
            ),
        ))
    }

    async fn patch_with(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        patch: &Patch,
        status_only: bool,
    ) -> Result<Value, ClientError> {
        let res2 = res.clone();
        self.update_with(res, ns, name, status_only, move |cur| {
            let mut doc = cur.clone();
            patch
                .apply(&mut doc)
                .map_err(|e| invalid(&res2, name, "patch", &e.to_string()))?;
            // A resourceVersion in the patch is a precondition.
            let expected = match (
                meta_str(&doc, "resourceVersion"),
                meta_str(cur, "resourceVersion"),
            ) {
                (Some(p), Some(c)) if p != c => Some(parse_rv(p)?),
                _ => None,
            };
            Ok((expected, doc))
        })
        .await
    }

    fn filtered_events(
        res: ApiResource,
        filter: Arc<Filter>,
        ev: crate::store::WatchEvent,
    ) -> Option<Result<RawEvent, ClientError>> {
        if filter.has_needles() {
            let new_may = ev.kind != EventKind::Delete && filter.may_match(&ev.kv.value);
            let old_may = ev.prev.as_ref().is_some_and(|p| filter.may_match(&p.value));
            if !new_may && !old_may {
                return None;
            }
        }
        let new = match ev.kind {
            EventKind::Delete => None,
            _ => Some(decode(&ev.kv, &res)),
        };
        let old = ev.prev.as_ref().map(|p| decode(p, &res));
        let (new, old) = match (new.transpose(), old.transpose()) {
            (Ok(n), Ok(o)) => (n, o),
            (Err(e), _) | (_, Err(e)) => return Some(Err(e)),
        };
        let new_match = new.as_ref().is_some_and(|o| filter.matches(o));
        let old_match = old.as_ref().is_some_and(|o| filter.matches(o));
        let event = match (ev.kind, old_match, new_match) {
            (EventKind::Delete, true, _) => {
                let mut last = old?;
                stamp(&mut last, ev.kv.mod_revision);
                RawEvent {
                    event_type: EventType::Deleted,
                    object: last,
                }
            }
            (EventKind::Delete, false, _) => return None,
            (_, true, true) => RawEvent {
                event_type: EventType::Modified,
                object: new?,
            },
            (_, false, true) => RawEvent {
                event_type: EventType::Added,
                object: new?,
            },
            (_, true, false) => RawEvent {
                event_type: EventType::Deleted,
                object: new?,
            },
            (_, false, false) => return None,
        };
        Some(Ok(event))
    }
}

/// Sets `spec.nodeName` and the `PodScheduled=True` condition of `pod` (what the binding subresource writes).
fn bound_pod(pod: &Value, name: &str, node: &str) -> Result<Value, ClientError> {
    if meta_str(pod, "deletionTimestamp").is_some() {
        return Err(ClientError::api(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on pods/binding {name:?}: pod {name} is being deleted, cannot be assigned to a host"),
        ));
    }
    if let Some(bound) = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        return Err(ClientError::api(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on pods/binding {name:?}: pod {name} is already assigned to node {bound:?}"),
        ));
    }
    let mut new = pod.clone();
    let obj = new
        .as_object_mut()
        .ok_or_else(|| ClientError::bad_request("the pod is not an object"))?;
    let spec = obj
        .entry("spec")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(spec) = spec.as_object_mut() {
        spec.insert("nodeName".into(), Value::String(node.to_string()));
    }
    let status = obj
        .entry("status")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(status) = status.as_object_mut() {
        let conditions = status
            .entry("conditions")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Some(conditions) = conditions.as_array_mut() {
            let now = serde_json::to_value(Time::now()).unwrap_or(Value::Null);
            let condition = serde_json::json!({
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": null,
                "lastTransitionTime": now,
            });
            match conditions
                .iter_mut()
                .find(|c| c.get("type").and_then(Value::as_str) == Some("PodScheduled"))
            {
                Some(c) => *c = condition,
                None => conditions.push(condition),
            }
        }
    }
    Ok(new)
}

#[async_trait]
impl Client for InProcessClient {
    async fn bind(&self, ns: &str, pod: &str, node: &str) -> Result<(), ClientError> {
        let res = <crate::kinds::Pod as crate::Resource>::api_resource();
        if node.is_empty() {
            return Err(invalid(&res, pod, "target.name", "Required value"));
        }
        for _ in 0..MAX_RETRIES {
            let (cur_kv, cur) = self.current(&res, Some(ns), pod).await?;
            let new = bound_pod(&cur, pod, node)?;
            match self.write(&res, Some(ns), pod, &cur_kv, &cur, new).await {
                Ok(_) => return Ok(()),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(ClientError::from_store(e, &res, pod)),
            }
        }
        Err(ClientError::api(
            409,
            "Conflict",
            format!("pods {pod:?}: too many concurrent writers, try again"),
        ))
    }

    /// The same client over a [`DryRunStore`] view of this one's store.
    fn dry_run(&self) -> Option<Arc<dyn Client>> {
        Some(Arc::new(InProcessClient::new(Arc::new(DryRunStore::new(
            self.store.clone(),
        )))))
    }

    async fn get(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Value, ClientError> {
        let ns = scope_ns(res, ns)?;
        Ok(self.current(res, ns, name).await?.1)
    }

    async fn list(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        params: &ListParams,
    ) -> Result<RawList, ClientError> {
        let prefix = resource_prefix(
            &res.group,
            &res.plural,
            ns.filter(|n| !n.is_empty() && res.scope == Scope::Namespaced),
        );
        let filter = Filter::new(
            res,
            params.label_selector.as_deref(),
            params.field_selector.as_deref(),
        )?;
        let limit = params.limit.filter(|l| *l > 0);
        let mut items = Vec::new();
        let mut token = params.continue_token.clone();
        let mut revision = None;
        loop {
            let want = limit.map(|l| l - items.len());
            let page = self
                .store
                .list(
                    &prefix,
                    ListOptions {
                        limit: want,
                        continue_token: token.clone(),
                    },
                )
                .await
                .map_err(|e| ClientError::from_store(e, res, ""))?;
            revision.get_or_insert(page.revision);
            for kv in &page.items {
                let obj = decode(kv, res)?;
                if filter.is_empty() || filter.matches(&obj) {
                    items.push(obj);
                }
            }
            token = page.continue_token;
            let full = limit.is_some_and(|l| items.len() >= l);
            if token.is_none() || full {
                break;
            }
        }
        Ok(RawList {
            items,
            resource_version: revision.unwrap_or(0).to_string(),
            continue_token: token,
        })
    }

    async fn create(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        mut obj: Value,
    ) -> Result<Value, ClientError> {
        if let Some(kind) = obj.get("kind").and_then(Value::as_str) {
            if kind != res.kind {
                return Err(ClientError::bad_request(format!(
                    "the body is a {kind}, the URL is for {}",
                    res.plural
                )));
            }
        }
        let obj_ns = meta_str(&obj, "namespace").map(str::to_string);
        let ns = match (res.scope, ns.filter(|n| !n.is_empty()), obj_ns.as_deref()) {
            (Scope::Cluster, _, _) => None,
            (Scope::Namespaced, Some(a), Some(b)) if !b.is_empty() && a != b => {
                return Err(ClientError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ))
            }
            (Scope::Namespaced, Some(a), _) => Some(a.to_string()),
            (Scope::Namespaced, None, Some(b)) if !b.is_empty() => Some(b.to_string()),
            (Scope::Namespaced, None, _) => scope_ns(res, None).map(|_| None)?,
        };
        let given = meta_str(&obj, "name").filter(|n| !n.is_empty());
        // The prefix to generate names from, unless a name was given.
        let generated = match given {
            Some(_) => None,
            None => meta_str(&obj, "generateName")
                .filter(|p| !p.is_empty())
                .map(str::to_string),
        };
        let mut name = match (given, generated.as_deref()) {
            (Some(n), _) => n.to_string(),
            (None, Some(prefix)) => format!("{prefix}{}", random_suffix()),
            _ => {
                return Err(invalid(
                    res,
                    "",
                    "metadata.name",
                    "name or generateName is required",
                ))
            }
        };
        if let Some(m) = obj.as_object_mut() {
            m.insert("apiVersion".into(), Value::String(res.api_version()));
            m.insert("kind".into(), Value::String(res.kind.clone()));
        }
        let m = meta_mut(&mut obj)?;
        m.insert("name".into(), Value::String(name.clone()));
        match &ns {
            Some(ns) => m.insert("namespace".into(), Value::String(ns.clone())),
            None => m.remove("namespace"),
        };
        m.insert(
            "uid".into(),
            Value::String(uuid::Uuid::new_v4().to_string()),
        );
        m.insert(
            "creationTimestamp".into(),
            Value::String(Time::now().to_string()),
        );
        m.insert("generation".into(), Value::from(1));
        for f in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            m.remove(f);
        }
        // A generated name that is taken is generated again, up to 7 times, as Kubernetes' API server
        // does (RetryGenerateName): 5 random characters collide within a few thousand names.
        let mut attempts = 0;
        let rev = loop {
            let created = self
                .store
                .create(&key(res, ns.as_deref(), &name), encode(&mut obj)?)
                .await;
            match (created, generated.as_deref()) {
                (Ok(rev), _) => break rev,
                (Err(StoreError::AlreadyExists { .. }), Some(prefix))
                    if attempts < GENERATE_NAME_RETRIES =>
                {
                    attempts += 1;
                    name = format!("{prefix}{}", random_suffix());
                    meta_mut(&mut obj)?.insert("name".into(), Value::String(name.clone()));
                }
                (Err(e), _) => return Err(ClientError::from_store(e, res, &name)),
            }
        };
        stamp(&mut obj, rev);
        Ok(obj)
    }

    async fn replace(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        obj: Value,
    ) -> Result<Value, ClientError> {
        let expected = meta_str(&obj, "resourceVersion")
            .map(parse_rv)
            .transpose()?;
        self.update_with(res, ns, name, false, |_| Ok((expected, obj.clone())))
            .await
    }

    async fn replace_status(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        obj: Value,
    ) -> Result<Value, ClientError> {
        let expected = meta_str(&obj, "resourceVersion")
            .map(parse_rv)
            .transpose()?;
        self.update_with(res, ns, name, true, |_| Ok((expected, obj.clone())))
            .await
    }

    async fn patch(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        patch: &Patch,
    ) -> Result<Value, ClientError> {
        self.patch_with(res, ns, name, patch, false).await
    }

    async fn patch_status(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        patch: &Patch,
    ) -> Result<Value, ClientError> {
        self.patch_with(res, ns, name, patch, true).await
    }

    async fn delete(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        params: &DeleteParams,
    ) -> Result<DeleteOutcome<Value>, ClientError> {
        let ns = scope_ns(res, ns)?;
        for _ in 0..MAX_RETRIES {
            let (cur_kv, cur) = self.current(res, ns, name).await?;
            if let Some(uid) = &params.precondition_uid {
                let have = meta_str(&cur, "uid").unwrap_or("");
                if have != uid {
                    return Err(ClientError::api(
                        409,
                        "Conflict",
                        format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {have}"),
                    ));
                }
            }
            if let Some(rv) = &params.precondition_resource_version {
                if parse_rv(rv)? != cur_kv.mod_revision {
                    return Err(ClientError::api(
                        409,
                        "Conflict",
                        format!(
                            "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                            cur_kv.mod_revision
                        ),
                    ));
                }
            }
            if let Some(grace) = pod_grace_period(res, &cur, params) {
                // A pod on a node is deleted gracefully: the API marks it, its node agent stops its
                // containers within the grace period and then deletes it with grace 0.
                let m = meta(&cur);
                let current = m
                    .and_then(|m| m.get("deletionGracePeriodSeconds"))
                    .and_then(Value::as_i64);
                if m.is_some_and(|m| m.contains_key("deletionTimestamp"))
                    && current.is_some_and(|c| c <= grace)
                {
                    return Ok(DeleteOutcome::Pending(cur));
                }
                let mut new = cur.clone();
                let m = meta_mut(&mut new)?;
                if !m.contains_key("deletionTimestamp") {
                    let generation = m.get("generation").and_then(Value::as_i64).unwrap_or(0);
                    m.insert("generation".into(), Value::from(generation + 1));
                }
                let at = chrono::Utc::now() + chrono::Duration::seconds(grace);
                m.insert(
                    "deletionTimestamp".into(),
                    Value::String(Time::from(at).to_string()),
                );
                m.insert("deletionGracePeriodSeconds".into(), Value::from(grace));
                match self.write(res, ns, name, &cur_kv, &cur, new).await {
                    Ok(obj) => return Ok(DeleteOutcome::Pending(obj)),
                    Err(StoreError::Conflict { .. }) | Err(StoreError::NotFound { .. }) => continue,
                    Err(e) => return Err(ClientError::from_store(e, res, name)),
                }
            }
            let mut finalizers: Vec<Value> = meta(&cur)
                .and_then(|m| m.get("finalizers"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let extra = match params.propagation_policy {
                PropagationPolicy::Foreground => Some("foregroundDeletion"),
                PropagationPolicy::Orphan => Some("orphan"),
                PropagationPolicy::Background => None,
            };
            if let Some(f) = extra {
                if !finalizers.iter().any(|v| v == f) {
                    finalizers.push(Value::String(f.into()));
                }
            }
            let result = if finalizers.is_empty() {
                self.store
                    .delete(&key(res, ns, name), Some(cur_kv.mod_revision))
                    .await
                    .map(|last| {
                        let mut obj = cur.clone();
                        stamp(&mut obj, last.mod_revision);
                        DeleteOutcome::Deleted(obj)
                    })
            } else {
                let mut new = cur.clone();
                let m = meta_mut(&mut new)?;
                m.insert("finalizers".into(), Value::Array(finalizers));
                if !m.contains_key("deletionTimestamp") {
                    // Kubernetes bumps the generation when deletion starts, so controllers that
                    // filter on generation still see it.
                    let generation = m.get("generation").and_then(Value::as_i64).unwrap_or(0);
                    m.insert("generation".into(), Value::from(generation + 1));
                    m.insert(
                        "deletionTimestamp".into(),
                        Value::String(Time::now().to_string()),
                    );
                }
                m.insert("deletionGracePeriodSeconds".into(), Value::from(0));
                self.write(res, ns, name, &cur_kv, &cur, new)
                    .await
                    .map(DeleteOutcome::Pending)
            };
            match result {
                Ok(outcome) => return Ok(outcome),
                Err(StoreError::Conflict { .. }) | Err(StoreError::NotFound { .. }) => continue,
                Err(e) => return Err(ClientError::from_store(e, res, name)),
            }
        }
        Err(ClientError::api(
            409,
            "Conflict",
            format!("{} {name:?}: too many concurrent writers", res.plural),
        ))
    }

    async fn watch(
        &self,
        res: &ApiResource,
        ns: Option<&str>,
        params: &WatchParams,
    ) -> Result<BoxStream<'static, Result<RawEvent, ClientError>>, ClientError> {
        let filter = Arc::new(Filter::new(
            res,
            params.label_selector.as_deref(),
            params.field_selector.as_deref(),
        )?);
        let ns = ns.filter(|n| !n.is_empty() && res.scope == Scope::Namespaced);
        let prefix = resource_prefix(&res.group, &res.plural, ns);
        let (initial, from) = match params.resource_version.as_deref() {
            None | Some("") | Some("0") => {
                let list = self
                    .list(
                        res,
                        ns,
                        &ListParams {
                            label_selector: params.label_selector.clone(),
                            field_selector: params.field_selector.clone(),
                            ..ListParams::default()
                        },
                    )
                    .await?;
                let added: Vec<Result<RawEvent, ClientError>> = list
                    .items
                    .into_iter()
                    .map(|object| {
                        Ok(RawEvent {
                            event_type: EventType::Added,
                            object,
                        })
                    })
                    .collect();
                (added, parse_rv(&list.resource_version)?)
            }
            Some(rv) => (Vec::new(), parse_rv(rv)?),
        };
        let store_watch = if !filter.has_needles() {
            self.store.watch(&prefix, from).await
        } else {
            // The cheap byte test runs where the store fans events out: a watcher never even
            // queues the changes it cannot match.
            let f = filter.clone();
            let pre: crate::store::WatchFilter = Arc::new(move |ev: &crate::store::WatchEvent| {
                (ev.kind != EventKind::Delete && f.may_match(&ev.kv.value))
                    || ev.prev.as_ref().is_some_and(|p| f.may_match(&p.value))
            });
            self.store.watch_filtered(&prefix, from, pre).await
        }
        .map_err(|e| ClientError::from_store(e, res, ""))?;
        let res = res.clone();
        let live = store_watch.filter_map(move |item| {
            let out = match item {
                Ok(ev) => Self::filtered_events(res.clone(), filter.clone(), ev),
                Err(e) => Some(Err(ClientError::from_store(e, &res, ""))),
            };
            futures::future::ready(out)
        });
        let all = stream::iter(initial).chain(live);
        Ok(match params.timeout {
            Some(t) => all.take_until(tokio::time::sleep(t)).boxed(),
            None => all.boxed(),
        })
    }
}
