//! Certificates from the registry (Decision 5772/QĐ-BYT): who may get one (primary series
//! complete by the schedule engine over their linked doses), the DCC built from the person and
//! their latest dose, and the steps — requested, approved by the site, signed by the province —
//! or all at once (`phongdich cert issue`). A certificate expires 12 months after it is signed; a
//! later one (after a booster) supersedes the earlier.

use chrono::{DateTime, Duration, Utc};
use domain::audit::NewAuditEntry;
use domain::person::Person;
use domain::schedule::{DoseKind, Rules};
use domain::{Error, ErrorCode};
use store::{CertificateStatus, Store, VaccinationCertificate};
use uuid::Uuid;

use crate::sealing::Passphrase;

/// Validity of a certificate after signing.
pub const VALIDITY_DAYS: i64 = 365;
/// Issuer text (`is`, ≤ 80 characters).
pub const ISSUER: &str = "Ministry of Health of Viet Nam (Bo Y te)";
/// Issuing country.
pub const COUNTRY: &str = "VN";

fn not_eligible(vi: &str, en: &str) -> Error {
    Error::new(ErrorCode::InvalidInput, vi, en)
}

/// The DCC of a person from their linked doses: the latest dose, numbered within the person's
/// series (`dn`/`sd`: primary 1/2, 2/2; boosters continue the count, 3/3, 4/4). Fails when the
/// primary series is not complete.
pub async fn build_dcc(
    store: &dyn Store,
    person: &Person,
    certificate_id: Uuid,
) -> Result<serde_json::Value, Error> {
    let history = intake::doses::person_history(store, person.id).await?;
    let doses: Vec<_> = history.iter().map(|(_, d)| d.clone()).collect();
    let status = domain::schedule::evaluate(Rules::embedded(), person.dob, &doses, &[]);
    if status.primary_complete.is_none() {
        return Err(not_eligible(
            "Người này chưa hoàn thành liều cơ bản nên chưa được cấp chứng nhận",
            "This person has not completed the primary series, so no certificate can be issued",
        ));
    }
    let counted: Vec<_> = status
        .doses
        .iter()
        .filter(|d| match d.kind {
            DoseKind::Additional => status.additional == Some(d.date),
            DoseKind::Duplicate => false,
            _ => true,
        })
        .collect();
    let last = counted.last().ok_or_else(Error::internal)?;
    let primary = counted
        .iter()
        .filter(|d| matches!(d.kind, DoseKind::Primary(_)))
        .count() as u32;
    let dn = counted.len() as u32;
    let sd = dn.max(primary);
    let product = domain::vaccines::VaccineCatalogue::embedded().require(&last.product)?;
    let ci =
        certs::uvci::vietnam(&certificate_id.simple().to_string().to_uppercase()).map_err(|e| {
            tracing::error!(%e, "uvci");
            Error::internal()
        })?;
    let dcc = certs::dcc::Dcc::vaccination(
        certs::translit::vietnamese_person_name(&person.full_name),
        person.dob.to_string(),
        certs::dcc::Vaccination {
            tg: certs::dcc::DISEASE_COVID19.into(),
            vp: product.prophylaxis_code.clone(),
            mp: product.code.clone(),
            ma: product.manufacturer_code.clone(),
            dn,
            sd,
            dt: last.date.to_string(),
            co: COUNTRY.into(),
            is_: ISSUER.into(),
            ci,
        },
    );
    let json = dcc.to_json();
    let problems = certs::dcc::validate(&json);
    if !problems.is_empty() {
        tracing::error!(?problems, "built DCC fails the schema");
        return Err(Error::internal());
    }
    Ok(json)
}

fn audit(
    action: &str,
    actor: &str,
    c: &VaccinationCertificate,
    now: DateTime<Utc>,
) -> NewAuditEntry {
    NewAuditEntry {
        at: now,
        actor_id: None,
        actor: Some(actor.to_string()),
        action: action.to_string(),
        entity_type: Some("certificate".into()),
        entity_id: Some(c.uvci.clone()),
        unit_code: Some(c.province_code.clone()),
        ip: None,
        details: serde_json::json!({ "person_id": c.person_id, "status": c.status }),
    }
}

/// The certificate id (UVCI) of a DCC payload.
pub fn uvci_of(payload: &serde_json::Value) -> Option<&str> {
    payload.pointer("/v/0/ci").and_then(|v| v.as_str())
}

