//! Vaccination certificate pages (issue 6):
//!
//! - `/certificates/verify` (verifiers and staff): paste the `HC1:` text or upload a photo of
//!   the QR code (PNG/JPEG, multipart); the page answers with a green «HỢP LỆ» or a red
//!   «KHÔNG HỢP LỆ» banner, the reasons in Vietnamese, and what the certificate says (holder,
//!   birth date, vaccine, dose n/N, date, issuer, certificate id, expiry). The certificate
//!   carries no citizen ID: the verifier compares name and birth date with an ID document.
//! - `/certificates` (sites, communes, districts, provinces): find a person of the unit by
//!   citizen ID and request a certificate; the unit's pending certificates (approve) and
//!   approved ones (sign, for the province); a person's certificates with the QR code (SVG) and
//!   expiry. Forms post to `/certificates/request`, `/certificates/{id}/approve` and
//!   `/certificates/{id}/sign` and come back here.

use std::io::Cursor;

use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use domain::ErrorCode;
use domain::auth::{Permission, role_allows};
use domain::person::Person;
use maud::{Markup, PreEscaped, html};
use passport::VerifyResult;
use serde::Deserialize;
use store::{CertificateStatus, VaccinationCertificate};

use super::PageError;
use super::auth_pages::{CsrfForm, HasCsrf};
use super::layout::page_for;
use crate::AppState;
use crate::api::certificates::{self as api, RequestBody};
use crate::api::doses::{product_label, readable_person};
use crate::auth::{Caller, Principal, secrets};
use crate::authz;
use crate::i18n::{Lang, date_vn};

const SECTION: &str = "/vaccination";

/// Largest uploaded QR photo.
pub const MAX_UPLOAD_BYTES: usize = 8 * 1024 * 1024;
/// Largest uploaded QR photo in pixels (decoding allocates a few bytes per pixel).
pub const MAX_UPLOAD_PIXELS: u64 = 25_000_000;

/// Rows shown in each approval queue.
const QUEUE_ROWS: u32 = 200;

/// A reason code of a verification, in the page's language.
pub fn reason_text(lang: Lang, code: &str) -> String {
    let (vi, en) = match code {
        "signature_invalid" | "kid_mismatch" => ("Chữ ký không hợp lệ", "Invalid signature"),
        "expired" => ("Đã hết hạn", "Expired"),
        "unknown_kid" => (
            "Khoá ký không có trong danh sách tin cậy",
            "The signing key is not in the trust list",
        ),
        "revoked" => (
            "Chứng nhận đã bị thu hồi",
            "The certificate has been revoked",
        ),
        "key_usage" => (
            "Khoá ký không được phép ký loại chứng nhận này",
            "The signing key may not sign this type of certificate",
        ),
        "not_yet_valid" => ("Chưa đến thời điểm có hiệu lực", "Not valid yet"),
        "missing_exp" => (
            "Chứng nhận không ghi ngày hết hạn",
            "The certificate has no expiry date",
        ),
        "schema" => (
            "Nội dung chứng nhận không đúng cấu trúc chuẩn (DCC)",
            "The certificate content does not follow the DCC schema",
        ),
        other => {
            return format!(
                "{} ({other})",
                lang.t("Không đọc được mã QR", "The QR code cannot be read")
            );
        }
    };
    lang.t(vi, en).to_string()
}

/// What a certificate payload says, for display.
struct Holder {
    name: String,
    transliterated: String,
    birth_date: String,
    vaccine: String,
    dose: String,
    date: String,
    issuer: String,
    country: String,
    id: String,
}

fn text_at(v: &serde_json::Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(|x| x.as_str())
        .unwrap_or_default()
        .to_string()
}

/// `YYYY-MM-DD` as dd/mm/yyyy; partial dates (`1985`, `1985-07`) as they are.
fn dcc_date(s: &str) -> String {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(date_vn)
        .unwrap_or_else(|_| s.to_string())
}

