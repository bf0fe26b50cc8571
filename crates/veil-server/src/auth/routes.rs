//! The one place where routes declare who may call them: [`SecuredRoutes`] only adds a route together
//! with its [`Requirement`], and keeps the list ([`RouteRule`]) that the auth gate checks every request
//! against and that tests enumerate.

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter};
use axum::Router;
use veil_auth::{Requirement, Role};

/// Anyone, no credential.
pub const PUBLIC: Requirement = Requirement::Public;
/// Any signed-in user.
pub const SIGNED_IN: Requirement = Requirement::Authenticated;
/// Users who start work: analysts and data owners (and admins).
pub const STARTS_JOBS: Requirement = Requirement::AnyOf(&[Role::Analyst, Role::DataOwner]);
/// Administrators only.
pub const ADMIN_ONLY: Requirement = Requirement::AnyOf(&[Role::Admin]);

/// A route and what it needs from its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    /// The HTTP method.
    pub method: Method,
    /// The route's path template as axum matches it, e.g. `/api/jobs/{id}`.
    pub path: &'static str,
    /// Who may call it.
    pub requirement: Requirement,
}

/// Builds a router whose every route carries a [`Requirement`].
pub struct SecuredRoutes<S> {
    router: Router<S>,
    rules: Vec<RouteRule>,
}

impl<S: Clone + Send + Sync + 'static> SecuredRoutes<S> {
    /// No routes yet.
    pub fn new() -> Self {
        Self {
            router: Router::new(),
            rules: Vec::new(),
        }
    }

    /// Adds `method path` served by `handler` for callers meeting `requirement`.
    pub fn add<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        requirement: Requirement,
        handler: H,
    ) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone())
            .unwrap_or_else(|_| unreachable!("routes use the standard methods"));
        self.router = self.router.route(path, on(filter, handler));
        self.rules.push(RouteRule {
            method,
            path,
            requirement,
        });
        self
    }

    /// The router and its rules.
    pub fn finish(self) -> (Router<S>, Vec<RouteRule>) {
        (self.router, self.rules)
    }
}

impl<S: Clone + Send + Sync + 'static> Default for SecuredRoutes<S> {
    fn default() -> Self {
        Self::new()
    }
}
