//! Static assets compiled into the binary: one stylesheet and one small script (no inline script,
//! so the CSP can forbid it). Long-cached under a versioned path.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use axum::http::Method;
use domain::auth::Access;

use crate::AppState;
use crate::authz::{RouteSpec, SecuredRouter, Surface};

pub const CSS: &str = include_str!("../assets/app.css");
pub const JS: &str = include_str!("../assets/app.js");

/// Path of the stylesheet (version in the path busts caches on upgrade).
pub const CSS_PATH: &str = concat!("/static/", env!("CARGO_PKG_VERSION"), "/app.css");
pub const JS_PATH: &str = concat!("/static/", env!("CARGO_PKG_VERSION"), "/app.js");

pub fn routes() -> (Router<AppState>, Vec<RouteSpec>) {
    SecuredRouter::new("", Surface::Api)
        .route(Method::GET, CSS_PATH, Access::Public, get(css))
        .route(Method::GET, JS_PATH, Access::Public, get(js))
        .into_parts()
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
