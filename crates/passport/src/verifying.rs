//! Verifying presented certificates: against the stored trust list (own document signers, old
//! and current, and imported foreign lists) or a given signer certificate, with revoked
//! certificate ids refused. Also the trust-list exchange format: a JSON object of kid (base64)
//! → signer certificate DER (base64).

use chrono::{DateTime, Utc};
use domain::{Error, ErrorCode};
use serde::Serialize;
use store::{Store, TrustedSigner};

/// What a verification found, as printed by `phongdich cert verify` and returned by the API.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyResult {
    pub decoded: bool,
    pub signature_valid: bool,
    pub expired: bool,
    pub key_usage_ok: bool,
    pub revoked: bool,
    pub valid: bool,
    pub kid: Option<String>,
    pub payload: Option<serde_json::Value>,
    pub reasons: Vec<String>,
    pub messages: Vec<String>,
}

impl VerifyResult {
    /// Adds the revocation check to a signature verification.
    pub fn from_verification(v: certs::Verification, revoked_ids: &[String]) -> Self {
        let uvci = v
            .payload
            .as_ref()
            .and_then(|p| crate::issuing::uvci_of(p))
            .map(str::to_string);
        let revoked = uvci.is_some_and(|u| revoked_ids.contains(&u));
        let mut reasons = v.reasons;
        let mut messages = v.messages;
        if revoked {
            reasons.push("revoked".into());
            messages.push("the certificate id is on the revocation list".into());
        }
        VerifyResult {
            decoded: v.decoded,
            signature_valid: v.signature_valid,
            expired: v.expired,
            key_usage_ok: v.key_usage_ok,
            revoked,
            valid: v.valid && !revoked,
            // Base64, as in trust lists and `cert issue` (the verifier reports hex).
            kid: v.kid.as_deref().and_then(hex_to_base64).or(v.kid),
            payload: v.payload,
            reasons,
            messages,
        }
    }
}

fn hex_to_base64(hex: &str) -> Option<String> {
    use base64::Engine;
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    Some(base64::engine::general_purpose::STANDARD.encode(bytes?))
}

/// Signer certificates of trust-list rows (rows whose certificate cannot be read are skipped
/// with a warning).
pub fn trusted_certificates(rows: &[TrustedSigner]) -> Vec<certs::DscCertificate> {
    rows.iter()
        .filter_map(|t| match certs::DscCertificate::from_der(&t.certificate) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(kid = %t.kid, %e, "unreadable trust-list certificate");
                None
            }
        })
        .collect()
}

/// Verifies a certificate text against the stored trust list and revocations.
pub async fn verify_with_store(
    store: &dyn Store,
    text: &str,
    at: DateTime<Utc>,
) -> Result<VerifyResult, Error> {
    let trusted = trusted_certificates(&store.trust_list().await?);
    let revoked: Vec<String> = store
        .revocations()
        .await?
        .into_iter()
        .map(|r| r.uvci)
        .collect();
    let v = match certs::decode(text.trim()) {
        Ok(d) => certs::hcert::verify_with_trust_list(&d, &trusted, at),
        Err(e) => certs::Verification::decode_failed(&e),
    };
    Ok(VerifyResult::from_verification(v, &revoked))
}

/// The trust list as exchanged: `{ "<kid base64>": "<certificate DER base64>", … }`.
pub fn export_trust_list(rows: &[TrustedSigner]) -> serde_json::Value {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    serde_json::Value::Object(
        rows.iter()
            .map(|t| {
                (
                    t.kid.clone(),
                    serde_json::Value::String(b64.encode(&t.certificate)),
                )
            })
            .collect(),
    )
}

/// Reads an exchanged trust list; every certificate must parse and match its kid.
pub fn parse_trust_list(
    json: &serde_json::Value,
    source: &str,
    now: DateTime<Utc>,
) -> Result<Vec<TrustedSigner>, Error> {
    use base64::Engine;
    let bad = |vi: String, en: String| Error::new(ErrorCode::InvalidInput, vi, en);
    let object = json.as_object().ok_or_else(|| {
        bad(
            "Danh sách tin cậy phải là một đối tượng JSON kid → chứng thư (base64)".into(),
            "A trust list must be a JSON object of kid → certificate (base64)".into(),
        )
    })?;
    let mut out = Vec::with_capacity(object.len());
    for (kid, value) in object {
        let der = value
            .as_str()
            .and_then(|s| {
                base64::engine::general_purpose::STANDARD
                    .decode(s.trim())
                    .ok()
            })
            .ok_or_else(|| {
                bad(
                    format!("Chứng thư của kid {kid} không phải base64"),
                    format!("The certificate of kid {kid} is not base64"),
                )
            })?;
        let cert = certs::DscCertificate::from_der(&der).map_err(|e| {
            bad(
                format!("Chứng thư của kid {kid} không đọc được: {e}"),
                format!("The certificate of kid {kid} cannot be read: {e}"),
            )
        })?;
        if cert.kid_base64() != *kid {
            return Err(bad(
                format!(
                    "kid {kid} không khớp chứng thư (kid đúng: {})",
                    cert.kid_base64()
                ),
                format!(
                    "kid {kid} does not match its certificate ({})",
                    cert.kid_base64()
                ),
            ));
        }
        let country = cert
            .subject()
            .split(',')
            .find_map(|part| part.trim().strip_prefix("C="))
            .unwrap_or("??")
            .to_string();
        out.push(TrustedSigner {
            kid: kid.clone(),
            country,
            certificate: der,
            source: source.to_string(),
            added_at: now,
        });
    }
    Ok(out)
}
