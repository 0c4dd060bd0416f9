//! Authentication: who is calling. Sessions (cookie `pd_session`, server-side in the database)
//! for people, bearer tokens for machine clients, login with throttling, logout, password change.
//! What a caller may do is decided in [`crate::authz`].

pub mod secrets;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use domain::audit::NewAuditEntry;
use domain::auth::{Password, User, throttle};
use domain::{Error, ErrorCode};
use store::SessionRecord;

use crate::AppState;

/// Session cookie name.
pub const SESSION_COOKIE: &str = "pd_session";
/// How long a session lives.
pub const SESSION_HOURS: i64 = 12;
/// Failed logins from one address before it is throttled (users: [`throttle::FREE_FAILURES`]).
pub const ADDRESS_FREE_FAILURES: u32 = 20;

/// How the caller proved who they are.
#[derive(Clone)]
pub enum AuthVia {
    Session { token_hash: String, csrf: String },
    Token,
}

/// The authenticated caller of a request.
#[derive(Clone)]
pub struct Principal {
    pub user: User,
    pub via: AuthVia,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print session or CSRF tokens.
        f.debug_struct("Principal")
            .field("user", &self.user.username)
            .field("role", &self.user.role)
            .finish()
    }
}

impl Principal {
    pub fn csrf(&self) -> Option<&str> {
        match &self.via {
            AuthVia::Session { csrf, .. } => Some(csrf),
            AuthVia::Token => None,
        }
    }
}

/// Client address of a request (peer address; put a trusted proxy's header handling here).
#[derive(Clone, Debug)]
pub struct ClientIp(pub Option<String>);

/// The client's address: the TCP peer, or — when the peer is a trusted proxy — the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy (entries further left are written
/// by the client and cannot be believed).
pub fn client_address(
    peer: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    trusted: &[std::net::IpAddr],
) -> Option<std::net::IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<std::net::IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|a| !trusted.contains(a))
            .unwrap_or(peer),
    )
}

/// Reads a cookie value from request headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Whether the request reached us over TLS (directly or via a proxy saying so).
pub fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Secure behind TLS.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}");
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Middleware: resolves the caller from the session cookie or `Authorization: Bearer`, and the
/// client address, and stores both in request extensions for [`crate::authz`] and handlers.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = client_address(peer, req.headers(), &state.trusted_proxies);
    req.extensions_mut()
        .insert(ClientIp(ip.map(|a| a.to_string())));
    let headers = req.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .map(str::to_string);
    let session = cookie(headers, SESSION_COOKIE);
    let principal = if let Some(token) = bearer {
        match state
            .store
            .find_api_token(&secrets::token_hash(&token))
            .await
        {
            Ok(Some(user)) => Some(Principal {
                user,
                via: AuthVia::Token,
            }),
            Ok(None) => None,
            Err(e) => {
                return axum::response::IntoResponse::into_response(crate::error::ApiError(e));
            }
        }
    } else if let Some(token) = session {
        let hash = secrets::token_hash(&token);
        match state.store.find_session(&hash, (state.clock)()).await {
            Ok(Some((s, user))) => Some(Principal {
                user,
                via: AuthVia::Session {
                    token_hash: hash,
                    csrf: s.csrf_token,
                },
            }),
            Ok(None) => None,
            Err(e) => {
                return axum::response::IntoResponse::into_response(crate::error::ApiError(e));
            }
        }
    } else {
        None
    };
    if let Some(p) = principal {
        req.extensions_mut().insert(Arc::new(p));
    }
    next.run(req).await
}

/// Builds an audit entry stamped with the current time.
pub fn audit_entry(
    state: &AppState,
    actor: Option<&User>,
    ip: &ClientIp,
    action: &str,
    entity: Option<(&str, String)>,
    unit_code: Option<String>,
    details: serde_json::Value,
) -> NewAuditEntry {
    NewAuditEntry {
        at: (state.clock)(),
        actor_id: actor.map(|u| u.id),
        actor: actor.map(|u| u.username.clone()),
        action: action.to_string(),
        entity_type: entity.as_ref().map(|(t, _)| t.to_string()),
        entity_id: entity.map(|(_, id)| id),
        unit_code,
        ip: ip.0.clone(),
        details,
    }
}

