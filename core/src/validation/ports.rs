//! Checks shared by every list of named ports (Service ports, Endpoints ports).

use std::collections::BTreeSet;

use super::names::dns1123_label;
use super::pod::PROTOCOLS;
use super::{FieldError, FieldErrors, FieldPath};

/// One entry of a named port list, as the checks see it.
pub(crate) struct PortEntry<'a> {
    pub name: Option<&'a str>,
    pub port: i32,
    pub protocol: Option<&'a str>,
}

/// Checks a list of ports at `path`: names (required when there are several, DNS-1123 labels, unique),
/// port numbers 1-65535 and protocols. Returns the protocol each entry resolves to (default `TCP`).
pub(crate) fn validate_named_ports<'a>(
    entries: &[PortEntry<'a>],
    path: &FieldPath,
    errs: &mut FieldErrors,
) -> Vec<&'a str> {
    let mut names = BTreeSet::new();
    let mut protocols = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let pp = path.index(i);
        match e.name.filter(|n| !n.is_empty()) {
            None if entries.len() > 1 => errs.push(FieldError::required(&pp.child("name"), "")),
            None => {}
            Some(name) => {
                for msg in dns1123_label(name) {
                    errs.push(FieldError::invalid(&pp.child("name"), name, msg));
                }
                if !names.insert(name) {
                    errs.push(FieldError::duplicate(&pp.child("name"), name));
                }
            }
        }
        if !(1..=65535).contains(&e.port) {
            errs.push(FieldError::invalid(
                &pp.child("port"),
                e.port,
                "must be between 1 and 65535, inclusive",
            ));
        }
        let proto = e.protocol.unwrap_or("TCP");
        if !PROTOCOLS.contains(&proto) {
            errs.push(FieldError::not_supported(
                &pp.child("protocol"),
                proto,
                PROTOCOLS,
            ));
        }
        protocols.push(proto);
    }
    protocols
}
