//! Administration pages: user management (`/admin/users`) and the audit log (`/admin/audit`).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use domain::auth::Role;
use maud::{Markup, html};
use serde::Deserialize;

use super::PageError;
use super::auth_pages::{CsrfForm, CsrfOnly, HasCsrf};
use super::layout::page_for;
use crate::AppState;
use crate::api::audit::AuditQuery;
use crate::auth::{self, Caller, ClientIp, NewUser, Principal};
use crate::i18n::{Lang, int_vn};

pub async fn index() -> Redirect {
    Redirect::to("/admin/users")
}

fn users_page(
    lang: Lang,
    p: &Principal,
    users: &[domain::auth::User],
    message: Option<Result<String, String>>,
) -> Markup {
    let title = lang.t("Quản lý người dùng", "Users");
    page_for(
        lang,
        Some(p),
        Some("/admin"),
        title,
        html! {
            h1 { (title) }
            p { a href="/admin/audit" { (lang.t("Nhật ký truy cập và thay đổi", "Audit log")) } }
            @match &message {
                Some(Ok(m)) => p.ok role="status" { (m) },
                Some(Err(m)) => p.error role="alert" { (m) },
                None => {},
            }
            section.card {
                h2 { (lang.t("Thêm người dùng", "Add a user")) }
                form.grid method="post" action="/admin/users" {
                    input type="hidden" name="csrf" value=[p.csrf()];
                    label { (lang.t("Tên đăng nhập", "Username")) input type="text" name="username" required; }
                    label { (lang.t("Họ tên", "Display name")) input type="text" name="display_name"; }
                    label { (lang.t("Mật khẩu (≥ 10 ký tự)", "Password (≥ 10 characters)")) input type="password" name="password" autocomplete="new-password" required; }
                    label { (lang.t("Vai trò", "Role"))
                        select name="role" {
                            @for r in Role::ALL { option value=(r.as_str()) { (r.label_vi()) " (" (r.as_str()) ")" } }
                        }
                    }
                    label { (lang.t("Mã đơn vị", "Unit code")) input type="text" name="unit" placeholder="12, 105, 03124"; }
                    label { (lang.t("Danh mục đơn vị", "Unit list"))
                        select name="unit_version" {
                            option value="" { (lang.t("Tự nhận (3 số = huyện cũ)", "Auto (3 digits = old district)")) }
                            option value="2025" { "2025" }
                            option value="pre2025" { (lang.t("Trước 2025", "Pre-2025")) }
                        }
                    }
                    label { (lang.t("Cơ sở / tổ chức", "Facility / organisation")) input type="text" name="organisation"; }
                    label { (lang.t("Mã người (tài khoản người dân)", "Person id (citizen accounts)")) input type="text" name="person_id"; }
                    button type="submit" { (lang.t("Thêm", "Add")) }
                }
            }
            table {
                thead { tr {
                    th { (lang.t("Tên đăng nhập", "Username")) } th { (lang.t("Họ tên", "Name")) }
                    th { (lang.t("Vai trò", "Role")) } th { (lang.t("Đơn vị", "Unit")) }
                    th { (lang.t("Cơ sở", "Facility")) } th { (lang.t("Trạng thái", "Status")) } th {}
                } }
                tbody {
                    @for u in users {
                        tr {
                            td { (u.username) } td { (u.display_name) } td { (u.role.label_vi()) }
                            td { @if let Some(unit) = &u.scope.unit { (unit.code) " (" (unit.version.as_str()) ")" } }
                            td { (u.scope.organisation.as_deref().unwrap_or("")) }
                            td { @if u.disabled { (lang.t("Đã khóa", "Disabled")) } @else { (lang.t("Hoạt động", "Active")) } }
                            td {
                                @if u.id != p.user.id {
                                    form.inline method="post" action={ "/admin/users/" (u.id) (if u.disabled { "/enable" } else { "/disable" }) } {
                                        input type="hidden" name="csrf" value=[p.csrf()];
                                        button.link type="submit" { @if u.disabled { (lang.t("Mở khóa", "Enable")) } @else { (lang.t("Khóa", "Disable")) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

pub async fn users(
    State(state): State<AppState>,
    Caller(p): Caller,
    lang: Lang,
) -> Result<Markup, PageError> {
    let users = state
        .store
        .list_users()
        .await
        .map_err(|error| PageError { error, lang })?;
    Ok(users_page(lang, &p, &users, None))
}

#[derive(Deserialize)]
pub struct NewUserForm {
    csrf: String,
    username: String,
    display_name: Option<String>,
    password: String,
    role: String,
    unit: Option<String>,
    unit_version: Option<String>,
    organisation: Option<String>,
    person_id: Option<String>,
}

impl HasCsrf for NewUserForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn create_user(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    CsrfForm(f): CsrfForm<NewUserForm>,
) -> Result<Response, PageError> {
    let person_id = match f
        .person_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) => Some(uuid::Uuid::parse_str(s).map_err(|_| PageError {
            error: domain::Error::invalid(
                "person_id",
                "Mã người không hợp lệ",
                "Invalid person id",
            ),
            lang,
        })?),
    };
    let new = NewUser {
        username: f.username,
        display_name: f.display_name,
        password: f.password,
        role: f.role,
        unit: f.unit,
        unit_version: f.unit_version,
        organisation: f.organisation,
        person_id,
    };
    let result = auth::create_user(&state, Some(&p.user), &ip, new).await;
    let users = state
        .store
        .list_users()
        .await
        .map_err(|error| PageError { error, lang })?;
    Ok(match result {
        Ok(u) => users_page(
            lang,
            &p,
            &users,
            Some(Ok(format!("{} {}", lang.t("Đã thêm", "Added"), u.username))),
        )
        .into_response(),
        Err(e) => (
            crate::error::status_of(e.code),
            users_page(
                lang,
                &p,
                &users,
                Some(Err(e.message(lang == Lang::En).to_string())),
            ),
        )
            .into_response(),
    })
}

async fn set_disabled(
    state: AppState,
    p: &Principal,
    ip: ClientIp,
    lang: Lang,
    id: String,
    disabled: bool,
) -> Result<Redirect, PageError> {
    crate::api::users::set_disabled(&state, &p.user, &ip, &id, disabled)
        .await
        .map_err(|error| PageError { error, lang })?;
    Ok(Redirect::to("/admin/users"))
}

pub async fn disable_user(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> Result<Redirect, PageError> {
    set_disabled(state, &p, ip, lang, id, true).await
}

pub async fn enable_user(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> Result<Redirect, PageError> {
    set_disabled(state, &p, ip, lang, id, false).await
}

pub async fn audit(
    State(state): State<AppState>,
    Caller(p): Caller,
    lang: Lang,
    Query(q): Query<AuditQuery>,
) -> Result<Markup, PageError> {
    let err = |error| PageError { error, lang };
    let filter = q.to_filter().map_err(err)?;
    let page = state.store.list_audit(&filter).await.map_err(err)?;
    let title = lang.t("Nhật ký kiểm toán", "Audit log");
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    Ok(page_for(
        lang,
        Some(&p),
        Some("/admin"),
        title,
        html! {
            h1 { (title) }
            p.muted { (lang.t(
                "Chỉ ghi thêm; mỗi dòng giữ mã băm của dòng trước. Kiểm tra toàn chuỗi: phongdich audit verify.",
                "Append-only; each entry holds the previous entry's hash. Check the chain: phongdich audit verify.")) }
            form.grid.card method="get" action="/admin/audit" {
                label { (lang.t("Người thực hiện", "Actor")) input type="text" name="actor" value=(v(&q.actor)); }
                label { (lang.t("Hành động", "Action")) input type="text" name="action" value=(v(&q.action)) placeholder="person.view"; }
                label { (lang.t("Mã đối tượng", "Record id")) input type="text" name="entity" value=(v(&q.entity)); }
                label { (lang.t("Từ ngày", "From")) input type="date" name="from" value=(v(&q.from)); }
                label { (lang.t("Đến ngày", "To")) input type="date" name="to" value=(v(&q.to)); }
                button type="submit" { (lang.t("Lọc", "Filter")) }
            }
            p.muted { (int_vn(page.total)) " " (lang.t("mục", "entries")) }
            table id="audit" {
                thead { tr {
                    th.num { "#" } th { (lang.t("Thời điểm (UTC)", "Time (UTC)")) } th { (lang.t("Người thực hiện", "Actor")) }
                    th { (lang.t("Hành động", "Action")) } th { (lang.t("Đối tượng", "Record")) } th { (lang.t("Đơn vị", "Unit")) } th { (lang.t("Địa chỉ", "From")) }
                } }
                tbody {
                    @for e in &page.items {
                        tr {
                            td.num { (e.seq) }
                            td { (e.entry.at.format("%d/%m/%Y %H:%M:%S")) }
                            td { (e.entry.actor.as_deref().unwrap_or("—")) }
                            td { code { (e.entry.action) } }
                            td { (e.entry.entity_type.as_deref().unwrap_or("")) " " (e.entry.entity_id.as_deref().unwrap_or("")) }
                            td { (e.entry.unit_code.as_deref().unwrap_or("")) }
                            td { (e.entry.ip.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        },
    ))
}
