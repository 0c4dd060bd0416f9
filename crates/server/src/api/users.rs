//! `/api/v1/users`: user management for administrators.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::auth::User;

use crate::AppState;
use crate::auth::{self, Caller, ClientIp, NewUser};
use crate::error::{ApiError, ApiJson};

pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(state.store.list_users().await?))
}

pub async fn create(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    ApiJson(body): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let user = auth::create_user(&state, Some(&p.user), &ip, body).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Disables or enables an account; disabling ends its sessions at once.
pub async fn set_disabled(
    state: &AppState,
    actor: &User,
    ip: &ClientIp,
    id: &str,
    disabled: bool,
) -> Result<(), domain::Error> {
    let id = uuid::Uuid::parse_str(id).map_err(|_| {
        domain::Error::invalid("id", "Mã người dùng không hợp lệ", "Invalid user id")
    })?;
    if id == actor.id && disabled {
        return Err(domain::Error::invalid(
            "id",
            "Không thể tự khóa tài khoản của mình",
            "You cannot disable your own account",
        ));
    }
    let action = if disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    let entry = auth::audit_entry(
        state,
        Some(actor),
        ip,
        action,
        Some(("user", id.to_string())),
        None,
        serde_json::json!({}),
    );
    // Disabling ends the account's sessions in the same transaction.
    if !state.store.set_user_disabled(id, disabled, &entry).await? {
        return Err(domain::Error::not_found("người dùng", "User"));
    }
    Ok(())
}

pub async fn disable(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_disabled(&state, &p.user, &ip, &id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn enable(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_disabled(&state, &p.user, &ip, &id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}
