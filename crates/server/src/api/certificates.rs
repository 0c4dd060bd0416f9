//! Vaccination certificates over HTTP (issue 6), on top of the `passport` crate:
//!
//! - `POST /api/v1/certificates/verify` `{qr: "HC1:…", at?: RFC 3339}` (verifiers and staff):
//!   the [`VerifyResult`] against the stored trust list and revocations — 200 also when the
//!   certificate is not valid (the result says why), 400 without a text.
//! - `POST /api/v1/certificates` `{national_id}` or `{person_id}`: requests a certificate
//!   (pending) for a person of the caller's unit; 201 with the certificate.
//! - `POST /api/v1/certificates/{id}/approve` (the site approves the record) and
//!   `POST /api/v1/certificates/{id}/sign` (the province signs with the current document signer;
//!   the keys' passphrase is read per request through [`AppState::cert_passphrase`], by default
//!   `PHONGDICH_CERT_PASSPHRASE`: missing passphrase or key → 400, wrong step → 409).
//! - `GET /api/v1/certificates?status=pending|approved|issued|superseded&limit=N`: the queue of
//!   the caller's unit.
//! - `GET /api/v1/persons/{id}/certificates`: a person's certificates, newest first.
//! - `GET /api/v1/certificates/{id}/qr.png` and `qr.svg`: the QR of a signed certificate.
//! - `GET /api/v1/certificates/{id}/certificate.pdf`: the printable certificate.
//! - `GET /api/v1/certificates/trust-list` (public): the trust list in the exchange format.
//!
//! Certificates of persons outside the caller's unit answer 404, as persons do. Every state
//! change is written to the audit log by `passport` with the caller's username as actor.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::ErrorCode;
use domain::person::Person;
use passport::{VerifyResult, issuing, verifying};
use serde::Deserialize;
use store::{CertificateStatus, Page, VaccinationCertificate};
use uuid::Uuid;

use crate::AppState;
use crate::api::doses::readable_person;
use crate::auth::{Caller, Principal};
use crate::authz;
use crate::error::{ApiError, ApiJson, ApiQuery};

/// Longest certificate text accepted: a QR code holds at most 4,296 alphanumeric characters;
/// the bound also caps what the decoder inflates.
pub const MAX_QR_CHARS: usize = 8_000;

/// Pixels per QR module in PNG images.
pub const PNG_MODULE_PIXELS: u32 = 6;

/// The body of a verification.
#[derive(Debug, Default, Deserialize)]
pub struct VerifyBody {
    #[serde(default)]
    pub qr: Option<String>,
    /// When to verify (RFC 3339); now when absent.
    #[serde(default)]
    pub at: Option<String>,
}

fn missing_qr() -> domain::Error {
    domain::Error::invalid(
        "qr",
        "Thiếu nội dung mã QR (qr, bắt đầu bằng HC1:)",
        "Missing the QR text (qr, starting with HC1:)",
    )
}

/// Parses the optional verification time.
pub fn parse_at(state: &AppState, at: Option<&str>) -> Result<DateTime<Utc>, domain::Error> {
    match at.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok((state.clock)()),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|_| {
                domain::Error::invalid(
                    "at",
                    format!("Thời điểm «{s}» không đúng dạng RFC 3339 (vd. 2026-01-31T09:00:00Z)"),
                    format!("«{s}» is not an RFC 3339 time (e.g. 2026-01-31T09:00:00Z)"),
                )
            }),
    }
}

/// Verifies a certificate text (trimmed; 400 when empty or too long for a QR code).
pub async fn verify_text(
    state: &AppState,
    text: &str,
    at: DateTime<Utc>,
) -> Result<VerifyResult, domain::Error> {
    let text = text.trim();
    if text.is_empty() {
        return Err(missing_qr());
    }
    if text.chars().count() > MAX_QR_CHARS {
        return Err(domain::Error::invalid(
            "qr",
            format!("Nội dung mã QR quá dài (tối đa {MAX_QR_CHARS} ký tự)"),
            format!("The QR text is too long (at most {MAX_QR_CHARS} characters)"),
        ));
    }
    verifying::verify_with_store(state.store.as_ref(), text, at).await
}

pub async fn verify(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<VerifyBody>,
) -> Result<Json<VerifyResult>, ApiError> {
    let at = parse_at(&state, body.at.as_deref())?;
    let text = body.qr.unwrap_or_default();
    Ok(Json(verify_text(&state, &text, at).await?))
}

