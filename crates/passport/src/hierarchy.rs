//! The signing hierarchy: a country signing CA (CSCA, self-signed root, P-256) certifies
//! document signers (DSC, P-256, extended key usage "vaccination" OID
//! 1.3.6.1.4.1.1847.2021.1.2). `phongdich cert keygen` creates the CSCA on first use and a new
//! DSC each time (rotation: the older DSC is retired but stays in the trust list, so the
//! certificates it signed still verify). Private keys are stored sealed ([`crate::sealing`]).

use std::time::SystemTime;

use chrono::{DateTime, Duration, Utc};
use domain::Error;
use domain::audit::NewAuditEntry;
use p256::ecdsa::SigningKey as EcKey;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use store::{SigningKey, SigningRole, Store};
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::ExtendedKeyUsage;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::{Time, Validity};

use crate::sealing::{Passphrase, seal, unseal};

/// How long a CSCA certificate is valid.
pub const CSCA_YEARS: i64 = 10;
/// How long a document signer certificate is valid (certificates it signs expire within a year,
/// so a two-year signer covers everything it signs while current).
pub const DSC_YEARS: i64 = 2;

fn build_error(e: impl std::fmt::Display) -> Error {
    tracing::error!(%e, "building a certificate");
    Error::internal()
}

fn serial() -> Result<SerialNumber, Error> {
    let mut bytes = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    SerialNumber::new(&bytes).map_err(build_error)
}

fn validity(from: DateTime<Utc>, years: i64) -> Result<Validity, Error> {
    let to = from + Duration::days(365 * years);
    Ok(Validity {
        not_before: Time::try_from(SystemTime::from(from)).map_err(build_error)?,
        not_after: Time::try_from(SystemTime::from(to)).map_err(build_error)?,
    })
}

/// A freshly made key of the hierarchy, before sealing.
pub struct NewKey {
    pub key: EcKey,
    pub certificate_der: Vec<u8>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

fn subject(common_name: &str) -> Result<Name, Error> {
    format!("CN={common_name},O=Bo Y te,C=VN")
        .parse()
        .map_err(build_error)
}

/// Makes a self-signed CSCA.
pub fn make_csca(now: DateTime<Utc>) -> Result<NewKey, Error> {
    let key = EcKey::random(&mut rand_core::OsRng);
    let name = subject(&format!("phongdich CSCA VN {}", now.format("%Y%m%d%H%M%S")))?;
    let spki = SubjectPublicKeyInfoOwned::from_key(*key.verifying_key()).map_err(build_error)?;
    let builder = CertificateBuilder::new(
        Profile::Root,
        serial()?,
        validity(now, CSCA_YEARS)?,
        name,
        spki,
        &key,
    )
    .map_err(build_error)?;
    let cert = builder
        .build::<p256::ecdsa::DerSignature>()
        .map_err(build_error)?;
    Ok(NewKey {
        key,
        certificate_der: cert.to_der().map_err(build_error)?,
        not_before: now,
        not_after: now + Duration::days(365 * CSCA_YEARS),
    })
}

/// Makes a document signer certified by the CSCA (`csca_key`, `csca_der`).
pub fn make_dsc(now: DateTime<Utc>, csca_key: &EcKey, csca_der: &[u8]) -> Result<NewKey, Error> {
    let csca = x509_cert::Certificate::from_der(csca_der).map_err(build_error)?;
    let key = EcKey::random(&mut rand_core::OsRng);
    let name = subject(&format!("phongdich DSC VN {}", now.format("%Y%m%d%H%M%S")))?;
    let spki = SubjectPublicKeyInfoOwned::from_key(*key.verifying_key()).map_err(build_error)?;
    let profile = Profile::Leaf {
        issuer: csca.tbs_certificate.subject.clone(),
        enable_key_agreement: false,
        enable_key_encipherment: false,
    };
    let mut builder = CertificateBuilder::new(
        profile,
        serial()?,
        validity(now, DSC_YEARS)?,
        name,
        spki,
        csca_key,
    )
    .map_err(build_error)?;
    let vaccination = certs::keys::OID_VACCINATION.parse().map_err(build_error)?;
    builder
        .add_extension(&ExtendedKeyUsage(vec![vaccination]))
        .map_err(build_error)?;
    let cert = builder
        .build::<p256::ecdsa::DerSignature>()
        .map_err(build_error)?;
    Ok(NewKey {
        key,
        certificate_der: cert.to_der().map_err(build_error)?,
        not_before: now,
        not_after: now + Duration::days(365 * DSC_YEARS),
    })
}

fn kid(der: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(certs::keys::kid_for_certificate(der))
}

fn sealed(
    new: &NewKey,
    role: SigningRole,
    issuer_kid: Option<String>,
    now: DateTime<Utc>,
    passphrase: &Passphrase,
) -> Result<SigningKey, Error> {
    let pkcs8 = new.key.to_pkcs8_der().map_err(build_error)?;
    Ok(SigningKey {
        kid: kid(&new.certificate_der),
        role,
        certificate: new.certificate_der.clone(),
        sealed_private_key: seal(pkcs8.as_bytes(), passphrase)?,
        issuer_kid,
        not_before: new.not_before,
        not_after: new.not_after,
        created_at: now,
        retired_at: None,
    })
}

fn open(key: &SigningKey, passphrase: &Passphrase) -> Result<EcKey, Error> {
    let pkcs8 = unseal(&key.sealed_private_key, passphrase)?;
    EcKey::from_pkcs8_der(&pkcs8).map_err(build_error)
}

/// What `keygen` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeygenReport {
    pub csca_kid: String,
    /// True when a CSCA was created by this run.
    pub csca_created: bool,
    pub dsc_kid: String,
    /// The document signer this one replaces (still trusted).
    pub retired_dsc_kid: Option<String>,
    pub dsc_not_after: DateTime<Utc>,
}

