//! Service validation (`ValidateService`), for the four types Kubernetes has.

use std::collections::BTreeSet;

use super::names::{dns1035_label, dns1123_subdomain, ip_address, port_name};
use super::object_meta::{validate_labels, validate_object_meta};
use super::ports::{validate_named_ports, PortEntry};
use super::{FieldError, FieldErrors, FieldPath, Validate};
use crate::kinds::Service;
use crate::{IntOrString, Resource};

/// Service types Skiff serves.
pub const SERVICE_TYPES: &[&str] = &["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];

impl Validate for Service {
    fn validate(&self) -> FieldErrors {
        let mut errs = validate_object_meta(&self.metadata, Service::SCOPE, dns1035_label);
        let spec = FieldPath::new("spec");
        let s = &self.spec;
        let ty = s.type_.as_deref().unwrap_or("ClusterIP");
        if !SERVICE_TYPES.contains(&ty) {
            errs.push(FieldError::not_supported(
                &spec.child("type"),
                ty,
                SERVICE_TYPES,
            ));
        }
        let headless = s.cluster_ip.as_deref() == Some("None");
        if headless && matches!(ty, "NodePort" | "LoadBalancer") {
            errs.push(FieldError::invalid(
                &spec.child("clusterIP"),
                "None",
                format!("may not be set to 'None' for {ty} services"),
            ));
        }
        if ty == "ExternalName" {
            let field = spec.child("externalName");
            match s.external_name.as_deref().filter(|n| !n.is_empty()) {
                None => errs.push(FieldError::required(&field, "")),
                Some(name) => {
                    for msg in dns1123_subdomain(name.trim_end_matches('.')) {
                        errs.push(FieldError::invalid(&field, name, msg));
                    }
                }
            }
            if let Some(ip) = s.cluster_ip.as_deref().filter(|ip| !ip.is_empty()) {
                errs.push(FieldError::forbidden(
                    &spec.child("clusterIP"),
                    format!("may not be set for ExternalName services (got {ip:?})"),
                ));
            }
        }
        if s.ports.is_empty() && !headless && ty != "ExternalName" {
            errs.push(FieldError::required(&spec.child("ports"), ""));
        }
        let ports = spec.child("ports");
        let entries: Vec<PortEntry<'_>> = s
            .ports
            .iter()
            .map(|p| PortEntry {
                name: p.name.as_deref(),
                port: p.port,
                protocol: p.protocol.as_deref(),
            })
            .collect();
        let protocols = validate_named_ports(&entries, &ports, &mut errs);
        let mut pairs = BTreeSet::new();
        for (i, (p, proto)) in s.ports.iter().zip(protocols).enumerate() {
            let pp = ports.index(i);
            if !pairs.insert((p.port, proto)) {
                errs.push(FieldError::duplicate(&pp, format!("{}/{proto}", p.port)));
            }
            match &p.target_port {
                Some(IntOrString::Int(t)) if !(1..=65535).contains(t) => {
                    errs.push(FieldError::invalid(
                        &pp.child("targetPort"),
                        t,
                        "must be between 1 and 65535, inclusive",
                    ))
                }
                Some(IntOrString::String(t)) => {
                    for msg in port_name(t) {
                        errs.push(FieldError::invalid(&pp.child("targetPort"), t, msg));
                    }
                }
                _ => {}
            }
            if let Some(np) = p.node_port.filter(|np| *np != 0) {
                if !matches!(ty, "NodePort" | "LoadBalancer") {
                    errs.push(FieldError::forbidden(
                        &pp.child("nodePort"),
                        format!("may not be used when `type` is '{ty}'"),
                    ));
                } else if !(1..=65535).contains(&np) {
                    errs.push(FieldError::invalid(
                        &pp.child("nodePort"),
                        np,
                        "must be between 1 and 65535, inclusive",
                    ));
                }
            }
        }
        errs.extend(validate_labels(&s.selector, &spec.child("selector")));
        if let Some(ip) = s
            .cluster_ip
            .as_deref()
            .filter(|ip| !ip.is_empty() && *ip != "None")
        {
            for msg in ip_address(ip) {
                errs.push(FieldError::invalid(&spec.child("clusterIP"), ip, msg));
            }
        }
        if let (Some(ip), Some(first)) = (s.cluster_ip.as_deref(), s.cluster_ips.first()) {
            if !ip.is_empty() && ip != first {
                errs.push(FieldError::invalid(
                    &spec.child("clusterIPs").index(0),
                    first,
                    "must be equal to `clusterIP`",
                ));
            }
        }
        if let Some(t) = s
            .session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds)
        {
            if !(1..=86_400).contains(&t) {
                errs.push(FieldError::invalid(
                    &spec
                        .child("sessionAffinityConfig")
                        .child("clientIP")
                        .child("timeoutSeconds"),
                    t,
                    "must be greater than 0 and less than 86400",
                ));
            }
        }
        if let Some(a) = s.session_affinity.as_deref() {
            if !["None", "ClientIP"].contains(&a) {
                errs.push(FieldError::not_supported(
                    &spec.child("sessionAffinity"),
                    a,
                    &["None", "ClientIP"],
                ));
            }
        }
        for (field, value) in [
            ("externalTrafficPolicy", &s.external_traffic_policy),
            ("internalTrafficPolicy", &s.internal_traffic_policy),
        ] {
            if let Some(v) = value.as_deref() {
                if !["Cluster", "Local"].contains(&v) {
                    errs.push(FieldError::not_supported(
                        &spec.child(field),
                        v,
                        &["Cluster", "Local"],
                    ));
                }
            }
        }
        if s.external_traffic_policy.is_some() && ty == "ClusterIP" {
            errs.push(FieldError::invalid(
                &spec.child("externalTrafficPolicy"),
                s.external_traffic_policy.as_deref().unwrap_or(""),
                "may only be set for externally-accessible services",
            ));
        }
        errs
    }
}
