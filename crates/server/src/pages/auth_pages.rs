//! Login, logout and password-change pages, and the CSRF-checked form extractor used by every
//! page that changes something.

use axum::extract::{Form, FromRequest, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use domain::auth::Password;
use maud::{Markup, html};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::PageError;
use super::layout::{page, page_for};
use crate::AppState;
use crate::auth::{self, Caller, ClientIp, SESSION_COOKIE, SESSION_HOURS, secrets};
use crate::i18n::Lang;

/// Cookie carrying the login form's CSRF token (double submit: there is no session yet).
const LOGIN_CSRF_COOKIE: &str = "pd_login_csrf";

/// A form with a `csrf` field.
pub trait HasCsrf {
    fn csrf(&self) -> &str;
}

/// Form extractor that rejects (403) unless the form's `csrf` field matches the session's token.
pub struct CsrfForm<T>(pub T);

impl<S, T> FromRequest<S> for CsrfForm<T>
where
    T: DeserializeOwned + HasCsrf,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let lang = Lang::from_headers(req.headers());
        let expected = crate::authz::principal(&req).and_then(|p| p.csrf().map(str::to_string));
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        // The CSRF token is checked before anything else in the form is looked at.
        let sent = serde_urlencoded::from_bytes::<CsrfOnly>(&bytes)
            .map(|c| c.csrf)
            .unwrap_or_default();
        if !expected.is_some_and(|token| secrets::same(&sent, &token)) {
            return Err(PageError {
                error: domain::Error::new(
                    domain::ErrorCode::Forbidden,
                    "Mã chống giả mạo (CSRF) không đúng; tải lại trang và thử lại",
                    "Wrong CSRF token; reload the page and retry",
                ),
                lang,
            }
            .into_response());
        }
        serde_urlencoded::from_bytes::<T>(&bytes)
            .map(CsrfForm)
            .map_err(|e| {
                PageError {
                    error: domain::Error::invalid("form", "Biểu mẫu không hợp lệ", "Invalid form")
                        .with_details(serde_json::json!({ "reason": e.to_string() })),
                    lang,
                }
                .into_response()
            })
    }
}

fn safe_next(next: Option<&str>) -> String {
    super::safe_local_path(next)
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    pub next: Option<String>,
}

fn login_form(lang: Lang, csrf: &str, next: &str, username: &str, error: Option<&str>) -> Markup {
    let title = lang.t("Đăng nhập", "Log in");
    page(
        lang,
        None,
        title,
        html! {
            h1 { (title) }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form.stack.card method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="next" value=(next);
                label { (lang.t("Tên đăng nhập", "Username"))
                    input type="text" name="username" value=(username) autocomplete="username" required; }
                label { (lang.t("Mật khẩu", "Password"))
                    input type="password" name="password" autocomplete="current-password" required; }
                button type="submit" { (title) }
            }
        },
    )
}

fn with_login_csrf(headers: &HeaderMap, body: Markup, csrf: &str, status: StatusCode) -> Response {
    let cookie = format!(
        "{LOGIN_CSRF_COOKIE}={csrf}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600{}",
        if auth::is_https(headers) {
            "; Secure"
        } else {
            ""
        }
    );
    (status, [(header::SET_COOKIE, cookie)], body).into_response()
}

pub async fn login_page(lang: Lang, headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    let csrf = secrets::new_token("");
    let next = safe_next(q.next.as_deref());
    with_login_csrf(
        &headers,
        login_form(lang, &csrf, &next, "", None),
        &csrf,
        StatusCode::OK,
    )
}

/// The login form; missing fields are empty so that a bad CSRF token is reported as such.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub csrf: String,
    pub next: Option<String>,
}

pub async fn login_submit(
    State(state): State<AppState>,
    lang: Lang,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = safe_next(f.next.as_deref());
    let cookie_token = auth::cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    let fresh = secrets::new_token("");
    if cookie_token.is_empty() || !secrets::same(&cookie_token, &f.csrf) {
        let msg = lang.t(
            "Phiên đăng nhập đã hết hạn; vui lòng thử lại",
            "The login form expired; please try again",
        );
        return with_login_csrf(
            &headers,
            login_form(lang, &fresh, &next, &f.username, Some(msg)),
            &fresh,
            StatusCode::FORBIDDEN,
        );
    }
    match auth::login(&state, &f.username, Password::given(f.password), &ip).await {
        Ok(done) => {
            let session = auth::set_cookie(
                SESSION_COOKIE,
                &done.session_token,
                SESSION_HOURS * 3600,
                auth::is_https(&headers),
            );
            ([(header::SET_COOKIE, session)], Redirect::to(&next)).into_response()
        }
        Err(e) => {
            let status = crate::error::status_of(e.code);
            let msg = e.message(lang == Lang::En).to_string();
            with_login_csrf(
                &headers,
                login_form(lang, &fresh, &next, &f.username, Some(&msg)),
                &fresh,
                status,
            )
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    pub csrf: String,
}

impl HasCsrf for CsrfOnly {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn logout(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    headers: HeaderMap,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> Response {
    if let Err(error) = auth::logout(&state, &p, &ip).await {
        return PageError { error, lang }.into_response();
    }
    let clear = auth::set_cookie(SESSION_COOKIE, "", 0, auth::is_https(&headers));
    ([(header::SET_COOKIE, clear)], Redirect::to("/")).into_response()
}

fn password_page(lang: Lang, p: &auth::Principal, message: Option<Result<&str, &str>>) -> Markup {
    let title = lang.t("Đổi mật khẩu", "Change password");
    page_for(
        lang,
        Some(p),
        None,
        title,
        html! {
            h1 { (title) }
            @match message {
                Some(Ok(m)) => p.ok role="status" { (m) },
                Some(Err(m)) => p.error role="alert" { (m) },
                None => {},
            }
            form.stack.card method="post" action="/account/password" {
                input type="hidden" name="csrf" value=[p.csrf()];
                label { (lang.t("Mật khẩu hiện tại", "Current password"))
                    input type="password" name="current_password" autocomplete="current-password" required; }
                label { (lang.t("Mật khẩu mới (ít nhất 10 ký tự)", "New password (at least 10 characters)"))
                    input type="password" name="new_password" autocomplete="new-password" required; }
                button type="submit" { (title) }
            }
        },
    )
}

pub async fn password_form(Caller(p): Caller, lang: Lang) -> Markup {
    password_page(lang, &p, None)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    pub csrf: String,
    pub current_password: String,
    pub new_password: String,
}

impl HasCsrf for PasswordForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn password_submit(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    CsrfForm(f): CsrfForm<PasswordForm>,
) -> Response {
    match auth::change_password(
        &state,
        &p,
        &ip,
        Password::given(f.current_password),
        &f.new_password,
    )
    .await
    {
        // All sessions end with a password change: log in again.
        Ok(()) => Redirect::to("/login").into_response(),
        Err(e) => (
            crate::error::status_of(e.code),
            password_page(lang, &p, Some(Err(e.message(lang == Lang::En)))),
        )
            .into_response(),
    }
}
