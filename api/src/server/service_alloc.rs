//! The Service registry's allocations: ClusterIPs as IPAddress objects, NodePorts as hidden
//! allocation records, both made unique by the store's create-if-absent.
//!
//! Kubernetes allocates in the API server, in the Service's REST storage, not in a controller: a
//! Service is never stored without its address. So does Skiff: a create of a Service allocates
//! its `clusterIP` (an [`IPAddress`] named by the address, with a parentRef to the Service: a second
//! create of the same name fails, which is what makes allocation race-free across API servers) and the
//! `nodePort` of each port of a NodePort or LoadBalancer Service, then stores the Service; if storing
//! fails, what was allocated is released. An update allocates what the new spec needs and releases,
//! once it is stored, what it no longer uses; a delete releases everything.
//!
//! NodePorts have no Kubernetes kind (kube-apiserver keeps a bitmap in one hidden object); Skiff keeps
//! one hidden record per port (`NodePortAllocation`, not served by the API), for the same
//! create-if-absent uniqueness without a bitmap to compare-and-swap.
//!
//! What a crash between allocating and storing leaves behind is repaired by
//! [`ApiServer::repair_service_allocations`], as Kubernetes' repair loops do: allocations older than a
//! grace period whose Service does not hold them are released, and Services whose allocation record is
//! missing get it back.
//!
//! With `dryRun=All` the allocations go through the dry-run client: checked, never stored.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use skiff_core::client::{random_suffix, Client, ClientError, DeleteParams, ListParams};
use skiff_core::kinds::{IPAddress, Service, IP_ALLOCATOR, IP_FAMILY_LABEL, IP_MANAGED_BY_LABEL};
use skiff_core::meta::Time;
use skiff_core::service_network::{NodePortRange, ServiceIpRange};
use skiff_core::shutdown::Shutdown;
use skiff_core::validation::{FieldError, FieldErrors, FieldPath};
use skiff_core::{ApiResource, Resource, Scope};

use super::response::ApiError;
use super::ApiServer;

/// How many random picks are tried before a search of the whole range.
const RANDOM_TRIES: u64 = 32;
/// How old an allocation must be before the repair loop may release it (a create in flight holds
/// its allocation for a moment before its Service is stored).
const REPAIR_GRACE: Duration = Duration::from_secs(30);

/// The ranges Services are allocated from (`--service-cluster-ip-range`, `--service-node-port-range`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServiceNetwork {
    /// Where ClusterIPs come from.
    pub cluster_ips: ServiceIpRange,
    /// Where NodePorts come from.
    pub node_ports: NodePortRange,
}

/// The hidden kind of NodePort records: one per allocated port, named by the port.
pub(super) fn node_port_resource() -> ApiResource {
    ApiResource {
        group: "internal.skiff.dev".into(),
        version: "v1".into(),
        kind: "NodePortAllocation".into(),
        plural: "nodeportallocations".into(),
        singular: "nodeportallocation".into(),
        short_names: Vec::new(),
        scope: Scope::Cluster,
        selectable_fields: &[],
    }
}

/// Whether `res` is core/v1 Services.
pub(super) fn is_services(res: &ApiResource) -> bool {
    res.group.is_empty() && res.plural == "services"
}

/// What one write allocated (to roll back if the write fails) or gave up (to release once it lands).
#[derive(Debug, Default)]
pub(super) struct Allocation {
    ips: Vec<String>,
    ports: Vec<i32>,
}

impl Allocation {
    fn is_empty(&self) -> bool {
        self.ips.is_empty() && self.ports.is_empty()
    }
}

/// The holder recorded on an allocation: `<namespace>/<name>`.
fn holder(ns: &str, name: &str) -> String {
    format!("{ns}/{name}")
}

fn ip_object(ip: &str, ns: &str, name: &str) -> Value {
    json!({
        "apiVersion": IPAddress::api_version(),
        "kind": IPAddress::KIND,
        "metadata": {
            "name": ip,
            "labels": {IP_FAMILY_LABEL: "IPv4", IP_MANAGED_BY_LABEL: IP_ALLOCATOR},
        },
        "spec": {"parentRef": {"group": "", "resource": "services", "namespace": ns, "name": name}},
    })
}

fn port_object(port: i32, ns: &str, name: &str) -> Value {
    let res = node_port_resource();
    json!({
        "apiVersion": res.api_version(),
        "kind": res.kind,
        "metadata": {"name": port.to_string()},
        "service": holder(ns, name),
    })
}

