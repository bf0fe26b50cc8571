//! `/api/auth/*`: login, refresh, logout and who-am-I.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::net::SocketAddr;
use veil_auth::{Principal, TokenPair};
use veil_service::ServiceError;

use super::gate::bearer_token;
use crate::{ApiError, AppState};

/// Body of `POST /api/auth/login`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    username: String,
    password: String,
}

/// Body of `POST /api/auth/refresh`, and the optional body of `POST /api/auth/logout`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshRequest {
    refresh_token: String,
}

fn parse_body<T: DeserializeOwned>(body: &Bytes, what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|err| ApiError::bad_request(format!("invalid {what} body: {err}")))
}

fn client(connect_info: Option<Extension<ConnectInfo<SocketAddr>>>) -> Option<String> {
    connect_info.map(|Extension(ConnectInfo(address))| address.ip().to_string())
}

pub(crate) async fn login(
    State(state): State<AppState>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<TokenPair>, ApiError> {
    let request: LoginRequest = parse_body(&body?, "login")?;
    let pair = state
        .access
        .login(&request.username, &request.password, client(connect_info))
        .await?;
    Ok(Json(pair))
}

pub(crate) async fn refresh(
    State(state): State<AppState>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<TokenPair>, ApiError> {
    let request: RefreshRequest = parse_body(&body?, "refresh")?;
    let pair = state
        .access
        .refresh(&request.refresh_token, client(connect_info))
        .await?;
    Ok(Json(pair))
}

pub(crate) async fn logout(
    State(state): State<AppState>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let body = body?;
    let refresh: Option<RefreshRequest> = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(parse_body(&body, "logout")?)
    };
    let access_token = bearer_token(&headers).ok_or_else(|| {
        ApiError::from(ServiceError::Unauthenticated(
            "logout needs the access token".into(),
        ))
    })?;
    state
        .access
        .logout(
            access_token,
            refresh
                .as_ref()
                .map(|request| request.refresh_token.as_str()),
            client(connect_info),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn me(Extension(principal): Extension<Principal>) -> Json<Principal> {
    Json(principal)
}
