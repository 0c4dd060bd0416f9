//! Server-rendered web pages (maud). Vietnamese by default, English via `/lang/en`; dates
//! dd/mm/yyyy; no inline script; every page works without JavaScript.

pub mod home;
pub mod layout;
pub mod persons;
pub mod sections;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::html;
use serde::Deserialize;

use crate::AppState;
use crate::error::status_of;
use crate::i18n::Lang;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home::page))
        .route("/persons", get(persons::page))
        .route("/lang/{code}", get(switch_lang))
        .merge(sections::routes())
}

/// A page-level error rendered as HTML inside the layout.
pub struct PageError {
    pub error: domain::Error,
    pub lang: Lang,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = status_of(self.error.code);
        if status.is_server_error() {
            tracing::warn!(code = self.error.code.as_str(), message = %self.error.message_en, "page failed");
        }
        let l = self.lang;
        let body = layout::page(
            l,
            None,
            l.t("Lỗi", "Error"),
            html! {
                h1 { (l.t("Không thực hiện được yêu cầu", "The request could not be completed")) }
                p.error { (self.error.message(l == Lang::En)) }
                p { a href="/" { (l.t("Về trang chủ", "Back to the home page")) } }
            },
        );
        (status, body).into_response()
    }
}

pub async fn not_found(headers: HeaderMap) -> Response {
    let lang = Lang::from_headers(&headers);
    if headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"))
    {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({"error": {"code": "not_found", "message": "Không tìm thấy trang", "details": null}})),
        )
            .into_response();
    }
    PageError {
        error: domain::Error::not_found("trang", "Page"),
        lang,
    }
    .into_response()
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// `/lang/{vi|en}?next=/path`: remembers the language in a cookie and goes back.
async fn switch_lang(Path(code): Path<String>, Query(q): Query<NextQuery>) -> Response {
    let lang = Lang::parse(&code).unwrap_or_default();
    let next = q
        .next
        .filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or_else(|| "/".to_string());
    (
        [(
            header::SET_COOKIE,
            format!(
                "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
                lang.code()
            ),
        )],
        Redirect::to(&next),
    )
        .into_response()
}
