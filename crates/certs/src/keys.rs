//! Document-signer certificates (DSC), public keys, key identifiers and the ES256 [`Signer`].
//!
//! * [`DscCertificate`] is a parsed X.509 document-signer certificate: its DER, its `kid`
//!   (first 8 bytes of the SHA-256 of the DER), its public key (P-256 for ES256 or RSA for
//!   PS256), validity period and the EU extended-key-usage OIDs that limit which certificate
//!   types it may sign.
//! * [`Signer`] holds an ES256 (P-256) private key together with the DER of its certificate and
//!   signs HCERTs. [`Signer::generate_self_signed`] creates a fresh key with a self-signed
//!   certificate for tests, demos and benchmarks.

use std::time::SystemTime;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::RsaPublicKey;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::der::oid::{AssociatedOid, ObjectIdentifier};
use x509_cert::der::{Decode, DecodePem, Encode, EncodePem};
use x509_cert::ext::pkix::ExtendedKeyUsage;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{DecodePublicKey, SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::time::{Time, Validity};

use crate::dcc::CertificateType;
use crate::error::{Error, Result};

/// Length of an HCERT key identifier in bytes.
pub const KID_LEN: usize = 8;

/// Extended key usage OID allowing a DSC to sign test certificates.
pub const OID_TEST: &str = "1.3.6.1.4.1.1847.2021.1.1";
/// Extended key usage OID allowing a DSC to sign vaccination certificates.
pub const OID_VACCINATION: &str = "1.3.6.1.4.1.1847.2021.1.2";
/// Extended key usage OID allowing a DSC to sign recovery certificates.
pub const OID_RECOVERY: &str = "1.3.6.1.4.1.1847.2021.1.3";
/// Alternative test OID (with an extra `0` arc) listed by the HCERT specification and used by
/// early signers.
pub const OID_TEST_ALT: &str = "1.3.6.1.4.1.0.1847.2021.1.1";
/// Alternative vaccination OID.
pub const OID_VACCINATION_ALT: &str = "1.3.6.1.4.1.0.1847.2021.1.2";
/// Alternative recovery OID.
pub const OID_RECOVERY_ALT: &str = "1.3.6.1.4.1.0.1847.2021.1.3";

/// The EU key-usage OIDs (both spellings) that allow signing `t`.
pub fn key_usage_oids(t: CertificateType) -> [&'static str; 2] {
    match t {
        CertificateType::Test => [OID_TEST, OID_TEST_ALT],
        CertificateType::Vaccination => [OID_VACCINATION, OID_VACCINATION_ALT],
        CertificateType::Recovery => [OID_RECOVERY, OID_RECOVERY_ALT],
    }
}

fn is_eu_key_usage_oid(oid: &str) -> bool {
    [
        OID_TEST,
        OID_VACCINATION,
        OID_RECOVERY,
        OID_TEST_ALT,
        OID_VACCINATION_ALT,
        OID_RECOVERY_ALT,
    ]
    .contains(&oid)
}

/// The HCERT key identifier of a certificate: the first 8 bytes of SHA-256 over its DER.
pub fn kid_for_certificate(der: &[u8]) -> [u8; KID_LEN] {
    let digest = Sha256::digest(der);
    let mut kid = [0u8; KID_LEN];
    kid.copy_from_slice(&digest[..KID_LEN]);
    kid
}

/// The public key of a document-signer certificate.
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// NIST P-256 key (ES256).
    P256(VerifyingKey),
    /// RSA key (PS256).
    Rsa(RsaPublicKey),
    /// A key HCERT does not allow (e.g. P-384); signatures made with it never verify.
    Unsupported {
        /// Description of the key algorithm, e.g. `EC P-384`.
        algorithm: String,
    },
}

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

fn curve_name(oid: &ObjectIdentifier) -> String {
    match oid.to_string().as_str() {
        "1.2.840.10045.3.1.7" => "P-256".to_string(),
        "1.3.132.0.34" => "P-384".to_string(),
        "1.3.132.0.35" => "P-521".to_string(),
        other => other.to_string(),
    }
}

