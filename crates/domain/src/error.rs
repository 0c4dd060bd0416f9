//! The one domain error type, with stable machine codes and Vietnamese/English messages.
//!
//! Every layer converts its failures into [`Error`]; the server maps [`ErrorCode`] to an HTTP status
//! and renders `{"error": {"code", "message", "details"}}`.

use serde::Serialize;

/// Stable error codes. The string form (`as_str`) is part of the public API: never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Input failed validation (a field, a query parameter, a file row).
    InvalidInput,
    /// The request body is not well-formed JSON or has the wrong shape.
    MalformedBody,
    /// The record does not exist (or the caller may not know it exists).
    NotFound,
    /// The caller is not logged in.
    Unauthenticated,
    /// The caller is logged in but their role or scope does not cover this.
    Forbidden,
    /// A unique value already exists.
    Conflict,
    /// Too many attempts; retry later.
    RateLimited,
    /// The database could not be reached or refused the operation.
    StorageUnavailable,
    /// A configuration value is wrong (database URL, config file).
    InvalidConfig,
    /// Anything else; details are logged, never shown.
    Internal,
}

impl ErrorCode {
    /// The stable string code used in JSON bodies and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::MalformedBody => "malformed_body",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Conflict => "conflict",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::StorageUnavailable => "storage_unavailable",
            ErrorCode::InvalidConfig => "invalid_config",
            ErrorCode::Internal => "internal",
        }
    }
}

/// A domain error: a stable code, a message for people (Vietnamese, with an English twin) and
/// optional structured details (e.g. which field).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code_str}: {message_en}", code_str = .code.as_str())]
pub struct Error {
    pub code: ErrorCode,
    /// Vietnamese message shown to users by default.
    pub message_vi: String,
    /// English message (UI switch, logs).
    pub message_en: String,
    /// Structured details, e.g. `{"field": "unit"}`.
    pub details: serde_json::Value,
}

impl Error {
    pub fn new(code: ErrorCode, vi: impl Into<String>, en: impl Into<String>) -> Self {
        Error {
            code,
            message_vi: vi.into(),
            message_en: en.into(),
            details: serde_json::Value::Null,
        }
    }

    /// Attaches structured details.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }

    /// Invalid value for a named field.
    pub fn invalid(field: &str, vi: impl Into<String>, en: impl Into<String>) -> Self {
        Error::new(ErrorCode::InvalidInput, vi, en)
            .with_details(serde_json::json!({ "field": field }))
    }

    pub fn not_found(what_vi: &str, what_en: &str) -> Self {
        Error::new(
            ErrorCode::NotFound,
            format!("Không tìm thấy {what_vi}"),
            format!("{what_en} not found"),
        )
    }

    pub fn internal() -> Self {
        Error::new(
            ErrorCode::Internal,
            "Lỗi hệ thống, vui lòng thử lại sau",
            "Internal error, please try again later",
        )
    }

    pub fn storage_unavailable(en_detail: impl Into<String>) -> Self {
        let d = en_detail.into();
        Error::new(
            ErrorCode::StorageUnavailable,
            format!("Không kết nối được cơ sở dữ liệu: {d}"),
            format!("Database unavailable: {d}"),
        )
    }

    /// The message in the requested language.
    pub fn message(&self, english: bool) -> &str {
        if english {
            &self.message_en
        } else {
            &self.message_vi
        }
    }
}

/// Result alias used across the domain and store.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_snake_case() {
        assert_eq!(ErrorCode::InvalidInput.as_str(), "invalid_input");
        assert_eq!(
            serde_json::to_value(ErrorCode::StorageUnavailable).unwrap(),
            "storage_unavailable"
        );
        let e = Error::invalid("unit", "Mã đơn vị không hợp lệ", "Invalid unit code");
        assert_eq!(e.details["field"], "unit");
        assert_eq!(e.message(false), "Mã đơn vị không hợp lệ");
        assert_eq!(e.to_string(), "invalid_input: Invalid unit code");
    }
}
