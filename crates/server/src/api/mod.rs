//! JSON API, version 1 (`/api/v1`). Every list is `{items, total}` or a bare array where the
//! contract says so; every error is `{"error": {"code", "message", "details"}}`.

pub mod persons;
pub mod population;
pub mod units;

use axum::Router;
use axum::routing::get;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/units", get(units::list))
        .route("/persons", get(persons::list))
        .route("/persons/{id}", get(persons::get_one))
        .route("/population", get(population::pyramid))
        .fallback(not_found)
}

async fn not_found() -> crate::error::ApiError {
    crate::error::ApiError(domain::Error::new(
        domain::ErrorCode::NotFound,
        "Không có đường dẫn API này",
        "No such API route",
    ))
}
