//! Server certificates are verified: a client configured with the CA that signed the fake API server's
//! certificate gets an answer; one configured with another CA is refused during the TLS handshake.

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use veil_kube::ApiSettings;

fn new_ca() -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// An HTTPS server on 127.0.0.1 that answers every request with a Kubernetes version document.
async fn start_https_fake(ca: &CertifiedIssuer<'static, KeyPair>) -> String {
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = params.signed_by(&key, ca).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                }
                let body = r#"{"major":"1","minor":"30","gitVersion":"v1.30.0","gitCommit":"x","gitTreeState":"clean","buildDate":"2024-04-17T00:00:00Z","goVersion":"go1.22","compiler":"gc","platform":"linux/amd64"}"#;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    url
}

async fn version_with_ca(url: &str, ca_pem: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "test-token").unwrap();
    let settings = ApiSettings {
        api_url: Some(url.to_string()),
        token_file: Some(token_file),
        ca_file: Some(ca_file),
        ..Default::default()
    };
    let client = veil_kube::connect(&settings)
        .await
        .map_err(|err| err.to_string())?;
    client
        .apiserver_version()
        .await
        .map(|info| info.git_version)
        .map_err(|err| format!("{err:?}"))
}

#[tokio::test]
async fn the_right_ca_is_trusted_and_a_bogus_one_is_refused() {
    let ca = new_ca();
    let url = start_https_fake(&ca).await;
    assert_eq!(version_with_ca(&url, &ca.pem()).await.unwrap(), "v1.30.0");

    let bogus = new_ca();
    let err = version_with_ca(&url, &bogus.pem()).await.unwrap_err();
    eprintln!("refused as expected: {err}");
    assert!(
        err.contains("InvalidCertificate"),
        "expected a certificate error, got {err}"
    );
}
