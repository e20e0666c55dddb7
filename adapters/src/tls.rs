//! Trust for every outbound TLS connection the adapters make (SMTP, the
//! platform APIs, the LLM endpoint): the system's certificate store plus an
//! optional CA bundle from the config, for relays, self-hosted Bot API
//! servers and proxies whose certificates come from a private CA.
//!
//! What the crates would do on their own: lettre and teloxide/reqwest are
//! built with Mozilla's roots compiled in (webpki-roots), which neither the
//! system store nor `SSL_CERT_FILE` changes. So every client is handed the
//! roots from here instead. When the system has no store at all (a slim
//! container without ca-certificates), Mozilla's roots stand in for it.
//!
//! A certificate that fails verification is a setup problem, not an outage:
//! [`certificate_error`] finds it in an error's causes so the adapters can
//! answer "permanent" (dead at once, the reason on the delivery) instead of
//! retrying it.

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::sync::{Arc, OnceLock};

/// A CA bundle that cannot be used, naming the key that gave it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    #[error("{key} = {path:?}: cannot read the CA bundle: {reason}")]
    Read {
        key: String,
        path: String,
        reason: String,
    },
    #[error(
        "{key} = {path:?}: not a PEM CA bundle ({reason}); expected one or more -----BEGIN CERTIFICATE----- blocks"
    )]
    Pem {
        key: String,
        path: String,
        reason: String,
    },
}

/// The certificates a client trusts as roots: the system's (or, when the
/// system has none, Mozilla's) and those of the configured bundle.
#[derive(Clone)]
pub struct Trust {
    extra: Arc<Vec<CertificateDer<'static>>>,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Trust({} system roots, {} from the CA bundle)",
            system_roots().len(),
            self.extra.len()
        )
    }
}

/// The system's roots, read once per process (the files do not change
/// under a running hub, and reading them takes a few milliseconds).
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        // Reads SSL_CERT_FILE / SSL_CERT_DIR if set, else the distribution's
        // bundle (/etc/ssl/certs/ca-certificates.crt on Debian).
        let found = rustls_native_certs::load_native_certs();
        if found.certs.is_empty() {
            tracing::warn!(
                errors = ?found.errors,
                "no system CA certificates found (install ca-certificates); trusting Mozilla's built-in roots instead"
            );
        }
        found.certs
    })
}

impl Trust {
    /// The system's roots plus the certificates in the PEM file at
    /// `ca_file` (if given). `key` names the setting in errors.
    pub fn load(ca_file: Option<&str>, key: &str) -> Result<Trust, TlsError> {
        let extra = match ca_file.map(str::trim).filter(|p| !p.is_empty()) {
            Some(path) => read_bundle(path, key)?,
            None => Vec::new(),
        };
        Ok(Trust {
            extra: Arc::new(extra),
        })
    }

    /// Whether the system store is missing and Mozilla's compiled-in roots
    /// stand in for it (see [`Trust::root_store`]).
    pub fn uses_builtin_roots(&self) -> bool {
        system_roots().is_empty()
    }

    /// The system's roots and the bundle's, as DER certificates, for clients
    /// that take them one by one (lettre). Empty system store: see
    /// [`Trust::uses_builtin_roots`].
    pub fn certificates(&self) -> impl Iterator<Item = &CertificateDer<'static>> {
        system_roots().iter().chain(self.extra.iter())
    }

    /// The roots as rustls wants them. Certificates rustls cannot use as a
    /// root (a system bundle may hold a few) are skipped, as every TLS
    /// client does with its system store; the bundle's were checked at load.
    pub fn root_store(&self) -> rustls::RootCertStore {
        let mut store = rustls::RootCertStore::empty();
        if self.uses_builtin_roots() {
            store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        store.add_parsable_certificates(self.certificates().cloned());
        store
    }

    /// A rustls client configuration trusting these roots, with the ring
    /// provider (the only one built in, see CRATE-NOTES) and HTTP/1.1 ALPN.
    pub fn client_config(&self) -> rustls::ClientConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = match rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
        {
            Ok(b) => b,
            // ring has both safe versions; the plain builder is the same.
            Err(_) => rustls::ClientConfig::builder(),
        }
        .with_root_certificates(self.root_store())
        .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config
    }
}

fn read_bundle(path: &str, key: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = std::fs::read(path).map_err(|e| TlsError::Read {
        key: key.into(),
        path: path.into(),
        reason: e.to_string(),
    })?;
    let bad = |reason: String| TlsError::Pem {
        key: key.into(),
        path: path.into(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no certificate in it".into()));
    }
    // Each must be usable as a root, or a typo'd file would pass silently.
    for (i, c) in certs.iter().enumerate() {
        let mut store = rustls::RootCertStore::empty();
        store
            .add(c.clone())
            .map_err(|e| bad(format!("certificate {} cannot be a root: {e}", i + 1)))?;
    }
    Ok(certs)
}

/// Why a peer's certificate was refused, when that is what `e` (or one of
/// its causes) is: an unknown issuer, a name the certificate does not
/// carry, an expired certificate. `None` for every other failure.
pub fn certificate_error(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    // An io::Error's source() skips the error it wraps (it answers that
    // error's source), and hyper/tokio-rustls nest io::Errors: look into
    // what each wraps as well as at its source.
    let mut pending = vec![e];
    while let Some(err) = pending.pop() {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return why_refused(tls);
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            pending.push(inner);
        }
        if let Some(source) = err.source() {
            pending.push(source);
        }
    }
    None
}

fn why_refused(e: &rustls::Error) -> Option<String> {
    match e {
        rustls::Error::InvalidCertificate(c) => Some(format!("invalid peer certificate: {c:?}")),
        _ => None,
    }
}

/// The send error for a peer certificate that failed verification: final
/// (retrying meets the same certificate), with what to change. `key` is the
/// adapter's own `ca_file` setting.
pub fn refused(e: &(dyn std::error::Error + 'static), key: &str) -> Option<crate::SendError> {
    certificate_error(e).map(|reason| {
        crate::SendError::permanent(format!(
            "the server's TLS certificate was refused ({reason}): trust its CA with {key} or [tls] ca_file, or use the host name the certificate carries"
        ))
    })
}
