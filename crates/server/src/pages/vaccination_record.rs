//! Recording a dose at a vaccination site (issue 5, point 3):
//!
//! - `/vaccination/record?q=…` finds a person of the caller's unit by name (with or without
//!   diacritics), citizen ID or phone (the persons list query, so the same scope rules apply).
//! - `/vaccination/record/{person_id}` shows the person's doses as the schedule engine classifies
//!   them (primary 1/2/3, additional, booster 1/2), the next dose due, and the form: vaccine from
//!   the catalogue, dose date (dd/mm/yyyy), lot (list of known lots or free text), site, and
//!   "additional dose". Submitting checks the dose first: when the schedule or the lot/site
//!   lists give warnings the page comes back with them ("cần xác nhận" beside rules whose numbers
//!   are not verified) and a "Vẫn ghi nhận" box; without warnings, or once confirmed, the dose is
//!   recorded (audited) and the page shows the updated history.
//!
//! [`person_section`] renders the same history on the person page.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::auth::{Permission, role_allows};
use domain::person::Person;
use domain::register::CellError;
use domain::schedule::{DoseKind, FollowUp};
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use super::PageError;
use super::auth_pages::{CsrfForm, HasCsrf};
use super::layout::page_for;
use crate::AppState;
use crate::api::doses::{
    self, DoseCheck, PersonDoseBody, VaccinationHistory, kind_label, product_label, readable_person,
};
use crate::api::persons::{ListQuery, person_query};
use crate::auth::{Caller, ClientIp, Principal};
use crate::i18n::{Lang, date_vn};

const SECTION: &str = "/vaccination";

#[derive(Debug, Deserialize)]
pub struct FindQuery {
    pub q: Option<String>,
    pub unit: Option<String>,
    pub version: Option<String>,
}

fn sex_label(lang: Lang, s: domain::person::Sex) -> &'static str {
    match s {
        domain::person::Sex::Male => lang.t("Nam", "Male"),
        domain::person::Sex::Female => lang.t("Nữ", "Female"),
    }
}

/// `/vaccination/record`: find the person to record a dose for.
pub async fn find(
    State(state): State<AppState>,
    Caller(p): Caller,
    lang: Lang,
    Query(fq): Query<FindQuery>,
) -> Result<Markup, PageError> {
    let err = |error| PageError { error, lang };
    let (unit, version) = match (&fq.unit, &p.user.scope.unit) {
        (Some(u), _) if !u.trim().is_empty() => (
            Some(u.trim().to_string()),
            fq.version.clone().unwrap_or_else(|| "2025".into()),
        ),
        (_, Some(u)) => (Some(u.code.clone()), u.version.as_str().to_string()),
        _ => (None, "2025".to_string()),
    };
    let text = fq.q.clone().unwrap_or_default();
    let results = match (&unit, text.trim().is_empty()) {
        (Some(u), false) => {
            let query = person_query(
                &state,
                &p,
                ListQuery {
                    unit: Some(u.clone()),
                    version: Some(version.clone()),
                    q: Some(text.clone()),
                    limit: Some(20),
                    offset: None,
                },
            )
            .map_err(err)?;
            Some(state.store.list_persons(&query).await.map_err(err)?)
        }
        _ => None,
    };
    let title = lang.t("Ghi nhận mũi tiêm", "Record a dose");
    Ok(page_for(
        lang,
        Some(&p),
        Some(SECTION),
        title,
        html! {
            h1 { (title) }
            form.search method="get" action="/vaccination/record" {
                @if p.user.scope.unit.is_none() {
                    label { (lang.t("Mã đơn vị", "Unit code"))
                        input type="text" name="unit" value=[unit.as_deref()] size="6"; }
                    input type="hidden" name="version" value=(version);
                    " "
                }
                label {
                    (lang.t("Tìm người theo tên (có hoặc không dấu), số CCCD hoặc điện thoại",
                        "Find the person by name (with or without diacritics), citizen ID or phone"))
                    input type="search" name="q" value=(text) autofocus placeholder=(lang.t("vd. nguyen van an", "e.g. nguyen van an"));
                }
                " "
                button type="submit" { (lang.t("Tìm", "Search")) }
            }
            @if unit.is_none() {
                p.muted { (lang.t("Nhập mã đơn vị để tìm trong đơn vị đó.", "Enter a unit code to search in that unit.")) }
            }
            @if let Some(found) = &results {
                p.muted #found-total { (found.total) " " (lang.t("người", "persons")) }
                table #found {
                    thead { tr {
                        th { (lang.t("Họ và tên", "Full name")) }
                        th { (lang.t("Ngày sinh", "Date of birth")) }
                        th { (lang.t("Giới tính", "Sex")) }
                        th { (lang.t("Số CCCD", "Citizen ID")) }
                        th { (lang.t("Xã/phường", "Commune")) }
                    } }
                    tbody {
                        @for person in &found.items {
                            tr {
                                td { a href={ "/vaccination/record/" (person.id) } { (person.full_name) } }
                                td { (date_vn(person.dob)) }
                                td { (sex_label(lang, person.sex)) }
                                td { (person.national_id.as_ref().map(|n| n.masked()).unwrap_or_default()) }
                                td { (state.units.v2025.get(&person.commune_code).map(|u| u.name.as_str()).unwrap_or(&person.commune_code)) }
                            }
                        }
                        @if found.items.is_empty() {
                            tr { td colspan="5" { (lang.t("Không tìm thấy ai.", "Nobody found.")) } }
                        }
                    }
                }
            }
        },
    ))
}