/// The `<ns>/<name>` an IPAddress names as its parent Service.
fn ip_holder(obj: &Value) -> Option<String> {
    let r = obj.pointer("/spec/parentRef")?;
    (r.get("resource")?.as_str()? == "services").then(|| {
        holder(
            r.get("namespace").and_then(Value::as_str).unwrap_or(""),
            r.get("name").and_then(Value::as_str).unwrap_or(""),
        )
    })
}

fn port_holder(obj: &Value) -> Option<String> {
    obj.get("service")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The ClusterIP a Service holds (not `None`, not empty).
fn held_ip(svc: &Service) -> Option<&str> {
    svc.spec
        .cluster_ip
        .as_deref()
        .filter(|ip| !ip.is_empty() && *ip != "None")
        .filter(|_| svc.spec.needs_cluster_ip())
}

/// The NodePorts a Service holds.
fn held_ports(svc: &Service) -> BTreeSet<i32> {
    if !svc.spec.needs_node_ports() {
        return BTreeSet::new();
    }
    svc.spec
        .ports
        .iter()
        .filter_map(|p| p.node_port.filter(|n| *n != 0))
        .collect()
}

fn decode_service(value: &Value) -> Result<Service, ApiError> {
    serde_json::from_value(value.clone()).map_err(|e| {
        ApiError::new(
            500,
            "InternalError",
            format!("cannot read the Service: {e}"),
        )
    })
}

/// Allocates for one Service write through one client.
struct Allocator<'a> {
    client: &'a dyn Client,
    net: ServiceNetwork,
    ns: &'a str,
    name: &'a str,
    made: Allocation,
    errs: FieldErrors,
}

