//! `/cases/sampling`: sampling sessions of a unit with their single and pooled samples, and the
//! forms to add a session and a sample; `/cases/lab`: a lab's queue (waiting hours, receive and
//! result buttons) and the turnaround per lab.

use axum::extract::{Path, Query, State};
use axum::response::Redirect;
use domain::surveillance::TestResult;
use intake::outbreaks::{self as ob, MemberInput, SampleInput, SessionInput};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use store::{Sample, SampleSession, SampleStatus};

use super::{FormMap, SECTION, UnitQuery, banner, csrf_field, hours_vn, nav, time_vn, unit_picker};
use crate::AppState;
use crate::api::outbreaks::{
    LabParams, ResultBody, SampleItem, SessionListParams, add_samples_for, create_session_for,
    queue_for, receive_for, result_for, sessions_for, turnaround_for,
};
use crate::auth::{Caller, ClientIp, Principal};
use crate::i18n::{Lang, date_vn};
use crate::pages::layout::page_for;
use crate::pages::{CsrfForm, PageError};

/// Sessions shown on the page.
const SESSIONS: u32 = 20;

pub fn result_label(lang: Lang, r: TestResult) -> &'static str {
    match lang {
        Lang::Vi => r.label_vi(),
        Lang::En => match r {
            TestResult::Positive => "Positive",
            TestResult::Negative => "Negative",
            TestResult::Inconclusive => "Inconclusive",
        },
    }
}

pub fn status_label(lang: Lang, s: SampleStatus) -> &'static str {
    match s {
        SampleStatus::Collected => lang.t("Đã lấy mẫu", "Collected"),
        SampleStatus::Received => lang.t("Phòng xét nghiệm đã nhận", "Received"),
        SampleStatus::Resulted => lang.t("Có kết quả", "Resulted"),
    }
}

fn result_badge(lang: Lang, s: &Sample) -> Markup {
    html! {
        @match s.result {
            Some(TestResult::Positive) => span.badge.error data-result="positive" { (result_label(lang, TestResult::Positive)) },
            Some(r) => span.badge.ok data-result=(r.as_str()) { (result_label(lang, r)) },
            None => span.muted { (status_label(lang, s.status)) },
        }
    }
}

fn members_text(s: &Sample) -> Markup {
    let item = SampleItem::from(s);
    html! {
        @for (i, m) in item.members.iter().enumerate() {
            @if i > 0 { ", " }
            (m.full_name)
            @if let Some(n) = &m.national_id { " " span.muted { (n) } }
        }
    }
}

fn session_form(lang: Lang, p: &Principal) -> Markup {
    html! {
        details.card #new-session {
            summary { (lang.t("Thêm điểm lấy mẫu", "Add a sampling session")) }
            form.grid method="post" action="/cases/sampling" {
                (csrf_field(p))
                label { (lang.t("Điểm lấy mẫu", "Place")) input type="text" name="place" required maxlength="500"; }
                label { (lang.t("Mã xã/phường", "Commune code")) input type="text" name="commune_code" required size="6"; }
                label { (lang.t("Danh mục", "Hierarchy"))
                    select name="hierarchy" { option value="2025" { "2025" } option value="pre2025" { (lang.t("Trước 2025", "Pre-2025")) } }
                }
                label { (lang.t("Ngày lấy mẫu", "Date")) input type="text" name="held_on" placeholder="dd/mm/yyyy" size="10"; }
                label { (lang.t("Mã phòng xét nghiệm nhận mẫu", "Lab code")) input type="text" name="lab_code" required maxlength="40"; }
                button type="submit" { (lang.t("Thêm", "Add")) }
            }
        }
    }
}

fn sample_form(lang: Lang, p: &Principal, s: &SampleSession) -> Markup {
    html! {
        details {
            summary { (lang.t("Thêm mẫu (đơn hoặc gộp tối đa", "Add a sample (single or pooled, up to")) " " (ob::MAX_POOL_SIZE) " " (lang.t("người)", "persons)")) }
            form.stack method="post" action={ "/cases/sampling/" (s.id) "/samples" } {
                (csrf_field(p))
                label { (lang.t("Mã mẫu (nhãn ống)", "Sample code (tube label)")) input type="text" name="code" required maxlength="40"; }
                label {
                    (lang.t("Người được lấy mẫu, mỗi dòng một người: Họ tên; CCCD; điện thoại", "Persons, one per line: Name; citizen ID; phone"))
                    textarea name="members" rows="5" cols="50" required {}
                }
                button type="submit" { (lang.t("Thêm mẫu", "Add sample")) }
            }
        }
    }
}

