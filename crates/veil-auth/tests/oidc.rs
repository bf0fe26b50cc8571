//! OIDC bearer tokens against a local fake issuer that serves a JWKS for keys generated here: RS256 and
//! ES256 accepted with roles mapped; wrong issuer, audience, signature, expiry, algorithm and unknown
//! keys refused; key rotation picked up by refetching, at most once per refresh interval.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::EncodePrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use veil_auth::{AuthError, OidcSettings, OidcVerifier, PrincipalSource, Role};

const ISSUER: &str = "https://id.example/realms/veil";
const AUDIENCE: &str = "veil";

#[derive(Clone, Default)]
struct Issuer {
    jwks: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
}

async fn certs(State(issuer): State<Issuer>) -> Json<Value> {
    issuer.fetches.fetch_add(1, Ordering::SeqCst);
    Json(issuer.jwks.lock().unwrap().clone())
}

async fn start_issuer(jwks: Value) -> (Issuer, String) {
    let issuer = Issuer::default();
    *issuer.jwks.lock().unwrap() = jwks;
    let app = axum::Router::new()
        .route("/certs", get(certs))
        .with_state(issuer.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/certs", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (issuer, url)
}

/// A signing key and its public JWK.
struct Key {
    kid: String,
    algorithm: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
}

fn ec_key(kid: &str) -> Key {
    let secret = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    let point = secret.verifying_key().to_encoded_point(false);
    let der = secret.to_pkcs8_der().unwrap();
    Key {
        kid: kid.into(),
        algorithm: Algorithm::ES256,
        encoding: EncodingKey::from_ec_der(der.as_bytes()),
        jwk: json!({
            "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
            "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
        }),
    }
}

fn rsa_key(kid: &str) -> Key {
    let secret = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let der = secret.to_pkcs1_der().unwrap();
    Key {
        kid: kid.into(),
        algorithm: Algorithm::RS256,
        encoding: EncodingKey::from_rsa_der(der.as_bytes()),
        jwk: json!({
            "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(secret.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(secret.e().to_bytes_be()),
        }),
    }
}

fn claims(overrides: Value) -> Value {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": ISSUER, "aud": [AUDIENCE, "account"], "sub": "user-1", "iat": now, "exp": now + 300,
        "realm_access": {"roles": ["veil-analysts", "read-only", "offline_access"]},
    });
    for (name, value) in overrides.as_object().unwrap() {
        claims[name] = value.clone();
    }
    claims
}

fn sign(key: &Key, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(key.algorithm);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

fn verifier(url: &str, refresh: Duration) -> OidcVerifier {
    let mut settings = OidcSettings::new(ISSUER, url, AUDIENCE);
    settings.role_map = BTreeMap::from([("veil-analysts".to_string(), Role::Analyst)]);
    settings.min_refresh_interval = refresh;
    settings.leeway = Duration::ZERO;
    OidcVerifier::new(settings).unwrap()
}

#[tokio::test]
async fn rs256_and_es256_tokens_are_accepted_with_mapped_roles() {
    let (ec, rsa) = (ec_key("ec-1"), rsa_key("rsa-1"));
    let (issuer, url) = start_issuer(json!({"keys": [ec.jwk, rsa.jwk]})).await;
    let verifier = verifier(&url, Duration::from_secs(60));
    for key in [&ec, &rsa] {
        let principal = verifier
            .verify(&sign(key, &key.kid, &claims(json!({}))))
            .await
            .unwrap();
        assert_eq!(principal.subject, "user-1");
        assert_eq!(principal.roles, vec![Role::Analyst, Role::ReadOnly]);
        assert_eq!(principal.source, PrincipalSource::Oidc);
    }
    assert_eq!(
        issuer.fetches.load(Ordering::SeqCst),
        1,
        "the key set is cached"
    );
}

#[tokio::test]
async fn wrong_claims_signatures_and_algorithms_are_refused() {
    let ec = ec_key("ec-1");
    let (_, url) = start_issuer(json!({"keys": [ec.jwk]})).await;
    let verifier = verifier(&url, Duration::from_secs(60));
    let now = chrono::Utc::now().timestamp();
    let cases = [
        (json!({"iss": "https://evil.example"}), "iss"),
        (json!({"aud": "someone-else"}), "aud"),
        (json!({"exp": now - 10}), "expired"),
    ];
    for (overrides, what) in cases {
        let err = verifier
            .verify(&sign(&ec, "ec-1", &claims(overrides)))
            .await
            .unwrap_err();
        assert!(err.is_unauthenticated(), "{what}: {err}");
        assert!(err.to_string().contains(what), "{what}: {err}");
    }
    let impostor = ec_key("ec-1");
    let forged = sign(&impostor, "ec-1", &claims(json!({})));
    assert!(matches!(
        verifier.verify(&forged).await,
        Err(AuthError::BadSignature)
    ));

    let hs = jsonwebtoken::encode(
        &Header {
            kid: Some("ec-1".into()),
            ..Header::new(Algorithm::HS256)
        },
        &claims(json!({})),
        &EncodingKey::from_secret(b"the public key bytes are no secret"),
    )
    .unwrap();
    assert!(matches!(
        verifier.verify(&hs).await,
        Err(AuthError::Algorithm(_))
    ));

    let rsa = rsa_key("rsa-as-ec");
    let mismatched = sign(&rsa, "ec-1", &claims(json!({})));
    assert!(matches!(
        verifier.verify(&mismatched).await,
        Err(AuthError::Algorithm(_))
    ));

    let no_kid = jsonwebtoken::encode(
        &Header::new(Algorithm::ES256),
        &claims(json!({})),
        &ec.encoding,
    )
    .unwrap();
    assert!(matches!(
        verifier.verify(&no_kid).await,
        Err(AuthError::Malformed(_))
    ));
}

#[tokio::test]
async fn rotated_keys_are_fetched_but_unknown_ids_at_most_once_per_interval() {
    let (old, new) = (ec_key("old"), ec_key("new"));
    let (issuer, url) = start_issuer(json!({"keys": [old.jwk]})).await;
    let verifier = verifier(&url, Duration::from_millis(300));
    verifier
        .verify(&sign(&old, "old", &claims(json!({}))))
        .await
        .unwrap();

    for _ in 0..5 {
        let made_up = sign(&old, "made-up", &claims(json!({})));
        assert!(matches!(
            verifier.verify(&made_up).await,
            Err(AuthError::UnknownKey(_))
        ));
    }
    assert_eq!(
        issuer.fetches.load(Ordering::SeqCst),
        1,
        "no refetch inside the interval"
    );

    *issuer.jwks.lock().unwrap() = json!({"keys": [new.jwk]});
    tokio::time::sleep(Duration::from_millis(350)).await;
    let rotated = sign(&new, "new", &claims(json!({})));
    verifier.verify(&rotated).await.unwrap();
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_unreachable_issuer_is_not_an_authentication_failure() {
    let ec = ec_key("ec-1");
    let verifier = verifier("http://127.0.0.1:9/certs", Duration::from_secs(60));
    let err = verifier
        .verify(&sign(&ec, "ec-1", &claims(json!({}))))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::Jwks { .. }), "{err}");
    assert!(!err.is_unauthenticated());
}
