//! The auth gate: every request to a native route is checked against its [`RouteRule`] before the
//! handler runs, and the caller's [`Principal`] is put in the request's extensions.
//!
//! Fail closed: a matched route without a rule is refused (and logged as a bug), so forgetting to
//! declare a requirement cannot open a route.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use veil_auth::Requirement;
use veil_service::{AccessService, Actor, AuditEvent, ServiceError};

use super::routes::RouteRule;
use crate::ApiError;

/// What the gate needs: the access service and every route's rule.
#[derive(Clone)]
pub(crate) struct Gate {
    pub access: AccessService,
    pub rules: Arc<Vec<RouteRule>>,
}

/// The bearer token of a request, if it carries one.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|token| !token.is_empty())
}

/// The client's address as the connection reports it.
pub(crate) fn client_address(request: &Request) -> Option<String> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip().to_string())
}

pub(crate) async fn authorize(
    State(gate): State<Gate>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(path) = request.extensions().get::<MatchedPath>().cloned() else {
        return next.run(request).await;
    };
    let method = request.method().clone();
    let Some(rule) = gate
        .rules
        .iter()
        .find(|rule| rule.method == method && rule.path == path.as_str())
    else {
        if gate.rules.iter().any(|rule| rule.path == path.as_str()) {
            // A method the route does not serve: axum answers 405.
            return next.run(request).await;
        }
        tracing::error!(
            route = path.as_str(),
            "route has no declared requirement; refused"
        );
        return ApiError {
            status: StatusCode::FORBIDDEN,
            detail: format!("{} declares no access requirement", path.as_str()),
        }
        .into_response();
    };
    if rule.requirement == Requirement::Public {
        return next.run(request).await;
    }
    let client = client_address(&request);
    let Some(token) = bearer_token(request.headers()) else {
        return ApiError::from(ServiceError::Unauthenticated(
            "this endpoint needs `Authorization: Bearer <token>` (POST /api/auth/login)".into(),
        ))
        .into_response();
    };
    let principal = match gate.access.authenticate(token).await {
        Ok(principal) => principal,
        Err(err) => {
            if matches!(err, ServiceError::Unauthenticated(_)) {
                let actor = Actor::remote("anonymous", client);
                let detail = Some(format!("{method} {}: {err}", path.as_str()));
                let event = AuditEvent {
                    action: "token.rejected",
                    target: path.as_str(),
                    outcome: "denied",
                    detail,
                };
                gate.access.audit(&actor, event).await;
            }
            return ApiError::from(err).into_response();
        }
    };
    if !rule.requirement.allows(Some(&principal)) {
        let actor = Actor::remote(&principal.subject, client);
        let event = AuditEvent {
            action: "access.denied",
            target: path.as_str(),
            outcome: "denied",
            detail: Some(format!("{method} needs {}", rule.requirement)),
        };
        gate.access.audit(&actor, event).await;
        return ApiError::from(ServiceError::Forbidden(format!(
            "{method} {} needs {}",
            path.as_str(),
            rule.requirement
        )))
        .into_response();
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::{HeaderValue, Method, Request};
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;
    use veil_auth::TokenIssuer;

    use super::*;
    use crate::auth::routes::SecuredRoutes;

    #[test]
    fn bearer_tokens_are_read_case_insensitively_and_never_empty() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers), None);
        for (value, expected) in [
            ("Bearer abc", Some("abc")),
            ("bearer  abc ", Some("abc")),
            ("Basic abc", None),
            ("Bearer ", None),
            ("abc", None),
        ] {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(bearer_token(&headers), expected, "{value}");
        }
    }

    #[tokio::test]
    async fn a_route_without_a_declared_requirement_is_refused() {
        let database = veil_metadata::testsuite::fresh_sqlite().await;
        let issuer = TokenIssuer::new(
            &[7u8; 32],
            "veil",
            Duration::from_secs(60),
            Duration::from_secs(60),
        )
        .unwrap();
        let access = AccessService::new(database.database.access_store(), Arc::new(issuer), None);
        let (declared, rules) = SecuredRoutes::<()>::new()
            .add(Method::GET, "/declared", Requirement::Public, || async {
                "ok"
            })
            .finish();
        let gate = Gate {
            access,
            rules: Arc::new(rules),
        };
        // A route added beside the table, as a careless change would.
        let router: Router = declared
            .route("/undeclared", get(|| async { "secret" }))
            .route_layer(axum::middleware::from_fn_with_state(gate, authorize));
        let status = |path: &'static str| {
            let router = router.clone();
            async move {
                let request = Request::get(path).body(Body::empty()).unwrap();
                router.oneshot(request).await.unwrap().status()
            }
        };
        assert_eq!(status("/declared").await, StatusCode::OK);
        assert_eq!(status("/undeclared").await, StatusCode::FORBIDDEN);
        database.teardown().await;
    }
}
