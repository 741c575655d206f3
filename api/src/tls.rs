//! TLS for the API server: a self-signed certificate authority and a serving certificate it signs,
//! generated on first start under a directory (`DATA_DIR/pki` for `skiff up`) and reused afterwards, and
//! a listener that serves HTTPS with rustls over a [`tokio::net::TcpListener`].
//!
//! Files (keys are written with mode 0600):
//! - `ca.crt`, `ca.key`: the CA (ECDSA P-256, ten years). Its certificate goes into kubeconfigs as
//!   `certificate-authority-data`; replacing it invalidates every kubeconfig written before.
//! - `apiserver.crt`, `apiserver.key`: the serving certificate for the hosts given to [`Pki::ensure`]
//!   (e.g. `127.0.0.1`, `::1`, `localhost`, the hostname). `apiserver.hosts` records them: when the list
//!   changes the serving certificate is signed anew by the same CA.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use skiff_api::tls::Pki;
//!
//! let pki = Pki::ensure("/var/lib/skiff/pki".as_ref(), &["127.0.0.1".to_string(), "localhost".to_string()])?;
//! let config = pki.server_config()?;
//! let tcp = tokio::net::TcpListener::bind("127.0.0.1:6443").await?;
//! let listener = skiff_api::tls::TlsListener::new(tcp, config);
//! # Ok(()) }
//! ```

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;

/// How long a client may take to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the certificates or the TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file of the PKI directory could not be read or written.
    #[error("{}: cannot {action} it: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was attempted ("read", "write", "create").
        action: &'static str,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A file holds no usable PEM certificate or key.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Generating or signing a key or certificate failed.
    #[error("cannot generate the {what}: {source}")]
    Generate {
        /// Which key or certificate.
        what: &'static str,
        /// rcgen's reason.
        source: rcgen::Error,
    },
    /// rustls refused the certificate and key.
    #[error("the serving certificate and key do not make a TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// The certificates of one API server. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Pki {
    dir: PathBuf,
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

impl Pki {
    /// Loads the CA and serving certificate from `dir`, generating what is missing (and creating `dir`):
    /// the CA only when `ca.crt` or `ca.key` is absent, the serving certificate also when `hosts` differ
    /// from those it was made for. `hosts` are IP addresses or DNS names.
    pub fn ensure(dir: &Path, hosts: &[String]) -> Result<Self, TlsError> {
        std::fs::create_dir_all(dir).map_err(|source| TlsError::Io {
            path: dir.to_path_buf(),
            action: "create",
            source,
        })?;
        let (ca_crt, ca_key) = (dir.join("ca.crt"), dir.join("ca.key"));
        let (ca_pem, ca_key_pair) = if ca_crt.exists() && ca_key.exists() {
            (read(&ca_crt)?, parse_key(&ca_key, &read(&ca_key)?)?)
        } else {
            let key = generate_key("CA key")?;
            let cert = ca_params()
                .self_signed(&key)
                .map_err(|source| TlsError::Generate {
                    what: "CA certificate",
                    source,
                })?;
            write(&ca_key, &key.serialize_pem(), 0o600)?;
            write(&ca_crt, &cert.pem(), 0o644)?;
            // A new CA makes any old serving certificate useless.
            let _ = std::fs::remove_file(dir.join("apiserver.hosts"));
            (cert.pem(), key)
        };
        let (crt, key, hosts_file) = (
            dir.join("apiserver.crt"),
            dir.join("apiserver.key"),
            dir.join("apiserver.hosts"),
        );
        let wanted = hosts.join("\n") + "\n";
        let current = std::fs::read_to_string(&hosts_file).ok();
        let (cert_pem, key_pem) = if crt.exists() && key.exists() && current == Some(wanted.clone())
        {
            (read(&crt)?, read(&key)?)
        } else {
            let leaf_key = generate_key("serving key")?;
            let mut params =
                CertificateParams::new(hosts.to_vec()).map_err(|source| TlsError::Generate {
                    what: "serving certificate",
                    source,
                })?;
            params
                .distinguished_name
                .push(DnType::CommonName, "skiff-apiserver");
            params.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ];
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            params.use_authority_key_identifier_extension = true;
            set_validity(&mut params);
            let issuer = Issuer::new(ca_params(), &ca_key_pair);
            let cert =
                params
                    .signed_by(&leaf_key, &issuer)
                    .map_err(|source| TlsError::Generate {
                        what: "serving certificate",
                        source,
                    })?;
            write(&key, &leaf_key.serialize_pem(), 0o600)?;
            write(&crt, &cert.pem(), 0o644)?;
            write(&hosts_file, &wanted, 0o644)?;
            (cert.pem(), leaf_key.serialize_pem())
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            ca_pem,
            cert_pem,
            key_pem,
        })
    }

    /// The CA certificate (PEM), for kubeconfigs and clients.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The directory the files live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A rustls server configuration serving the certificate (HTTP/1.1 by ALPN).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let crt = self.dir.join("apiserver.crt");
        let certs = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Invalid {
                path: crt.clone(),
                message: format!("not a PEM certificate: {e}"),
            })?;
        if certs.is_empty() {
            return Err(TlsError::Invalid {
                path: crt,
                message: "holds no certificate".into(),
            });
        }
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).map_err(|e| {
            TlsError::Invalid {
                path: self.dir.join("apiserver.key"),
                message: format!("not a PEM private key: {e}"),
            }
        })?;
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(crypto_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// The crypto provider Skiff uses everywhere (ring).
pub fn crypto_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// Makes [`crypto_provider`] the process' default rustls provider, unless one is installed already.
/// reqwest (built without a provider of its own) needs one before any client is built: [`HttpClient`]
/// calls this; code that builds its own `reqwest::Client` must call it first.
///
/// [`HttpClient`]: crate::HttpClient
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another thread installing one is fine.
        let _ = crypto_provider().install_default();
    }
}