impl PublicKey {
    /// Parse a DER `SubjectPublicKeyInfo`. P-256 and RSA keys are usable; other well-formed
    /// keys give [`PublicKey::Unsupported`].
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| Error::BadCertificate(format!("public key info: {e}")))?;
        match spki.algorithm.oid {
            OID_EC_PUBLIC_KEY => match VerifyingKey::from_public_key_der(der) {
                Ok(k) => Ok(PublicKey::P256(k)),
                Err(_) => {
                    let curve = spki
                        .algorithm
                        .parameters
                        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                        .map_or_else(|| "unknown curve".to_string(), |o| curve_name(&o));
                    Ok(PublicKey::Unsupported {
                        algorithm: format!("EC {curve}"),
                    })
                }
            },
            OID_RSA_ENCRYPTION => RsaPublicKey::from_public_key_der(der)
                .map(PublicKey::Rsa)
                .map_err(|e| Error::BadCertificate(format!("RSA public key: {e}"))),
            other => Ok(PublicKey::Unsupported {
                algorithm: other.to_string(),
            }),
        }
    }

    /// Short name of the key type: `P-256`, `RSA` or the unsupported algorithm.
    pub fn describe(&self) -> String {
        match self {
            PublicKey::P256(_) => "P-256".to_string(),
            PublicKey::Rsa(_) => "RSA".to_string(),
            PublicKey::Unsupported { algorithm } => algorithm.clone(),
        }
    }
}

/// A parsed document-signer certificate, the trust anchor for verifying HCERTs.
#[derive(Debug, Clone)]
pub struct DscCertificate {
    der: Vec<u8>,
    kid: [u8; KID_LEN],
    key: PublicKey,
    subject: String,
    not_before: Option<DateTime<Utc>>,
    not_after: Option<DateTime<Utc>>,
    extended_key_usage: Vec<String>,
}

fn time_to_chrono(t: &Time) -> Option<DateTime<Utc>> {
    let d = t.to_unix_duration();
    DateTime::from_timestamp(i64::try_from(d.as_secs()).ok()?, d.subsec_nanos())
}

impl DscCertificate {
    /// Parse a DER-encoded X.509 certificate.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let cert = Certificate::from_der(der)
            .map_err(|e| Error::BadCertificate(format!("X.509 parse error: {e}")))?;
        let tbs = &cert.tbs_certificate;
        let spki_der = tbs
            .subject_public_key_info
            .to_der()
            .map_err(|e| Error::BadCertificate(e.to_string()))?;
        let key = PublicKey::from_spki_der(&spki_der)?;
        let mut extended_key_usage = Vec::new();
        for ext in tbs.extensions.iter().flatten() {
            if ext.extn_id == <ExtendedKeyUsage as AssociatedOid>::OID {
                let eku = ExtendedKeyUsage::from_der(ext.extn_value.as_bytes())
                    .map_err(|e| Error::BadCertificate(format!("extended key usage: {e}")))?;
                extended_key_usage.extend(eku.0.iter().map(|o| o.to_string()));
            }
        }
        Ok(DscCertificate {
            der: der.to_vec(),
            kid: kid_for_certificate(der),
            key,
            subject: tbs.subject.to_string(),
            not_before: time_to_chrono(&tbs.validity.not_before),
            not_after: time_to_chrono(&tbs.validity.not_after),
            extended_key_usage,
        })
    }

    /// Parse base64 (standard alphabet, padding optional, whitespace ignored) DER, the format of
    /// the EU trust lists and the test data's `CERTIFICATE` field.
    pub fn from_base64(b64: &str) -> Result<Self> {
        let cleaned: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(cleaned.trim_end_matches('='))
            .map_err(|e| Error::BadCertificate(format!("base64: {e}")))?;
        Self::from_der(&der)
    }

    /// Parse a PEM certificate (`-----BEGIN CERTIFICATE-----`).
    pub fn from_pem(pem: &str) -> Result<Self> {
        let cert = Certificate::from_pem(pem.as_bytes())
            .map_err(|e| Error::BadCertificate(format!("PEM: {e}")))?;
        let der = cert
            .to_der()
            .map_err(|e| Error::BadCertificate(e.to_string()))?;
        Self::from_der(&der)
    }

    /// The certificate's DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate as PEM text.
    pub fn to_pem(&self) -> Result<String> {
        Certificate::from_der(&self.der)
            .and_then(|c| c.to_pem(LineEnding::LF))
            .map_err(|e| Error::Encoding(e.to_string()))
    }

    /// Key identifier (first 8 bytes of SHA-256 of the DER).
    pub fn kid(&self) -> [u8; KID_LEN] {
        self.kid
    }

    /// Key identifier as lower-case hex.
    pub fn kid_hex(&self) -> String {
        hex::encode(self.kid)
    }

    /// Key identifier as standard base64 (the form used by the EU gateway).
    pub fn kid_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.kid)
    }

    /// The certificate's public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// Subject distinguished name (RFC 4514 string).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Start of the certificate's validity period.
    pub fn not_before(&self) -> Option<DateTime<Utc>> {
        self.not_before
    }

    /// End of the certificate's validity period.
    pub fn not_after(&self) -> Option<DateTime<Utc>> {
        self.not_after
    }

    /// All extended key usage OIDs of the certificate (dotted strings).
    pub fn extended_key_usage(&self) -> &[String] {
        &self.extended_key_usage
    }

    /// Whether this certificate may sign a DCC of type `t`: a certificate without any EU
    /// key-usage OID may sign every type; one with EU OIDs must carry the OID for `t`.
    pub fn allows(&self, t: CertificateType) -> bool {
        let has_eu = self
            .extended_key_usage
            .iter()
            .any(|o| is_eu_key_usage_oid(o));
        !has_eu
            || key_usage_oids(t)
                .iter()
                .any(|oid| self.extended_key_usage.iter().any(|o| o == oid))
    }
}

