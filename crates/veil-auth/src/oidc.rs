//! Bearer tokens from an external OpenID Connect issuer (Keycloak and the like).
//!
//! A token is accepted when its header names an accepted algorithm (RS256 or ES256) and a key id the
//! issuer's JWKS publishes for that algorithm, its signature verifies, `iss` is the configured issuer,
//! `aud` contains the configured audience and it has not expired. The JWKS is fetched on first use,
//! cached, and fetched again when a token names an unknown key id (the issuer rotated its keys), at
//! most once per `min_refresh_interval` so that made-up key ids cannot turn Veil into a load
//! generator against the issuer. Roles come from a configurable claim (a dotted path such as
//! `realm_access.roles`), mapped to Veil's roles by name or through `role_map`; unknown names are
//! ignored.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tokio::sync::{Mutex, RwLock};

use crate::{AuthError, Principal, PrincipalSource, Role};

/// How tokens of the external issuer are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// The issuer, exactly as tokens carry it in `iss`.
    pub issuer: String,
    /// Where the issuer publishes its keys (for Keycloak `…/protocol/openid-connect/certs`).
    pub jwks_url: String,
    /// The audience Veil's tokens are issued for (`aud`).
    pub audience: String,
    /// Dotted path of the claim holding the roles, e.g. `realm_access.roles` or `groups`.
    pub roles_claim: String,
    /// Issuer role name → Veil role; a name equal to a Veil role maps to it without an entry.
    pub role_map: BTreeMap<String, Role>,
    /// The shortest time between two fetches of the key set.
    pub min_refresh_interval: Duration,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// Timeout of a key-set fetch.
    pub fetch_timeout: Duration,
}

impl OidcSettings {
    /// Settings with the defaults: roles from `realm_access.roles`, refresh at most every 30 s, 30 s
    /// of clock skew, 10 s fetch timeout.
    pub fn new(
        issuer: impl Into<String>,
        jwks_url: impl Into<String>,
        audience: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            jwks_url: jwks_url.into(),
            audience: audience.into(),
            roles_claim: "realm_access.roles".to_string(),
            role_map: BTreeMap::new(),
            min_refresh_interval: Duration::from_secs(30),
            leeway: Duration::from_secs(30),
            fetch_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, (Algorithm, DecodingKey)>,
    fetched_at: Option<Instant>,
}

/// Verifies the external issuer's tokens, caching its key set.
pub struct OidcVerifier {
    settings: OidcSettings,
    http: reqwest::Client,
    cache: RwLock<KeyCache>,
    fetching: Mutex<()>,
}

impl OidcVerifier {
    /// A verifier for `settings`; nothing is fetched until the first token arrives.
    pub fn new(settings: OidcSettings) -> Result<Self, AuthError> {
        for (name, value) in [
            ("issuer", &settings.issuer),
            ("jwks_url", &settings.jwks_url),
            ("audience", &settings.audience),
            ("roles_claim", &settings.roles_claim),
        ] {
            if value.trim().is_empty() {
                return Err(AuthError::Settings(format!("oidc.{name} is empty")));
            }
        }
        let http = reqwest::Client::builder()
            .timeout(settings.fetch_timeout)
            .build()
            .map_err(|err| AuthError::Settings(format!("HTTP client: {err}")))?;
        Ok(Self {
            settings,
            http,
            cache: RwLock::new(KeyCache::default()),
            fetching: Mutex::new(()),
        })
    }

    /// The principal `token` stands for, or why it is refused.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(AuthError::from_jwt)?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(AuthError::Algorithm(format!("{:?}", header.alg)));
        }
        let kid = header
            .kid
            .ok_or_else(|| AuthError::Malformed("the token names no key id (kid)".into()))?;
        let (algorithm, key) = self.key(&kid).await?;
        if algorithm != header.alg {
            return Err(AuthError::Algorithm(format!(
                "{:?} with a {:?} key",
                header.alg, algorithm
            )));
        }
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = self.settings.leeway.as_secs();
        let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map_err(AuthError::from_jwt)?
            .claims;
        let subject = claims["sub"]
            .as_str()
            .ok_or_else(|| AuthError::Malformed("`sub` is not a string".into()))?
            .to_string();
        Ok(Principal {
            subject,
            roles: self.roles(&claims),
            source: PrincipalSource::Oidc,
        })
    }

    fn roles(&self, claims: &Value) -> Vec<Role> {
        let claim = self
            .settings
            .roles_claim
            .split('.')
            .try_fold(claims, |value, part| value.get(part));
        let names = claim.and_then(Value::as_array).into_iter().flatten();
        let mut roles: Vec<Role> = names
            .filter_map(Value::as_str)
            .filter_map(|name| {
                self.settings
                    .role_map
                    .get(name)
                    .copied()
                    .or_else(|| name.parse().ok())
            })
            .collect();
        roles.sort_unstable();
        roles.dedup();
        roles
    }

    async fn key(&self, kid: &str) -> Result<(Algorithm, DecodingKey), AuthError> {
        if let Some(found) = self.cache.read().await.keys.get(kid) {
            return Ok(found.clone());
        }
        let _one_fetch_at_a_time = self.fetching.lock().await;
        {
            let cache = self.cache.read().await;
            if let Some(found) = cache.keys.get(kid) {
                return Ok(found.clone());
            }
            let recent = cache
                .fetched_at
                .is_some_and(|at| at.elapsed() < self.settings.min_refresh_interval);
            if recent {
                return Err(AuthError::UnknownKey(kid.to_string()));
            }
        }
        let keys = self.fetch().await?;
        let mut cache = self.cache.write().await;
        cache.keys = keys;
        cache.fetched_at = Some(Instant::now());
        cache
            .keys
            .get(kid)
            .cloned()
            .ok_or_else(|| AuthError::UnknownKey(kid.to_string()))
    }

    async fn fetch(&self) -> Result<HashMap<String, (Algorithm, DecodingKey)>, AuthError> {
        let url = &self.settings.jwks_url;
        let failed = |reason: String| AuthError::Jwks {
            url: url.clone(),
            reason,
        };
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|err| failed(err.to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("HTTP {}", response.status())));
        }
        let set: JwkSet = response
            .json()
            .await
            .map_err(|err| failed(format!("not a JWK set: {err}")))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            let algorithm = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                    Algorithm::ES256
                }
                _ => continue,
            };
            match DecodingKey::from_jwk(jwk) {
                Ok(key) => {
                    keys.insert(kid, (algorithm, key));
                }
                Err(err) => tracing::warn!(kid = %kid, error = %err, "skipping an unusable JWK"),
            }
        }
        tracing::debug!(url = %url, keys = keys.len(), "fetched the OIDC issuer's key set");
        Ok(keys)
    }
}
