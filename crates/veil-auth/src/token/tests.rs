use super::*;

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

fn issuer() -> TokenIssuer {
    TokenIssuer::new(
        KEY,
        "veil-test",
        Duration::from_secs(300),
        Duration::from_secs(3600),
    )
    .unwrap()
}

#[test]
fn issued_tokens_verify_with_their_kind_and_roles() {
    let issuer = issuer();
    let none = MemoryRevocations::default();
    let pair = issuer.issue("ada", &[Role::Analyst]).unwrap();
    assert_eq!(pair.expires_in, 300);
    let principal = issuer.principal(&pair.access_token, &none).unwrap();
    assert_eq!(principal.subject, "ada");
    assert_eq!(principal.roles, vec![Role::Analyst]);
    let refresh = issuer
        .verify(&pair.refresh_token, TokenKind::Refresh, &none)
        .unwrap();
    assert!(refresh.exp - refresh.iat == 3600);
    assert!(matches!(
        issuer.principal(&pair.refresh_token, &none),
        Err(AuthError::WrongKind { expected: "access" })
    ));
}

#[test]
fn another_key_expiry_issuer_and_revocation_are_refused() {
    let issuer = issuer();
    let none = MemoryRevocations::default();
    let other = TokenIssuer::new(
        b"another key of at least 32 bytes!!",
        "veil-test",
        Duration::from_secs(300),
        Duration::from_secs(3600),
    )
    .unwrap();
    let forged = other.issue("ada", &[Role::Admin]).unwrap().access_token;
    assert!(matches!(
        issuer.principal(&forged, &none),
        Err(AuthError::BadSignature)
    ));

    let stranger = TokenIssuer::new(
        KEY,
        "elsewhere",
        Duration::from_secs(300),
        Duration::from_secs(300),
    )
    .unwrap()
    .issue("ada", &[Role::Admin])
    .unwrap()
    .access_token;
    assert!(matches!(
        issuer.principal(&stranger, &none),
        Err(AuthError::Claim { claim: "iss" })
    ));

    let now = Utc::now().timestamp();
    let expired = Claims {
        sub: "ada".into(),
        roles: vec![Role::Admin],
        typ: TokenKind::Access,
        iss: "veil-test".into(),
        iat: now - 600,
        exp: now - 300,
        jti: "old".into(),
    };
    let expired =
        jsonwebtoken::encode(&Header::default(), &expired, &EncodingKey::from_secret(KEY)).unwrap();
    assert!(matches!(
        issuer.principal(&expired, &none),
        Err(AuthError::Expired)
    ));

    let revocations = MemoryRevocations::default();
    let pair = issuer.issue("ada", &[Role::Admin]).unwrap();
    let claims = issuer
        .verify(&pair.access_token, TokenKind::Access, &revocations)
        .unwrap();
    revocations.revoke(&claims.jti, claims.exp);
    assert!(matches!(
        issuer.principal(&pair.access_token, &revocations),
        Err(AuthError::Revoked)
    ));
    assert!(issuer
        .verify(&pair.refresh_token, TokenKind::Refresh, &revocations)
        .is_ok());
}

#[test]
fn malformed_tokens_and_unsigned_tokens_are_refused() {
    let issuer = issuer();
    let none = MemoryRevocations::default();
    for token in [
        "",
        "abc",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZGEifQ.",
    ] {
        let err = issuer.principal(token, &none).unwrap_err();
        assert!(err.is_unauthenticated(), "{token}: {err}");
    }
}

#[test]
fn weak_settings_are_refused() {
    let ttl = Duration::from_secs(60);
    assert!(TokenIssuer::new(b"short", "veil", ttl, ttl).is_err());
    assert!(TokenIssuer::new(KEY, " ", ttl, ttl).is_err());
    assert!(TokenIssuer::new(KEY, "veil", ttl, Duration::from_secs(1)).is_err());
    assert!(TokenIssuer::new(KEY, "veil", Duration::ZERO, ttl).is_err());
    let debug = format!("{:?}", issuer());
    assert!(!debug.contains("0123456789abcdef"), "{debug}");
}

proptest::proptest! {
    #[test]
    fn arbitrary_text_is_never_accepted(token in ".{0,300}") {
        let none = MemoryRevocations::default();
        proptest::prop_assert!(issuer().principal(&token, &none).is_err());
    }
}
