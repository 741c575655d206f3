//! TLS and bearer tokens for `skiff up` / `skiff server`: on first start a self-signed CA and serving
//! certificate under `DATA_DIR/pki/` and an admin token in `DATA_DIR/tokens.csv`, reused afterwards;
//! the kubeconfig gets the CA and the token. `--insecure-http` turns both off.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use skiff_api::auth::TokenSet;
use skiff_api::kubeconfig::Access;
use skiff_api::tls::Pki;

/// What the server needs to start securely, and what its kubeconfig says.
pub(crate) struct Security {
    /// Server URL, CA and token for the kubeconfig.
    pub access: Access,
    /// The TLS configuration, unless plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The accepted tokens, unless plain HTTP.
    pub tokens: Option<TokenSet>,
}

/// Prepares TLS and tokens under `data_dir` for a server bound to `bound` (or nothing when `insecure`).
pub(crate) fn prepare(
    data_dir: &Path,
    bound: SocketAddr,
    insecure: bool,
) -> anyhow::Result<Security> {
    // A server listening on every address is reached on loopback from this machine.
    let host = match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let addr = SocketAddr::new(host, bound.port());
    if insecure {
        return Ok(Security {
            access: Access::new(format!("http://{addr}")),
            tls: None,
            tokens: None,
        });
    }
    let mut hosts: Vec<String> = vec!["127.0.0.1".into(), "::1".into(), "localhost".into()];
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    for h in [hostname.trim().to_string(), bound.ip().to_string()] {
        let usable = !h.is_empty() && h != "0.0.0.0" && h != "::";
        if usable && !hosts.contains(&h) {
            hosts.push(h);
        }
    }
    let pki_dir = data_dir.join("pki");
    let pki = Pki::ensure(&pki_dir, &hosts)
        .with_context(|| format!("--data-dir {}: cannot set up TLS", data_dir.display()))?;
    let tls = pki
        .server_config()
        .with_context(|| format!("--data-dir {}: cannot set up TLS", data_dir.display()))?;
    let (tokens, admin) = skiff_api::auth::ensure_token_file(&data_dir.join("tokens.csv"))
        .with_context(|| format!("--data-dir {}: cannot set up tokens", data_dir.display()))?;
    Ok(Security {
        access: Access::new(format!("https://{addr}"))
            .with_ca_pem(pki.ca_pem())
            .with_token(admin),
        tls: Some(tls),
        tokens: Some(tokens),
    })
}
