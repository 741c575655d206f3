//! Name and label syntax as Kubernetes checks it (`k8s.io/apimachinery/pkg/util/validation`).
//!
//! Each function returns the list of problems (empty = valid), worded like Kubernetes.

/// Longest DNS-1123 label.
pub const DNS1123_LABEL_MAX: usize = 63;
/// Longest DNS-1123 subdomain.
pub const DNS1123_SUBDOMAIN_MAX: usize = 253;
/// Longest label value and qualified-name name part.
pub const LABEL_VALUE_MAX: usize = 63;

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn dns1123_label_shape(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| is_lower_alnum(c) || c == '-')
        && s.starts_with(is_lower_alnum)
        && s.ends_with(is_lower_alnum)
}

/// A DNS-1123 label: at most 63 lower-case alphanumerics or '-', starting and ending alphanumeric
/// (names of Services, Namespaces, containers, ports).
///
/// ```
/// # use skiff_core::validation::names::dns1123_label;
/// assert!(dns1123_label("web-1").is_empty());
/// assert!(!dns1123_label("Web_1").is_empty());
/// ```
pub fn dns1123_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_LABEL_MAX {
        errs.push(format!(
            "must be no more than {DNS1123_LABEL_MAX} characters"
        ));
    }
    if !dns1123_label_shape(s) {
        errs.push("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".into());
    }
    errs
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 characters (names of Pods, ReplicaSets, ConfigMaps...).
///
/// ```
/// # use skiff_core::validation::names::dns1123_subdomain;
/// assert!(dns1123_subdomain("web.example-1").is_empty());
/// assert!(!dns1123_subdomain("web..x").is_empty());
/// ```
pub fn dns1123_subdomain(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_SUBDOMAIN_MAX {
        errs.push(format!(
            "must be no more than {DNS1123_SUBDOMAIN_MAX} characters"
        ));
    }
    if s.is_empty() || !s.split('.').all(dns1123_label_shape) {
        errs.push("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".into());
    }
    errs
}

/// A DNS-1035 label: like a DNS-1123 label but starting with a letter (Service names).
///
/// ```
/// # use skiff_core::validation::names::dns1035_label;
/// assert!(dns1035_label("web").is_empty());
/// assert!(!dns1035_label("1web").is_empty());
/// ```
pub fn dns1035_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_LABEL_MAX {
        errs.push(format!(
            "must be no more than {DNS1123_LABEL_MAX} characters"
        ));
    }
    if !dns1123_label_shape(s) || !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        errs.push("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')".into());
    }
    errs
}

/// A ConfigMap key: at most 253 alphanumerics, '-', '_' or '.', and not `.` or `..`.
///
/// ```
/// # use skiff_core::validation::names::config_map_key;
/// assert!(config_map_key("app.properties").is_empty());
/// assert!(!config_map_key("a/b").is_empty());
/// ```
pub fn config_map_key(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > DNS1123_SUBDOMAIN_MAX {
        errs.push(format!(
            "must be no more than {DNS1123_SUBDOMAIN_MAX} characters"
        ));
    }
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        errs.push("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')".into());
    }
    if s == "." || s == ".." {
        errs.push(format!("must not be '{s}'"));
    }
    errs
}

/// An IP address (v4 or v6).
pub fn ip_address(s: &str) -> Vec<String> {
    match s.parse::<std::net::IpAddr>() {
        Ok(_) => Vec::new(),
        Err(_) => vec!["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)".into()],
    }
}

/// A CIDR block such as `10.244.0.0/24`.
pub fn cidr(s: &str) -> Vec<String> {
    let ok = s.split_once('/').is_some_and(|(ip, bits)| {
        match (ip.parse::<std::net::IpAddr>(), bits.parse::<u8>()) {
            (Ok(std::net::IpAddr::V4(_)), Ok(b)) => b <= 32,
            (Ok(std::net::IpAddr::V6(_)), Ok(b)) => b <= 128,
            _ => false,
        }
    });
    if ok {
        Vec::new()
    } else {
        vec!["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)".into()]
    }
}