/// A schedule rule or lot/site warning as a list item.
fn warning_item(lang: Lang, vi: &str, en: &str, verified: bool) -> Markup {
    html! {
        li {
            (if lang == Lang::En { en } else { vi })
            @if !verified {
                " " span.muted.unverified { "(" (lang.t("cần xác nhận", "to be confirmed")) ")" }
            }
        }
    }
}

fn record_warning_item(lang: Lang, w: &serde_json::Value) -> Markup {
    let text = |k: &str| w[k].as_str().unwrap_or_default().to_string();
    warning_item(lang, &text("message_vi"), &text("message_en"), true)
}

fn follow_up_label(lang: Lang, f: &FollowUp) -> String {
    let en = lang == Lang::En;
    match f {
        FollowUp::NotEligible => lang.t("Chưa đến tuổi tiêm", "Not yet eligible").into(),
        FollowUp::NotVaccinated => lang.t("Chưa tiêm mũi nào", "Not vaccinated").into(),
        FollowUp::UpToDate => lang.t("Đúng lịch", "Up to date").into(),
        FollowUp::Due { kind, due } => format!(
            "{} {} ({} {})",
            lang.t("Đến hạn", "Due:"),
            kind_label(*kind, en),
            lang.t("từ", "since"),
            date_vn(*due)
        ),
        FollowUp::Overdue {
            kind,
            due,
            days_overdue,
        } => format!(
            "{} {} ({} {}, {days_overdue} {})",
            lang.t("Quá hạn", "Overdue:"),
            kind_label(*kind, en),
            lang.t("từ", "since"),
            date_vn(*due),
            lang.t("ngày", "days")
        ),
    }
}

/// `primary_2` → the dose kind (the codes [`DoseKind::code`] writes).
fn kind_from_code(code: &str) -> Option<DoseKind> {
    match code {
        "additional" => return Some(DoseKind::Additional),
        "duplicate" => return Some(DoseKind::Duplicate),
        _ => {}
    }
    let (kind, n) = code.rsplit_once('_')?;
    let n: u8 = n.parse().ok().filter(|n| (1..=9).contains(n))?;
    match kind {
        "primary" => Some(DoseKind::Primary(n)),
        "booster" => Some(DoseKind::Booster(n)),
        _ => None,
    }
}

fn kind_text(lang: Lang, code: &str, vi_label: &str) -> String {
    if lang == Lang::Vi {
        return vi_label.to_string();
    }
    let n = code.rsplit('_').next().unwrap_or("");
    match code {
        "additional" => "Additional dose".into(),
        c if c.starts_with("primary") => format!("Primary dose {n}"),
        _ => format!("Booster {n}"),
    }
}