use domain::vietnam_time::local_date;

impl Holder {
    fn of(payload: &serde_json::Value) -> Holder {
        let join = |a: String, b: String| {
            [a, b]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let transliterated =
            join(text_at(payload, "/nam/fnt"), text_at(payload, "/nam/gnt")).replace('<', " ");
        let name = join(text_at(payload, "/nam/fn"), text_at(payload, "/nam/gn"));
        let number = |p: &str| payload.pointer(p).and_then(|x| x.as_u64());
        let dose = match (number("/v/0/dn"), number("/v/0/sd")) {
            (Some(n), Some(of)) => format!("{n}/{of}"),
            (Some(n), None) => n.to_string(),
            _ => String::new(),
        };
        let mp = text_at(payload, "/v/0/mp");
        Holder {
            name: if name.is_empty() {
                transliterated.clone()
            } else {
                name
            },
            transliterated,
            birth_date: dcc_date(&text_at(payload, "/dob")),
            vaccine: if mp.is_empty() {
                mp
            } else {
                product_label(&mp)
            },
            dose,
            date: dcc_date(&text_at(payload, "/v/0/dt")),
            issuer: text_at(payload, "/v/0/is"),
            country: text_at(payload, "/v/0/co"),
            id: text_at(payload, "/v/0/ci"),
        }
    }
}

fn holder_view(lang: Lang, payload: &serde_json::Value, expires: Option<DateTime<Utc>>) -> Markup {
    let h = Holder::of(payload);
    html! {
        dl.record.card #holder {
            dt { (lang.t("Họ và tên", "Full name")) }
            dd #holder-name { strong { (h.name) } @if h.transliterated != h.name && !h.transliterated.is_empty() { " " span.muted { "(" (h.transliterated) ")" } } }
            dt { (lang.t("Ngày sinh", "Date of birth")) }
            dd #holder-dob { strong { (h.birth_date) } }
            dt { (lang.t("Vắc xin", "Vaccine")) }
            dd { (h.vaccine) }
            dt { (lang.t("Mũi", "Dose")) }
            dd #holder-dose { (h.dose) }
            dt { (lang.t("Ngày tiêm", "Date of vaccination")) }
            dd { (h.date) }
            dt { (lang.t("Đơn vị cấp", "Issuer")) }
            dd { (h.issuer) @if !h.country.is_empty() { " (" (h.country) ")" } }
            dt { (lang.t("Mã chứng nhận", "Certificate id")) }
            dd #holder-ci { code { (h.id) } }
            @if let Some(exp) = expires {
                dt { (lang.t("Hết hạn", "Expires")) }
                dd { (date_vn(local_date(exp))) }
            }
        }
    }
}

/// What the verification form found.
enum Outcome {
    None,
    /// Nothing to verify, or a photo without a readable QR code.
    Problem(String),
    Verified(Box<VerifyResult>, Option<DateTime<Utc>>),
}