/// An audit entry about the actor's own account (login, logout, password change).
fn own_account_entry(state: &AppState, user: &User, ip: &ClientIp, action: &str) -> NewAuditEntry {
    audit_entry(
        state,
        Some(user),
        ip,
        action,
        Some(("user", user.id.to_string())),
        None,
        serde_json::json!({}),
    )
}

/// Records an audit entry on its own (events that change nothing else: logins, views).
/// Failing to write the log is an error: the caller does not go on unlogged.
pub async fn audit(
    state: &AppState,
    actor: Option<&User>,
    ip: &ClientIp,
    action: &str,
    entity: Option<(&str, String)>,
    unit_code: Option<String>,
    details: serde_json::Value,
) -> Result<(), Error> {
    let entry = audit_entry(state, actor, ip, action, entity, unit_code, details);
    state.store.append_audit(&entry).await?;
    Ok(())
}

fn rate_limited(until: DateTime<Utc>, now: DateTime<Utc>) -> Error {
    let secs = ((until - now).num_milliseconds() + 999)
        .div_euclid(1000)
        .max(1);
    Error::new(
        ErrorCode::RateLimited,
        format!("Đăng nhập sai quá nhiều lần; thử lại sau {secs} giây"),
        format!("Too many failed logins; retry in {secs} s"),
    )
    .with_details(serde_json::json!({ "retry_after_seconds": secs }))
}

/// A successful login: the new session's cookie token and CSRF token.
pub struct LoggedIn {
    pub user: User,
    pub session_token: String,
    pub csrf: String,
}