/// The classified history: a table of doses and the next dose due.
pub fn history_view(lang: Lang, h: &VaccinationHistory) -> Markup {
    html! {
        @if h.doses.is_empty() {
            p.muted #no-doses { (lang.t("Chưa có mũi tiêm nào được ghi nhận.", "No doses recorded.")) }
        } @else {
            table #doses {
                thead { tr {
                    th { (lang.t("Ngày tiêm", "Date")) }
                    th { (lang.t("Mũi", "Dose")) }
                    th { (lang.t("Vắc xin", "Vaccine")) }
                    th { (lang.t("Lô", "Lot")) }
                    th { (lang.t("Điểm tiêm", "Site")) }
                    th { (lang.t("Cảnh báo", "Warnings")) }
                } }
                tbody {
                    @for d in &h.doses {
                        tr data-kind=(d.kind) {
                            td { (date_vn(d.date)) }
                            td.kind { (kind_text(lang, &d.kind, &d.kind_label)) }
                            td { (d.product) }
                            td { (d.lot) }
                            td { (d.site_name.as_deref().unwrap_or(&d.site_code)) }
                            td {
                                @if d.warnings.is_empty() && d.record_warnings.is_empty() { "—" }
                                @else {
                                    ul.warnings {
                                        @for w in &d.warnings { (warning_item(lang, &w.message_vi, &w.message_en, w.verified)) }
                                        @for w in &d.record_warnings { (record_warning_item(lang, w)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        dl.record.card #schedule {
            dt { (lang.t("Mũi cơ bản", "Primary series")) }
            dd #primary { @if let Some(d) = h.primary_complete_on {
                (lang.t("Đã hoàn thành ngày", "Completed on")) " " (date_vn(d))
            } @else { (lang.t("Chưa hoàn thành", "Not complete")) } }
            dt { (lang.t("Mũi tiếp theo", "Next dose")) }
            dd #next-due { @if let Some(n) = &h.next {
                (kind_text(lang, &n.kind, &n.kind_label)) " — " (lang.t("từ ngày", "from")) " " (date_vn(n.due))
                @if !n.verified { " " span.muted.unverified { "(" (lang.t("cần xác nhận", "to be confirmed")) ")" } }
            } @else { "—" } }
            dt { (lang.t("Theo dõi", "Follow-up")) }
            dd #follow-up { (follow_up_label(lang, &h.follow_up)) }
            dt { (lang.t("Bộ quy tắc", "Ruleset")) }
            dd.muted { (h.ruleset) }
        }
    }
}

/// The vaccination section of the person page.
pub async fn person_section(
    state: &AppState,
    p: &Principal,
    lang: Lang,
    person: &Person,
) -> Result<Markup, domain::Error> {
    let h = doses::vaccination_history(state, person).await?;
    Ok(html! {
        section #vaccination {
            h2 { (lang.t("Tiêm chủng", "Vaccination")) }
            (history_view(lang, &h))
            @if role_allows(p.user.role, Permission::RecordDoses) {
                p { a href={ "/vaccination/record/" (person.id) } { (lang.t("Ghi nhận mũi tiêm", "Record a dose")) } }
            }
        }
    })
}

/// The form's values (kept when the page comes back with errors or warnings).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DoseForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub vaccine: String,
    #[serde(default)]
    pub dose_date: String,
    #[serde(default)]
    pub lot: String,
    #[serde(default)]
    pub site_code: String,
    pub additional: Option<String>,
    pub confirm: Option<String>,
    /// The dose's record id, made when the form is first shown: submitting the same form twice
    /// (a double click, the back button) stores the dose once.
    #[serde(default)]
    pub record_id: String,
}

impl HasCsrf for DoseForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// What the last submission found.
enum Outcome {
    None,
    Recorded(String),
    Invalid(Vec<CellError>),
    Warnings(DoseCheck),
}

#[derive(Debug, Deserialize)]
pub struct RecordedQuery {
    pub recorded: Option<String>,
}

async fn render(
    state: &AppState,
    p: &Principal,
    lang: Lang,
    person: &Person,
    form: &DoseForm,
    outcome: Outcome,
) -> Result<Markup, domain::Error> {
    let h = doses::vaccination_history(state, person).await?;
    let sites = state.store.vaccination_sites().await?;
    let lots = state.store.vaccine_lots().await?;
    let vaccines: Vec<_> = doses::vaccine_views()
        .into_iter()
        .filter(|v| !v.product.aliases.is_empty())
        .collect();
    let title = format!(
        "{} — {}",
        lang.t("Ghi nhận mũi tiêm", "Record a dose"),
        person.full_name
    );
    let date_value = if form.dose_date.is_empty() {
        date_vn(doses::today(state))
    } else {
        form.dose_date.clone()
    };
    let en = lang == Lang::En;
    let record_id = if form.record_id.trim().is_empty() {
        format!("F-{}", Uuid::now_v7().simple())
    } else {
        form.record_id.clone()
    };
    // Nothing is chosen for the clerk, except the site of their own commune.
    let site_code = if form.site_code.is_empty() {
        let own = p.user.scope.unit.as_ref().map(|u| u.code.as_str());
        sites
            .iter()
            .find(|s| own.is_some() && s.commune_code.as_deref() == own)
            .map(|s| s.code.clone())
            .unwrap_or_default()
    } else {
        form.site_code.clone()
    };
    Ok(page_for(
        lang,
        Some(p),
        Some(SECTION),
        &title,
        html! {
            nav.breadcrumb { a href="/vaccination/record" { "‹ " (lang.t("Tìm người khác", "Find someone else")) } }
            h1 { (person.full_name) }
            p.muted {
                (date_vn(person.dob)) " · " (sex_label(lang, person.sex)) " · "
                (state.units.v2025.get(&person.commune_code).map(|u| u.name.as_str()).unwrap_or(&person.commune_code))
                " · " (person.national_id.as_ref().map(|n| n.masked()).unwrap_or_default())
            }
            @match &outcome {
                Outcome::Recorded(kind) => {
                    p.ok.notice #recorded role="status" { (lang.t("Đã ghi nhận mũi tiêm", "Dose recorded")) ": " (kind) }
                }
                Outcome::Invalid(errors) => {
                    div.error #dose-errors role="alert" {
                        p { (lang.t("Chưa ghi nhận: thông tin chưa hợp lệ", "Not recorded: the form has errors")) }
                        ul { @for e in errors { li { (e.column) ": " (e.message) } } }
                    }
                }
                Outcome::Warnings(check) => {
                    div.notice #dose-warnings role="alert" {
                        p { strong { (lang.t("Mũi này sẽ được tính là", "This dose would count as")) " " (kind_text(lang, &check.kind, &check.kind_label)) "." }
                            " " (lang.t("Chưa ghi nhận vì có cảnh báo:", "Not recorded yet because of these warnings:")) }
                        ul.warnings {
                            @for w in &check.schedule_warnings { (warning_item(lang, &w.message_vi, &w.message_en, w.verified)) }
                            @for w in &check.record_warnings { (record_warning_item(lang, w)) }
                        }
                        p.muted { (lang.t("Kiểm tra lại; nếu đúng là đã tiêm như vậy, chọn «Vẫn ghi nhận» rồi gửi lại.",
                            "Check again; if the dose was really given so, tick «Record anyway» and submit again.")) }
                    }
                }
                Outcome::None => {}
            }
            h2 { (lang.t("Các mũi đã tiêm", "Doses given")) }
            (history_view(lang, &h))
            h2 { (lang.t("Ghi nhận mũi mới", "Record a new dose")) }
            form.stack.card #dose-form method="post" action={ "/vaccination/record/" (person.id) } {
                input type="hidden" name="csrf" value=[p.csrf()];
                input type="hidden" name="record_id" value=(record_id);
                label { (lang.t("Vắc xin", "Vaccine"))
                    select name="vaccine" required {
                        option value="" selected[form.vaccine.is_empty()] { (lang.t("— chọn vắc xin —", "— choose the vaccine —")) }
                        @for v in &vaccines {
                            option value=(v.product.code) selected[form.vaccine == v.product.code] {
                                (product_label(&v.product.code)) " (" (v.product.aliases.join(", ")) ")"
                            }
                        }
                    }
                }
                label { (lang.t("Ngày tiêm (dd/mm/yyyy)", "Date of the dose (dd/mm/yyyy)"))
                    input type="text" name="dose_date" value=(date_value) required placeholder="dd/mm/yyyy" inputmode="numeric";
                }
                label { (lang.t("Số lô", "Lot"))
                    input type="text" name="lot" value=(form.lot) list="known-lots";
                }
                datalist #known-lots {
                    @for l in &lots {
                        option value=(l.lot) { (product_label(&l.product)) " — " (lang.t("HSD", "expires")) " " (date_vn(l.expiry)) }
                    }
                }
                label { (lang.t("Điểm tiêm", "Site"))
                    @if sites.is_empty() {
                        input type="text" name="site_code" value=(site_code) required placeholder=(lang.t("mã điểm tiêm", "site code"));
                    } @else {
                        select name="site_code" required {
                            option value="" selected[site_code.is_empty()] { (lang.t("— chọn điểm tiêm —", "— choose the site —")) }
                            @for s in &sites {
                                option value=(s.code) selected[site_code == s.code] { (s.name) " (" (s.code) ")" }
                            }
                        }
                    }
                }
                label { input type="checkbox" name="additional" value="1" checked[form.additional.is_some()];
                    " " (lang.t("Mũi bổ sung (người suy giảm miễn dịch)", "Additional dose (immunocompromised person)")) }
                @if matches!(outcome, Outcome::Warnings(_)) {
                    label #confirm-label { input type="checkbox" name="confirm" value="1";
                        " " strong { (lang.t("Vẫn ghi nhận", "Record anyway")) } }
                }
                button type="submit" { (lang.t("Ghi nhận mũi tiêm", "Record the dose")) }
            }
            @if en { p.muted { "Every recorded dose is written to the audit log." } }
            @else { p.muted { "Mỗi mũi tiêm được ghi nhận đều được ghi vào nhật ký truy cập." } }
        },
    ))
}