fn verify_view(p: &Principal, lang: Lang, text: &str, outcome: &Outcome) -> Markup {
    let title = lang.t(
        "Kiểm tra chứng nhận tiêm chủng",
        "Verify a vaccination certificate",
    );
    page_for(
        lang,
        Some(p),
        Some(SECTION),
        title,
        html! {
            h1 { (title) }
            @match outcome {
                Outcome::Problem(message) => {
                    p.error #verify-problem role="alert" { (message) }
                }
                Outcome::Verified(result, expires) => {
                    @if result.valid {
                        div.ok #verify-result data-valid="true" role="status" {
                            p { strong.verdict { (lang.t("HỢP LỆ", "VALID")) } }
                            p { (lang.t("Chữ ký đúng, khoá ký nằm trong danh sách tin cậy, chứng nhận còn hạn và chưa bị thu hồi.",
                                "The signature is correct, the signing key is trusted, the certificate has not expired and is not revoked.")) }
                        }
                    } @else {
                        div.error #verify-result data-valid="false" role="alert" {
                            p { strong.verdict { (lang.t("KHÔNG HỢP LỆ", "NOT VALID")) } }
                            ul #verify-reasons {
                                @for code in &result.reasons {
                                    li data-reason=(code) { (reason_text(lang, code)) }
                                }
                            }
                        }
                    }
                    @if let Some(payload) = &result.payload {
                        (holder_view(lang, payload, *expires))
                        p.notice #compare-id {
                            (lang.t("Đối chiếu họ tên và ngày sinh ở trên với giấy tờ tùy thân (CCCD, hộ chiếu) của người xuất trình. Chứng nhận không chứa số CCCD.",
                                "Compare the name and date of birth above with the holder's identity document (citizen ID card, passport). The certificate carries no citizen ID number."))
                        }
                    }
                }
                Outcome::None => {}
            }
            form.stack.card #verify-form method="post" action="/certificates/verify" enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=[p.csrf()];
                label { (lang.t("Nội dung mã QR (bắt đầu bằng HC1:)", "QR content (starting with HC1:)"))
                    textarea name="qr" rows="6" spellcheck="false" autocomplete="off" placeholder="HC1:…" { (text) }
                }
                label { (lang.t("hoặc ảnh chụp mã QR (PNG, JPEG)", "or a photo of the QR code (PNG, JPEG)"))
                    input type="file" name="image" accept="image/png,image/jpeg";
                }
                button type="submit" { (lang.t("Kiểm tra", "Verify")) }
            }
            p.muted {
                (lang.t("Chứng nhận được kiểm tra với danh sách khoá ký tin cậy và danh sách thu hồi của hệ thống.",
                    "Certificates are checked against the system's trust list of signing keys and its revocation list."))
            }
        },
    )
}

/// `/certificates/verify`: the form.
pub async fn verify_page(Caller(p): Caller, lang: Lang) -> Markup {
    verify_view(&p, lang, "", &Outcome::None)
}

/// The verification form's fields.
#[derive(Debug, Default, Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub qr: String,
}

impl HasCsrf for VerifyForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

fn form_error(lang: Lang, error: domain::Error) -> Response {
    PageError { error, lang }.into_response()
}

/// Reads the form, multipart (with a photo) or URL-encoded, checking its CSRF token before
/// anything else in it is used. Returns the text and the photo's bytes.
async fn read_verify_form(
    state: &AppState,
    lang: Lang,
    req: Request,
) -> Result<(String, Option<Vec<u8>>), Response> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        let CsrfForm(form) = CsrfForm::<VerifyForm>::from_request(req, state).await?;
        return Ok((form.qr, None));
    }
    let expected = authz::principal(&req).and_then(|p| p.csrf().map(str::to_string));
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        let error = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            domain::Error::invalid(
                "image",
                format!(
                    "Tệp ảnh quá lớn (tối đa {} MB)",
                    MAX_UPLOAD_BYTES / 1024 / 1024
                ),
                format!(
                    "The image is too large (at most {} MB)",
                    MAX_UPLOAD_BYTES / 1024 / 1024
                ),
            )
        } else {
            domain::Error::invalid("form", "Biểu mẫu không hợp lệ", "Invalid form")
                .with_details(serde_json::json!({ "reason": e.body_text() }))
        };
        form_error(lang, error)
    };
    let mut form = Multipart::from_request(req, state)
        .await
        .map_err(IntoResponse::into_response)?;
    let (mut csrf, mut text, mut image) = (String::new(), String::new(), None);
    while let Some(field) = form.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("csrf") => csrf = field.text().await.map_err(unreadable)?,
            Some("qr") => text = field.text().await.map_err(unreadable)?,
            Some("image") => {
                let bytes = field.bytes().await.map_err(unreadable)?;
                if !bytes.is_empty() {
                    image = Some(bytes.to_vec());
                }
            }
            _ => {}
        }
    }
    if !expected.is_some_and(|token| secrets::same(&csrf, &token)) {
        return Err(form_error(
            lang,
            domain::Error::new(
                ErrorCode::Forbidden,
                "Mã chống giả mạo (CSRF) không đúng; tải lại trang và thử lại",
                "Wrong CSRF token; reload the page and retry",
            ),
        ));
    }
    Ok((text, image))
}

