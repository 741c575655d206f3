//! Endpoints validation.

use super::names::{dns1123_subdomain, ip_address};
use super::object_meta::validate_object_meta;
use super::ports::{validate_named_ports, PortEntry};
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
            let entries: Vec<PortEntry<'_>> = subset
                .ports
                .iter()
                .map(|p| PortEntry {
                    name: p.name.as_deref(),
                    port: p.port,
                    protocol: p.protocol.as_deref(),
                })
                .collect();
            validate_named_ports(&entries, &sp.child("ports"), &mut errs);
        }
        errs
    }
}
