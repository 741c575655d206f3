//! The objects every cluster has from its first start: the `kubernetes` ServiceCIDR (the range of
//! `--service-cluster-ip-range`, `Ready`), and the `kubernetes` Service in `default` (port 443, the
//! first address of the range) with its Endpoints and EndpointSlice pointing at the API server, as
//! kube-apiserver's bootstrap controller and endpoint reconciler keep them.
//!
//! The Service has no selector, so the Endpoints and EndpointSlice controllers leave its endpoints
//! alone; the API server rewrites them when its address changes (a restart on another port).

use std::net::SocketAddr;

use serde_json::{json, Value};
use skiff_core::client::ClientError;
use skiff_core::kinds::{
    EndpointSlice, Endpoints, Service, ServiceCIDR, DEFAULT_SERVICE_CIDR, SERVICE_NAME_LABEL,
};
use skiff_core::meta::Time;
use skiff_core::Resource;

use super::write::Intent;
use super::{ApiServer, Q};

/// The Service's name and namespace.
const NAME: &str = "kubernetes";
const NAMESPACE: &str = "default";

/// Creates `value` of `K`, or, when it exists and `fields` of it differ, writes them over the stored one.
async fn upsert<K: Resource>(
    server: &ApiServer,
    ns: Option<&str>,
    name: &str,
    value: Value,
    fields: &[&str],
) -> Result<(), ClientError> {
    let res = K::api_resource();
    match server.client.get(&res, ns, name).await {
        Ok(mut stored) => {
            let differs = fields.iter().any(|f| stored.get(*f) != value.get(*f));
            if differs {
                for f in fields {
                    if let (Some(obj), Some(v)) = (stored.as_object_mut(), value.get(*f)) {
                        obj.insert((*f).to_string(), v.clone());
                    }
                }
                server.client.replace(&res, ns, name, stored).await?;
            }
            Ok(())
        }
        Err(e) if e.is_not_found() => match server.client.create(&res, ns, value).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_already_exists() => Ok(()),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    }
}

impl ApiServer {
    /// Creates the Service `svc` (JSON, with `metadata.namespace`) unless one of its name exists, through
    /// the same defaulting, validation and allocation as a client's create: for the Services the
    /// cluster itself runs (`kubernetes`, `kube-dns`).
    pub async fn ensure_service(&self, svc: Value) -> Result<(), ClientError> {
        let res = Service::api_resource();
        let ns = svc
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or(NAMESPACE)
            .to_string();
        let name = svc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        match self.client.get(&res, Some(&ns), &name).await {
            Ok(_) => return Ok(()),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        let (value, _) = self
            .admit(&res, &Q::new(), svc, Intent::Create)
            .map_err(|e| ClientError::Api(e.0))?;
        match self
            .store_create(self.client.as_ref(), &res, Some(&ns), value)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_already_exists() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Makes sure the `kubernetes` ServiceCIDR, Service, Endpoints and EndpointSlice exist, the
    /// endpoints naming `advertise` (the API server's address as pods and nodes reach it).
    pub async fn ensure_kubernetes_service(
        &self,
        advertise: SocketAddr,
    ) -> Result<(), ClientError> {
        let net = self.service_network();
        let cidr = json!({
            "apiVersion": ServiceCIDR::api_version(), "kind": ServiceCIDR::KIND,
            "metadata": {"name": DEFAULT_SERVICE_CIDR},
            "spec": {"cidrs": [net.cluster_ips.to_string()]},
            "status": {"conditions": [{
                "type": "Ready", "status": "True", "lastTransitionTime": Time::now(),
                "reason": "", "message": "Kubernetes Service CIDR is ready",
            }]},
        });
        upsert::<ServiceCIDR>(self, None, DEFAULT_SERVICE_CIDR, cidr, &["spec"]).await?;

        let svc = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": NAME, "namespace": NAMESPACE,
                "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {
                "clusterIP": net.cluster_ips.first().to_string(),
                "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                    "targetPort": advertise.port()}],
            },
        });
        self.ensure_service(svc).await?;

        let ip = advertise.ip().to_string();
        let port = json!({"name": "https", "port": advertise.port(), "protocol": "TCP"});
        let endpoints = json!({
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": NAME, "namespace": NAMESPACE,
                "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": ip}], "ports": [port]}],
        });
        upsert::<Endpoints>(self, Some(NAMESPACE), NAME, endpoints, &["subsets"]).await?;
        let slice = json!({
            "apiVersion": EndpointSlice::api_version(), "kind": EndpointSlice::KIND,
            "metadata": {"name": NAME, "namespace": NAMESPACE,
                "labels": {SERVICE_NAME_LABEL: NAME}},
            "addressType": if advertise.is_ipv4() { "IPv4" } else { "IPv6" },
            "endpoints": [{"addresses": [ip], "conditions": {"ready": true}}],
            "ports": [port],
        });
        upsert::<EndpointSlice>(self, Some(NAMESPACE), NAME, slice, &["endpoints", "ports"]).await
    }
}
