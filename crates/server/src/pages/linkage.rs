//! Linkage pages (issue 4): the review queue of the caller's unit (`/linkage/review`), a record
//! beside its candidate persons with the weight of every comparison (`/linkage/records/{id}`)
//! and the clerk's decision (accept one, reject all, create a new person); the person page's
//! linked records, merge form and merge history (rendered by [`person_links`]).

use axum::extract::{Path, Query, State};
use axum::response::Redirect;
use maud::{Markup, html};
use serde::Deserialize;
use store::{LinkStatus, PersonMerge, SourceRecord};

use super::PageError;
use super::auth_pages::{CsrfForm, CsrfOnly, HasCsrf};
use super::layout::page_for;
use crate::AppState;
use crate::api::records::{self, DecisionBody, RecordListQuery};
use crate::auth::{Caller, ClientIp, Principal};
use crate::i18n::{Lang, date_vn};

fn status_label(lang: Lang, s: LinkStatus) -> &'static str {
    match s {
        LinkStatus::Linked => lang.t("Đã ghép", "Linked"),
        LinkStatus::Review => lang.t("Chờ xem xét", "For review"),
        LinkStatus::Unlinked => lang.t("Chưa ghép", "Unlinked"),
    }
}

fn kind_label(lang: Lang, k: store::RecordKind) -> &'static str {
    match k {
        store::RecordKind::Dose => lang.t("Mũi tiêm", "Dose"),
        store::RecordKind::Test => lang.t("Xét nghiệm", "Test"),
        store::RecordKind::Case => lang.t("Ca bệnh", "Case"),
        store::RecordKind::Beneficiary => lang.t("Người nhận hỗ trợ", "Beneficiary"),
    }
}

pub async fn queue(
    State(state): State<AppState>,
    Caller(p): Caller,
    lang: Lang,
    Query(q): Query<RecordListQuery>,
) -> Result<Markup, PageError> {
    let err = |error| PageError { error, lang };
    let q = RecordListQuery {
        status: Some(q.status.unwrap_or_else(|| "review".into())),
        ..q
    };
    let query = records::record_query(&state, &p, &q).map_err(err)?;
    let page = state.store.list_source_records(&query).await.map_err(err)?;
    let counts = state
        .store
        .count_source_records_by_status(query.communes.as_deref())
        .await
        .map_err(err)?;
    let count = |s: LinkStatus| {
        counts
            .iter()
            .find(|(x, _)| *x == s)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let current = query.status.unwrap_or(LinkStatus::Review);
    Ok(page_for(
        lang,
        Some(&p),
        None,
        lang.t("Ghép nối bản ghi", "Record linkage"),
        html! {
            h1 { (lang.t("Ghép nối bản ghi với sổ dân cư", "Linking records to the register")) }
            nav.tabs {
                @for s in [LinkStatus::Review, LinkStatus::Unlinked, LinkStatus::Linked] {
                    a href={ "/linkage/review?status=" (s.as_str()) } aria-current=[(s == current).then_some("page")] {
                        (status_label(lang, s)) " (" span data-count=(s.as_str()) { (count(s)) } ")"
                    }
                }
            }
            @if page.items.is_empty() {
                p.muted #empty { (lang.t("Không có bản ghi nào.", "No records.")) }
            } @else {
                table #records {
                    thead { tr {
                        th { (lang.t("Loại", "Kind")) } th { (lang.t("Nguồn / mã", "Source / id")) }
                        th { (lang.t("Họ tên", "Name")) } th { (lang.t("Ngày sinh", "Born")) }
                        th { (lang.t("Xã", "Commune")) } th { (lang.t("Xác suất", "Probability")) } th {}
                    } }
                    tbody {
                        @for r in &page.items {
                            tr {
                                td { (kind_label(lang, r.record.kind)) }
                                td { (r.record.source) " / " (r.record.external_id) }
                                td { (r.record.full_name) }
                                td { (r.record.dob) }
                                td { (r.record.commune_code) }
                                td { (r.probability.map(|p| format!("{p:.3}")).unwrap_or_default()) }
                                td { a href={ "/linkage/records/" (r.record.id) } { (lang.t("Xem", "Open")) } }
                            }
                        }
                    }
                }
                p.muted { (page.total) " " (lang.t("bản ghi", "records")) }
            }
        },
    ))
}

fn weight_cell(explanation: &serde_json::Value, comparison: &str) -> Markup {
    let w = explanation["weights"]
        .as_array()
        .and_then(|ws| ws.iter().find(|w| w["comparison"] == comparison));
    match w {
        Some(w) => {
            let weight = w["weight"].as_f64().unwrap_or(0.0);
            let class = if weight > 0.5 {
                "agree"
            } else if weight < -0.5 {
                "disagree"
            } else {
                "neutral"
            };
            html! { span class=(class) title=(w["level"].as_str().unwrap_or("")) { (format!("{weight:+.1}")) } }
        }
        None => html! {},
    }
}

