//! Authentication by bearer tokens, as Kubernetes' static token file does.
//!
//! The tokens file is CSV, one user a line: `token,user,uid[,"group1,group2"]` (Kubernetes'
//! `--token-auth-file` format; empty lines and lines starting with `#` are skipped). A request must carry
//! `Authorization: Bearer <token>` for one of the tokens, else it is answered `401 Unauthorized` as a
//! `metav1.Status` — except `/healthz`, `/livez`, `/readyz` and `/version`, which anyone may read (as
//! Kubernetes lets anonymous users). Tokens are compared in constant time.
//!
//! ```
//! use skiff_api::auth::TokenSet;
//!
//! let tokens = TokenSet::parse("s3cret,alice,1001,\"dev,ops\"\n").unwrap();
//! let alice = tokens.authenticate("s3cret").unwrap();
//! assert_eq!(alice.name, "alice");
//! assert_eq!(alice.groups, ["dev", "ops"]);
//! assert!(tokens.authenticate("guess").is_none());
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::server::unauthorized;

/// Paths anyone may read without a token (and their sub-paths such as `/healthz/ping`).
pub const PUBLIC_PATHS: &[&str] = &["/healthz", "/livez", "/readyz", "/version"];

/// The user name of the token `skiff up` generates.
pub const ADMIN_USER: &str = "admin";

/// Why a tokens file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The file could not be read or written.
    #[error("{}: cannot {action} it: {source}", path.display())]
    Io {
        /// The tokens file.
        path: PathBuf,
        /// What was attempted ("read", "write").
        action: &'static str,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A line is not `token,user,uid[,"groups"]`.
    #[error("{}line {line}: {message}", file_prefix(path))]
    Parse {
        /// The tokens file, when parsing one.
        path: Option<PathBuf>,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The file has no token at all.
    #[error("{}: has no tokens (want lines `token,user,uid[,\"group1,group2\"]`)", path.display())]
    Empty {
        /// The tokens file.
        path: PathBuf,
    },
    /// The system's random generator failed.
    #[error("cannot generate a random token: the system's random generator failed")]
    Random,
}

fn file_prefix(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|p| format!("{}: ", p.display()))
        .unwrap_or_default()
}

/// An authenticated user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The user name (`user` column).
    pub name: String,
    /// The user's uid (`uid` column).
    pub uid: String,
    /// The groups (fourth column, comma-separated inside quotes).
    pub groups: Vec<String>,
}

/// The known bearer tokens and their users. See the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct TokenSet {
    entries: Vec<(String, User)>,
}

impl TokenSet {
    /// An empty set (which authenticates nobody).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `token` for `user`.
    ///
    /// ```
    /// use skiff_api::auth::{TokenSet, User};
    ///
    /// let mut tokens = TokenSet::new();
    /// tokens.insert("t0k3n", User { name: "bob".into(), uid: "2".into(), groups: vec![] });
    /// assert_eq!(tokens.authenticate("t0k3n").unwrap().name, "bob");
    /// ```
    pub fn insert(&mut self, token: impl Into<String>, user: User) {
        self.entries.push((token.into(), user));
    }

    /// Parses the CSV text of a tokens file.
    pub fn parse(text: &str) -> Result<Self, AuthError> {
        let mut set = Self::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |message: String| AuthError::Parse {
                path: None,
                line: i + 1,
                message,
            };
            let fields = split_csv(line).map_err(|m| err(m.to_string()))?;
            if fields.len() < 3 {
                return Err(err(format!(
                    "want at least 3 columns token,user,uid, found {}",
                    fields.len()
                )));
            }
            if fields[0].is_empty() || fields[1].is_empty() {
                return Err(err("the token and the user name must not be empty".into()));
            }
            let groups = fields
                .get(3)
                .map(|g| {
                    g.split(',')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            set.insert(
                fields[0].clone(),
                User {
                    name: fields[1].clone(),
                    uid: fields[2].clone(),
                    groups,
                },
            );
        }
        Ok(set)
    }

    /// Reads and parses the tokens file at `path`.
    pub fn load(path: &Path) -> Result<Self, AuthError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::Io {
            path: path.to_path_buf(),
            action: "read",
            source,
        })?;
        Self::parse(&text).map_err(|e| match e {
            AuthError::Parse { line, message, .. } => AuthError::Parse {
                path: Some(path.to_path_buf()),
                line,
                message,
            },
            other => other,
        })
    }

    /// The user whose token this is. Every token is compared in full, so the time taken does not tell
    /// how much of a guess was right.
    pub fn authenticate(&self, token: &str) -> Option<&User> {
        let mut found = None;
        for (known, user) in &self.entries {
            if constant_time_eq(known.as_bytes(), token.as_bytes()) && found.is_none() {
                found = Some(user);
            }
        }
        found
    }

    /// The first token of user `name`.
    pub fn token_of(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(_, u)| u.name == name)
            .map(|(t, _)| t.as_str())
    }

    /// How many tokens there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no token.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Loads the tokens file at `path`, first creating it (mode 0600) with one random token for
