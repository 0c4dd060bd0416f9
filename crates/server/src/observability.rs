//! Probes and metrics: `/healthz` (process alive), `/readyz` (database reachable) and Prometheus
//! `/metrics` (request counts and latencies by route and status).

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use axum::http::Method;
use domain::auth::Access;

use crate::AppState;
use crate::authz::{RouteSpec, SecuredRouter, Surface};

/// The process-wide Prometheus recorder (installed on first use; several servers in one test
/// process share it).
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
            .expect("static bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first; the handle still renders ours.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Probes and metrics, public: they carry no personal data (metrics are labelled by route
/// template and status only). Restrict `/metrics` at the proxy if it must not be reachable.
pub fn routes() -> (Router<AppState>, Vec<RouteSpec>) {
    SecuredRouter::new("", Surface::Api)
        .route(Method::GET, "/healthz", Access::Public, get(healthz))
        .route(Method::GET, "/readyz", Access::Public, get(readyz))
        .route(Method::GET, "/metrics", Access::Public, get(metrics_text))
        .into_parts()
}

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(serde_json::json!({
            "status": "ready",
            "database": state.store.backend().as_str(),
        }))
        .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({
                "status": "unavailable",
                "database": state.store.backend().as_str(),
                "error": e.code.as_str(),
            })),
        )
            .into_response(),
    }
}

async fn metrics_text() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        prometheus().render(),
    )
}

/// Counts requests and records their duration, labelled by route template (not raw path, so
/// person ids never become label values) and status.
pub async fn track_metrics(req: Request, next: Next) -> Response {
    prometheus();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().to_string();
    let start = Instant::now();
    let res = next.run(req).await;
    let labels = [
        ("method", method),
        ("route", route),
        ("status", res.status().as_u16().to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    res
}
