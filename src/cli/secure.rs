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
use skiff_api::ApiServer;
use skiff_core::client::Client;
use skiff_core::codec::Scheme;
use skiff_core::shutdown::Shutdown;

/// How the server is secured: nothing (plain HTTP), or TLS and tokens.
pub(crate) struct Security {
    secure: Option<Secure>,
}

struct Secure {
    ca_pem: String,
    tls: Arc<rustls::ServerConfig>,
    tokens: TokenSet,
    admin_token: String,
}

/// Prepares TLS and tokens under `data_dir` for a server listening on `bind` (nothing when `insecure`).
pub(crate) fn prepare(data_dir: &Path, bind: IpAddr, insecure: bool) -> anyhow::Result<Security> {
    if insecure {
        return Ok(Security { secure: None });
    }
    let mut hosts: Vec<String> = vec!["127.0.0.1".into(), "::1".into(), "localhost".into()];
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    // Only a name a certificate can carry (a DNS name); anything else is left out.
    let hostname = Some(hostname.trim().to_string()).filter(|h| {
        h.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    });
    let bind = (!bind.is_unspecified()).then(|| bind.to_string());
    for h in [hostname, bind].into_iter().flatten() {
        if !h.is_empty() && !hosts.contains(&h) {
            hosts.push(h);
        }
    }
    let context = || format!("--data-dir {}: cannot set up TLS", data_dir.display());
    let pki = Pki::ensure(&data_dir.join("pki"), &hosts).with_context(context)?;
    let tls = pki.server_config().with_context(context)?;
    let (tokens, admin_token) = skiff_api::auth::ensure_token_file(&data_dir.join("tokens.csv"))
        .with_context(|| format!("--data-dir {}: cannot set up tokens", data_dir.display()))?;
    Ok(Security {
        secure: Some(Secure {
            ca_pem: pki.ca_pem().to_string(),
            tls,
            tokens,
            admin_token,
        }),
    })
}

impl Security {
    /// The API server, asking for tokens unless plain HTTP.
    pub(crate) fn api_server(&self, client: Arc<dyn Client>, scheme: Scheme) -> Arc<ApiServer> {
        match &self.secure {
            Some(s) => ApiServer::with_tokens(client, scheme, s.tokens.clone()),
            None => ApiServer::new(client, scheme),
        }
    }

    /// The URL clients on this machine use for a server bound to `bound` (loopback when it listens on
    /// every address).
    pub(crate) fn url(&self, bound: SocketAddr) -> String {
        let host = match bound.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let scheme = if self.secure.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", SocketAddr::new(host, bound.port()))
    }

    /// The kubeconfig's contents for the server at `url`: with the CA and the admin token unless plain HTTP.
    pub(crate) fn kubeconfig(&self, url: &str) -> Access {
        match &self.secure {
            Some(s) => Access::new(url)
                .with_ca_pem(s.ca_pem.clone())
                .with_token(s.admin_token.clone()),
            None => Access::new(url),
        }
    }

    /// Serves `server` on `listener` (HTTPS unless plain HTTP) until `shutdown`.
    pub(crate) async fn serve(
        &self,
        server: Arc<ApiServer>,
        listener: tokio::net::TcpListener,
        shutdown: Shutdown,
    ) -> std::io::Result<()> {
        match &self.secure {
            Some(s) => server.serve_tls(listener, s.tls.clone(), shutdown).await,
            None => server.serve(listener, shutdown).await,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn insecure_means_plain_http_and_no_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let s = prepare(dir.path(), IpAddr::V4(Ipv4Addr::UNSPECIFIED), true).unwrap();
        let bound = SocketAddr::from(([0, 0, 0, 0], 8080));
        assert_eq!(s.url(bound), "http://127.0.0.1:8080");
        assert_eq!(s.kubeconfig("http://x").token, None);
        assert!(!dir.path().join("pki").exists());
    }

    #[test]
    fn secure_means_https_ca_and_admin_token() {
        let dir = tempfile::tempdir().unwrap();
        let s = prepare(dir.path(), IpAddr::V6(Ipv6Addr::LOCALHOST), false).unwrap();
        let bound = SocketAddr::from((Ipv6Addr::UNSPECIFIED, 6443));
        assert_eq!(s.url(bound), "https://[::1]:6443");
        let access = s.kubeconfig("https://127.0.0.1:6443");
        assert_eq!(access.token.as_deref().map(str::len), Some(64));
        assert!(access.ca_pem.unwrap().contains("BEGIN CERTIFICATE"));
        assert!(dir.path().join("tokens.csv").exists());
        assert!(dir.path().join("pki/ca.crt").exists());
    }
}
