//! Bearer tokens of an OpenID Connect issuer at the auth gate: a local fake issuer serves the JWKS of an
//! ES256 key generated here; its tokens pass with their roles mapped, and wrong audiences, issuers,
//! expired tokens and unknown keys are refused.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::routing::get;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::EncodePrivateKey;
use reqwest::StatusCode;
use serde_json::{json, Value};
use veil_auth::{OidcSettings, OidcVerifier, Role};

use crate::common::TestApp;

const ISSUER: &str = "https://id.example/realms/veil";

async fn serve_jwks(jwks: Value) -> String {
    let app = axum::Router::new().route("/certs", get(move || async move { Json(jwks) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/certs", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_tokens_pass_the_gate_with_mapped_roles() {
    let secret = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    let point = secret.verifying_key().to_encoded_point(false);
    let encoding = EncodingKey::from_ec_der(secret.to_pkcs8_der().unwrap().as_bytes());
    let jwks = json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
        "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
        "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
    }]});
    let url = serve_jwks(jwks).await;
    let mut settings = OidcSettings::new(ISSUER, url, "veil");
    settings.role_map = BTreeMap::from([("veil-analysts".to_string(), Role::Analyst)]);
    settings.leeway = Duration::ZERO;
    let app = TestApp::start_with_oidc(OidcVerifier::new(settings).unwrap()).await;

    let sign = |overrides: Value, kid: &str| {
        let now = chrono::Utc::now().timestamp();
        let mut claims = json!({
            "iss": ISSUER, "aud": "veil", "sub": "kc-user-7", "iat": now, "exp": now + 300,
            "realm_access": {"roles": ["veil-analysts", "offline_access"]},
        });
        for (name, value) in overrides.as_object().unwrap() {
            claims[name] = value.clone();
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.to_string());
        jsonwebtoken::encode(&header, &claims, &encoding).unwrap()
    };
    let me = |token: String| {
        let url = app.url("/api/auth/me");
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    let response = me(sign(json!({}), "k1")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let principal: Value = response.json().await.unwrap();
    assert_eq!(principal["subject"], "kc-user-7");
    assert_eq!(principal["roles"], json!(["analyst"]));
    assert_eq!(principal["source"], "oidc");

    let now = chrono::Utc::now().timestamp();
    for (name, token) in [
        ("wrong audience", sign(json!({"aud": "another-app"}), "k1")),
        (
            "wrong issuer",
            sign(json!({"iss": "https://evil.example"}), "k1"),
        ),
        ("expired", sign(json!({"exp": now - 60}), "k1")),
        ("unknown key", sign(json!({}), "k2")),
    ] {
        assert_eq!(me(token).await.status(), StatusCode::UNAUTHORIZED, "{name}");
    }
    // An analyst from the issuer may submit jobs but not read the config.
    let token = sign(json!({}), "k1");
    let config = reqwest::Client::new()
        .get(app.url("/api/config"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(config.status(), StatusCode::FORBIDDEN);
    let submitted = reqwest::Client::new()
        .post(app.url("/api/jobs"))
        .bearer_auth(&token)
        .json(&json!({"kind": "echo", "params": {"message": "from keycloak"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), StatusCode::CREATED);
    let job: Value = submitted.json().await.unwrap();
    assert_eq!(job["owner"], "kc-user-7");
    app.stop().await;
}
