//! TLS termination in the process, for deployments without an ingress or proxy in front: rustls with
//! the ring provider, HTTP/2 and HTTP/1.1 offered by ALPN, the certificate chain and key read from PEM
//! files. Shutdown is graceful as for plain HTTP.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum_server::tls_rustls::RustlsConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_util::sync::CancellationToken;

/// Where the server's certificate chain and private key are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

/// Why TLS could not be set up; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file is unreadable or holds no usable PEM item.
    #[error("{what} {path}: {reason}")]
    File {
        /// `certificate file` or `key file`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the certificate and key together (e.g. the key does not fit the certificate).
    #[error("the certificate in {cert} and the key in {key} cannot be used together: {reason}")]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls' reason.
        reason: String,
    },
}

fn file_error(what: &'static str, path: &Path, reason: impl ToString) -> TlsError {
    TlsError::File {
        what,
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Reads the files and builds the rustls server configuration.
pub fn load_tls(files: &TlsFiles) -> Result<RustlsConfig, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert_file)
        .map_err(|err| file_error("certificate file", &files.cert_file, err))?
        .collect::<Result<_, _>>()
        .map_err(|err| file_error("certificate file", &files.cert_file, err))?;
    if certs.is_empty() {
        return Err(file_error(
            "certificate file",
            &files.cert_file,
            "no CERTIFICATE block",
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key_file)
        .map_err(|err| file_error("key file", &files.key_file, err))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mismatch = |reason: rustls::Error| TlsError::Mismatch {
        cert: files.cert_file.clone(),
        key: files.key_file.clone(),
        reason: reason.to_string(),
    };
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(mismatch)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(mismatch)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(RustlsConfig::from_config(Arc::new(config)))
}

/// Serves `router` over TLS on `listener` until `shutdown` fires, then lets in-flight requests finish
/// for up to `grace`.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    router: Router,
    tls: RustlsConfig,
    shutdown: CancellationToken,
    grace: Duration,
) -> std::io::Result<()> {
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        stopper.graceful_shutdown(Some(grace));
    });
    axum_server::from_tcp_rustls(listener.into_std()?, tls)?
        .handle(handle)
        .serve(router.into_make_service_with_connect_info::<SocketAddr>())
        .await
}