/// The text of the QR code in a photo; the image's size is checked before it is decoded.
pub fn read_qr_photo(bytes: &[u8]) -> Result<String, domain::Error> {
    let unreadable = || {
        domain::Error::invalid(
            "image",
            "Không đọc được ảnh: chỉ nhận ảnh PNG hoặc JPEG",
            "The image cannot be read: only PNG or JPEG images are accepted",
        )
    };
    let (w, h) = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| unreadable())?
        .into_dimensions()
        .map_err(|_| unreadable())?;
    if u64::from(w) * u64::from(h) > MAX_UPLOAD_PIXELS {
        return Err(domain::Error::invalid(
            "image",
            format!("Ảnh quá lớn ({w}×{h} điểm ảnh); chụp lại gần mã QR hơn hoặc thu nhỏ ảnh"),
            format!("The image is too large ({w}×{h} pixels); take it closer or scale it down"),
        ));
    }
    certs::qr::read_qr_image(bytes).map_err(|_| {
        domain::Error::invalid(
            "image",
            "Không tìm thấy mã QR đọc được trong ảnh; chụp lại rõ hơn hoặc dán nội dung HC1:",
            "No readable QR code in the image; take a clearer photo or paste the HC1: text",
        )
    })
}

/// The form's submission: read the text (or the photo's QR code), verify, show the verdict.
pub async fn verify_submit(
    State(state): State<AppState>,
    Caller(p): Caller,
    lang: Lang,
    req: Request,
) -> Result<Response, PageError> {
    let (text, image) = match read_verify_form(&state, lang, req).await {
        Ok(v) => v,
        Err(res) => return Ok(res),
    };
    let problem = |message: &str, text: &str| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            verify_view(&p, lang, text, &Outcome::Problem(message.to_string())),
        )
            .into_response()
    };
    let text = match (text.trim(), image) {
        (t, _) if !t.is_empty() => t.to_string(),
        (_, Some(bytes)) => {
            let read = tokio::task::spawn_blocking(move || read_qr_photo(&bytes))
                .await
                .map_err(|e| {
                    tracing::error!(%e, "QR photo task");
                    PageError {
                        error: domain::Error::internal(),
                        lang,
                    }
                })?;
            match read {
                Ok(t) => t,
                Err(e) => return Ok(problem(e.message(lang == Lang::En), "")),
            }
        }
        _ => {
            return Ok(problem(
                lang.t(
                    "Dán nội dung mã QR (HC1:…) hoặc chọn ảnh chụp mã QR rồi bấm «Kiểm tra».",
                    "Paste the QR content (HC1:…) or choose a photo of the QR code, then press «Verify».",
                ),
                "",
            ));
        }
    };
    let result = match api::verify_text(&state, &text, (state.clock)()).await {
        Ok(r) => r,
        Err(e) if e.code == ErrorCode::InvalidInput => {
            return Ok(problem(e.message(lang == Lang::En), ""));
        }
        Err(e) => return Err(PageError { error: e, lang }),
    };
    let expires = if result.decoded {
        certs::decode(&text).ok().and_then(|d| d.expires_at)
    } else {
        None
    };
    Ok(verify_view(
        &p,
        lang,
        &text,
        &Outcome::Verified(Box::new(result), expires),
    )
    .into_response())
}