/// The throttle key of a client address: IPv6 addresses are grouped by /64 (one site's
/// allocation), IPv4 by the full address.
fn address_key(ip: &ClientIp) -> String {
    let addr = ip.0.as_deref().unwrap_or("unknown");
    match addr.parse::<std::net::Ipv6Addr>() {
        Ok(v6) => {
            let s = v6.segments();
            format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Err(_) => format!("ip:{addr}"),
    }
}

/// Reserves an attempt on the user key and, if given, the address key (first); 429 if either
/// is locked.
async fn reserve_attempt(
    state: &AppState,
    user_key: &str,
    ip_key: Option<&str>,
) -> Result<(), Error> {
    use domain::auth::throttle::Reservation;
    let now = (state.clock)();
    if let Some(ip_key) = ip_key
        && let Reservation::Locked(until) = state
            .store
            .throttle_reserve(ip_key, now, ADDRESS_FREE_FAILURES)
            .await?
    {
        return Err(rate_limited(until, now));
    }
    if let Reservation::Locked(until) = state
        .store
        .throttle_reserve(user_key, now, throttle::FREE_FAILURES)
        .await?
    {
        // This attempt never happened as far as the address is concerned.
        if let Some(ip_key) = ip_key {
            state.store.throttle_release(ip_key, false).await?;
        }
        return Err(rate_limited(until, now));
    }
    Ok(())
}

/// Checks credentials with throttling per user and per address, creates a session, and logs
/// the attempt either way. Each attempt is counted before the password is checked, so parallel
/// guesses cannot get past the limit.
pub async fn login(
    state: &AppState,
    username: &str,
    password: Password,
    ip: &ClientIp,
) -> Result<LoggedIn, Error> {
    let now = (state.clock)();
    let typed = username.trim().to_ascii_lowercase();
    // A malformed name cannot belong to anyone: it is throttled by address only.
    let valid_name = domain::auth::parse_username(&typed).ok();
    let user_key = format!("user:{}", valid_name.as_deref().unwrap_or("(invalid)"));
    let ip_key = address_key(ip);
    reserve_attempt(state, &user_key, Some(&ip_key)).await?;
    let found = match &valid_name {
        Some(name) => state.store.find_user_by_username(name).await?,
        None => None,
    };
    let ok = verify_ok(&found, password).await;
    match (ok, found) {
        (true, Some((user, _))) => {
            state.store.throttle_release(&user_key, true).await?;
            state.store.throttle_release(&ip_key, false).await?;
            let session_token = secrets::new_token("");
            let csrf = secrets::new_token("");
            state
                .store
                .create_session(&SessionRecord {
                    token_hash: secrets::token_hash(&session_token),
                    user_id: user.id,
                    csrf_token: csrf.clone(),
                    created_at: now,
                    expires_at: now + Duration::hours(SESSION_HOURS),
                    ip: ip.0.clone(),
                })
                .await?;
            state
                .store
                .append_audit(&own_account_entry(state, &user, ip, "auth.login"))
                .await?;
            Ok(LoggedIn {
                user,
                session_token,
                csrf,
            })
        }
        _ => {
            // The typed name goes in details, never as the actor: anyone can type any name.
            let shown: String = typed.chars().take(64).collect();
            audit(
                state,
                None,
                ip,
                "auth.login_failed",
                None,
                None,
                serde_json::json!({ "username": shown }),
            )
            .await?;
            Err(domain::auth::bad_credentials())
        }
    }
}

async fn verify_ok(found: &Option<(User, String)>, password: Password) -> bool {
    match found {
        Some((user, hash)) => {
            let ok = secrets::verify_password(password, Some(hash.clone())).await;
            ok && !user.disabled
        }
        None => secrets::verify_password(password, None).await,
    }
}

/// Ends the caller's session.
pub async fn logout(state: &AppState, p: &Principal, ip: &ClientIp) -> Result<(), Error> {
    if let AuthVia::Session { token_hash, .. } = &p.via {
        state.store.delete_session(token_hash).await?;
    }
    state
        .store
        .append_audit(&own_account_entry(state, &p.user, ip, "auth.logout"))
        .await?;
    Ok(())
}

/// Changes the caller's password after checking the current one; ends all their sessions.
pub async fn change_password(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    current: Password,
    new: &str,
) -> Result<(), Error> {
    let new = Password::new_checked(new)?;
    let Some((_, hash)) = state.store.find_user_by_username(&p.user.username).await? else {
        return Err(Error::internal());
    };
    // Guessing the current password is throttled on the account, like a login.
    let user_key = format!("user:{}", p.user.username);
    reserve_attempt(state, &user_key, None).await?;
    if !secrets::verify_password(current, Some(hash)).await {
        state
            .store
            .append_audit(&own_account_entry(
                state,
                &p.user,
                ip,
                "auth.password_change_failed",
            ))
            .await?;
        return Err(Error::invalid(
            "current_password",
            "Mật khẩu hiện tại không đúng",
            "Current password is wrong",
        ));
    }
    state.store.throttle_release(&user_key, true).await?;
    let new_hash = secrets::hash_password(new).await?;
    // A new password ends every session and API token of the account, in the same transaction
    // as the change and its audit entry.
    let entry = own_account_entry(state, &p.user, ip, "auth.password_change");
    state
        .store
        .set_password_hash(p.user.id, &new_hash, &entry)
        .await
}

/// Creates a user (admin pages, API and CLI share this), logging who did it.
pub async fn create_user(
    state: &AppState,
    actor: Option<&User>,
    ip: &ClientIp,
    new: NewUser,
) -> Result<User, Error> {
    let user = new.validate(state)?;
    let hash = secrets::hash_password(Password::new_checked(new.password)?).await?;
    let entry = audit_entry(
        state,
        actor,
        ip,
        "user.create",
        Some(("user", user.id.to_string())),
        user.scope.unit.as_ref().map(|u| u.code.clone()),
        serde_json::json!({ "username": user.username, "role": user.role.as_str() }),
    );
    state.store.create_user(&user, &hash, &entry).await?;
    Ok(user)
}

/// A request to create a user, as typed in a form, a JSON body or CLI flags.
#[derive(Clone, serde::Deserialize)]
pub struct NewUser {
    pub username: String,
    pub display_name: Option<String>,
    pub password: String,
    pub role: String,
    pub unit: Option<String>,
    pub unit_version: Option<String>,
    pub organisation: Option<String>,
    pub person_id: Option<uuid::Uuid>,
}

impl std::fmt::Debug for NewUser {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("role", &self.role)
            .field("unit", &self.unit)
            .field("password", &"***")
            .finish_non_exhaustive()
    }
}