fn qualified_name_part(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// A qualified name (label and annotation keys, finalizers): an optional DNS subdomain prefix and '/',
/// then at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric.
///
/// ```
/// # use skiff_core::validation::names::qualified_name;
/// assert!(qualified_name("app.kubernetes.io/name").is_empty());
/// assert!(!qualified_name("bad key").is_empty());
/// ```
pub fn qualified_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if let Some(p) = prefix {
        if p.is_empty() {
            errs.push("prefix part must be non-empty".into());
        } else {
            errs.extend(
                dns1123_subdomain(p)
                    .into_iter()
                    .map(|e| format!("prefix part {e}")),
            );
        }
    }
    if name.is_empty() {
        errs.push("name part must be non-empty".into());
    } else {
        if name.len() > LABEL_VALUE_MAX {
            errs.push(format!(
                "name part must be no more than {LABEL_VALUE_MAX} characters"
            ));
        }
        if !qualified_name_part(name) {
            errs.push("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".into());
        }
    }
    errs
}

/// A label value: empty, or at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric.
///
/// ```
/// # use skiff_core::validation::names::label_value;
/// assert!(label_value("").is_empty());
/// assert!(!label_value("-x").is_empty());
/// ```
pub fn label_value(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > LABEL_VALUE_MAX {
        errs.push(format!("must be no more than {LABEL_VALUE_MAX} characters"));
    }
    if !s.is_empty() && !qualified_name_part(s) {
        errs.push("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".into());
    }
    errs
}

/// An IANA service name (named ports): at most 15 lower-case alphanumerics or '-', with at least one letter,
/// no leading, trailing or doubled '-'.
///
/// ```
/// # use skiff_core::validation::names::port_name;
/// assert!(port_name("http-alt").is_empty());
/// assert!(!port_name("8080").is_empty());
/// ```
pub fn port_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 15 {
        errs.push("must be no more than 15 characters".into());
    }
    if !s.chars().all(|c| is_lower_alnum(c) || c == '-') {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if s.contains("--") {
        errs.push("must not contain consecutive hyphens".into());
    }
    if !s.chars().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".into());
    }
    if s.starts_with('-') || s.ends_with('-') {
        errs.push("must not begin or end with a hyphen".into());
    }
    errs
}

/// An environment variable name: letters, digits, '_', '-' or '.', not starting with a digit.
///
/// ```
/// # use skiff_core::validation::names::env_var_name;
/// assert!(env_var_name("hello").is_empty());
/// assert!(!env_var_name("1X").is_empty());
/// ```
pub fn env_var_name(s: &str) -> Vec<String> {
    let ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !s.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Vec::new()
    } else {
        vec!["a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')".into()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_subdomains() {
        for ok in ["a", "a-b", "0a", "abc123"] {
            assert!(dns1123_label(ok).is_empty(), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"a".repeat(64)] {
            assert!(!dns1123_label(bad).is_empty(), "{bad}");
        }
        assert!(dns1123_subdomain("a.b.c").is_empty());
        assert!(!dns1123_subdomain(".a").is_empty());
        assert!(!dns1123_subdomain(&"a".repeat(254)).is_empty());
    }

    #[test]
    fn qualified_names() {
        for ok in [
            "app",
            "App_1.x",
            "example.com/app",
            "kubernetes.io/hostname",
        ] {
            assert!(qualified_name(ok).is_empty(), "{ok}");
        }
        for bad in [
            "",
            "/app",
            "example.com/",
            "Example.com/app",
            "a b",
            "_a",
            &"a".repeat(64),
        ] {
            assert!(!qualified_name(bad).is_empty(), "{bad}");
        }
    }

    #[test]
    fn dns1035_config_keys_ips_cidrs() {
        assert!(dns1035_label("a1").is_empty());
        assert!(!dns1035_label("1a").is_empty());
        assert!(config_map_key("A_b-c.d").is_empty());
        for bad in ["", ".", "..", "a b", "a/b"] {
            assert!(!config_map_key(bad).is_empty(), "{bad}");
        }
        assert!(ip_address("10.0.0.1").is_empty());
        assert!(ip_address("::1").is_empty());
        assert!(!ip_address("10.0.0.256").is_empty());
        assert!(cidr("10.244.0.0/16").is_empty());
        assert!(!cidr("10.244.0.0/33").is_empty());
        assert!(!cidr("10.244.0.0").is_empty());
    }

    #[test]
    fn port_and_env_names() {
        assert!(port_name("http").is_empty());
        for bad in ["", "a--b", "-a", "toolongportname1", "HTTP"] {
            assert!(!port_name(bad).is_empty(), "{bad}");
        }
        assert!(env_var_name("MY_VAR.x-1").is_empty());
        assert!(!env_var_name("A B").is_empty());
    }
}