pub async fn record(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path(id): Path<String>,
) -> Result<Markup, PageError> {
    let review = records::load_review(&state, &p, &ip, &id)
        .await
        .map_err(|error| PageError { error, lang })?;
    let r = &review.record;
    let rows: [(&str, &str, &str); 6] = [
        (
            "family_name",
            lang.t("Họ tên", "Name"),
            r.record.full_name.as_str(),
        ),
        ("dob", lang.t("Ngày sinh", "Born"), r.record.dob.as_str()),
        ("sex", lang.t("Giới tính", "Sex"), r.record.sex.as_str()),
        (
            "national_id",
            lang.t("CCCD", "Citizen ID"),
            r.record.national_id.as_str(),
        ),
        (
            "commune",
            lang.t("Xã", "Commune"),
            r.record.commune_code.as_str(),
        ),
        (
            "phone",
            lang.t("Điện thoại", "Phone"),
            r.record.phone.as_str(),
        ),
    ];
    let person_value = |person: &domain::person::Person, field: &str| -> String {
        match field {
            "family_name" => person.full_name.clone(),
            "dob" => date_vn(person.dob),
            "sex" => person.sex.as_str().to_string(),
            "national_id" => person
                .national_id
                .as_ref()
                .map(|n| n.as_str().to_string())
                .unwrap_or_default(),
            "commune" => match &person.old_commune_code {
                Some(old) => format!("{} ({old})", person.commune_code),
                None => person.commune_code.clone(),
            },
            "phone" => person
                .phone
                .as_ref()
                .map(|n| n.as_str().to_string())
                .unwrap_or_default(),
            _ => String::new(),
        }
    };
    Ok(page_for(
        lang,
        Some(&p),
        None,
        lang.t("Xem xét ghép nối", "Linkage review"),
        html! {
            nav.breadcrumb { a href="/linkage/review" { "‹ " (lang.t("Danh sách chờ", "Queue")) } }
            h1 { (kind_label(lang, r.record.kind)) " " (r.record.source) " / " (r.record.external_id) }
            p #status { (lang.t("Trạng thái", "Status")) ": " strong { (status_label(lang, r.status)) }
                @if let Some(by) = &r.decided_by { " — " (by) } }
            @if let Some(person) = &review.person {
                p { (lang.t("Đã ghép với", "Linked to")) " " a href={ "/persons/" (person.id) } { (person.full_name) } }
            }
            div.side-by-side {
                table #compare {
                    thead { tr {
                        th {} th { (lang.t("Bản ghi", "Record")) }
                        @for c in &review.candidates {
                            th { (lang.t("Ứng viên", "Candidate")) " · p=" (format!("{:.3}", c.candidate.probability)) }
                        }
                    } }
                    tbody {
                        @for (field, label, value) in rows {
                            tr {
                                th { (label) }
                                td { (value) }
                                @for c in &review.candidates {
                                    td {
                                        @if let Some(person) = &c.person { (person_value(person, field)) " " }
                                        @if field == "family_name" {
                                            (weight_cell(&c.candidate.explanation, "family_name"))
                                            (weight_cell(&c.candidate.explanation, "middle_name"))
                                            (weight_cell(&c.candidate.explanation, "given_name"))
                                        } @else {
                                            (weight_cell(&c.candidate.explanation, field))
                                        }
                                    }
                                }
                            }
                        }
                        tr {
                            th {} td {}
                            @for c in &review.candidates {
                                td {
                                    form.inline method="post" action={ "/linkage/records/" (r.record.id) "/decision" } {
                                        input type="hidden" name="csrf" value=[p.csrf()];
                                        input type="hidden" name="decision" value="accept";
                                        input type="hidden" name="person_id" value=(c.candidate.person_id);
                                        button type="submit" data-accept=(c.candidate.person_id) { (lang.t("Đúng người này", "This person")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p.muted { (lang.t(
                "Số bên cạnh mỗi giá trị là trọng số log₂(m/u) của phép so sánh: dương là khớp, âm là khác.",
                "The number beside each value is the comparison's weight log₂(m/u): positive agrees, negative differs.")) }
            div.actions {
                form.inline method="post" action={ "/linkage/records/" (r.record.id) "/decision" } {
                    input type="hidden" name="csrf" value=[p.csrf()];
                    input type="hidden" name="decision" value="reject";
                    button type="submit" #reject { (lang.t("Không phải ai trong số này", "None of these")) }
                }
                form.inline method="post" action={ "/linkage/records/" (r.record.id) "/decision" } {
                    input type="hidden" name="csrf" value=[p.csrf()];
                    input type="hidden" name="decision" value="create";
                    button type="submit" #create { (lang.t("Tạo người mới từ bản ghi", "Create a new person from the record")) }
                }
            }
        },
    ))
}

#[derive(Deserialize)]
pub struct DecisionForm {
    csrf: String,
    decision: String,
    person_id: Option<String>,
}

impl HasCsrf for DecisionForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn decide(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<DecisionForm>,
) -> Result<Redirect, PageError> {
    let body = DecisionBody {
        decision: f.decision,
        person_id: f.person_id,
    };
    records::apply_decision(&state, &p, &ip, &id, &body)
        .await
        .map_err(|error| PageError { error, lang })?;
    Ok(Redirect::to(&format!("/linkage/records/{id}")))
}

#[derive(Deserialize)]
pub struct MergeForm {
    csrf: String,
    duplicate_id: String,
}

impl HasCsrf for MergeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn merge(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<MergeForm>,
) -> Result<Redirect, PageError> {
    records::merge_persons(&state, &p, &ip, &id, &f.duplicate_id)
        .await
        .map_err(|error| PageError { error, lang })?;
    Ok(Redirect::to(&format!("/persons/{id}")))
}

pub async fn undo(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path((id, merge_id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<CsrfOnly>,
) -> Result<Redirect, PageError> {
    records::undo_merge(&state, &p, &ip, &merge_id, &id)
        .await
        .map_err(|error| PageError { error, lang })?;
    Ok(Redirect::to(&format!("/persons/{id}")))
}

/// The person page's linkage part: linked records, merge history with undo, and the merge form.
pub fn person_links(
    lang: Lang,
    p: &Principal,
    person_id: uuid::Uuid,
    linked: &[SourceRecord],
    merges: &[PersonMerge],
    may_merge: bool,
) -> Markup {
    html! {
        section.card #linked-records {
            h2 { (lang.t("Bản ghi đã ghép", "Linked records")) " (" (linked.len()) ")" }
            @if linked.is_empty() {
                p.muted { (lang.t("Chưa có bản ghi nào.", "No records yet.")) }
            } @else {
                table {
                    thead { tr {
                        th { (lang.t("Loại", "Kind")) } th { (lang.t("Nguồn / mã", "Source / id")) }
                        th { (lang.t("Nội dung", "Content")) } th { (lang.t("Ghép bởi", "Linked by")) } th {}
                    } }
                    tbody {
                        @for r in linked {
                            tr {
                                td { (kind_label(lang, r.record.kind)) }
                                td { (r.record.source) " / " (r.record.external_id) }
                                td { code { (r.record.payload.to_string()) } }
                                td { (r.decided_by.as_deref().unwrap_or("")) }
                                td { a href={ "/linkage/records/" (r.record.id) } { (lang.t("Xem", "Open")) } }
                            }
                        }
                    }
                }
            }
        }
        section.card #merges {
            h2 { (lang.t("Gộp hồ sơ trùng", "Merging duplicates")) }
            @if !merges.is_empty() {
                table {
                    thead { tr {
                        th { (lang.t("Giữ lại", "Kept")) } th { (lang.t("Đã gộp vào", "Merged")) }
                        th { (lang.t("Người gộp", "By")) } th { (lang.t("Lúc", "At")) }
                        th { (lang.t("Hoàn tác", "Undone")) } th {}
                    } }
                    tbody {
                        @for m in merges {
                            tr {
                                td { a href={ "/persons/" (m.kept) } { (m.kept) } }
                                td { a href={ "/persons/" (m.merged) } { (m.merged) } }
                                td { (m.merged_by) }
                                td { (m.merged_at.format("%d/%m/%Y %H:%M")) }
                                td { @if let Some(by) = &m.undone_by { (by) } }
                                td {
                                    @if may_merge && m.undone_at.is_none() && m.kept == person_id {
                                        form.inline method="post" action={ "/persons/" (person_id) "/merges/" (m.id) "/undo" } {
                                            input type="hidden" name="csrf" value=[p.csrf()];
                                            button type="submit" data-undo=(m.id) { (lang.t("Tách lại", "Unmerge")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if may_merge {
                form.grid method="post" action={ "/persons/" (person_id) "/merge" } {
                    input type="hidden" name="csrf" value=[p.csrf()];
                    label { (lang.t("Mã hồ sơ trùng (gộp vào người này)", "Id of the duplicate (merged into this person)"))
                        input type="text" name="duplicate_id" required; }
                    button type="submit" #merge { (lang.t("Gộp", "Merge")) }
                }
            }
        }
    }
}