/// Whom to request a certificate for.
#[derive(Debug, Default, Deserialize)]
pub struct RequestBody {
    #[serde(default)]
    pub national_id: Option<String>,
    #[serde(default)]
    pub person_id: Option<String>,
}

/// The register person a request names, if the caller may read them (unknown and out of scope
/// both 404).
pub async fn requested_person(
    state: &AppState,
    p: &Principal,
    body: &RequestBody,
) -> Result<Person, domain::Error> {
    fn filled(s: &Option<String>) -> Option<&str> {
        s.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
    match (filled(&body.national_id), filled(&body.person_id)) {
        (Some(nid), _) => {
            let person = issuing::person_by_national_id(state.store.as_ref(), nid).await?;
            authz::require_person(state.units, p, &person)?;
            Ok(person)
        }
        (None, Some(id)) => readable_person(state, p, id).await,
        (None, None) => Err(domain::Error::invalid(
            "national_id",
            "Cần số CCCD (national_id) hoặc mã người (person_id)",
            "A citizen ID (national_id) or a person id (person_id) is required",
        )),
    }
}

/// Requests a certificate (pending) for a person the caller may read.
pub async fn request_for(
    state: &AppState,
    p: &Principal,
    person: &Person,
) -> Result<VaccinationCertificate, domain::Error> {
    issuing::request(
        state.store.as_ref(),
        person,
        (state.clock)(),
        &p.user.username,
    )
    .await
}

pub async fn request(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiJson(body): ApiJson<RequestBody>,
) -> Result<(StatusCode, Json<VaccinationCertificate>), ApiError> {
    let person = requested_person(&state, &p, &body).await?;
    let c = request_for(&state, &p, &person).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

fn certificate_not_found() -> domain::Error {
    domain::Error::not_found("chứng nhận", "certificate")
}

/// A certificate whose person the caller may read, with that person (unknown, malformed and
/// out of scope all 404).
pub async fn certificate_in_scope(
    state: &AppState,
    p: &Principal,
    id: &str,
) -> Result<(VaccinationCertificate, Person), domain::Error> {
    let id = Uuid::parse_str(id.trim()).map_err(|_| certificate_not_found())?;
    let c = state
        .store
        .certificate(id)
        .await?
        .ok_or_else(certificate_not_found)?;
    let person = state
        .store
        .get_person(c.person_id)
        .await?
        .ok_or_else(certificate_not_found)?;
    if !authz::may_read_person(state.units, p, &person) {
        return Err(certificate_not_found());
    }
    Ok((c, person))
}

/// The site approves a pending certificate of its unit.
pub async fn approve_in_scope(
    state: &AppState,
    p: &Principal,
    id: &str,
) -> Result<VaccinationCertificate, domain::Error> {
    let (c, _) = certificate_in_scope(state, p, id).await?;
    issuing::approve(
        state.store.as_ref(),
        c.id,
        (state.clock)(),
        &p.user.username,
    )
    .await
}

/// The province signs an approved certificate of its unit with the current document signer.
pub async fn sign_in_scope(
    state: &AppState,
    p: &Principal,
    id: &str,
) -> Result<VaccinationCertificate, domain::Error> {
    let (c, _) = certificate_in_scope(state, p, id).await?;
    // The wrong step is said before the key is asked for.
    if c.status != CertificateStatus::Approved {
        return Err(domain::Error::new(
            ErrorCode::Conflict,
            format!(
                "Chứng nhận {} đang ở bước «{}»: chỉ ký được chứng nhận đã duyệt",
                c.uvci,
                status_vi(c.status)
            ),
            format!(
                "Certificate {} is {}: only approved certificates can be signed",
                c.uvci,
                c.status.as_str()
            ),
        ));
    }
    let passphrase = (state.cert_passphrase)()?;
    issuing::sign(
        state.store.as_ref(),
        &passphrase,
        c.id,
        (state.clock)(),
        &p.user.username,
    )
    .await
}

/// A certificate status in Vietnamese.
pub fn status_vi(s: CertificateStatus) -> &'static str {
    match s {
        CertificateStatus::Pending => "chờ duyệt",
        CertificateStatus::Approved => "đã duyệt, chờ ký",
        CertificateStatus::Issued => "đã cấp",
        CertificateStatus::Superseded => "đã được thay bằng chứng nhận mới hơn",
    }
}

pub async fn approve(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Json<VaccinationCertificate>, ApiError> {
    Ok(Json(approve_in_scope(&state, &p, &id).await?))
}

pub async fn sign(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Json<VaccinationCertificate>, ApiError> {
    Ok(Json(sign_in_scope(&state, &p, &id).await?))
}

/// Queue parameters.
#[derive(Debug, Deserialize)]
pub struct QueueQuery {
    pub status: Option<String>,
    pub limit: Option<u32>,
}

/// How many certificates of a status are read before the scope filter.
pub const QUEUE_SCAN: u32 = 5_000;
/// Largest page of a queue.
pub const QUEUE_MAX: u32 = 500;

/// Certificates in `status` whose persons the caller may read, oldest first, at most `limit`,
/// each with its person. The store lists a status for the whole country; rows outside the
/// caller's unit are dropped here (among the oldest [`QUEUE_SCAN`]).
pub async fn queue(
    state: &AppState,
    p: &Principal,
    status: CertificateStatus,
    limit: u32,
) -> Result<Vec<(VaccinationCertificate, Person)>, domain::Error> {
    let all = state
        .store
        .certificates_in_status(status, QUEUE_SCAN)
        .await?;
    let mut ids: Vec<Uuid> = all.iter().map(|c| c.person_id).collect();
    ids.sort();
    ids.dedup();
    let persons: std::collections::HashMap<Uuid, Person> = state
        .store
        .persons_by_ids(&ids)
        .await?
        .into_iter()
        .filter(|person| authz::may_read_person(state.units, p, person))
        .map(|person| (person.id, person))
        .collect();
    Ok(all
        .into_iter()
        .filter_map(|c| persons.get(&c.person_id).cloned().map(|person| (c, person)))
        .take(limit as usize)
        .collect())
}

pub async fn list(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiQuery(q): ApiQuery<QueueQuery>,
) -> Result<Json<Page<VaccinationCertificate>>, ApiError> {
    let status = CertificateStatus::parse(q.status.as_deref().unwrap_or("pending").trim())?;
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > QUEUE_MAX {
        return Err(domain::Error::invalid(
            "limit",
            format!("limit phải từ 1 đến {QUEUE_MAX}"),
            format!("limit must be 1 to {QUEUE_MAX}"),
        )
        .into());
    }
    let items: Vec<VaccinationCertificate> = queue(&state, &p, status, limit)
        .await?
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    Ok(Json(Page {
        total: items.len() as u64,
        items,
    }))
}

pub async fn of_person(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Json<Page<VaccinationCertificate>>, ApiError> {
    let person = readable_person(&state, &p, &id).await?;
    let items = state.store.certificates_of_person(person.id).await?;
    Ok(Json(Page {
        total: items.len() as u64,
        items,
    }))
}

/// The `HC1:` text of a signed certificate (409 before it is signed).
pub fn signed_text(c: &VaccinationCertificate) -> Result<&str, domain::Error> {
    c.hc1.as_deref().ok_or_else(|| {
        domain::Error::new(
            ErrorCode::Conflict,
            format!("Chứng nhận {} chưa được ký nên chưa có mã QR", c.uvci),
            format!(
                "Certificate {} is not signed yet, so it has no QR code",
                c.uvci
            ),
        )
    })
}

fn qr_failed(e: certs::Error) -> domain::Error {
    tracing::error!(%e, "rendering a certificate QR code");
    domain::Error::internal()
}

/// The QR code of a signed certificate as SVG markup.
pub fn qr_svg(c: &VaccinationCertificate) -> Result<String, domain::Error> {
    certs::qr::to_svg(signed_text(c)?).map_err(qr_failed)
}

fn image(content_type: &'static str, bytes: impl IntoResponse) -> Response {
    ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
}

pub async fn qr_png(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (c, _) = certificate_in_scope(&state, &p, &id).await?;
    let png = certs::qr::to_png(signed_text(&c)?, PNG_MODULE_PIXELS).map_err(qr_failed)?;
    Ok(image("image/png", png))
}

pub async fn qr_svg_route(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (c, _) = certificate_in_scope(&state, &p, &id).await?;
    Ok(image("image/svg+xml", qr_svg(&c)?))
}

/// The printable certificate (PDF, Vietnamese and English) of a signed certificate.
pub async fn pdf(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (c, _) = certificate_in_scope(&state, &p, &id).await?;
    signed_text(&c)?;
    let bytes = passport::pdf::certificate_pdf(&c)?;
    let name = format!("chung-nhan-tiem-chung-{}.pdf", c.id.simple());
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

pub async fn trust_list(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let rows = state.store.trust_list().await?;
    Ok(Json(verifying::export_trust_list(&rows)))
}