impl NewUser {
    /// Parses and checks every field into a [`User`] (the password is checked separately).
    pub fn validate(&self, state: &AppState) -> Result<User, Error> {
        use domain::auth::{Role, UnitRef, UserScope, parse_username, validate_scope};
        use domain::units::UnitVersion;
        let role = Role::parse(&self.role)?;
        let unit = match self
            .unit
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            None => None,
            Some(code) => {
                let version = match self.unit_version.as_deref().filter(|v| !v.is_empty()) {
                    Some(v) => UnitVersion::parse(v)?,
                    // A 3-digit code is a pre-2025 district; otherwise assume the 2025 list.
                    None if code.len() == 3 => UnitVersion::Pre2025,
                    None => UnitVersion::V2025,
                };
                Some(UnitRef::new(version, code))
            }
        };
        let scope = UserScope {
            unit,
            organisation: self.organisation.clone().filter(|o| !o.trim().is_empty()),
            person_id: self.person_id,
        };
        validate_scope(state.units, role, &scope)?;
        let username = parse_username(&self.username)?;
        Ok(User {
            id: uuid::Uuid::now_v7(),
            display_name: self
                .display_name
                .clone()
                .filter(|d| !d.trim().is_empty())
                .unwrap_or_else(|| username.clone()),
            username,
            role,
            scope,
            disabled: false,
            created_at: (state.clock)(),
        })
    }
}

/// Issues an API token for a user; returns the token (shown once; only its hash is kept).
pub async fn create_api_token(
    state: &AppState,
    user: &User,
    ip: &ClientIp,
    name: &str,
) -> Result<String, Error> {
    let token = secrets::new_token("pd_");
    let id = uuid::Uuid::now_v7();
    let entry = audit_entry(
        state,
        Some(user),
        ip,
        "token.create",
        Some(("api_token", id.to_string())),
        None,
        serde_json::json!({ "name": name }),
    );
    state
        .store
        .create_api_token(
            &store::ApiTokenRecord {
                id,
                token_hash: secrets::token_hash(&token),
                user_id: user.id,
                name: name.to_string(),
                created_at: (state.clock)(),
            },
            &entry,
        )
        .await?;
    Ok(token)
}

/// Extractor: the authenticated caller (routes whose rule is not `Public` always have one).
pub struct Caller(pub Arc<Principal>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = crate::error::ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Arc<Principal>>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| crate::error::ApiError(crate::authz::unauthenticated()))
    }
}

/// Extractor: the caller if logged in.
pub struct MaybeCaller(pub Option<Arc<Principal>>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for MaybeCaller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(MaybeCaller(
            parts.extensions.get::<Arc<Principal>>().cloned(),
        ))
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientIp>()
            .cloned()
            .unwrap_or(ClientIp(None)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_only_from_trusted_proxies() {
        let proxy: std::net::IpAddr = "10.0.0.2".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "1.2.3.4, 203.0.113.9".parse().unwrap());
        // An untrusted peer's header is ignored.
        assert_eq!(client_address(Some(proxy), &h, &[]), Some(proxy));
        // Through a trusted proxy: the right-most address the proxy saw.
        assert_eq!(
            client_address(Some(proxy), &h, &[proxy]),
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(
            client_address(Some(proxy), &HeaderMap::new(), &[proxy]),
            Some(proxy)
        );
        assert_eq!(client_address(None, &h, &[proxy]), None);
    }

    #[test]
    fn ipv6_addresses_are_grouped_by_64() {
        let a = address_key(&ClientIp(Some("2001:db8:1:2:aaaa::1".into())));
        let b = address_key(&ClientIp(Some("2001:db8:1:2:bbbb::9".into())));
        assert_eq!(a, b);
        assert_eq!(
            address_key(&ClientIp(Some("192.0.2.7".into()))),
            "ip:192.0.2.7"
        );
    }
}