fn session_block(lang: Lang, p: &Principal, s: &SampleSession, samples: &[Sample]) -> Markup {
    let pooled = samples.iter().filter(|x| x.pooled()).count();
    let persons: usize = samples
        .iter()
        .filter(|x| x.pool_id.is_none())
        .map(|x| x.members.len())
        .sum();
    html! {
        section.card data-session=(s.id) {
            h3 { (s.place) " — " (date_vn(s.held_on)) }
            p.muted {
                (lang.t("Xã", "Commune")) " " (s.units.commune_code) " · "
                (lang.t("Phòng xét nghiệm", "Lab")) " " (s.lab_code) " · "
                (samples.len()) " " (lang.t("mẫu", "samples")) " (" (pooled) " " (lang.t("mẫu gộp", "pooled")) "), "
                (persons) " " (lang.t("người", "persons"))
            }
            @if !samples.is_empty() {
                table.samples {
                    thead { tr {
                        th { (lang.t("Mã mẫu", "Code")) }
                        th { (lang.t("Loại", "Kind")) }
                        th { (lang.t("Người", "Persons")) }
                        th { (lang.t("Lấy lúc", "Collected")) }
                        th { (lang.t("Kết quả", "Result")) }
                    }}
                    tbody {
                        @for x in samples {
                            tr data-sample=(x.id) data-code=(x.code) {
                                td { (x.code) }
                                td {
                                    @if x.pooled() { (lang.t("Gộp", "Pooled")) " " (x.members.len()) }
                                    @else if x.pool_id.is_some() { (lang.t("Tách từ mẫu gộp", "From a pool")) }
                                    @else { (lang.t("Đơn", "Single")) }
                                }
                                td { (members_text(x)) }
                                td { (time_vn(x.collected_at)) }
                                td { (result_badge(lang, x)) }
                            }
                        }
                    }
                }
            }
            (sample_form(lang, p, s))
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    Caller(p): Caller,
    lang: Lang,
    Query(q): Query<UnitQuery>,
) -> Result<Markup, PageError> {
    let err = |error| PageError { error, lang };
    let (area, sessions) = sessions_for(
        &state,
        &p,
        &SessionListParams {
            unit: q.unit.clone(),
            hierarchy: q.hierarchy.clone(),
            limit: Some(SESSIONS),
        },
    )
    .await
    .map_err(err)?;
    let title = lang.t("Lấy mẫu xét nghiệm", "Sampling");
    Ok(page_for(
        lang,
        Some(&p),
        Some(SECTION),
        title,
        html! {
            (nav(lang, &p, "/cases/sampling"))
            h1 { (title) ": " (area.name) }
            (banner(lang, q.done.as_deref(), &[
                ("session", "Đã thêm điểm lấy mẫu", "Session added"),
                ("sample", "Đã thêm mẫu", "Sample added"),
            ]))
            (unit_picker(lang, "/cases/sampling", &q, html! {}))
            (session_form(lang, &p))
            @if sessions.is_empty() {
                p.muted #no-sessions { (lang.t("Chưa có điểm lấy mẫu nào.", "No sampling session.")) }
            }
            @for (s, samples) in &sessions { (session_block(lang, &p, s, samples)) }
        },
    ))
}

pub async fn create_session(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    CsrfForm(f): CsrfForm<FormMap>,
) -> Result<Redirect, PageError> {
    let input = SessionInput {
        commune_code: f.get("commune_code"),
        hierarchy: f.text("hierarchy"),
        place: f.get("place"),
        held_on: f.get("held_on"),
        lab_code: f.get("lab_code"),
    };
    create_session_for(&state, &p, &ip, &input)
        .await
        .map_err(|error| PageError { error, lang })?;
    Ok(Redirect::to("/cases/sampling?done=session"))
}

/// Reads "Name; citizen ID; phone" lines (`;`, tab or `|` between fields).
pub fn parse_members(text: &str) -> Vec<MemberInput> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut parts = l.split([';', '\t', '|']).map(str::trim);
            MemberInput {
                full_name: parts.next().unwrap_or("").to_string(),
                national_id: parts.next().unwrap_or("").to_string(),
                phone: parts.next().unwrap_or("").to_string(),
            }
        })
        .collect()
}

