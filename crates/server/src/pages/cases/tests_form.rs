//! `/cases/tests/new`: a form to enter one test result (the same validation, scope check and
//! storage as `POST /api/v1/tests`); the answer says whether a case was opened or updated and
//! links to it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::surveillance::{TestResult, TestType};
use maud::{Markup, html};
use uuid::Uuid;

use super::{FormMap, SECTION};
use crate::AppState;
use crate::api::cases::{TestBatchResponse, submit_test_batch, today};
use crate::auth::{Caller, ClientIp, Principal};
use crate::i18n::{Lang, date_vn};
use crate::pages::layout::page_for;
use crate::pages::{CsrfForm, PageError};

const FIELDS: [&str; 11] = domain::test_record::COLUMNS;

fn form(lang: Lang, p: &Principal, today: chrono::NaiveDate, f: &FormMap) -> Markup {
    let v = |k: &str| f.text(k);
    let own_commune = p
        .user
        .scope
        .unit
        .as_ref()
        .filter(|u| {
            domain::units::UnitLevel::of_code(&u.code) == Some(domain::units::UnitLevel::Commune)
        })
        .map(|u| u.code.clone());
    let lab = p
        .user
        .scope
        .organisation
        .clone()
        .unwrap_or_else(|| p.user.username.clone());
    html! {
        form.grid #test-form method="post" action="/cases/tests/new" {
            input type="hidden" name="csrf" value=[p.csrf()];
            label { (lang.t("Họ và tên", "Full name")) input type="text" name="full_name" value=[v("full_name")]; }
            label { (lang.t("Số CCCD", "Citizen ID")) input type="text" name="national_id" inputmode="numeric" value=[v("national_id")]; }
            label { (lang.t("Ngày sinh", "Date of birth")) input type="text" name="dob" placeholder="dd/mm/yyyy" value=[v("dob")]; }
            label { (lang.t("Giới tính", "Sex"))
                select name="sex" {
                    option value="" { "—" }
                    option value="male" selected[v("sex").as_deref() == Some("male")] { (lang.t("Nam", "Male")) }
                    option value="female" selected[v("sex").as_deref() == Some("female")] { (lang.t("Nữ", "Female")) }
                }
            }
            label { (lang.t("Mã xã nơi ở", "Commune code")) input type="text" name="commune_code" size="8" value=[v("commune_code").or(own_commune)]; }
            label { (lang.t("Điện thoại", "Phone")) input type="text" name="phone" inputmode="tel" value=[v("phone")]; }
            label { (lang.t("Ngày lấy mẫu", "Sample date")) input type="text" name="sample_date" placeholder="dd/mm/yyyy" required value=(v("sample_date").unwrap_or_else(|| date_vn(today))); }
            label { (lang.t("Loại xét nghiệm", "Test type"))
                select name="test_type" {
                    @for t in TestType::ALL {
                        option value=(t.as_str()) selected[v("test_type").as_deref() == Some(t.as_str())] { (t.label_vi()) }
                    }
                }
            }
            label { (lang.t("Kết quả", "Result"))
                select name="result" {
                    @for r in TestResult::ALL {
                        option value=(r.as_str()) selected[v("result").as_deref() == Some(r.as_str())] { (r.label_vi()) }
                    }
                }
            }
            label { (lang.t("Mã nơi xét nghiệm", "Lab code")) input type="text" name="lab_code" required value=(v("lab_code").unwrap_or(lab)); }
            label { (lang.t("Mã phiếu (để trống: tự sinh)", "Record id (empty: generated)")) input type="text" name="record_id" value=[v("record_id")]; }
            button type="submit" { (lang.t("Ghi nhận kết quả", "Record the result")) }
        }
    }
}

