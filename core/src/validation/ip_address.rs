//! IPAddress and ServiceCIDR validation: an IPAddress is named by its address in canonical form and
//! names its holder; a ServiceCIDR holds one or two CIDRs (one per family).

use std::net::IpAddr;

use super::names::cidr;
use super::object_meta::validate_object_meta;
use super::{FieldError, FieldErrors, FieldPath, Validate};
use crate::kinds::{IPAddress, ServiceCIDR};
use crate::Resource;

/// An IPAddress's name: a valid address written as Go's `netip.Addr.String` writes it.
fn canonical_ip(name: &str) -> Vec<String> {
    match name.parse::<IpAddr>() {
        Ok(ip) if ip.to_string() == name => Vec::new(),
        Ok(ip) => vec![format!("must be in canonical form (\"{ip}\")")],
        Err(_) => vec!["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)".into()],
    }
}

impl Validate for IPAddress {
    fn validate(&self) -> FieldErrors {
        let mut errs = validate_object_meta(&self.metadata, IPAddress::SCOPE, canonical_ip);
        let parent = FieldPath::new("spec").child("parentRef");
        match &self.spec.parent_ref {
            None => errs.push(FieldError::required(&parent, "")),
            Some(r) => {
                if r.resource.is_empty() {
                    errs.push(FieldError::required(&parent.child("resource"), ""));
                }
                if r.name.is_empty() {
                    errs.push(FieldError::required(&parent.child("name"), ""));
                }
            }
        }
        errs
    }
}

impl Validate for ServiceCIDR {
    fn validate(&self) -> FieldErrors {
        let mut errs = validate_object_meta(
            &self.metadata,
            ServiceCIDR::SCOPE,
            super::names::dns1123_subdomain,
        );
        let cidrs = FieldPath::new("spec").child("cidrs");
        if self.spec.cidrs.is_empty() || self.spec.cidrs.len() > 2 {
            errs.push(FieldError::invalid(
                &cidrs,
                format!("{:?}", self.spec.cidrs),
                "at least one and max two IP families are allowed",
            ));
        }
        for (i, c) in self.spec.cidrs.iter().enumerate() {
            for msg in cidr(c) {
                errs.push(FieldError::invalid(&cidrs.index(i), c, msg));
            }
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::ParentReference;

    #[test]
    fn addresses_are_named_canonically_and_name_their_holder() {
        let mut ip = IPAddress::named("10.96.0.010");
        assert!(ip.validate().has_field("metadata.name"));
        ip.metadata.name = Some("10.96.0.10".into());
        assert!(ip.validate().has_field("spec.parentRef"));
        ip.spec.parent_ref = Some(ParentReference {
            resource: "services".into(),
            namespace: "default".into(),
            name: "web".into(),
            ..ParentReference::default()
        });
        assert!(ip.validate().is_empty(), "{:?}", ip.validate());
        let mut cidr = ServiceCIDR::named("kubernetes");
        assert!(cidr.validate().has_field("spec.cidrs"));
        cidr.spec.cidrs = vec!["10.96.0.0/12".into()];
        assert!(cidr.validate().is_empty());
        cidr.spec.cidrs = vec!["10.96.0.0/40".into()];
        assert!(cidr.validate().has_field("spec.cidrs[0]"));
    }
}
