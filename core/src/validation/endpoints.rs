//! Endpoints validation.

use std::collections::BTreeSet;

use super::names::{dns1123_label, dns1123_subdomain, ip_address};
use super::object_meta::validate_object_meta;
use super::pod::PROTOCOLS;
use super::{FieldError, FieldErrors, FieldPath, Validate};
use crate::kinds::Endpoints;
use crate::Resource;

impl Validate for Endpoints {
    fn validate(&self) -> FieldErrors {
        let mut errs = validate_object_meta(&self.metadata, Endpoints::SCOPE, dns1123_subdomain);
        let subsets = FieldPath::new("subsets");
        for (i, subset) in self.subsets.iter().enumerate() {
            let sp = subsets.index(i);
            if subset.addresses.is_empty() && subset.not_ready_addresses.is_empty() {
                errs.push(FieldError::required(
                    &sp,
                    "must specify `addresses` or `notReadyAddresses`",
                ));
            }
            for (field, list) in [
                ("addresses", &subset.addresses),
                ("notReadyAddresses", &subset.not_ready_addresses),
            ] {
                for (j, a) in list.iter().enumerate() {
                    let ap = sp.child(field).index(j).child("ip");
                    if a.ip.is_empty() {
                        errs.push(FieldError::required(&ap, ""));
                    } else {
                        for msg in ip_address(&a.ip) {
                            errs.push(FieldError::invalid(&ap, &a.ip, msg));
                        }
                    }
                }
            }
            let mut names = BTreeSet::new();
            for (j, p) in subset.ports.iter().enumerate() {
                let pp = sp.child("ports").index(j);
                let name = p.name.as_deref().unwrap_or("");
                if name.is_empty() {
                    if subset.ports.len() > 1 {
                        errs.push(FieldError::required(&pp.child("name"), ""));
                    }
                } else {
                    for msg in dns1123_label(name) {
                        errs.push(FieldError::invalid(&pp.child("name"), name, msg));
                    }
                    if !names.insert(name) {
                        errs.push(FieldError::duplicate(&pp.child("name"), name));
                    }
                }
                if !(1..=65535).contains(&p.port) {
                    errs.push(FieldError::invalid(
                        &pp.child("port"),
                        p.port,
                        "must be between 1 and 65535, inclusive",
                    ));
                }
                let proto = p.protocol.as_deref().unwrap_or("TCP");
                if !PROTOCOLS.contains(&proto) {
                    errs.push(FieldError::not_supported(
                        &pp.child("protocol"),
                        proto,
                        PROTOCOLS,
                    ));
                }
            }
        }
        errs
    }
}
