//! Authorization, decided in one place. Every route is registered through [`SecuredRouter`] with
//! an [`Access`] rule (so a route cannot exist without one), and [`enforce`] applies it before the
//! handler runs. Scope checks on data — a unit, a person — go through [`require_unit`] and
//! [`require_person`]. The route table ([`SecuredRouter::specs`]) is enumerated by the
//! authorization test, which fails on any route it cannot probe.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::MethodRouter;
use domain::auth::{Access, Permission, Role, UnitRef, person_in_scope, role_allows, unit_covers};
use domain::person::Person;
use domain::units::AdminUnits;
use domain::{Error, ErrorCode};

use crate::AppState;
use crate::auth::{Principal, secrets};
use crate::error::ApiError;

/// Whether a route serves JSON (errors as JSON) or pages (redirect to the login page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Api,
    Page,
}

/// One registered route and its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: Method,
    /// Full path template, e.g. `/api/v1/persons/{id}`.
    pub path: String,
    pub access: Access,
    pub surface: Surface,
}

/// A router that only accepts routes with an access rule, and remembers them.
pub struct SecuredRouter {
    router: Router<AppState>,
    specs: Vec<RouteSpec>,
    prefix: &'static str,
    surface: Surface,
}

impl SecuredRouter {
    pub fn new(prefix: &'static str, surface: Surface) -> Self {
        SecuredRouter {
            router: Router::new(),
            specs: Vec::new(),
            prefix,
            surface,
        }
    }

    /// Adds `method path` with its rule; `handler` is e.g. `get(f)` or `post(f)`.
    pub fn route(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        handler: MethodRouter<AppState>,
    ) -> Self {
        let surface = self.surface;
        let guarded = handler.route_layer(axum::middleware::from_fn(
            move |req: Request, next: Next| enforce(access, surface, req, next),
        ));
        self.router = self.router.route(path, guarded);
        self.specs.push(RouteSpec {
            method,
            path: format!("{}{path}", self.prefix),
            access,
            surface,
        });
        self
    }

    pub fn into_parts(self) -> (Router<AppState>, Vec<RouteSpec>) {
        (self.router, self.specs)
    }
}

/// The caller, if authenticated (set by [`crate::auth::authenticate`]).
pub fn principal(req: &Request) -> Option<Arc<Principal>> {
    req.extensions().get::<Arc<Principal>>().cloned()
}

pub fn unauthenticated() -> Error {
    Error::new(
        ErrorCode::Unauthenticated,
        "Cần đăng nhập",
        "Login required",
    )
}

pub fn forbidden() -> Error {
    Error::new(
        ErrorCode::Forbidden,
        "Bạn không có quyền truy cập dữ liệu này",
        "You are not allowed to access this data",
    )
}

fn csrf_failed() -> Error {
    Error::new(
        ErrorCode::Forbidden,
        "Thiếu hoặc sai mã chống giả mạo (CSRF); tải lại trang và thử lại",
        "Missing or wrong CSRF token; reload the page and retry",
    )
}

/// Applies a route's rule: 401 without a caller, 403 when the role lacks the permission, 403 for
/// unsafe API requests made with a session cookie but without the session's `X-CSRF-Token`.
/// Page forms carry their CSRF token in the body and are checked by [`crate::pages::CsrfForm`].
pub async fn enforce(access: Access, surface: Surface, req: Request, next: Next) -> Response {
    let who = principal(&req);
    let verdict = match (access, &who) {
        (Access::Public, _) => Ok(()),
        (_, None) => Err(unauthenticated()),
        (Access::Authenticated, Some(_)) => Ok(()),
        (Access::Requires(perm), Some(p)) => {
            if role_allows(p.user.role, perm) {
                Ok(())
            } else {
                Err(forbidden())
            }
        }
    };
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let verdict = verdict.and_then(|()| {
        // Page forms: the browser must say the request comes from our own pages (defence in
        // depth beside the per-form CSRF token).
        if surface == Surface::Page && unsafe_method && !same_origin(req.headers()) {
            return Err(csrf_failed());
        }
        match (&who, surface) {
            (Some(p), Surface::Api) if unsafe_method => match p.csrf() {
                None => Ok(()),
                Some(expected) => {
                    let sent = req
                        .headers()
                        .get("x-csrf-token")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    if secrets::same(sent, expected) {
                        Ok(())
                    } else {
                        Err(csrf_failed())
                    }
                }
            },
            _ => Ok(()),
        }
    });
    match verdict {
        Ok(()) => {
            let mut res = next.run(req).await;
            if access != Access::Public {
                // Personal data must not linger in browser or proxy caches.
                res.headers_mut()
                    .insert(header::CACHE_CONTROL, "no-store".parse().expect("static"));
            }
            res
        }
        Err(e) => reject(e, surface, &req),
    }
}

/// Whether a state-changing browser request comes from this site: `Sec-Fetch-Site` (when sent)
/// is `same-origin` or `none`, and `Origin` (when sent) names the `Host` we were reached at.
fn same_origin(headers: &axum::http::HeaderMap) -> bool {
    let fetch_site_ok = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v == "same-origin" || v == "none");
    let origin_ok = match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
    };
    fetch_site_ok && origin_ok
}

fn reject(e: Error, surface: Surface, req: &Request) -> Response {
    match (surface, e.code) {
        (Surface::Api, _) => ApiError(e).into_response(),
        (Surface::Page, ErrorCode::Unauthenticated) => {
            let next = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into());
            let to = format!(
                "/login?{}",
                serde_urlencoded::to_string([("next", next)]).unwrap_or_default()
            );
            Redirect::to(&to).into_response()
        }
        (Surface::Page, _) => {
            let lang = crate::i18n::Lang::from_headers(req.headers());
            let mut res = crate::pages::PageError { error: e, lang }.into_response();
            *res.status_mut() = StatusCode::FORBIDDEN;
            res.headers_mut()
                .insert(header::CACHE_CONTROL, "no-store".parse().expect("static"));
            res
        }
    }
}

/// Whether a user's scope covers a unit. Admins cover everything; roles without a unit cover
/// nothing.
pub fn covers_unit(units: &AdminUnits, p: &Principal, target: &UnitRef) -> bool {
    match (p.user.role, &p.user.scope.unit) {
        (Role::Admin, _) => true,
        (_, Some(scope)) => unit_covers(units, scope, target),
        (_, None) => false,
    }
}

/// 403 unless the caller may list data of `target` (role and scope).
pub fn require_unit(
    units: &AdminUnits,
    p: &Principal,
    perm: Permission,
    target: &UnitRef,
) -> Result<(), Error> {
    if role_allows(p.user.role, perm) && covers_unit(units, p, target) {
        Ok(())
    } else {
        Err(forbidden())
    }
}

/// Whether the caller may read this person's full record: admins always; citizens only their own;
/// staff when the person lives in their unit.
pub fn may_read_person(units: &AdminUnits, p: &Principal, person: &Person) -> bool {
    if !role_allows(p.user.role, Permission::ReadPerson) {
        return false;
    }
    match p.user.role {
        Role::Admin => true,
        Role::Citizen => p.user.scope.person_id == Some(person.id),
        _ => p
            .user
            .scope
            .unit
            .as_ref()
            .is_some_and(|scope| person_in_scope(units, scope, person)),
    }
}

/// 404 (not 403, so that existence is not revealed) unless the caller may read the person.
pub fn require_person(units: &AdminUnits, p: &Principal, person: &Person) -> Result<(), Error> {
    if may_read_person(units, p, person) {
        Ok(())
    } else {
        Err(Error::not_found("người", "Person"))
    }
}
