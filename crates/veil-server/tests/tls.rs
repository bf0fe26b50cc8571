//! In-process TLS: the server answers HTTPS with the configured certificate, refuses plain HTTP on
//! the same port, stops gracefully, and names the file when a certificate or key is unusable.

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use tokio_util::sync::CancellationToken;
use veil_server::{load_tls, serve_tls, TlsError, TlsFiles};

struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
}

/// A CA and a server certificate for `localhost` signed by it, as PEM files.
fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let server = server_params.signed_by(&server_key, &issuer).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cert.pem"), server.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), server_key.serialize_pem()).unwrap();
    Pki {
        dir,
        ca_pem: ca.pem(),
    }
}

fn files(pki: &Pki) -> TlsFiles {
    TlsFiles {
        cert_file: pki.dir.path().join("cert.pem"),
        key_file: pki.dir.path().join("key.pem"),
    }
}

#[tokio::test]
async fn https_is_served_and_plain_http_refused() {
    let pki = pki();
    let tls = load_tls(&files(&pki)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = Router::new().route("/healthz", get(|| async { "ok" }));
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve_tls(
        listener,
        router,
        tls,
        shutdown.clone(),
        Duration::from_secs(1),
    ));

    let ca = reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let response = client
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "ok");

    let plain = reqwest::get(format!("http://localhost:{port}/healthz")).await;
    assert!(plain.is_err(), "plain HTTP on the TLS port: {plain:?}");
    let untrusted = reqwest::get(format!("https://localhost:{port}/healthz")).await;
    assert!(
        untrusted.is_err(),
        "a client without the CA refuses the certificate"
    );

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("stops on shutdown")
        .unwrap()
        .unwrap();
}

#[test]
fn unusable_files_are_named() {
    let pki = pki();
    let mut missing = files(&pki);
    missing.cert_file = pki.dir.path().join("nope.pem");
    let err = load_tls(&missing).unwrap_err();
    assert!(matches!(err, TlsError::File { .. }), "{err}");
    assert!(err.to_string().contains("nope.pem"), "{err}");

    let mut swapped = files(&pki);
    swapped.key_file = swapped.cert_file.clone();
    let err = load_tls(&swapped).unwrap_err();
    assert!(err.to_string().contains("cert.pem"), "{err}");

    let other_key = rcgen::KeyPair::generate().unwrap();
    std::fs::write(pki.dir.path().join("other.pem"), other_key.serialize_pem()).unwrap();
    let mut mismatched = files(&pki);
    mismatched.key_file = pki.dir.path().join("other.pem");
    let err = load_tls(&mismatched).unwrap_err();
    assert!(matches!(err, TlsError::Mismatch { .. }), "{err}");
}