/// Fills `buf` with cryptographically secure random bytes.
///
/// ```
/// let mut a = [0u8; 32];
/// skiff_api::tls::random_bytes(&mut a).unwrap();
/// assert_ne!(a, [0u8; 32]);
/// ```
pub fn random_bytes(buf: &mut [u8]) -> Result<(), rustls::crypto::GetRandomFailed> {
    crypto_provider().secure_random.fill(buf)
}

/// The CA's parameters; the same on every call, so a CA loaded from disk can sign again.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "skiff-ca");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "skiff");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut params);
    params
}

/// Valid from yesterday (clock skew) to ten years on.
fn set_validity(params: &mut CertificateParams) {
    use chrono::Datelike;
    let from = chrono::Utc::now() - chrono::Duration::days(1);
    let ymd = |d: chrono::DateTime<chrono::Utc>, years: i32| {
        // Day 28 at most, so that every month (and February of any year) has it.
        rcgen::date_time_ymd(d.year() + years, d.month() as u8, d.day().min(28) as u8)
    };
    params.not_before = ymd(from, 0);
    params.not_after = ymd(from, 10);
}

fn generate_key(what: &'static str) -> Result<KeyPair, TlsError> {
    KeyPair::generate().map_err(|source| TlsError::Generate { what, source })
}

fn parse_key(path: &Path, pem: &str) -> Result<KeyPair, TlsError> {
    KeyPair::from_pem(pem).map_err(|e| TlsError::Invalid {
        path: path.to_path_buf(),
        message: format!("not a usable PEM private key: {e}"),
    })
}

fn read(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|source| TlsError::Io {
        path: path.to_path_buf(),
        action: "read",
        source,
    })
}

/// Writes `content` to `path` with `mode`, through a temporary file renamed into place.
pub(crate) fn write_file(path: &Path, content: &str, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(content.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

fn write(path: &Path, content: &str, mode: u32) -> Result<(), TlsError> {
    write_file(path, content, mode).map_err(|source| TlsError::Io {
        path: path.to_path_buf(),
        action: "write",
        source,
    })
}

/// A listener serving TLS over a TCP listener, for [`axum::serve()`] (and
/// [`ApiServer::serve_tls`](crate::ApiServer::serve_tls)).
///
/// Handshakes run in their own tasks (with [`HANDSHAKE_TIMEOUT`]), so a slow client never holds up the
/// others; failed handshakes are dropped. A client speaking plain HTTP gets `400 Bad Request` "Client
/// sent an HTTP request to an HTTPS server." as from Kubernetes. Dropping the listener stops accepting.
pub struct TlsListener {
    local_addr: SocketAddr,
    incoming: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    acceptor_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Serves TLS with `config` on the connections `tcp` accepts. Must be called within a tokio runtime.
    pub fn new(tcp: tokio::net::TcpListener, config: Arc<rustls::ServerConfig>) -> Self {
        let local_addr = tcp
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let (tx, incoming) = mpsc::channel(64);
        let acceptor_task = tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(conn) => conn,
                    Err(e) => {
                        tracing::debug!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    if speaks_plain_http(&stream).await {
                        refuse_plain_http(stream).await;
                        return;
                    }
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Self {
            local_addr,
            incoming,
            acceptor_task,
        }
    }
}

/// Whether the client's first byte is a letter (an HTTP method) rather than a TLS record (0x16).
async fn speaks_plain_http(stream: &TcpStream) -> bool {
    let mut first = [0u8; 1];
    matches!(
        tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await,
        Ok(Ok(1)) if first[0].is_ascii_uppercase()
    )
}

/// Answers plain HTTP on the TLS port as Go's servers (and so Kubernetes) do: 400 and a hint.
async fn refuse_plain_http(mut stream: TcpStream) {
    use tokio::io::AsyncWriteExt;
    let body = "Client sent an HTTP request to an HTTPS server.\n";
    let resp = format!(
        "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(resp.as_bytes()).await;
    let _ = stream.shutdown().await;
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(conn) => conn,
            // The acceptor task only ends when aborted by drop; never yield a connection then.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}