pub async fn add_sample(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<FormMap>,
) -> Result<Redirect, PageError> {
    let input = SampleInput {
        code: f.get("code"),
        members: parse_members(&f.get("members")),
    };
    add_samples_for(&state, &p, &ip, &id, &[input])
        .await
        .map_err(|error| PageError { error, lang })?;
    Ok(Redirect::to("/cases/sampling?done=sample"))
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct LabQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lab: Option<String>,
    #[serde(flatten)]
    pub unit: UnitQuery,
}

fn back_fields(q: &LabQuery) -> Markup {
    html! {
        @if let Some(l) = &q.lab { input type="hidden" name="lab" value=(l); }
        @if let Some(u) = &q.unit.unit { input type="hidden" name="unit" value=(u); }
        @if let Some(h) = &q.unit.hierarchy { input type="hidden" name="hierarchy" value=(h); }
    }
}

/// A table of samples at a lab with their waiting hours and buttons (receive when not yet
/// received, enter a result).
fn queue_table(
    lang: Lang,
    p: &Principal,
    q: &LabQuery,
    id: &str,
    items: &[(ob::QueueItem, SampleSession)],
) -> Markup {
    html! {
        table id=(id) {
            thead { tr {
                th { (lang.t("Mã mẫu", "Code")) }
                th { (lang.t("Loại", "Kind")) }
                th { (lang.t("Điểm lấy mẫu", "Session")) }
                th { (lang.t("Lấy lúc", "Collected")) }
                th.num { (lang.t("Chờ (giờ)", "Waiting (h)")) }
                th { (lang.t("Tình trạng", "Status")) }
                th {}
            }}
            tbody {
                @for (item, sess) in items {
                    @let s = &item.sample;
                    tr data-sample=(s.id) data-code=(s.code) {
                        td { (s.code) }
                        td { @if s.pooled() { (lang.t("Gộp", "Pooled")) " " (s.members.len()) } @else { (lang.t("Đơn", "Single")) } }
                        td { (sess.place) br; span.muted { (sess.units.commune_code) } }
                        td { (time_vn(s.collected_at)) }
                        td.num.waiting { (hours_vn(item.waiting_hours)) }
                        td { (status_label(lang, s.status)) }
                        td {
                            @if s.status == SampleStatus::Collected {
                                form.inline method="post" action={ "/cases/lab/samples/" (s.id) "/receive" } {
                                    (csrf_field(p)) (back_fields(q))
                                    button type="submit" { (lang.t("Nhận mẫu", "Receive")) }
                                }
                                " "
                            }
                            form.inline method="post" action={ "/cases/lab/samples/" (s.id) "/result" } {
                                (csrf_field(p)) (back_fields(q))
                                select name="result" aria-label=(lang.t("Kết quả", "Result")) {
                                    @for r in [TestResult::Negative, TestResult::Positive, TestResult::Inconclusive] {
                                        option value=(r.as_str()) { (result_label(lang, r)) }
                                    }
                                }
                                " " button type="submit" { (lang.t("Nhập kết quả", "Enter result")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub async fn lab_page(
    State(state): State<AppState>,
    Caller(p): Caller,
    lang: Lang,
    Query(q): Query<LabQuery>,
) -> Result<Markup, PageError> {
    let err = |error| PageError { error, lang };
    let params = LabParams {
        lab: q.lab.clone(),
        unit: q.unit.unit.clone(),
        hierarchy: q.unit.hierarchy.clone(),
        from: None,
        to: None,
        limit: Some(300),
    };
    let lab_known = q.lab.as_deref().is_some_and(|l| !l.trim().is_empty())
        || p.user
            .scope
            .organisation
            .as_deref()
            .is_some_and(|o| !o.trim().is_empty());
    let queue = if lab_known {
        Some(queue_for(&state, &p, &params).await.map_err(err)?)
    } else {
        None
    };
    let turnaround = turnaround_for(
        &state,
        &p,
        &LabParams {
            from: Some(
                (crate::api::outbreaks::today(&state) - chrono::TimeDelta::days(29)).to_string(),
            ),
            ..params
        },
    )
    .await
    .map_err(err)?;
    let title = lang.t("Phòng xét nghiệm", "Laboratory");
    let (area, from, to, labs) = turnaround;
    Ok(page_for(
        lang,
        Some(&p),
        Some(SECTION),
        title,
        html! {
            (nav(lang, &p, "/cases/lab"))
            h1 { (title) ": " (area.name) }
            (banner(lang, q.unit.done.as_deref(), &[
                ("received", "Đã nhận mẫu", "Sample received"),
                ("resulted", "Đã nhập kết quả", "Result entered"),
                ("pool", "Mẫu gộp dương tính: đã tách thành mẫu đơn cho từng người", "Positive pool: broken down into single samples"),
            ]))
            (unit_picker(lang, "/cases/lab", &q.unit, html! {
                label { (lang.t("Mã phòng xét nghiệm", "Lab code")) " " input type="text" name="lab" value=[q.lab.as_deref()] size="10"; }
            }))
            @match &queue {
                None => p.muted { (lang.t("Nhập mã phòng xét nghiệm để xem hàng chờ.", "Enter a lab code to see its queue.")) },
                Some(w) => {
                    h2 { (lang.t("Hàng chờ kết quả", "Queue")) " — " (w.lab_code) " (" (w.queue.len()) ")" }
                    @if w.queue.is_empty() {
                        p.muted #queue-empty { (lang.t("Không có mẫu chờ kết quả.", "No sample waiting for a result.")) }
                    } @else {
                        (queue_table(lang, &p, &q, "lab-queue", &w.queue))
                    }
                    h2 { (lang.t("Mẫu đang chuyển đến (chưa nhận)", "On the way (not received)")) " (" (w.incoming.len()) ")" }
                    @if w.incoming.is_empty() {
                        p.muted #incoming-empty { (lang.t("Không có mẫu đang chuyển đến.", "No sample on the way.")) }
                    } @else {
                        (queue_table(lang, &p, &q, "lab-incoming", &w.incoming))
                    }
                }
            }
            h2 { (lang.t("Thời gian trả kết quả", "Turnaround")) " " span.muted { "(" (date_vn(from)) "–" (date_vn(to)) ")" } }
            @if labs.is_empty() {
                p.muted #turnaround-empty { (lang.t("Chưa có mẫu có kết quả trong kỳ.", "No resulted sample in the period.")) }
            } @else {
                table #turnaround {
                    thead { tr {
                        th { (lang.t("Phòng xét nghiệm", "Lab")) }
                        th.num { (lang.t("Số mẫu", "Samples")) }
                        th.num { (lang.t("Trung vị (giờ)", "Median (h)")) }
                        th.num { (lang.t("90% mẫu trong (giờ)", "90th percentile (h)")) }
                        th.num { (lang.t("Lâu nhất (giờ)", "Longest (h)")) }
                    }}
                    tbody {
                        @for l in &labs {
                            tr data-lab=(l.lab_code) {
                                td { (l.lab_code) }
                                td.num { (l.samples) }
                                td.num.median { (hours_vn(l.median_hours)) }
                                td.num.p90 { (hours_vn(l.p90_hours)) }
                                td.num { (hours_vn(l.max_hours)) }
                            }
                        }
                    }
                }
                p.muted { (lang.t("Tính từ lúc lấy mẫu đến lúc có kết quả.", "From collection to result.")) }
            }
        },
    ))
}

fn lab_back(f: &FormMap, done: &str) -> String {
    let q = LabQuery {
        lab: f.text("lab"),
        unit: UnitQuery {
            unit: f.text("unit"),
            hierarchy: f.text("hierarchy"),
            done: Some(done.to_string()),
        },
    };
    format!(
        "/cases/lab?{}",
        serde_urlencoded::to_string(&q).unwrap_or_default()
    )
}

pub async fn receive(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<FormMap>,
) -> Result<Redirect, PageError> {
    receive_for(&state, &p, &ip, &id)
        .await
        .map_err(|error| PageError { error, lang })?;
    Ok(Redirect::to(&lab_back(&f, "received")))
}

pub async fn result(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<FormMap>,
) -> Result<Redirect, PageError> {
    let body = ResultBody {
        result: f.get("result"),
        test_type: f.text("test_type"),
    };
    let out = result_for(&state, &p, &ip, &id, &body)
        .await
        .map_err(|error| PageError { error, lang })?;
    let done = if out.breakdown.is_empty() {
        "resulted"
    } else {
        "pool"
    };
    Ok(Redirect::to(&lab_back(&f, done)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_lines() {
        let m = parse_members("Lò Văn A; 012345678901; 0912345678\n\n  Lò Thị B\t\t0987654321 \n");
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].national_id, "012345678901");
        assert_eq!(m[1].full_name, "Lò Thị B");
        assert_eq!(m[1].national_id, "");
        assert_eq!(m[1].phone, "0987654321");
    }
}
