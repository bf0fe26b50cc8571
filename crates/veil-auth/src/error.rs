//! [`AuthError`]: why a credential was refused or could not be checked.

/// Why authentication or authorisation failed. The messages are safe to show to the caller: they never
/// contain a token, a password or key material.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The token is not a well-formed JWT of the expected shape.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The token's signature does not verify.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// The token has expired (or is not valid yet).
    #[error("the token has expired")]
    Expired,
    /// The token was revoked (logout).
    #[error("the token has been revoked")]
    Revoked,
    /// A refresh token where an access token is needed, or the other way round.
    #[error("wrong kind of token: expected {expected}")]
    WrongKind {
        /// The kind the operation needs.
        expected: &'static str,
    },
    /// The token's issuer or audience is not the configured one.
    #[error("the token's {claim} is not accepted")]
    Claim {
        /// `iss` or `aud`.
        claim: &'static str,
    },
    /// The token names a signing key the issuer does not publish.
    #[error("the token's key id {0:?} is not in the issuer's key set")]
    UnknownKey(String),
    /// The token's algorithm is not one this deployment accepts.
    #[error("token algorithm {0} is not accepted")]
    Algorithm(String),
    /// The issuer's key set could not be fetched or read.
    #[error("cannot fetch the issuer's key set from {url}: {reason}")]
    Jwks {
        /// Where the key set was fetched from.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A password that does not meet the policy.
    #[error("{0}")]
    WeakPassword(String),
    /// A stored password hash that cannot be parsed.
    #[error("stored password hash is unreadable: {0}")]
    CorruptHash(String),
    /// Settings that cannot work (a short signing key, an empty issuer).
    #[error("invalid auth settings: {0}")]
    Settings(String),
    /// A role name that is not one of Veil's.
    #[error("unknown role {0:?}: expected admin, analyst, data-owner or read-only")]
    UnknownRole(String),
}

impl AuthError {
    /// Whether the caller should see 401 (no valid credential) rather than 503 (the issuer could not be
    /// reached) or 500 (broken settings or stored data).
    pub fn is_unauthenticated(&self) -> bool {
        !matches!(
            self,
            Self::Jwks { .. } | Self::Settings(_) | Self::CorruptHash(_)
        )
    }

    pub(crate) fn from_jwt(err: jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind;
        match err.kind() {
            ErrorKind::InvalidSignature => Self::BadSignature,
            ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => Self::Expired,
            ErrorKind::InvalidIssuer => Self::Claim { claim: "iss" },
            ErrorKind::InvalidAudience => Self::Claim { claim: "aud" },
            ErrorKind::InvalidAlgorithm => Self::Algorithm("of this token".to_string()),
            ErrorKind::MissingRequiredClaim(claim) => {
                Self::Malformed(format!("missing required claim {claim}"))
            }
            _ => Self::Malformed(err.to_string()),
        }
    }
}