fn current(keys: &[SigningKey], role: SigningRole) -> Option<&SigningKey> {
    keys.iter()
        .rev()
        .find(|k| k.role == role && k.retired_at.is_none())
}

/// Creates the CSCA if there is none (or it expires within a DSC lifetime), then a new document
/// signer; each stored sealed, with an audit entry by `actor`.
pub async fn keygen(
    store: &dyn Store,
    passphrase: &Passphrase,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<KeygenReport, Error> {
    let keys = store.signing_keys().await?;
    let audit = |action: &str, kid: &str| NewAuditEntry {
        at: now,
        actor_id: None,
        actor: Some(actor.to_string()),
        action: action.to_string(),
        entity_type: Some("signing_key".into()),
        entity_id: Some(kid.to_string()),
        unit_code: None,
        ip: None,
        details: serde_json::json!({}),
    };
    let usable_csca = current(&keys, SigningRole::Csca)
        .filter(|k| k.not_after > now + Duration::days(365 * DSC_YEARS));
    let (csca_key, csca_der, csca_kid, csca_created) = match usable_csca {
        Some(k) => (
            open(k, passphrase)?,
            k.certificate.clone(),
            k.kid.clone(),
            false,
        ),
        None => {
            let new = make_csca(now)?;
            let record = sealed(&new, SigningRole::Csca, None, now, passphrase)?;
            store
                .add_signing_key(&record, &audit("cert.csca_created", &record.kid))
                .await?;
            (new.key, new.certificate_der, record.kid, true)
        }
    };
    let retired = current(&keys, SigningRole::Dsc).map(|k| k.kid.clone());
    let dsc = make_dsc(now, &csca_key, &csca_der)?;
    let record = sealed(
        &dsc,
        SigningRole::Dsc,
        Some(csca_kid.clone()),
        now,
        passphrase,
    )?;
    store
        .add_signing_key(&record, &audit("cert.dsc_created", &record.kid))
        .await?;
    Ok(KeygenReport {
        csca_kid,
        csca_created,
        dsc_kid: record.kid,
        retired_dsc_kid: retired,
        dsc_not_after: dsc.not_after,
    })
}

/// The current document signer, opened with the passphrase.
pub async fn current_signer(
    store: &dyn Store,
    passphrase: &Passphrase,
    now: DateTime<Utc>,
) -> Result<certs::Signer, Error> {
    let keys = store.signing_keys().await?;
    let dsc = current(&keys, SigningRole::Dsc).ok_or_else(|| {
        Error::new(
            domain::ErrorCode::InvalidInput,
            "Chưa có khoá ký chứng nhận: chạy `phongdich cert keygen` trước",
            "No signing key yet: run `phongdich cert keygen` first",
        )
    })?;
    if dsc.not_after <= now {
        return Err(Error::new(
            domain::ErrorCode::InvalidInput,
            "Khoá ký hiện hành đã hết hạn: chạy `phongdich cert keygen` để tạo khoá mới",
            "The current signing key has expired: run `phongdich cert keygen` for a new one",
        ));
    }
    let key = open(dsc, passphrase)?;
    certs::Signer::new(key, &dsc.certificate).map_err(build_error)
}
