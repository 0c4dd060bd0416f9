//! `/api/v1/auth/*`: login (sets the session cookie, returns the CSRF token), logout, the current
//! user, password change, and API tokens for machine clients.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::auth::{Password, User};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{self, Caller, ClientIp, SESSION_COOKIE, SESSION_HOURS};
use crate::error::{ApiError, ApiJson};

#[derive(Deserialize)]
pub struct LoginBody {
    pub username: String,
    pub password: Password,
}

pub async fn login(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let done = auth::login(&state, &body.username, body.password, &ip).await?;
    let cookie = auth::set_cookie(
        SESSION_COOKIE,
        &done.session_token,
        SESSION_HOURS * 3600,
        auth::is_https(&headers),
    );
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(serde_json::json!({ "user": done.user, "csrf_token": done.csrf })),
    )
        .into_response())
}

pub async fn logout(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    auth::logout(&state, &p, &ip).await?;
    let clear = auth::set_cookie(SESSION_COOKIE, "", 0, auth::is_https(&headers));
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response())
}

pub async fn me(Caller(p): Caller) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "user": p.user, "csrf_token": p.csrf() }))
}

#[derive(Deserialize)]
pub struct PasswordBody {
    pub current_password: Password,
    pub new_password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<StatusCode, ApiError> {
    auth::change_password(&state, &p, &ip, body.current_password, &body.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct TokenBody {
    pub name: String,
}

/// Issues a token for the caller's own account (shown once).
pub async fn create_token(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    ApiJson(body): ApiJson<TokenBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    if matches!(p.via, auth::AuthVia::Token) {
        return Err(ApiError(domain::Error::new(
            domain::ErrorCode::Forbidden,
            "Chỉ tạo mã truy cập API khi đăng nhập bằng mật khẩu",
            "API tokens can only be created from a password login",
        )));
    }
    let user: &User = &p.user;
    let token = auth::create_api_token(&state, user, &ip, body.name.trim()).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "token": token })),
    ))
}
