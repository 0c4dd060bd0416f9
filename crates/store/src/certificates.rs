//! Types of the vaccination-certificate part of the storage contract (migration
//! `0007_certificates`): the signing hierarchy (CSCA → document signers) with private keys kept
//! sealed, the trust list a verifier uses, certificates with their approval steps, and
//! revocations by certificate id (UVCI). The cryptography lives in the `certs` crate; this
//! module only stores what it produces.

use chrono::{DateTime, Utc};
use domain::{Error, ErrorCode};
use serde::Serialize;
use uuid::Uuid;

/// The place of a key in the signing hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SigningRole {
    /// Country signing certificate authority: signs document signer certificates.
    Csca,
    /// Document signer: signs vaccination certificates.
    Dsc,
}

impl SigningRole {
    pub fn as_str(self) -> &'static str {
        match self {
            SigningRole::Csca => "csca",
            SigningRole::Dsc => "dsc",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "csca" => Ok(SigningRole::Csca),
            "dsc" => Ok(SigningRole::Dsc),
            other => Err(Error::new(
                ErrorCode::Internal,
                "Vai trò khoá không hợp lệ",
                format!("unknown signing role {other}"),
            )),
        }
    }
}

/// A key of the signing hierarchy. The private key is sealed by the caller (the store never
/// sees it in clear).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SigningKey {
    /// Base64 of the first 8 bytes of SHA-256 over `certificate`.
    pub kid: String,
    pub role: SigningRole,
    /// X.509 certificate, DER.
    #[serde(skip)]
    pub certificate: Vec<u8>,
    /// Sealed PKCS#8 private key.
    #[serde(skip)]
    pub sealed_private_key: Vec<u8>,
    /// The CSCA that signed a document signer's certificate.
    pub issuer_kid: Option<String>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// When a newer key of the same role took over (its certificates stay valid).
    pub retired_at: Option<DateTime<Utc>>,
}

/// A signer certificate a verifier trusts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustedSigner {
    pub kid: String,
    /// ISO 3166 alpha-2.
    pub country: String,
    #[serde(skip)]
    pub certificate: Vec<u8>,
    /// `own` or where an imported list came from.
    pub source: String,
    pub added_at: DateTime<Utc>,
}

/// Where a certificate is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateStatus {
    /// Requested; waits for the site to approve the record (two-step issuing).
    Pending,
    /// Approved by the site; waits for the province to sign.
    Approved,
    /// Signed: `hc1` holds the QR content.
    Issued,
    /// Replaced by a newer certificate of the same person (after a booster).
    Superseded,
}

impl CertificateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateStatus::Pending => "pending",
            CertificateStatus::Approved => "approved",
            CertificateStatus::Issued => "issued",
            CertificateStatus::Superseded => "superseded",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        [
            CertificateStatus::Pending,
            CertificateStatus::Approved,
            CertificateStatus::Issued,
            CertificateStatus::Superseded,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
        .ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidInput,
                format!("Trạng thái chứng nhận «{s}» không hợp lệ"),
                format!("unknown certificate status {s}"),
            )
        })
    }
}

/// A vaccination certificate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VaccinationCertificate {
    pub id: Uuid,
    /// `URN:UVCI:01:VN:…`.
    pub uvci: String,
    pub person_id: Uuid,
    /// Province of the person (distribution key).
    pub province_code: String,
    pub status: CertificateStatus,
    /// The DCC JSON.
    pub payload: serde_json::Value,
    /// `HC1:…` once signed.
    pub hc1: Option<String>,
    pub kid: Option<String>,
    pub issued_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub requested_by: String,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub signed_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A revoked certificate id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revocation {
    pub uvci: String,
    pub reason: String,
    pub revoked_by: String,
    pub revoked_at: DateTime<Utc>,
}
