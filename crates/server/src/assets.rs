//! Static assets compiled into the binary: one stylesheet and one small script (no inline script,
//! so the CSP can forbid it). Long-cached under a versioned path.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::AppState;

pub const CSS: &str = include_str!("../assets/app.css");
pub const JS: &str = include_str!("../assets/app.js");

/// Path of the stylesheet (version in the path busts caches on upgrade).
pub const CSS_PATH: &str = concat!("/static/", env!("CARGO_PKG_VERSION"), "/app.css");
pub const JS_PATH: &str = concat!("/static/", env!("CARGO_PKG_VERSION"), "/app.js");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(CSS_PATH, get(css))
        .route(JS_PATH, get(js))
}

const CACHE: &str = "public, max-age=31536000, immutable";

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        CSS,
    )
}

async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        JS,
    )
}
