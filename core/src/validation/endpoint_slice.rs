//! EndpointSlice validation (`ValidateEndpointSlice`): address type, at most 1,000 endpoints of 1 to 100
//! addresses each, at most 100 ports with unique names.

use std::collections::BTreeSet;

use super::names::{dns1123_label, dns1123_subdomain, ip_address};
use super::object_meta::validate_object_meta;
use super::pod::PROTOCOLS;
use super::{FieldError, FieldErrors, FieldPath, Validate};
use crate::kinds::EndpointSlice;
use crate::Resource;

/// The address types a slice may have.
pub const ADDRESS_TYPES: &[&str] = &["IPv4", "IPv6", "FQDN"];
/// Most endpoints in one slice the API accepts.
pub const MAX_ENDPOINTS: usize = 1000;
/// Most ports in one slice.
pub const MAX_PORTS: usize = 100;
/// Most addresses of one endpoint.
pub const MAX_ADDRESSES: usize = 100;

impl Validate for EndpointSlice {
    fn validate(&self) -> FieldErrors {
        let mut errs =
            validate_object_meta(&self.metadata, EndpointSlice::SCOPE, dns1123_subdomain);
        let ty = self.address_type.as_str();
        let type_path = FieldPath::new("addressType");
        if ty.is_empty() {
            errs.push(FieldError::required(&type_path, ""));
        } else if !ADDRESS_TYPES.contains(&ty) {
            errs.push(FieldError::not_supported(&type_path, ty, ADDRESS_TYPES));
        }
        let endpoints = FieldPath::new("endpoints");
        if self.endpoints.len() > MAX_ENDPOINTS {
            errs.push(FieldError::too_many(
                &endpoints,
                self.endpoints.len(),
                MAX_ENDPOINTS,
            ));
        }
        for (i, e) in self.endpoints.iter().enumerate() {
            let addrs = endpoints.index(i).child("addresses");
            if e.addresses.is_empty() {
                errs.push(FieldError::required(
                    &addrs,
                    "must contain at least 1 address",
                ));
            } else if e.addresses.len() > MAX_ADDRESSES {
                errs.push(FieldError::too_many(
                    &addrs,
                    e.addresses.len(),
                    MAX_ADDRESSES,
                ));
            }
            for (j, a) in e.addresses.iter().enumerate() {
                let msgs = match ty {
                    "IPv4" => match a.parse::<std::net::IpAddr>() {
                        Ok(std::net::IpAddr::V4(_)) => Vec::new(),
                        _ => vec!["must be a valid IPv4 address".into()],
                    },
                    "IPv6" => match a.parse::<std::net::IpAddr>() {
                        Ok(std::net::IpAddr::V6(_)) => Vec::new(),
                        _ => ip_address(a)
                            .into_iter()
                            .chain(["must be a valid IPv6 address".to_string()])
                            .take(1)
                            .collect(),
                    },
                    "FQDN" => dns1123_subdomain(a),
                    _ => Vec::new(),
                };
                for msg in msgs {
                    errs.push(FieldError::invalid(&addrs.index(j), a, msg));
                }
            }
            if let Some(h) = e.hostname.as_deref() {
                for msg in dns1123_label(h) {
                    errs.push(FieldError::invalid(
                        &endpoints.index(i).child("hostname"),
                        h,
                        msg,
                    ));
                }
            }
        }
        let ports = FieldPath::new("ports");
        if self.ports.len() > MAX_PORTS {
            errs.push(FieldError::too_many(&ports, self.ports.len(), MAX_PORTS));
        }
        let mut names = BTreeSet::new();
        for (i, p) in self.ports.iter().enumerate() {
            let pp = ports.index(i);
            let name = p.name.as_deref().unwrap_or("");
            if !name.is_empty() {
                for msg in dns1123_label(name) {
                    errs.push(FieldError::invalid(&pp.child("name"), name, msg));
                }
            }
            if !names.insert(name) {
                errs.push(FieldError::duplicate(&pp.child("name"), name));
            }
            match p.protocol.as_deref() {
                None => errs.push(FieldError::required(&pp.child("protocol"), "")),
                Some(proto) if !PROTOCOLS.contains(&proto) => errs.push(FieldError::not_supported(
                    &pp.child("protocol"),
                    proto,
                    PROTOCOLS,
                )),
                Some(_) => {}
            }
            if let Some(port) = p.port.filter(|p| !(0..=65535).contains(p)) {
                errs.push(FieldError::invalid(
                    &pp.child("port"),
                    port,
                    "must be between 0 and 65535, inclusive",
                ));
            }
        }
        errs
    }
}