/// `/certificates` parameters: a person by citizen ID or id, and what was just done.
#[derive(Debug, Default, Deserialize)]
pub struct CertificatesQuery {
    pub cccd: Option<String>,
    pub person: Option<String>,
    pub done: Option<String>,
}

fn status_label(lang: Lang, s: CertificateStatus) -> &'static str {
    match s {
        CertificateStatus::Pending => lang.t("Chờ duyệt", "Pending approval"),
        CertificateStatus::Approved => {
            lang.t("Đã duyệt, chờ ký", "Approved, waiting for signature")
        }
        CertificateStatus::Issued => lang.t("Đã cấp", "Issued"),
        CertificateStatus::Superseded => lang.t(
            "Đã được thay bằng chứng nhận mới hơn",
            "Superseded by a newer certificate",
        ),
    }
}

fn dose_of(c: &VaccinationCertificate) -> String {
    let h = Holder::of(&c.payload);
    format!("{} {} — {}", h.vaccine, h.dose, h.date)
}

/// Strips the XML declaration so the SVG can sit inside the page.
fn inline_svg(svg: &str) -> &str {
    svg.find("<svg").map(|i| &svg[i..]).unwrap_or(svg)
}

fn person_certificates(
    p: &Principal,
    lang: Lang,
    person: &Person,
    list: &[VaccinationCertificate],
) -> Result<Markup, domain::Error> {
    let in_progress = list.iter().any(|c| {
        matches!(
            c.status,
            CertificateStatus::Pending | CertificateStatus::Approved
        )
    });
    let mut qrs = Vec::new();
    for c in list {
        qrs.push(if c.status == CertificateStatus::Issued {
            Some(api::qr_svg(c)?)
        } else {
            None
        });
    }
    Ok(html! {
        section #person-certificates {
            h2 { (person.full_name) }
            p.muted {
                (date_vn(person.dob)) " · " (person.national_id.as_ref().map(|n| n.masked()).unwrap_or_default())
            }
            @if list.is_empty() {
                p.muted #no-certificates { (lang.t("Người này chưa có chứng nhận nào.", "This person has no certificate yet.")) }
            }
            @for (c, qr) in list.iter().zip(&qrs) {
                div.card.certificate data-status=(c.status.as_str()) {
                    p {
                        strong { (status_label(lang, c.status)) } " · " code { (c.uvci) }
                    }
                    p { (dose_of(c)) }
                    @if let Some(svg) = qr {
                        div.qr { (PreEscaped(inline_svg(svg))) }
                        p {
                            @if let Some(at) = c.issued_at { (lang.t("Cấp ngày", "Issued on")) " " (date_vn(local_date(at))) " · " }
                            @if let Some(exp) = c.expires_at { strong { (lang.t("Hết hạn", "Expires")) " " (date_vn(local_date(exp))) } }
                            " · " a href={ "/api/v1/certificates/" (c.id) "/qr.png" } download { (lang.t("Tải ảnh PNG", "Download PNG")) }
                        }
                    }
                    @if c.status == CertificateStatus::Pending {
                        (action_button(p, lang, c, "approve"))
                    }
                    @if c.status == CertificateStatus::Approved && role_allows(p.user.role, Permission::SignCertificates) {
                        (action_button(p, lang, c, "sign"))
                    }
                }
            }
            @if in_progress {
                p.muted #in-progress { (lang.t("Đã có yêu cầu đang chờ duyệt hoặc chờ ký.", "A request is already waiting for approval or signature.")) }
            } @else {
                form.inline #request-form method="post" action="/certificates/request" {
                    input type="hidden" name="csrf" value=[p.csrf()];
                    input type="hidden" name="person_id" value=(person.id);
                    button type="submit" { (lang.t("Yêu cầu cấp chứng nhận", "Request a certificate")) }
                }
            }
            p.muted { (lang.t("Chứng nhận được lập từ các mũi tiêm đã ghi nhận; chỉ cấp khi đã hoàn thành liều cơ bản. Điểm tiêm duyệt hồ sơ, cấp tỉnh ký.",
                "The certificate is built from the recorded doses and only issued once the primary series is complete. The site approves the record, the province signs.")) }
        }
    })
}