fn shell(lang: Lang, p: &Principal, content: Markup) -> Markup {
    let title = lang.t("Nhập kết quả xét nghiệm", "Enter a test result");
    page_for(
        lang,
        Some(p),
        Some(SECTION),
        title,
        html! {
            p.breadcrumb { a href="/cases" { (lang.t("Ca bệnh", "Cases")) } }
            h1 { (title) }
            p.muted { (lang.t("Kết quả dương tính RT-PCR hoặc test nhanh kháng nguyên mở ca bệnh mới (hoặc cập nhật ca đang theo dõi); kết quả âm tính được gắn với ca đang theo dõi.",
                "A positive RT-PCR or rapid antigen result opens a case (or updates the open one); a negative result is attached to the open case.")) }
            (content)
        },
    )
}

/// `GET /cases/tests/new`.
pub async fn new_page(State(state): State<AppState>, Caller(p): Caller, lang: Lang) -> Markup {
    shell(lang, &p, form(lang, &p, today(&state), &FormMap::default()))
}

fn outcome(lang: Lang, r: &TestBatchResponse, cases: &[(Uuid, String)]) -> Markup {
    let s = &r.summary;
    html! {
        @if r.rejected > 0 {
            div.error #test-errors {
                p { (lang.t("Kết quả chưa được ghi nhận, vui lòng sửa:", "The result was not recorded; please correct:")) }
                ul { @for e in &r.errors { li data-column=(e.column) { (e.column) ": " (e.message) @if !e.value.is_empty() { " («" (e.value) "»)" } } } }
            }
        } @else if s.duplicates > 0 && s.inserted == 0 {
            p.notice #test-duplicate { (lang.t("Kết quả này đã được ghi nhận trước đó (cùng nơi xét nghiệm và mã phiếu).", "This result was already recorded (same lab and record id).")) }
        } @else {
            div.ok #test-recorded {
                p { (lang.t("Đã ghi nhận kết quả.", "The result was recorded.")) " "
                    @if s.linked > 0 { (lang.t("Đã ghép với người trong sổ dân cư.", "Linked to a register person.")) }
                    @else if s.review > 0 { (lang.t("Chờ cán bộ xác nhận người trong sổ dân cư.", "Waiting for a clerk to confirm the register person.")) }
                    @else { (lang.t("Chưa tìm thấy người trong sổ dân cư.", "No register person found.")) }
                }
                @if s.cases_created > 0 {
                    p #case-opened { strong { (lang.t("Đã mở ca bệnh mới.", "A new case was opened.")) } }
                } @else if s.cases_updated > 0 {
                    p #case-updated { strong { (lang.t("Đã cập nhật ca bệnh đang theo dõi.", "The open case was updated.")) } }
                } @else {
                    p #no-case { (lang.t("Không mở ca bệnh.", "No case was opened.")) }
                }
                @for (id, name) in cases {
                    p { a href={ "/cases/" (id) } { (lang.t("Xem ca bệnh", "View the case")) ": " (name) } }
                }
            }
        }
    }
}

/// `POST /cases/tests/new`.
pub async fn submit(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    CsrfForm(mut f): CsrfForm<FormMap>,
) -> Result<Response, PageError> {
    if f.text("record_id").is_none() {
        f.0.insert("record_id".into(), Uuid::now_v7().to_string());
    }
    let mut record = serde_json::Map::new();
    for k in FIELDS {
        if let Some(v) = f.text(k) {
            record.insert(k.to_string(), serde_json::Value::String(v));
        }
    }
    let r = submit_test_batch(&state, &p, &ip, &[record])
        .await
        .map_err(|error| PageError { error, lang })?;
    let mut cases = Vec::new();
    let manages = domain::auth::role_allows(p.user.role, domain::auth::Permission::ManageCases);
    for person in r.summary.new_case_persons.iter().filter(|_| manages) {
        if let Ok(Some(c)) = intake::care::open_case_of_person(state.store.as_ref(), *person).await
        {
            cases.push((c.id, c.full_name));
        }
    }
    let status = if r.rejected > 0 {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    // After a recorded result the form starts empty again; a refused one keeps what was typed.
    let again = if r.rejected > 0 {
        f
    } else {
        FormMap::default()
    };
    Ok((
        status,
        shell(
            lang,
            &p,
            html! { (outcome(lang, &r, &cases)) (form(lang, &p, today(&state), &again)) },
        ),
    )
        .into_response())
}
