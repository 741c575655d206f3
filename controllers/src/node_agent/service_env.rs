//! The Service environment variables every container gets, as the kubelet makes them.
//!
//! For each Service with a ClusterIP in the pod's namespace (when `enableServiceLinks`, the
//! default) and the `kubernetes` Service of `default` (always): `{SVC}_SERVICE_HOST`,
//! `{SVC}_SERVICE_PORT` (the first port), `{SVC}_SERVICE_PORT_{NAME}` per named port, and the
//! Docker-link variables `{SVC}_PORT=tcp://IP:PORT` and, per port,
//! `{SVC}_PORT_{PORT}_{PROTO}=tcp://IP:PORT` with `_PROTO`, `_PORT` and `_ADDR`. Names are upper-cased
//! with `-` turned into `_`. Only Services that exist when the container starts are seen (as in
//! Kubernetes); a variable the container defines itself wins.
//!
//! ```
//! use skiff_controllers::node_agent::service_env::service_env;
//! use skiff_core::kinds::{Service, ServicePort};
//!
//! let mut svc = Service::named("redis-primary");
//! svc.spec.cluster_ip = Some("10.96.0.11".into());
//! svc.spec.ports.push(ServicePort { port: 6379, protocol: Some("TCP".into()), ..Default::default() });
//! let env = service_env(&[svc]);
//! assert!(env.contains(&("REDIS_PRIMARY_SERVICE_HOST".into(), "10.96.0.11".into())));
//! assert!(env.contains(&("REDIS_PRIMARY_PORT".into(), "tcp://10.96.0.11:6379".into())));
//! assert!(env.contains(&("REDIS_PRIMARY_PORT_6379_TCP_ADDR".into(), "10.96.0.11".into())));
//! ```

use skiff_core::client::{Api, Client, ClientError, ListParams};
use skiff_core::kinds::{Pod, Service};
use skiff_core::Resource;
use std::sync::Arc;

/// The Services whose variables are always set, from the `default` namespace.
const MASTER_SERVICES: &[&str] = &["kubernetes"];

fn var_name(s: &str) -> String {
    s.replace('-', "_").to_uppercase()
}

/// Whether the Service has a ClusterIP (not headless, not ExternalName).
fn has_ip(svc: &Service) -> bool {
    svc.spec
        .cluster_ip
        .as_deref()
        .is_some_and(|ip| !ip.is_empty() && ip != "None")
}

/// The variables of `services` (see the module docs), sorted by Service name.
pub fn service_env(services: &[Service]) -> Vec<(String, String)> {
    let mut sorted: Vec<&Service> = services.iter().filter(|s| has_ip(s)).collect();
    sorted.sort_by(|a, b| a.name().cmp(b.name()));
    let mut env = Vec::new();
    for svc in sorted {
        let name = var_name(svc.name());
        let ip = svc.spec.cluster_ip.clone().unwrap_or_default();
        let Some(first) = svc.spec.ports.first() else {
            continue;
        };
        env.push((format!("{name}_SERVICE_HOST"), ip.clone()));
        env.push((format!("{name}_SERVICE_PORT"), first.port.to_string()));
        for p in &svc.spec.ports {
            if let Some(port_name) = p.name.as_deref().filter(|n| !n.is_empty()) {
                env.push((
                    format!("{name}_SERVICE_PORT_{}", var_name(port_name)),
                    p.port.to_string(),
                ));
            }
        }
        for (i, p) in svc.spec.ports.iter().enumerate() {
            let proto = p.protocol.as_deref().unwrap_or("TCP").to_lowercase();
            let url = format!("{proto}://{ip}:{}", p.port);
            let prefix = format!("{name}_PORT_{}_{}", p.port, proto.to_uppercase());
            if i == 0 {
                env.push((format!("{name}_PORT"), url.clone()));
            }
            env.push((prefix.clone(), url));
            env.push((format!("{prefix}_PROTO"), proto));
            env.push((format!("{prefix}_PORT"), p.port.to_string()));
            env.push((format!("{prefix}_ADDR"), ip.clone()));
        }
    }
    env
}

/// The Services a container of `pod` sees: those of its namespace (when `enableServiceLinks`) and
/// the `kubernetes` Service.
pub async fn visible_services(
    client: &Arc<dyn Client>,
    pod: &Pod,
) -> Result<Vec<Service>, ClientError> {
    let ns = pod.namespace().unwrap_or("default");
    let mut out: Vec<Service> = Vec::new();
    if pod.spec.enable_service_links != Some(false) {
        let api: Api<Service> = Api::namespaced(client.clone(), ns);
        out = api.list(&ListParams::default()).await?.items;
    }
    let defaults: Api<Service> = Api::namespaced(client.clone(), "default");
    for name in MASTER_SERVICES {
        if out.iter().any(|s| s.name() == *name) {
            if ns == "default" {
                continue;
            }
            // Another namespace's Service of the same name gives way to the master one.
            out.retain(|s| s.name() != *name);
        }
        if let Some(svc) = defaults.get_opt(name).await? {
            out.push(svc);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_core::kinds::ServicePort;

    #[test]
    fn every_variable_kubernetes_sets() {
        let mut svc = Service::named("web-front");
        svc.spec.cluster_ip = Some("10.96.3.4".into());
        svc.spec.ports = vec![
            ServicePort {
                name: Some("http".into()),
                port: 80,
                protocol: Some("TCP".into()),
                ..Default::default()
            },
            ServicePort {
                name: Some("dns-udp".into()),
                port: 53,
                protocol: Some("UDP".into()),
                ..Default::default()
            },
        ];
        let mut headless = Service::named("db");
        headless.spec.cluster_ip = Some("None".into());
        headless.spec.ports = svc.spec.ports.clone();
        let env = service_env(&[svc, headless]);
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("WEB_FRONT_SERVICE_HOST"), Some("10.96.3.4"));
        assert_eq!(get("WEB_FRONT_SERVICE_PORT"), Some("80"));
        assert_eq!(get("WEB_FRONT_SERVICE_PORT_HTTP"), Some("80"));
        assert_eq!(get("WEB_FRONT_SERVICE_PORT_DNS_UDP"), Some("53"));
        assert_eq!(get("WEB_FRONT_PORT"), Some("tcp://10.96.3.4:80"));
        assert_eq!(get("WEB_FRONT_PORT_53_UDP"), Some("udp://10.96.3.4:53"));
        assert_eq!(get("WEB_FRONT_PORT_53_UDP_PROTO"), Some("udp"));
        assert_eq!(get("WEB_FRONT_PORT_80_TCP_PORT"), Some("80"));
        assert_eq!(get("WEB_FRONT_PORT_80_TCP_ADDR"), Some("10.96.3.4"));
        assert!(get("DB_SERVICE_HOST").is_none());
        assert_eq!(env.len(), 13);
    }
}