impl Allocator<'_> {
    /// Creates the record `obj` of `res`; `Ok(false)` when it exists.
    async fn claim(&self, res: &ApiResource, obj: Value) -> Result<bool, ApiError> {
        match self.client.create(res, None, obj).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_already_exists() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The names of every record of `res` (the allocated addresses or ports), for the search of a
    /// free one once random picks keep colliding.
    async fn taken(&self, res: &ApiResource) -> Result<BTreeSet<String>, ApiError> {
        Ok(self
            .client
            .list(res, None, &ListParams::default())
            .await?
            .items
            .iter()
            .map(|o| name_of(o).to_string())
            .collect())
    }

    /// Allocates `requested`, or a random free address.
    async fn ip(&mut self, requested: Option<&str>) -> Result<Option<String>, ApiError> {
        let res = IPAddress::api_resource();
        let field = FieldPath::new("spec").child("clusterIPs");
        let range = self.net.cluster_ips;
        if let Some(ip) = requested {
            let fail = |detail: String| FieldError::invalid(&field, ip, detail);
            let Some(addr) = ip.parse::<Ipv4Addr>().ok() else {
                self.errs.push(fail(format!(
                    "failed to allocate IP {ip}: only IPv4 Service addresses are served"
                )));
                return Ok(None);
            };
            if !range.contains(addr) {
                self.errs.push(fail(format!(
                    "failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {range}"
                )));
                return Ok(None);
            }
            if !self.claim(&res, ip_object(ip, self.ns, self.name)).await? {
                self.errs.push(fail(format!(
                    "failed to allocate IP {ip}: provided IP is already allocated"
                )));
                return Ok(None);
            }
            self.made.ips.push(ip.to_string());
            return Ok(Some(ip.to_string()));
        }
        for attempt in 0..RANDOM_TRIES {
            let ip = range
                .candidate(rand::random(), attempt >= RANDOM_TRIES / 2)
                .to_string();
            if self.claim(&res, ip_object(&ip, self.ns, self.name)).await? {
                self.made.ips.push(ip.clone());
                return Ok(Some(ip));
            }
        }
        // Nearly full: look for a free one among the allocated.
        let taken = self.taken(&res).await?;
        for n in 1..=range.usable() {
            let Some(ip) = range.nth(n).map(|a| a.to_string()) else {
                break;
            };
            if !taken.contains(&ip) && self.claim(&res, ip_object(&ip, self.ns, self.name)).await? {
                self.made.ips.push(ip.clone());
                return Ok(Some(ip));
            }
        }
        self.errs.push(FieldError::invalid(
            &field,
            "",
            format!("failed to allocate a serviceIP: range is full ({range})"),
        ));
        Ok(None)
    }

    /// Allocates `requested` (at `path`), or a random free port.
    async fn port(
        &mut self,
        requested: Option<i32>,
        path: &FieldPath,
    ) -> Result<Option<i32>, ApiError> {
        let res = node_port_resource();
        let range = self.net.node_ports;
        if let Some(port) = requested {
            if self.made.ports.contains(&port) {
                // The same port for another protocol of this Service.
                return Ok(Some(port));
            }
            if !range.contains(port) {
                self.errs.push(FieldError::invalid(
                    path,
                    port,
                    format!("provided port is not in the valid range. The range of valid ports is {range}"),
                ));
                return Ok(None);
            }
            if !self
                .claim(&res, port_object(port, self.ns, self.name))
                .await?
            {
                self.errs.push(FieldError::invalid(
                    path,
                    port,
                    "provided port is already allocated",
                ));
                return Ok(None);
            }
            self.made.ports.push(port);
            return Ok(Some(port));
        }
        for attempt in 0..RANDOM_TRIES {
            let port = range.candidate(rand::random(), attempt >= RANDOM_TRIES / 2);
            if !self.made.ports.contains(&port)
                && self
                    .claim(&res, port_object(port, self.ns, self.name))
                    .await?
            {
                self.made.ports.push(port);
                return Ok(Some(port));
            }
        }
        let taken = self.taken(&res).await?;
        for port in range.all() {
            if !taken.contains(&port.to_string())
                && !self.made.ports.contains(&port)
                && self
                    .claim(&res, port_object(port, self.ns, self.name))
                    .await?
            {
                self.made.ports.push(port);
                return Ok(Some(port));
            }
        }
        self.errs.push(FieldError::invalid(
            path,
            0,
            format!("failed to allocate a nodePort: range is full ({range})"),
        ));
        Ok(None)
    }

    /// Fills what `svc` needs and `old` (the stored Service, on update) does not already hold.
    async fn fill(&mut self, svc: &mut Service, old: Option<&Service>) -> Result<(), ApiError> {
        let spec = &mut svc.spec;
        if spec.needs_cluster_ip() && !spec.is_headless() {
            let held = old.and_then(held_ip);
            let wanted = spec.cluster_ip.clone().filter(|ip| !ip.is_empty());
            let ip = match (held, wanted) {
                (Some(h), Some(w)) if h == w => Some(w),
                (_, w) => self.ip(w.as_deref()).await?,
            };
            if let Some(ip) = ip {
                spec.cluster_ips = vec![ip.clone()];
                spec.cluster_ip = Some(ip);
            }
        } else if spec.is_headless() {
            spec.cluster_ips = vec!["None".into()];
        }
        if spec.needs_cluster_ip() {
            if spec.ip_families.is_empty() {
                spec.ip_families = vec!["IPv4".into()];
            }
            spec.ip_family_policy
                .get_or_insert_with(|| "SingleStack".into());
        }
        if spec.needs_node_ports() {
            let held = old.map(held_ports).unwrap_or_default();
            let ports_path = FieldPath::new("spec").child("ports");
            for i in 0..spec.ports.len() {
                let requested = spec.ports[i].node_port.filter(|n| *n != 0);
                let path = ports_path.index(i).child("nodePort");
                let port = match requested {
                    Some(p) if held.contains(&p) => Some(p),
                    r => self.port(r, &path).await?,
                };
                spec.ports[i].node_port = port;
            }
        }
        Ok(())
    }

    /// Releases everything allocated so far.
    async fn roll_back(self) {
        release(self.client, self.ns, self.name, &self.made).await;
    }
}

/// Deletes the records of `alloc` that `<ns>/<name>` holds (never another Service's).
async fn release(client: &dyn Client, ns: &str, name: &str, alloc: &Allocation) {
    let me = holder(ns, name);
    let ip_res = IPAddress::api_resource();
    for ip in &alloc.ips {
        if let Ok(obj) = client.get(&ip_res, None, ip).await {
            if ip_holder(&obj).as_deref() == Some(me.as_str()) {
                let _ = client
                    .delete(&ip_res, None, ip, &DeleteParams::default())
                    .await;
            }
        }
    }
    let port_res = node_port_resource();
    for port in &alloc.ports {
        let name = port.to_string();
        if let Ok(obj) = client.get(&port_res, None, &name).await {
            if port_holder(&obj).as_deref() == Some(me.as_str()) {
                let _ = client
                    .delete(&port_res, None, &name, &DeleteParams::default())
                    .await;
            }
        }
    }
}

/// A Service's `generateName` turned into its name now: its allocations name it before it is stored.
fn generate_name(value: &mut Value) {
    let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let named = meta
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    if let (false, Some(prefix)) = (named, meta.get("generateName").and_then(Value::as_str)) {
        let name = format!("{prefix}{}", random_suffix());
        meta.insert("name".into(), Value::String(name));
    }
}