/// [`ADMIN_USER`] (group `system:masters`) when it does not exist. Returns the tokens and the admin's
/// token (the first token of [`ADMIN_USER`], else the file's first token) for the kubeconfig.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("tokens.csv");
/// let (tokens, admin) = skiff_api::auth::ensure_token_file(&path).unwrap();
/// assert_eq!(admin.len(), 64);
/// assert_eq!(tokens.authenticate(&admin).unwrap().name, "admin");
/// // The second start reuses the file.
/// assert_eq!(skiff_api::auth::ensure_token_file(&path).unwrap().1, admin);
/// ```
pub fn ensure_token_file(path: &Path) -> Result<(TokenSet, String), AuthError> {
    if !path.exists() {
        let token = random_token()?;
        let line = format!("{token},{ADMIN_USER},{ADMIN_USER},\"system:masters\"\n");
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| AuthError::Io {
                path: parent.to_path_buf(),
                action: "create",
                source,
            })?;
        }
        crate::tls::write_file(path, &line, 0o600).map_err(|source| AuthError::Io {
            path: path.to_path_buf(),
            action: "write",
            source,
        })?;
    }
    let tokens = TokenSet::load(path)?;
    let admin = tokens
        .token_of(ADMIN_USER)
        .or_else(|| tokens.entries.first().map(|(t, _)| t.as_str()))
        .ok_or_else(|| AuthError::Empty {
            path: path.to_path_buf(),
        })?
        .to_string();
    Ok((tokens, admin))
}

/// 32 random bytes, hex-encoded (64 characters).
pub fn random_token() -> Result<String, AuthError> {
    let mut bytes = [0u8; 32];
    crate::tls::random_bytes(&mut bytes).map_err(|_| AuthError::Random)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Splits one CSV line: commas separate fields; a field in double quotes may hold commas and `""`.
fn split_csv(line: &str) -> Result<Vec<String>, &'static str> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("a quoted field is not closed"),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => return Err("a quoted field must be followed by a comma"),
            }
        } else {
            loop {
                match chars.next() {
                    Some(',') => break,
                    Some('"') => return Err("a quote inside an unquoted field"),
                    Some(c) => field.push(c),
                    None => {
                        fields.push(field.trim().to_string());
                        return Ok(fields);
                    }
                }
            }
            fields.push(field.trim().to_string());
        }
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The bearer token of a request, if any (`Authorization: Bearer <token>`, scheme case-insensitive).
fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn is_public(path: &str) -> bool {
    PUBLIC_PATHS
        .iter()
        .any(|p| path == *p || path.strip_prefix(p).is_some_and(|r| r.starts_with('/')))
}

/// The axum middleware: lets public paths and requests with a known token through (the [`User`] is put
/// in the request's extensions), answers the others 401.
pub async fn require_token(
    State(tokens): State<Arc<TokenSet>>,
    mut req: Request,
    next: Next,
) -> Response {
    if is_public(req.uri().path()) {
        return next.run(req).await;
    }
    let user = bearer(&req).and_then(|t| tokens.authenticate(t)).cloned();
    match user {
        Some(user) => {
            req.extensions_mut().insert(user);
            next.run(req).await
        }
        None => unauthorized().into_response(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_kubernetes_token_files() {
        let t = TokenSet::parse(
            "# comment\n\na,alice,1\n\"b,c\",bob,2,\"g1, g2\"\n d , dan , 3 ,\"\"\n",
        )
        .unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t.authenticate("a").unwrap().groups, Vec::<String>::new());
        assert_eq!(t.authenticate("b,c").unwrap().groups, ["g1", "g2"]);
        assert_eq!(t.authenticate("d").unwrap().name, "dan");
        assert!(t.authenticate("").is_none());
        assert!(t.authenticate("a ").is_none());
    }

    #[test]
    fn bad_lines_are_named_by_number() {
        let e = TokenSet::parse("a,alice,1\nonly,two\n").unwrap_err();
        assert!(e.to_string().starts_with("line 2: want at least 3"), "{e}");
        let e = TokenSet::parse("\"open,alice,1\n").unwrap_err();
        assert!(e.to_string().contains("not closed"), "{e}");
        let e = TokenSet::parse(",alice,1\n").unwrap_err();
        assert!(e.to_string().contains("must not be empty"), "{e}");
    }

    #[test]
    fn public_paths() {
        assert!(is_public("/healthz"));
        assert!(is_public("/readyz/ping"));
        assert!(is_public("/version"));
        assert!(!is_public("/versions"));
        assert!(!is_public("/api"));
        assert!(!is_public("/metrics"));
    }

    #[test]
    fn random_tokens_differ() {
        let (a, b) = (random_token().unwrap(), random_token().unwrap());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }

    #[test]
    fn the_generated_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.csv");
        ensure_token_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
