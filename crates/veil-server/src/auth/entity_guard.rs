//! Access rules of the Entity Service compatibility API, which keeps its own per-project tokens:
//! optionally, creating a project needs a user token (`auth.protect_project_creation`); and a request
//! refused for a token that does not belong to the project is audited.

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use veil_auth::{Requirement, Role};
use veil_service::{AccessService, Actor, AuditEvent, ServiceError};

use super::gate::{bearer_token, client_address};
use crate::ApiError;

/// Who may create a project when creation is protected.
pub const CREATES_PROJECTS: Requirement = Requirement::AnyOf(&[Role::Analyst]);

/// The guard's settings.
#[derive(Clone)]
pub(crate) struct EntityGuard {
    pub access: AccessService,
    pub protect_project_creation: bool,
}

/// The path with repeated slashes collapsed, as the Entity Service router sees it.
fn normalised(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for segment in path.split('/').filter(|segment| !segment.is_empty()) {
        out.push('/');
        out.push_str(segment);
    }
    out
}

pub(crate) async fn guard(
    State(guard): State<EntityGuard>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = normalised(request.uri().path());
    let client = client_address(&request);
    if guard.protect_project_creation && request.method() == Method::POST && path == "/projects" {
        let Some(token) = bearer_token(request.headers()) else {
            return ApiError::from(ServiceError::Unauthenticated(
                "creating a project needs a user token (`Authorization: Bearer <token>`)".into(),
            ))
            .into_response();
        };
        let principal = match guard.access.authenticate(token).await {
            Ok(principal) => principal,
            Err(err) => return ApiError::from(err).into_response(),
        };
        if !CREATES_PROJECTS.allows(Some(&principal)) {
            let actor = Actor::remote(&principal.subject, client);
            let event = AuditEvent {
                action: "access.denied",
                target: "/api/v1/projects",
                outcome: "denied",
                detail: Some(format!("POST needs {CREATES_PROJECTS}")),
            };
            guard.access.audit(&actor, event).await;
            return ApiError::from(ServiceError::Forbidden(format!(
                "creating a project needs {CREATES_PROJECTS}"
            )))
            .into_response();
        }
        // The project token replaces the user token from here on.
        request
            .headers_mut()
            .remove(axum::http::header::AUTHORIZATION);
        let actor = Actor::remote(&principal.subject, client.clone());
        let response = next.run(request).await;
        if response.status().is_success() {
            let event = AuditEvent {
                action: "project.create",
                target: "/api/v1/projects",
                outcome: "ok",
                detail: None,
            };
            guard.access.audit(&actor, event).await;
        }
        return response;
    }
    let method = request.method().clone();
    let response = next.run(request).await;
    let project = path
        .strip_prefix("/projects/")
        .map(|rest| rest.split('/').next().unwrap_or(rest));
    if let Some(project) = project {
        let refused = matches!(
            response.status(),
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED
        );
        if refused {
            let action = if method == Method::DELETE {
                "project.delete"
            } else {
                "project.token_rejected"
            };
            let event = AuditEvent {
                action,
                target: project,
                outcome: "denied",
                detail: Some(format!("{method} /api/v1{path}")),
            };
            guard
                .access
                .audit(&Actor::remote("anonymous", client), event)
                .await;
        } else if method == Method::DELETE && response.status().is_success() {
            let action = if path.contains("/runs/") {
                "run.delete"
            } else {
                "project.delete"
            };
            let event = AuditEvent {
                action,
                target: project,
                outcome: "ok",
                detail: None,
            };
            guard
                .access
                .audit(&Actor::remote("project-token", client), event)
                .await;
        }
    }
    response
}