/// Parameters for [`Signer::generate_self_signed`].
#[derive(Debug, Clone)]
pub struct SelfSignedParams {
    /// Subject common name, e.g. `phongdich DSC test`.
    pub common_name: String,
    /// Subject country (ISO 3166 alpha-2), e.g. `VN`.
    pub country: String,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
    /// EU key usages to put into the extended key usage extension; empty = no extension
    /// (the certificate may then sign every type).
    pub key_usage: Vec<CertificateType>,
}

impl SelfSignedParams {
    /// A Vietnamese test DSC valid from `now` for `days` days, without key-usage restrictions.
    pub fn test(now: DateTime<Utc>, days: i64) -> Self {
        SelfSignedParams {
            common_name: "phongdich test DSC".to_string(),
            country: "VN".to_string(),
            not_before: now,
            not_after: now + chrono::Duration::days(days),
            key_usage: Vec::new(),
        }
    }
}

/// An ES256 signer: a P-256 private key and the DER of the document-signer certificate for it.
#[derive(Clone)]
pub struct Signer {
    key: SigningKey,
    certificate: DscCertificate,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.certificate.kid_hex())
            .field("subject", &self.certificate.subject())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Combine a private key and its certificate (DER). Fails with [`Error::KeyMismatch`] if the
    /// certificate's public key is not the key's.
    pub fn new(key: SigningKey, certificate_der: &[u8]) -> Result<Self> {
        let certificate = DscCertificate::from_der(certificate_der)?;
        match certificate.public_key() {
            PublicKey::P256(vk) if vk == key.verifying_key() => Ok(Signer { key, certificate }),
            _ => Err(Error::KeyMismatch),
        }
    }

    /// Load a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`) and a PEM certificate.
    pub fn from_pem(private_key_pem: &str, certificate_pem: &str) -> Result<Self> {
        let key = SigningKey::from_pkcs8_pem(private_key_pem)
            .map_err(|e| Error::BadCertificate(format!("private key: {e}")))?;
        let cert = DscCertificate::from_pem(certificate_pem)?;
        Self::new(key, cert.der())
    }

    /// Generate a fresh P-256 key and a self-signed certificate for it.
    pub fn generate_self_signed(params: &SelfSignedParams) -> Result<Self> {
        let key = SigningKey::random(&mut rand_core::OsRng);
        let build_err = |e: &dyn std::fmt::Display| Error::Encoding(format!("certificate: {e}"));
        let subject: Name = format!("CN={},C={}", params.common_name, params.country)
            .parse()
            .map_err(|e| Error::InvalidInput(format!("subject: {e}")))?;
        let mut serial = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut serial);
        serial[0] &= 0x7f; // positive
        serial[0] |= 0x01; // no leading zero byte
        let serial = SerialNumber::new(&serial).map_err(|e| build_err(&e))?;
        let validity = Validity {
            not_before: Time::try_from(SystemTime::from(params.not_before))
                .map_err(|e| build_err(&e))?,
            not_after: Time::try_from(SystemTime::from(params.not_after))
                .map_err(|e| build_err(&e))?,
        };
        let spki =
            SubjectPublicKeyInfoOwned::from_key(*key.verifying_key()).map_err(|e| build_err(&e))?;
        let profile = Profile::Leaf {
            issuer: subject.clone(),
            enable_key_agreement: false,
            enable_key_encipherment: false,
        };
        let mut builder = CertificateBuilder::new(profile, serial, validity, subject, spki, &key)
            .map_err(|e| build_err(&e))?;
        if !params.key_usage.is_empty() {
            let oids = params
                .key_usage
                .iter()
                .map(|t| key_usage_oids(*t)[0].parse())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| build_err(&e))?;
            builder
                .add_extension(&ExtendedKeyUsage(oids))
                .map_err(|e| build_err(&e))?;
        }
        let cert = builder
            .build::<p256::ecdsa::DerSignature>()
            .map_err(|e| build_err(&e))?;
        let der = cert.to_der().map_err(|e| build_err(&e))?;
        Self::new(key, &der)
    }

    /// The signer's certificate.
    pub fn certificate(&self) -> &DscCertificate {
        &self.certificate
    }

    /// Key identifier written into the COSE protected header.
    pub fn kid(&self) -> [u8; KID_LEN] {
        self.certificate.kid()
    }

    /// The private key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The private key as PKCS#8 PEM (keep it secret).
    pub fn private_key_pem(&self) -> Result<String> {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map(|s| s.to_string())
            .map_err(|e| Error::Encoding(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_roundtrip_and_key_usage() {
        let now = Utc::now();
        let mut params = SelfSignedParams::test(now, 30);
        params.key_usage = vec![CertificateType::Vaccination];
        let signer = Signer::generate_self_signed(&params).unwrap();
        let cert = signer.certificate();
        assert_eq!(cert.kid(), kid_for_certificate(cert.der()));
        assert_eq!(cert.kid_hex().len(), 16);
        assert!(cert.subject().contains("CN=phongdich test DSC"));
        assert_eq!(cert.extended_key_usage(), [OID_VACCINATION.to_string()]);
        assert!(cert.allows(CertificateType::Vaccination));
        assert!(!cert.allows(CertificateType::Test));
        assert!(cert.not_before().unwrap() <= now && cert.not_after().unwrap() > now);

        // PEM round trip of key and certificate.
        let again =
            Signer::from_pem(&signer.private_key_pem().unwrap(), &cert.to_pem().unwrap()).unwrap();
        assert_eq!(again.kid(), signer.kid());

        // A different key does not match the certificate.
        let other = SigningKey::random(&mut rand_core::OsRng);
        assert!(matches!(
            Signer::new(other, cert.der()),
            Err(Error::KeyMismatch)
        ));
    }

    #[test]
    fn unrestricted_certificate_allows_everything() {
        let signer = Signer::generate_self_signed(&SelfSignedParams::test(Utc::now(), 1)).unwrap();
        let cert = signer.certificate();
        assert!(cert.extended_key_usage().is_empty());
        for t in [
            CertificateType::Vaccination,
            CertificateType::Test,
            CertificateType::Recovery,
        ] {
            assert!(cert.allows(t));
        }
        let b64 = base64::engine::general_purpose::STANDARD.encode(cert.der());
        assert_eq!(DscCertificate::from_base64(&b64).unwrap().kid(), cert.kid());
        assert!(DscCertificate::from_base64("not a certificate").is_err());
    }
}
