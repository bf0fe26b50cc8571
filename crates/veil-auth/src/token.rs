//! Veil's own tokens: HS256 JWTs signed with a key from config (so they survive restarts). Login gives
//! a short-lived access token and a longer-lived refresh token; each has a unique id (`jti`) that
//! logout puts on a revocation list until the token would have expired anyway.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::{AuthError, Principal, PrincipalSource, Role};

/// The shortest signing key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// Authorises API requests.
    Access,
    /// Obtains a new token pair.
    Refresh,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }
}

/// The claims of a Veil token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's name.
    pub sub: String,
    /// The user's roles when the token was issued.
    pub roles: Vec<Role>,
    /// Access or refresh.
    pub typ: TokenKind,
    /// Issuer: the deployment's configured name.
    pub iss: String,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// Unique token id, for revocation.
    pub jti: String,
}

/// An access token and the refresh token that renews it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPair {
    /// Goes in `Authorization: Bearer …`.
    pub access_token: String,
    /// Exchanged for a new pair before the access token runs out.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Always `Bearer`.
    pub token_type: String,
}

/// Token ids revoked before their expiry (logout). Implementations must forget an id once its
/// expiry has passed, since an expired token is refused anyway.
pub trait Revocations: Send + Sync {
    /// Records that the token `jti`, valid until `expires_at` (seconds since the epoch), is revoked.
    fn revoke(&self, jti: &str, expires_at: i64);
    /// Whether `jti` is revoked.
    fn is_revoked(&self, jti: &str) -> bool;
}

/// An in-process revocation list (one server; a database-backed list serves several).
#[derive(Debug, Default)]
pub struct MemoryRevocations {
    revoked: Mutex<HashMap<String, i64>>,
}

impl Revocations for MemoryRevocations {
    fn revoke(&self, jti: &str, expires_at: i64) {
        let now = Utc::now().timestamp();
        let mut revoked = self
            .revoked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        revoked.retain(|_, expiry| *expiry > now);
        revoked.insert(jti.to_string(), expires_at);
    }

    fn is_revoked(&self, jti: &str) -> bool {
        let revoked = self
            .revoked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        revoked.contains_key(jti)
    }
}

/// Issues and verifies Veil tokens.
pub struct TokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    access_ttl: Duration,
    refresh_ttl: Duration,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("issuer", &self.issuer)
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    /// An issuer signing with `key` (at least [`MIN_KEY_BYTES`] bytes), naming itself `issuer`.
    pub fn new(
        key: &[u8],
        issuer: impl Into<String>,
        access_ttl: Duration,
        refresh_ttl: Duration,
    ) -> Result<Self, AuthError> {
        if key.len() < MIN_KEY_BYTES {
            return Err(AuthError::Settings(format!(
                "the token signing key has {} bytes; at least {MIN_KEY_BYTES} are needed",
                key.len()
            )));
        }
        let issuer = issuer.into();
        if issuer.trim().is_empty() {
            return Err(AuthError::Settings("the token issuer name is empty".into()));
        }
        if access_ttl.is_zero() || refresh_ttl < access_ttl {
            return Err(AuthError::Settings(
                "token lifetimes must be positive, the refresh token's at least the access token's"
                    .into(),
            ));
        }
        Ok(Self {
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            issuer,
            access_ttl,
            refresh_ttl,
        })
    }

    /// A fresh access and refresh token for `user` with `roles`.
    pub fn issue(&self, user: &str, roles: &[Role]) -> Result<TokenPair, AuthError> {
        Ok(TokenPair {
            access_token: self.sign(user, roles, TokenKind::Access, self.access_ttl)?,
            refresh_token: self.sign(user, roles, TokenKind::Refresh, self.refresh_ttl)?,
            expires_in: self.access_ttl.as_secs(),
            token_type: "Bearer".to_string(),
        })
    }

    fn sign(
        &self,
        user: &str,
        roles: &[Role],
        kind: TokenKind,
        ttl: Duration,
    ) -> Result<String, AuthError> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user.to_string(),
            roles: roles.to_vec(),
            typ: kind,
            iss: self.issuer.clone(),
            iat: now,
            exp: now + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|err| AuthError::Settings(format!("cannot sign a token: {err}")))
    }

    /// Verifies `token` as a `kind` token of this issuer that is not revoked; returns its claims.
    pub fn verify(
        &self,
        token: &str,
        kind: TokenKind,
        revocations: &dyn Revocations,
    ) -> Result<Claims, AuthError> {
        let claims = self.decode(token, kind)?;
        if revocations.is_revoked(&claims.jti) {
            return Err(AuthError::Revoked);
        }
        Ok(claims)
    }

    /// Checks `token`'s signature, issuer, expiry and kind, but not revocation: for callers that keep
    /// the revocation list somewhere only reachable asynchronously (a database), and check it next.
    pub fn decode(&self, token: &str, kind: TokenKind) -> Result<Claims, AuthError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 0;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(AuthError::from_jwt)?
            .claims;
        if claims.typ != kind {
            return Err(AuthError::WrongKind {
                expected: kind.as_str(),
            });
        }
        Ok(claims)
    }

    /// The principal named by verified access-token `claims`.
    pub fn principal_of(claims: Claims) -> Principal {
        Principal {
            subject: claims.sub,
            roles: claims.roles,
            source: PrincipalSource::Local,
        }
    }

    /// The principal an access token stands for.
    pub fn principal(
        &self,
        token: &str,
        revocations: &dyn Revocations,
    ) -> Result<Principal, AuthError> {
        let claims = self.verify(token, TokenKind::Access, revocations)?;
        Ok(Self::principal_of(claims))
    }
}

#[cfg(test)]
mod tests;
