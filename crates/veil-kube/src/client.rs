//! Building a Kubernetes API client from Veil's settings: an API URL with a bearer-token file or a client
//! certificate and key, and a CA file; or, without a URL, the in-cluster service account (or the
//! operator's kubeconfig). Server certificates are always verified: a kubeconfig that says
//! `insecure-skip-tls-verify` is overridden.

use std::path::PathBuf;

use kube::config::{
    AuthInfo, Cluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster,
    NamedContext,
};
use kube::{Client, Config};

use crate::ClientError;

/// How to reach and authenticate to the Kubernetes API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiSettings {
    /// The API server, e.g. `https://10.0.0.1:6443`. When absent the in-cluster service account is
    /// used, or else the kubeconfig (`KUBECONFIG`, `~/.kube/config`).
    pub api_url: Option<String>,
    /// A file holding a bearer token (re-read when it changes, as projected tokens are).
    pub token_file: Option<PathBuf>,
    /// A PEM client certificate, used together with `client_key_file`.
    pub client_cert_file: Option<PathBuf>,
    /// The PEM private key of `client_cert_file`.
    pub client_key_file: Option<PathBuf>,
    /// PEM certificates of the authorities that sign the API server's certificate; the system's roots
    /// when absent.
    pub ca_file: Option<PathBuf>,
    /// The namespace requests default to.
    pub namespace: Option<String>,
}

const NAME: &str = "veil";

fn path_text(path: &Option<PathBuf>) -> Option<String> {
    path.as_ref().map(|path| path.display().to_string())
}

/// The client configuration `settings` describe. Never accepts invalid server certificates.
pub async fn client_config(settings: &ApiSettings) -> Result<Config, ClientError> {
    if settings.client_cert_file.is_some() != settings.client_key_file.is_some() {
        return Err(ClientError::Settings(
            "client_cert_file and client_key_file must be set together".to_string(),
        ));
    }
    let mut config = match &settings.api_url {
        None => {
            let has_explicit = settings.token_file.is_some()
                || settings.client_cert_file.is_some()
                || settings.ca_file.is_some();
            if has_explicit {
                return Err(ClientError::Settings(
                    "api_url must be set when token_file, client_cert_file or ca_file is".into(),
                ));
            }
            Config::infer()
                .await
                .map_err(|err| ClientError::Config(err.to_string()))?
        }
        Some(url) => {
            let kubeconfig = Kubeconfig {
                clusters: vec![NamedCluster {
                    name: NAME.to_string(),
                    cluster: Some(Cluster {
                        server: Some(url.clone()),
                        certificate_authority: path_text(&settings.ca_file),
                        insecure_skip_tls_verify: Some(false),
                        ..Default::default()
                    }),
                }],
                auth_infos: vec![NamedAuthInfo {
                    name: NAME.to_string(),
                    auth_info: Some(AuthInfo {
                        token_file: path_text(&settings.token_file),
                        client_certificate: path_text(&settings.client_cert_file),
                        client_key: path_text(&settings.client_key_file),
                        ..Default::default()
                    }),
                }],
                contexts: vec![NamedContext {
                    name: NAME.to_string(),
                    context: Some(Context {
                        cluster: NAME.to_string(),
                        user: Some(NAME.to_string()),
                        namespace: settings.namespace.clone(),
                        extensions: None,
                    }),
                }],
                current_context: Some(NAME.to_string()),
                ..Default::default()
            };
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|err| ClientError::Config(err.to_string()))?
        }
    };
    config.accept_invalid_certs = false;
    if let Some(namespace) = &settings.namespace {
        config.default_namespace = namespace.clone();
    }
    Ok(config)
}

/// A client for the API `settings` describe.
pub async fn connect(settings: &ApiSettings) -> Result<Client, ClientError> {
    let config = client_config(settings).await?;
    Client::try_from(config).map_err(|err| ClientError::Client(Box::new(err)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn explicit_url_uses_the_files_and_verifies_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "abc\n").unwrap();
        let settings = ApiSettings {
            api_url: Some("https://10.1.2.3:6443".to_string()),
            token_file: Some(token.clone()),
            namespace: Some("veil".to_string()),
            ..Default::default()
        };
        let config = client_config(&settings).await.unwrap();
        assert_eq!(config.cluster_url.to_string(), "https://10.1.2.3:6443/");
        assert_eq!(config.default_namespace, "veil");
        assert!(!config.accept_invalid_certs);
        assert_eq!(
            config.auth_info.token_file.as_deref(),
            Some(token.display().to_string().as_str())
        );
        assert!(config.root_cert.is_none(), "system roots without a CA file");
    }

    #[tokio::test]
    async fn ca_file_is_loaded_and_a_missing_one_is_an_error() {
        let settings = ApiSettings {
            api_url: Some("https://10.1.2.3:6443".to_string()),
            ca_file: Some(PathBuf::from("/nonexistent/ca.pem")),
            ..Default::default()
        };
        assert!(matches!(
            client_config(&settings).await,
            Err(ClientError::Config(_))
        ));
    }

    #[tokio::test]
    async fn half_a_client_certificate_is_refused() {
        let settings = ApiSettings {
            api_url: Some("https://10.1.2.3:6443".to_string()),
            client_cert_file: Some(PathBuf::from("/tmp/cert.pem")),
            ..Default::default()
        };
        let err = client_config(&settings).await.unwrap_err();
        assert!(err.to_string().contains("client_key_file"), "{err}");
        let settings = ApiSettings {
            token_file: Some(PathBuf::from("/tmp/token")),
            ..Default::default()
        };
        let err = client_config(&settings).await.unwrap_err();
        assert!(err.to_string().starts_with("api_url must be set"), "{err}");
    }
}
