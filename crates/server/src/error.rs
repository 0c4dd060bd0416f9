//! Mapping of [`domain::Error`] to HTTP: JSON bodies for the API, HTML pages for the web UI, and
//! extractors whose rejections use the same shapes.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use domain::{Error, ErrorCode};
use serde::de::DeserializeOwned;

/// HTTP status for an error code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidInput | ErrorCode::MalformedBody => StatusCode::BAD_REQUEST,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::StorageUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::InvalidConfig | ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An API error, rendered as `{"error": {"code", "message", "details"}}`.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut e = self.0;
        let status = status_of(e.code);
        if status.is_server_error() {
            tracing::warn!(code = e.code.as_str(), message = %e.message_en, "request failed");
            // Driver and configuration details stay in the log.
            if e.code == ErrorCode::StorageUnavailable {
                e = Error::new(
                    ErrorCode::StorageUnavailable,
                    "Cơ sở dữ liệu tạm thời không truy cập được, vui lòng thử lại sau",
                    "The database is temporarily unavailable, please retry later",
                );
            }
        }
        let body = serde_json::json!({
            "error": {
                "code": e.code.as_str(),
                "message": e.message_vi,
                "details": e.details,
            }
        });
        let mut res = (status, axum::Json(body)).into_response();
        if let Some(secs) = e
            .details
            .get("retry_after_seconds")
            .and_then(|v| v.as_i64())
            && let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
        }
        res
    }
}

/// JSON body extractor whose rejections are [`ApiError`]s (`malformed_body`).
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rej) => Err(ApiError(malformed_json(&rej))),
        }
    }
}

fn malformed_json(rej: &JsonRejection) -> Error {
    Error::new(
        ErrorCode::MalformedBody,
        "Nội dung yêu cầu không phải JSON hợp lệ",
        "Request body is not valid JSON",
    )
    .with_details(serde_json::json!({ "reason": rej.body_text() }))
}

/// Query-string extractor whose rejections are [`ApiError`]s (`invalid_input`).
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(rej) => Err(ApiError(bad_query(&rej))),
        }
    }
}

/// The error for a query string that does not parse.
pub fn bad_query(rej: &QueryRejection) -> Error {
    Error::new(
        ErrorCode::InvalidInput,
        "Tham số truy vấn không hợp lệ",
        "Invalid query parameters",
    )
    .with_details(serde_json::json!({ "reason": rej.body_text() }))
}