/// `/vaccination/record/{id}`: the person's doses and the form.
pub async fn record_page(
    State(state): State<AppState>,
    Caller(p): Caller,
    lang: Lang,
    Path(id): Path<String>,
    Query(q): Query<RecordedQuery>,
) -> Result<Markup, PageError> {
    let err = |error| PageError { error, lang };
    let person = readable_person(&state, &p, &id).await.map_err(err)?;
    // Only a known kind code is shown back (nothing else from the URL reaches the page).
    let outcome = match q.recorded.as_deref().and_then(kind_from_code) {
        Some(kind) => Outcome::Recorded(kind_label(kind, lang == Lang::En)),
        None => Outcome::None,
    };
    render(&state, &p, lang, &person, &DoseForm::default(), outcome)
        .await
        .map_err(err)
}

/// The form's submission: validate, check, then record (or come back with warnings).
pub async fn record_submit(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<DoseForm>,
) -> Result<Response, PageError> {
    let err = |error| PageError { error, lang };
    let person = readable_person(&state, &p, &id).await.map_err(err)?;
    let body = PersonDoseBody {
        vaccine: form.vaccine.clone(),
        dose_date: form.dose_date.clone(),
        lot: form.lot.clone(),
        site_code: form.site_code.clone(),
        additional: form.additional.is_some(),
        record_id: Some(form.record_id.clone()).filter(|r| !r.trim().is_empty()),
        check_only: false,
    };
    let row = match doses::person_dose_row(&person, &body, doses::today(&state)) {
        Ok(row) => row,
        Err(errors) => {
            let page = render(&state, &p, lang, &person, &form, Outcome::Invalid(errors))
                .await
                .map_err(err)?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    intake::doses::refuse_merged(state.store.as_ref(), person.id)
        .await
        .map_err(err)?;
    // The same form sent again (double click, back button): its dose is already stored, so it
    // is not checked against itself; recording answers what the stored dose counts as.
    let resent = intake::doses::person_history(state.store.as_ref(), person.id)
        .await
        .map_err(err)?
        .iter()
        .any(|(r, _)| r.record.source == row.site_code && r.record.external_id == row.record_id);
    if form.confirm.is_none() && !resent {
        let check = doses::check_person_dose(&state, &person, &row)
            .await
            .map_err(err)?;
        if check.has_warnings() {
            let page = render(&state, &p, lang, &person, &form, Outcome::Warnings(check))
                .await
                .map_err(err)?;
            return Ok(page.into_response());
        }
    }
    let done = doses::record_person_dose(&state, &p, &ip, &person, &row)
        .await
        .map_err(err)?;
    let to = format!(
        "/vaccination/record/{}?recorded={}",
        person.id, done.check.kind
    );
    Ok(Redirect::to(&to).into_response())
}