fn action_button(p: &Principal, lang: Lang, c: &VaccinationCertificate, action: &str) -> Markup {
    let label = match action {
        "approve" => lang.t("Duyệt", "Approve"),
        _ => lang.t("Ký", "Sign"),
    };
    html! {
        form.inline method="post" action={ "/certificates/" (c.id) "/" (action) } {
            input type="hidden" name="csrf" value=[p.csrf()];
            button type="submit" data-action=(action) data-certificate=(c.id) { (label) }
        }
    }
}

fn queue_table(
    p: &Principal,
    lang: Lang,
    id: &str,
    rows: &[(VaccinationCertificate, Person)],
    action: Option<&str>,
) -> Markup {
    html! {
        @if rows.is_empty() {
            p.muted { (lang.t("Không có chứng nhận nào.", "No certificates.")) }
        } @else {
            table id=(id) {
                thead { tr {
                    th { (lang.t("Họ và tên", "Full name")) }
                    th { (lang.t("Ngày sinh", "Date of birth")) }
                    th { (lang.t("Mũi tiêm", "Dose")) }
                    th { (lang.t("Người yêu cầu", "Requested by")) }
                    th { (lang.t("Ngày yêu cầu", "Requested on")) }
                    @if action.is_some() { th {} }
                } }
                tbody {
                    @for (c, person) in rows {
                        tr data-certificate=(c.id) {
                            td { a href={ "/certificates?person=" (person.id) } { (person.full_name) } }
                            td { (date_vn(person.dob)) }
                            td { (dose_of(c)) }
                            td { (c.requested_by) }
                            td { (date_vn(local_date(c.created_at))) }
                            @if let Some(a) = action { td { (action_button(p, lang, c, a)) } }
                        }
                    }
                }
            }
        }
    }
}