fn name_of(value: &Value) -> &str {
    value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

impl ApiServer {
    /// The ranges Services are allocated from.
    pub fn service_network(&self) -> ServiceNetwork {
        *self
            .service_network
            .read()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the ranges Services are allocated from (before serving; default [`ServiceNetwork::default`]).
    pub fn set_service_network(&self, net: ServiceNetwork) {
        *self
            .service_network
            .write()
            .unwrap_or_else(|p| p.into_inner()) = net;
    }

    /// Creates `value` through `writer`; a Service gets its allocations first, released again if
    /// the create fails.
    pub(super) async fn store_create(
        &self,
        writer: &dyn Client,
        res: &ApiResource,
        ns: Option<&str>,
        mut value: Value,
    ) -> Result<Value, ClientError> {
        if !is_services(res) {
            return writer.create(res, ns, value).await;
        }
        let svc_ns = ns.unwrap_or("default");
        generate_name(&mut value);
        let made = self
            .allocate_for_create(writer, res, svc_ns, &mut value)
            .await
            .map_err(|e| ClientError::Api(e.0))?;
        let name = name_of(&value).to_string();
        match writer.create(res, ns, value).await {
            Ok(v) => Ok(v),
            Err(e) => {
                self.release_allocation(writer, svc_ns, &name, made).await;
                Err(e)
            }
        }
    }

    /// Replaces `current` with `value` through `writer`; a Service gets what its new spec needs
    /// first and gives up, once stored, what it no longer holds.
    pub(super) async fn store_replace(
        &self,
        writer: &dyn Client,
        res: &ApiResource,
        ns: Option<&str>,
        name: &str,
        current: &Value,
        mut value: Value,
    ) -> Result<Value, ClientError> {
        if !is_services(res) {
            return writer.replace(res, ns, name, value).await;
        }
        let svc_ns = ns.unwrap_or("default");
        let (made, freed) = self
            .allocate_for_update(writer, res, svc_ns, current, &mut value)
            .await
            .map_err(|e| ClientError::Api(e.0))?;
        match writer.replace(res, ns, name, value).await {
            Ok(v) => {
                self.release_allocation(writer, svc_ns, name, freed).await;
                Ok(v)
            }
            Err(e) => {
                self.release_allocation(writer, svc_ns, name, made).await;
                Err(e)
            }
        }
    }

    /// Allocates what the Service `value` (about to be created in `ns`) needs, writing the addresses
    /// and ports into it. A 422 naming the field when a requested address or port is taken or out of
    /// range; nothing stays allocated then.
    pub(super) async fn allocate_for_create(
        &self,
        client: &dyn Client,
        res: &ApiResource,
        ns: &str,
        value: &mut Value,
    ) -> Result<Allocation, ApiError> {
        self.allocate(client, res, ns, value, None)
            .await
            .map(|(made, _)| made)
    }

    /// Allocates what the updated Service `value` needs beyond what `old` holds; returns what was
    /// allocated and what `old` holds that the update gives up (release it once the update is stored).
    pub(super) async fn allocate_for_update(
        &self,
        client: &dyn Client,
        res: &ApiResource,
        ns: &str,
        old: &Value,
        value: &mut Value,
    ) -> Result<(Allocation, Allocation), ApiError> {
        self.allocate(client, res, ns, value, Some(old)).await
    }

    async fn allocate(
        &self,
        client: &dyn Client,
        res: &ApiResource,
        ns: &str,
        value: &mut Value,
        old: Option<&Value>,
    ) -> Result<(Allocation, Allocation), ApiError> {
        let mut svc = decode_service(value)?;
        let old = old.map(decode_service).transpose()?;
        let name = name_of(value).to_string();
        let mut alloc = Allocator {
            client,
            net: self.service_network(),
            ns,
            name: &name,
            made: Allocation::default(),
            errs: FieldErrors::default(),
        };
        if let Err(e) = alloc.fill(&mut svc, old.as_ref()).await {
            alloc.roll_back().await;
            return Err(e);
        }
        if !alloc.errs.is_empty() {
            let status = alloc.errs.to_status(res, &name);
            alloc.roll_back().await;
            return Err(ApiError::from(status));
        }
        let mut freed = Allocation::default();
        if let Some(old) = &old {
            if let Some(ip) = held_ip(old).filter(|ip| held_ip(&svc) != Some(*ip)) {
                freed.ips.push(ip.to_string());
            }
            let now = held_ports(&svc);
            freed.ports = held_ports(old).difference(&now).copied().collect();
        }
        if let (Some(spec_out), Ok(spec)) = (value.get_mut("spec"), serde_json::to_value(&svc.spec))
        {
            *spec_out = spec;
        }
        Ok((alloc.made, freed))
    }

    /// Releases what a write allocated (it failed) or gave up (it landed).
    pub(super) async fn release_allocation(
        &self,
        client: &dyn Client,
        ns: &str,
        name: &str,
        alloc: Allocation,
    ) {
        if !alloc.is_empty() {
            release(client, ns, name, &alloc).await;
        }
    }

    /// Releases everything the deleted Service `value` held.
    pub(super) async fn release_service(&self, client: &dyn Client, ns: &str, value: &Value) {
        let Ok(svc) = decode_service(value) else {
            return;
        };
        let alloc = Allocation {
            ips: held_ip(&svc).map(str::to_string).into_iter().collect(),
            ports: held_ports(&svc).into_iter().collect(),
        };
        self.release_allocation(client, ns, name_of(value), alloc)
            .await;
    }

    /// One pass of the repair loop (Kubernetes' ClusterIP and NodePort repair controllers): releases
    /// allocations older than 30 s that no Service holds, and records allocations Services hold but
    /// whose record is missing. Returns how many records it released and restored.
    pub async fn repair_service_allocations(&self) -> Result<(usize, usize), ApiError> {
        let client = self.client.as_ref();
        let services = client
            .list(&Service::api_resource(), None, &ListParams::default())
            .await?;
        let mut ips: BTreeMap<String, String> = BTreeMap::new();
        let mut ports: BTreeMap<String, String> = BTreeMap::new();
        for v in &services.items {
            let Ok(svc) = serde_json::from_value::<Service>(v.clone()) else {
                continue;
            };
            let who = holder(
                svc.metadata.namespace.as_deref().unwrap_or(""),
                svc.metadata.name.as_deref().unwrap_or(""),
            );
            if let Some(ip) = held_ip(&svc) {
                ips.insert(ip.to_string(), who.clone());
            }
            for p in held_ports(&svc) {
                ports.insert(p.to_string(), who.clone());
            }
        }
        let now = Time::now();
        let old_enough = |obj: &Value| {
            obj.pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .is_some_and(|t| {
                    now.0.signed_duration_since(t).num_seconds() >= REPAIR_GRACE.as_secs() as i64
                })
        };
        let (mut released, mut restored) = (0, 0);
        for (res, held, holder_of, managed) in [
            (
                IPAddress::api_resource(),
                &ips,
                ip_holder as fn(&Value) -> Option<String>,
                true,
            ),
            (
                node_port_resource(),
                &ports,
                port_holder as fn(&Value) -> Option<String>,
                false,
            ),
        ] {
            let records = client.list(&res, None, &ListParams::default()).await?;
            let mut seen = BTreeSet::new();
            for obj in &records.items {
                let name = name_of(obj).to_string();
                let ours = !managed
                    || obj
                        .pointer(&format!(
                            "/metadata/labels/{}",
                            IP_MANAGED_BY_LABEL.replace('/', "~1")
                        ))
                        .and_then(Value::as_str)
                        == Some(IP_ALLOCATOR);
                let holds = held
                    .get(&name)
                    .is_some_and(|h| Some(h) == holder_of(obj).as_ref());
                if holds {
                    seen.insert(name);
                } else if ours && old_enough(obj) {
                    let _ = client
                        .delete(&res, None, &name, &DeleteParams::default())
                        .await;
                    released += 1;
                }
            }
            for (name, who) in held {
                if seen.contains(name) {
                    continue;
                }
                let (ns, svc) = who.split_once('/').unwrap_or(("", who));
                let obj = if managed {
                    ip_object(name, ns, svc)
                } else {
                    port_object(name.parse().unwrap_or(0), ns, svc)
                };
                if client.create(&res, None, obj).await.is_ok() {
                    restored += 1;
                }
            }
        }
        Ok((released, restored))
    }

    /// Runs [`repair_service_allocations`](Self::repair_service_allocations) now and every `every`
    /// until `shutdown`.
    pub async fn run_service_repair(self: Arc<Self>, every: Duration, shutdown: Shutdown) {
        loop {
            match self.repair_service_allocations().await {
                Ok((0, 0)) => {}
                Ok((released, restored)) => {
                    tracing::info!(released, restored, "repaired Service allocations")
                }
                Err(e) => tracing::warn!(error = ?e.0.message, "Service allocation repair failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.wait() => return,
            }
        }
    }
}
