//! Mapping of database driver errors to [`domain::Error`], logging what users must not see.

use domain::{Error, ErrorCode};

/// Converts a driver error: unique violations become `conflict`, connection problems
/// `storage_unavailable`, anything else `internal` (the cause is logged, not returned).
pub fn from_sqlx(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::new(
            ErrorCode::Conflict,
            "Bản ghi đã tồn tại (trùng mã hoặc số CCCD)",
            "Record already exists (duplicate id or citizen ID)",
        )
        .with_details(serde_json::json!({ "constraint": db.constraint() })),
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => Error::storage_unavailable(one_line(&e)),
        _ => {
            tracing::error!(error = %e, "database error");
            Error::internal()
        }
    }
}

/// An error's message on one line (driver messages sometimes span several).
pub fn one_line(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