/// `/certificates`: find a person by citizen ID, their certificates, and the unit's queues.
pub async fn page(
    State(state): State<AppState>,
    Caller(p): Caller,
    lang: Lang,
    Query(q): Query<CertificatesQuery>,
) -> Result<Markup, PageError> {
    let err = |error| PageError { error, lang };
    let cccd = q.cccd.clone().unwrap_or_default();
    let body = RequestBody {
        national_id: q.cccd.clone(),
        person_id: q.person.clone(),
    };
    let searched = !cccd.trim().is_empty() || q.person.as_deref().is_some_and(|s| !s.is_empty());
    let (found, lookup_error) = if searched {
        match api::requested_person(&state, &p, &body).await {
            Ok(person) => (Some(person), None),
            Err(e) if e.code == ErrorCode::NotFound => (
                None,
                Some(
                    lang.t(
                        "Không tìm thấy người có số CCCD này trong đơn vị của bạn.",
                        "Nobody with this citizen ID in your unit.",
                    )
                    .to_string(),
                ),
            ),
            Err(e) if e.code == ErrorCode::InvalidInput => {
                (None, Some(e.message(lang == Lang::En).to_string()))
            }
            Err(e) => return Err(err(e)),
        }
    } else {
        (None, None)
    };
    let person_section = match &found {
        Some(person) => {
            let list = state
                .store
                .certificates_of_person(person.id)
                .await
                .map_err(err)?;
            Some(person_certificates(&p, lang, person, &list).map_err(err)?)
        }
        None => None,
    };
    let pending = api::queue(&state, &p, CertificateStatus::Pending, QUEUE_ROWS)
        .await
        .map_err(err)?;
    let approved = api::queue(&state, &p, CertificateStatus::Approved, QUEUE_ROWS)
        .await
        .map_err(err)?;
    let may_sign = role_allows(p.user.role, Permission::SignCertificates);
    let done = match q.done.as_deref() {
        Some("requested") => Some(lang.t(
            "Đã gửi yêu cầu cấp chứng nhận; chờ điểm tiêm duyệt.",
            "Certificate requested; waiting for the site's approval.",
        )),
        Some("approved") => Some(lang.t(
            "Đã duyệt; chờ cấp tỉnh ký.",
            "Approved; waiting for the province's signature.",
        )),
        Some("signed") => Some(lang.t(
            "Đã ký và cấp chứng nhận.",
            "Signed: the certificate is issued.",
        )),
        _ => None,
    };
    let title = lang.t("Chứng nhận tiêm chủng", "Vaccination certificates");
    Ok(page_for(
        lang,
        Some(&p),
        Some(SECTION),
        title,
        html! {
            h1 { (title) }
            @if let Some(message) = done { p.ok.notice #done role="status" { (message) } }
            form.search #find-person method="get" action="/certificates" {
                label { (lang.t("Số CCCD của người cần cấp chứng nhận", "Citizen ID of the person"))
                    input type="search" name="cccd" value=(cccd) inputmode="numeric" autocomplete="off" placeholder="0xx…"; }
                " "
                button type="submit" { (lang.t("Tìm", "Search")) }
            }
            @if let Some(message) = lookup_error { p.error #lookup-error role="alert" { (message) } }
            @if let Some(section) = person_section { (section) }
            h2 { (lang.t("Chờ duyệt", "Waiting for approval")) }
            (queue_table(&p, lang, "pending", &pending, Some("approve")))
            h2 { (lang.t("Đã duyệt, chờ ký", "Approved, waiting for signature")) }
            (queue_table(&p, lang, "approved", &approved, may_sign.then_some("sign")))
            @if !may_sign && !approved.is_empty() {
                p.muted { (lang.t("Cán bộ cấp tỉnh ký các chứng nhận này.", "Province officers sign these certificates.")) }
            }
            p { a href="/certificates/verify" { (lang.t("Kiểm tra một chứng nhận", "Verify a certificate")) } }
        },
    ))
}

/// A form that only carries its CSRF token.
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    pub csrf: String,
}

impl HasCsrf for ActionForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The request form: the person to request a certificate for.
#[derive(Debug, Default, Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub person_id: String,
}

impl HasCsrf for RequestForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

fn back_to(person: uuid::Uuid, done: &str) -> Response {
    Redirect::to(&format!("/certificates?person={person}&done={done}")).into_response()
}

/// `POST /certificates/request`.
pub async fn request_submit(
    State(state): State<AppState>,
    Caller(p): Caller,
    lang: Lang,
    CsrfForm(form): CsrfForm<RequestForm>,
) -> Result<Response, PageError> {
    let err = |error| PageError { error, lang };
    let person = readable_person(&state, &p, &form.person_id)
        .await
        .map_err(err)?;
    api::request_for(&state, &p, &person).await.map_err(err)?;
    Ok(back_to(person.id, "requested"))
}

/// `POST /certificates/{id}/approve`.
pub async fn approve_submit(
    State(state): State<AppState>,
    Caller(p): Caller,
    lang: Lang,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<ActionForm>,
) -> Result<Response, PageError> {
    let c = api::approve_in_scope(&state, &p, &id)
        .await
        .map_err(|error| PageError { error, lang })?;
    Ok(back_to(c.person_id, "approved"))
}

/// `POST /certificates/{id}/sign`.
pub async fn sign_submit(
    State(state): State<AppState>,
    Caller(p): Caller,
    lang: Lang,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<ActionForm>,
) -> Result<Response, PageError> {
    let c = api::sign_in_scope(&state, &p, &id)
        .await
        .map_err(|error| PageError { error, lang })?;
    Ok(back_to(c.person_id, "signed"))
}