/// Requests a certificate for a person (status pending: the site approves, the province signs).
pub async fn request(
    store: &dyn Store,
    person: &Person,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<VaccinationCertificate, Error> {
    let id = Uuid::now_v7();
    let payload = build_dcc(store, person, id).await?;
    let c = VaccinationCertificate {
        id,
        uvci: uvci_of(&payload).ok_or_else(Error::internal)?.to_string(),
        person_id: person.id,
        province_code: person.province_code.clone(),
        status: CertificateStatus::Pending,
        payload,
        hc1: None,
        kid: None,
        issued_at: None,
        expires_at: None,
        requested_by: actor.to_string(),
        approved_by: None,
        approved_at: None,
        signed_by: None,
        created_at: now,
    };
    store
        .save_certificate(&c, &audit("cert.request", actor, &c, now))
        .await?;
    Ok(c)
}

async fn load(store: &dyn Store, id: Uuid) -> Result<VaccinationCertificate, Error> {
    store
        .certificate(id)
        .await?
        .ok_or_else(|| Error::not_found("chứng nhận", "certificate"))
}

fn wrong_step(c: &VaccinationCertificate, want: &str) -> Error {
    Error::new(
        ErrorCode::Conflict,
        format!(
            "Chứng nhận {} đang ở bước «{}», không thể {want}",
            c.uvci,
            c.status.as_str()
        ),
        format!(
            "Certificate {} is {}; cannot {want}",
            c.uvci,
            c.status.as_str()
        ),
    )
}

/// The site approves the record of a pending certificate.
pub async fn approve(
    store: &dyn Store,
    id: Uuid,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<VaccinationCertificate, Error> {
    let mut c = load(store, id).await?;
    if c.status != CertificateStatus::Pending {
        return Err(wrong_step(&c, "duyệt / approve"));
    }
    c.status = CertificateStatus::Approved;
    c.approved_by = Some(actor.to_string());
    c.approved_at = Some(now);
    store
        .save_certificate(&c, &audit("cert.approve", actor, &c, now))
        .await?;
    Ok(c)
}

/// The province signs an approved certificate with the current document signer.
pub async fn sign(
    store: &dyn Store,
    passphrase: &Passphrase,
    id: Uuid,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<VaccinationCertificate, Error> {
    let c = load(store, id).await?;
    if c.status != CertificateStatus::Approved {
        return Err(wrong_step(&c, "ký / sign"));
    }
    let signer = crate::hierarchy::current_signer(store, passphrase, now).await?;
    sign_with(store, &signer, c, now, actor).await
}

/// Signs an approved certificate with `signer` and stores it as issued.
async fn sign_with(
    store: &dyn Store,
    signer: &certs::Signer,
    mut c: VaccinationCertificate,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<VaccinationCertificate, Error> {
    let expires = now + Duration::days(VALIDITY_DAYS);
    let dcc = certs::dcc::Dcc::from_json(&c.payload).map_err(|_| Error::internal())?;
    let cwt = certs::hcert::CwtPayload::new(COUNTRY, now, expires, &dcc);
    let hc1 = certs::hcert::encode(&cwt, signer).map_err(|e| {
        tracing::error!(%e, "signing a certificate");
        Error::internal()
    })?;
    c.status = CertificateStatus::Issued;
    c.hc1 = Some(hc1);
    c.kid = Some(signer.certificate().kid_base64());
    c.issued_at = Some(now);
    c.expires_at = Some(expires);
    c.signed_by = Some(actor.to_string());
    store
        .save_certificate(&c, &audit("cert.sign", actor, &c, now))
        .await?;
    Ok(c)
}

/// Requests, approves and signs in one go (the site and the province are the same operator).
pub async fn issue_now(
    store: &dyn Store,
    passphrase: &Passphrase,
    person: &Person,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<VaccinationCertificate, Error> {
    // Opened first (one Argon2 derivation): no key that can sign, nothing written.
    let signer = crate::hierarchy::current_signer(store, passphrase, now).await?;
    let c = request(store, person, now, actor).await?;
    let c = approve(store, c.id, now, actor).await?;
    sign_with(store, &signer, c, now, actor).await
}

/// The register person holding a citizen ID.
pub async fn person_by_national_id(store: &dyn Store, national_id: &str) -> Result<Person, Error> {
    let id = domain::person::NationalId::parse(national_id.trim())?;
    store
        .persons_by_national_ids(&[id.as_str().to_string()])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| Error::not_found("người có số CCCD này", "person with this citizen ID"))
}