/// `/my/certificates` — a citizen's own certificates (self-service): the current one with its QR
/// code, the printable PDF and the PNG to download, and the earlier ones.
pub async fn my_page(
    State(state): State<AppState>,
    Caller(p): Caller,
    lang: Lang,
) -> Result<Markup, PageError> {
    let err = |error| PageError { error, lang };
    let title = lang.t(
        "Chứng nhận tiêm chủng của tôi",
        "My vaccination certificate",
    );
    let Some(person_id) = p.user.scope.person_id else {
        return Ok(page_for(
            lang,
            Some(&p),
            None,
            title,
            html! {
                h1 { (title) }
                p #not-a-citizen { (lang.t("Trang này dành cho tài khoản công dân (gắn với hồ sơ của mình). Cán bộ xem và cấp chứng nhận tại trang Chứng nhận.",
                    "This page is for citizen accounts (linked to their own record). Staff see and issue certificates on the Certificates page.")) }
            },
        ));
    };
    let person = state
        .store
        .get_person(person_id)
        .await
        .map_err(err)?
        .ok_or_else(|| err(domain::Error::not_found("hồ sơ", "record")))?;
    let list = state
        .store
        .certificates_of_person(person.id)
        .await
        .map_err(err)?;
    let mut current = Vec::new();
    for c in list
        .iter()
        .filter(|c| c.status == CertificateStatus::Issued)
    {
        current.push((c, api::qr_svg(c).map_err(err)?));
    }
    let earlier: Vec<&VaccinationCertificate> = list
        .iter()
        .filter(|c| c.status == CertificateStatus::Superseded)
        .collect();
    let waiting = list.iter().any(|c| {
        matches!(
            c.status,
            CertificateStatus::Pending | CertificateStatus::Approved
        )
    });
    let title = lang.t(
        "Chứng nhận tiêm chủng của tôi",
        "My vaccination certificate",
    );
    Ok(page_for(
        lang,
        Some(&p),
        None,
        title,
        html! {
            h1 { (title) }
            p.muted { (person.full_name) " · " (date_vn(person.dob)) }
            @if current.is_empty() {
                p #no-certificate {
                    (lang.t("Bạn chưa có chứng nhận đã ký. Chứng nhận được cấp khi đã hoàn thành liều cơ bản; hãy liên hệ điểm tiêm hoặc trạm y tế xã.",
                        "You have no signed certificate yet. It is issued once the primary series is complete; ask your vaccination site or commune health station."))
                }
                @if waiting {
                    p #waiting { (lang.t("Yêu cầu cấp chứng nhận của bạn đang chờ duyệt hoặc chờ ký.", "Your certificate request is waiting for approval or signature.")) }
                }
            }
            @for (c, svg) in &current {
                div.card.certificate #my-certificate {
                    (holder_view(lang, &c.payload, c.expires_at))
                    div.qr { (PreEscaped(inline_svg(svg))) }
                    p {
                        a #pdf-link href={ "/api/v1/certificates/" (c.id) "/certificate.pdf" } download { (lang.t("Tải bản in (PDF)", "Download the printable certificate (PDF)")) }
                        " · "
                        a href={ "/api/v1/certificates/" (c.id) "/qr.png" } download { (lang.t("Tải mã QR (PNG)", "Download the QR code (PNG)")) }
                    }
                }
            }
            @if !earlier.is_empty() {
                h2 { (lang.t("Chứng nhận trước đây (đã được thay thế)", "Earlier certificates (replaced)")) }
                ul {
                    @for c in &earlier {
                        li { code { (c.uvci) } " — " (dose_of(c)) }
                    }
                }
            }
            p.muted { (lang.t("Khi xuất trình, người kiểm tra đối chiếu họ tên và ngày sinh với giấy tờ tùy thân của bạn. Chứng nhận không chứa số CCCD.",
                "When you show it, the verifier compares name and date of birth with your identity document. The certificate carries no citizen ID number.")) }
        },
    ))
}
