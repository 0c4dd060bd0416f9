//! The HCERT transport: DCC JSON → CBOR → CWT → COSE_Sign1 → zlib → Base45 → `HC1:` text,
//! and back, with signature, validity-period, key-usage and schema verification.
//!
//! # Encoding
//! [`encode`] takes a [`CwtPayload`] (issuer country, issued-at, expiry, DCC JSON) and a
//! [`Signer`]; it builds the CWT claims map (`1` iss, `4` exp, `6` iat, `-260` → `{1: DCC}`),
//! signs it as a tagged COSE_Sign1 with ES256 and the signer's `kid` in the protected header,
//! compresses it with zlib, encodes it in Base45 and prepends `HC1:`.
//!
//! # Decoding
//! [`decode`] reverses the chain and returns a [`Decoded`] (or an [`Error`] whose
//! [`Error::reason_code`] tells which step failed). Each step is also available on its own
//! ([`strip_prefix`], [`base45_decode`], [`inflate`], [`decode_cose`]). What the real world
//! produced is tolerated: `kid` in the unprotected header, missing COSE tag 18, a CWT tag 61
//! wrapper, floating-point or tagged timestamps, any valid zlib header. What the specification
//! forbids is rejected: a missing `HC1:` prefix, uncompressed payloads, invalid Base45.
//!
//! # Verifying
//! [`verify`] checks a [`Decoded`] against a [`DscCertificate`] at a given time and returns a
//! [`Verification`] with one flag per check and machine-readable `reasons`. [`verify_text`]
//! does decode + verify in one go, [`verify_with_trust_list`] picks the certificate by `kid`.
//!
//! Reason codes: `bad_prefix`, `bad_base45`, `not_compressed`, `bad_compression`, `bad_cose`,
//! `bad_cwt`, `missing_dcc`, `kid_mismatch`, `unknown_kid`, `unsupported_algorithm`,
//! `signature_invalid`, `expired`, `not_yet_valid`, `missing_exp`, `key_usage`, `schema`.

use std::io::{Read, Write};

use chrono::{DateTime, Utc};
use ciborium::Value as Cbor;
use coset::{CoseSign1, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable, iana};
use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use serde::Serialize;
use serde_json::Value;

use crate::dcc::{self, CertificateType, Dcc};
use crate::error::{Error, Result};
use crate::keys::{DscCertificate, PublicKey, Signer};

/// The context identifier of version 1 health certificates.
pub const PREFIX: &str = "HC1:";
/// COSE algorithm identifier of ES256 (ECDSA P-256 with SHA-256).
pub const ALG_ES256: i64 = -7;
/// COSE algorithm identifier of PS256 (RSASSA-PSS with SHA-256).
pub const ALG_PS256: i64 = -37;
/// CWT claim key of the issuer (country code).
pub const CLAIM_ISS: i64 = 1;
/// CWT claim key of the expiry time.
pub const CLAIM_EXP: i64 = 4;
/// CWT claim key of the issued-at time.
pub const CLAIM_IAT: i64 = 6;
/// CWT claim key of the health-certificate container.
pub const CLAIM_HCERT: i64 = -260;
/// Key of the EU DCC inside the health-certificate container.
pub const HCERT_DCC_V1: i64 = 1;

const TAG_COSE_SIGN1: u64 = 18;
const TAG_CWT: u64 = 61;

/// What gets signed: the CWT claims of one health certificate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CwtPayload {
    /// Issuing country (ISO 3166 alpha-2), claim `1`.
    pub issuer: String,
    /// Issued-at time, claim `6` (whole seconds are encoded).
    pub issued_at: DateTime<Utc>,
    /// Expiry time, claim `4` (whole seconds are encoded).
    pub expires_at: DateTime<Utc>,
    /// The DCC payload as JSON (claim `-260` → `1`).
    pub dcc: Value,
}

impl CwtPayload {
    /// A payload for a typed DCC.
    pub fn new(
        issuer: impl Into<String>,
        issued_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        dcc: &Dcc,
    ) -> Self {
        CwtPayload {
            issuer: issuer.into(),
            issued_at,
            expires_at,
            dcc: dcc.to_json(),
        }
    }

    /// The CWT claims map as CBOR bytes.
    pub fn to_cbor(&self) -> Result<Vec<u8>> {
        let dcc = json_to_cbor(&self.dcc)?;
        let claims = Cbor::Map(vec![
            (Cbor::from(CLAIM_ISS), Cbor::Text(self.issuer.clone())),
            (
                Cbor::from(CLAIM_EXP),
                Cbor::from(self.expires_at.timestamp()),
            ),
            (
                Cbor::from(CLAIM_IAT),
                Cbor::from(self.issued_at.timestamp()),
            ),
            (
                Cbor::from(CLAIM_HCERT),
                Cbor::Map(vec![(Cbor::from(HCERT_DCC_V1), dcc)]),
            ),
        ]);
        let mut out = Vec::new();
        ciborium::into_writer(&claims, &mut out).map_err(|e| Error::Encoding(e.to_string()))?;
        Ok(out)
    }
}

/// Convert a JSON value to a CBOR value (integers stay integers).
pub fn json_to_cbor(value: &Value) -> Result<Cbor> {
    Cbor::serialized(value).map_err(|e| Error::Encoding(e.to_string()))
}

/// Convert a CBOR value to JSON: tags are dropped, byte strings become base64 text, non-text
/// map keys are written as their JSON text.
pub fn cbor_to_json(value: &Cbor) -> Value {
    use base64::Engine as _;
    match value {
        Cbor::Integer(i) => {
            let i = i128::from(*i);
            if let Ok(v) = i64::try_from(i) {
                Value::from(v)
            } else if let Ok(v) = u64::try_from(i) {
                Value::from(v)
            } else {
                Value::from(i as f64)
            }
        }
        Cbor::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Cbor::Text(s) => Value::String(s.clone()),
        Cbor::Bytes(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Cbor::Bool(b) => Value::Bool(*b),
        Cbor::Null => Value::Null,
        Cbor::Tag(_, inner) => cbor_to_json(inner),
        Cbor::Array(a) => Value::Array(a.iter().map(cbor_to_json).collect()),
        Cbor::Map(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Cbor::Text(s) => s.clone(),
                        other => cbor_to_json(other).to_string(),
                    };
                    (key, cbor_to_json(v))
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// Sign a payload: the tagged COSE_Sign1 bytes (ES256, `kid` in the protected header).
pub fn sign_cose(payload: &CwtPayload, signer: &Signer) -> Result<Vec<u8>> {
    let protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::ES256)
        .key_id(signer.kid().to_vec())
        .build();
    let sign1 = CoseSign1Builder::new()
        .protected(protected)
        .payload(payload.to_cbor()?)
        .create_signature(b"", |tbs| {
            let sig: p256::ecdsa::Signature = signer.signing_key().sign(tbs);
            sig.to_bytes().to_vec()
        })
        .build();
    sign1
        .to_tagged_vec()
        .map_err(|e| Error::Encoding(e.to_string()))
}

/// Compress, Base45-encode and prefix COSE bytes: the transport half of [`encode`].
pub fn wrap(cose: &[u8]) -> Result<String> {
    let mut enc = ZlibEncoder::new(Vec::new(), Compression::best());
    enc.write_all(cose)
        .map_err(|e| Error::Encoding(e.to_string()))?;
    let compressed = enc.finish().map_err(|e| Error::Encoding(e.to_string()))?;
    Ok(format!("{PREFIX}{}", base45::encode(compressed)))
}

/// Sign and encode a health certificate: returns the `HC1:…` text for the QR code.
pub fn encode(payload: &CwtPayload, signer: &Signer) -> Result<String> {
    wrap(&sign_cose(payload, signer)?)
}

/// Remove the `HC1:` prefix.
pub fn strip_prefix(text: &str) -> Result<&str> {
    text.strip_prefix(PREFIX).ok_or(Error::BadPrefix)
}

/// Decode Base45, rejecting characters outside the alphabet, groups above 65535, a dangling
/// single character and a trailing pair above 255.
pub fn base45_decode(text: &str) -> Result<Vec<u8>> {
    let bytes = text.as_bytes();
    if bytes.len() % 3 == 2 {
        let tail = &bytes[bytes.len() - 2..];
        if let (Some(a), Some(b)) = (
            base45::alphabet::decode(tail[0]),
            base45::alphabet::decode(tail[1]),
        ) && u32::from(a) + u32::from(b) * 45 > 255
        {
            return Err(Error::BadBase45(
                "final pair encodes a value above 255".into(),
            ));
        }
    }
    base45::decode(text).map_err(|e| Error::BadBase45(e.to_string()))
}

/// Whether `data` starts with a valid zlib header (deflate method, window ≤ 32 KiB, check bits).
pub fn has_zlib_header(data: &[u8]) -> bool {
    match data {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) * 256 + u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

/// Largest COSE message accepted after inflating. A QR code holds at most 4,296 alphanumeric
/// characters (under 3 KB once Base45-decoded), and real certificates inflate to well under
/// 10 KB; the cap stops a small "zip bomb" from taking memory.
pub const MAX_INFLATED_BYTES: u64 = 64 * 1024;

/// Inflate a zlib stream. Data without a zlib header is rejected with
/// [`Error::NotCompressed`]; the specification requires compression. Output larger than
/// [`MAX_INFLATED_BYTES`] is rejected as [`Error::BadCompression`].
pub fn inflate(data: &[u8]) -> Result<Vec<u8>> {
    if !has_zlib_header(data) {
        return Err(Error::NotCompressed);
    }
    let mut out = Vec::with_capacity(data.len() * 2);
    ZlibDecoder::new(data)
        .take(MAX_INFLATED_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::BadCompression(e.to_string()))?;
    if out.len() as u64 > MAX_INFLATED_BYTES {
        return Err(Error::BadCompression(format!(
            "inflates to more than {MAX_INFLATED_BYTES} bytes"
        )));
    }
    Ok(out)
}

/// A decoded (not yet verified) health certificate.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The COSE_Sign1 bytes (after inflating).
    pub cose: Vec<u8>,
    /// Signature algorithm from the protected header (or, tolerated, the unprotected one).
    pub algorithm: Option<i64>,
    /// `kid` from the protected header.
    pub protected_kid: Option<Vec<u8>>,
    /// `kid` from the unprotected header.
    pub unprotected_kid: Option<Vec<u8>>,
    /// Issuer claim (country).
    pub issuer: Option<String>,
    /// Issued-at claim.
    pub issued_at: Option<DateTime<Utc>>,
    /// Expiry claim.
    pub expires_at: Option<DateTime<Utc>>,
    /// The DCC payload as JSON.
    pub dcc: Value,
    sign1: CoseSign1,
}

impl Decoded {
    /// The effective key identifier: the protected one, else the unprotected one.
    pub fn kid(&self) -> Option<&[u8]> {
        self.protected_kid
            .as_deref()
            .or(self.unprotected_kid.as_deref())
    }

    /// The effective key identifier as lower-case hex.
    pub fn kid_hex(&self) -> Option<String> {
        self.kid().map(hex::encode)
    }

    /// The certificate types present in the payload.
    pub fn certificate_types(&self) -> Vec<CertificateType> {
        dcc::certificate_types(&self.dcc)
    }

    /// The payload as typed DCC (fails for payloads that do not fit the 1.3 types).
    pub fn typed_dcc(&self) -> Result<Dcc, serde_json::Error> {
        Dcc::from_json(&self.dcc)
    }

    /// The COSE `Sig_structure` that the signature covers.
    pub fn to_be_signed(&self) -> Vec<u8> {
        self.sign1.tbs_data(b"")
    }

    /// The raw signature bytes.
    pub fn signature(&self) -> &[u8] {
        &self.sign1.signature
    }
}

fn unwrap_tags(mut v: Cbor) -> Cbor {
    while let Cbor::Tag(_, inner) = v {
        v = *inner;
    }
    v
}

fn cbor_int(v: &Cbor) -> Option<i128> {
    match v {
        Cbor::Integer(i) => Some(i128::from(*i)),
        _ => None,
    }
}

fn timestamp(v: &Cbor, name: &str) -> Result<DateTime<Utc>> {
    let bad = || Error::BadCwt(format!("{name} is not a valid timestamp"));
    match unwrap_tags(v.clone()) {
        Cbor::Integer(i) => {
            let secs = i64::try_from(i128::from(i)).map_err(|_| bad())?;
            DateTime::from_timestamp(secs, 0).ok_or_else(bad)
        }
        Cbor::Float(f) if f.is_finite() => {
            let secs = f.floor();
            let nanos = ((f - secs) * 1e9).round().min(999_999_999.0) as u32;
            DateTime::from_timestamp(secs as i64, nanos).ok_or_else(bad)
        }
        _ => Err(bad()),
    }
}

/// Parse COSE_Sign1 bytes (tag 18 optional, CWT tag 61 tolerated) and the CWT claims inside.
pub fn decode_cose(cose: &[u8]) -> Result<Decoded> {
    let value: Cbor =
        ciborium::from_reader(cose).map_err(|e| Error::BadCose(format!("CBOR: {e}")))?;
    let mut value = value;
    while let Cbor::Tag(tag, inner) = value {
        if tag != TAG_COSE_SIGN1 && tag != TAG_CWT {
            return Err(Error::BadCose(format!("unexpected CBOR tag {tag}")));
        }
        value = *inner;
    }
    let sign1 = <CoseSign1 as coset::AsCborValue>::from_cbor_value(value)
        .map_err(|e| Error::BadCose(e.to_string()))?;
    let alg_of = |h: &coset::Header| match &h.alg {
        Some(coset::RegisteredLabelWithPrivate::Assigned(a)) => Some(*a as i64),
        Some(coset::RegisteredLabelWithPrivate::PrivateUse(i)) => Some(*i),
        _ => None,
    };
    let algorithm = alg_of(&sign1.protected.header).or_else(|| alg_of(&sign1.unprotected));
    let non_empty = |k: &Vec<u8>| (!k.is_empty()).then(|| k.clone());
    let protected_kid = non_empty(&sign1.protected.header.key_id);
    let unprotected_kid = non_empty(&sign1.unprotected.key_id);

    let payload = sign1
        .payload
        .as_deref()
        .ok_or_else(|| Error::BadCose("detached payload".into()))?;
    let claims: Cbor =
        ciborium::from_reader(payload).map_err(|e| Error::BadCwt(format!("CBOR: {e}")))?;
    let Cbor::Map(claims) = unwrap_tags(claims) else {
        return Err(Error::BadCwt("claims are not a map".into()));
    };
    let mut issuer = None;
    let mut issued_at = None;
    let mut expires_at = None;
    let mut dcc = None;
    for (k, v) in &claims {
        match cbor_int(k).and_then(|k| i64::try_from(k).ok()) {
            Some(CLAIM_ISS) => match v {
                Cbor::Text(s) => issuer = Some(s.clone()),
                _ => return Err(Error::BadCwt("iss is not a text string".into())),
            },
            Some(CLAIM_IAT) => issued_at = Some(timestamp(v, "iat")?),
            Some(CLAIM_EXP) => expires_at = Some(timestamp(v, "exp")?),
            Some(CLAIM_HCERT) => {
                let Cbor::Map(hcert) = unwrap_tags(v.clone()) else {
                    return Err(Error::BadCwt("hcert claim is not a map".into()));
                };
                dcc = hcert
                    .iter()
                    .find(|(k, _)| cbor_int(k) == Some(i128::from(HCERT_DCC_V1)))
                    .map(|(_, v)| cbor_to_json(v));
            }
            _ => {}
        }
    }
    let dcc = dcc.ok_or(Error::MissingDcc)?;
    if !dcc.is_object() {
        return Err(Error::BadCwt("DCC is not a map".into()));
    }
    Ok(Decoded {
        cose: cose.to_vec(),
        algorithm,
        protected_kid,
        unprotected_kid,
        issuer,
        issued_at,
        expires_at,
        dcc,
        sign1,
    })
}

/// Decode an `HC1:` text: prefix, Base45, zlib, COSE_Sign1, CWT, DCC.
pub fn decode(text: &str) -> Result<Decoded> {
    let b45 = strip_prefix(text)?;
    let compressed = base45_decode(b45)?;
    let cose = inflate(&compressed)?;
    decode_cose(&cose)
}

/// Result of verifying a health certificate. All flags are independent; `valid` is true only
/// when everything passed. Serialisable for API responses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    /// The text could be decoded down to the DCC.
    pub decoded: bool,
    /// The signature verifies with the certificate's key, and the `kid` (if any) names that
    /// certificate.
    pub signature_valid: bool,
    /// The verification time is after the expiry claim.
    pub expired: bool,
    /// The verification time is before the issued-at claim.
    pub not_yet_valid: bool,
    /// The DSC's extended key usage allows the certificate type(s) of the payload.
    pub key_usage_ok: bool,
    /// The payload passes [`dcc::validate`].
    pub schema_valid: bool,
    /// All checks passed (and an expiry claim is present).
    pub valid: bool,
    /// Effective key identifier (hex), if the COSE header carries one.
    pub kid: Option<String>,
    /// Issuer claim.
    pub issuer: Option<String>,
    /// Issued-at claim.
    pub issued_at: Option<DateTime<Utc>>,
    /// Expiry claim.
    pub expires_at: Option<DateTime<Utc>>,
    /// Certificate types in the payload.
    pub certificate_types: Vec<CertificateType>,
    /// The DCC payload, if decoded.
    pub payload: Option<Value>,
    /// Machine-readable reason codes of everything that failed (empty when valid).
    pub reasons: Vec<String>,
    /// Human-readable explanations, in the same order as `reasons`.
    pub messages: Vec<String>,
}

impl Verification {
    /// A verification that failed at decoding.
    pub fn decode_failed(err: &Error) -> Self {
        Verification {
            decoded: false,
            signature_valid: false,
            expired: false,
            not_yet_valid: false,
            key_usage_ok: false,
            schema_valid: false,
            valid: false,
            kid: None,
            issuer: None,
            issued_at: None,
            expires_at: None,
            certificate_types: Vec::new(),
            payload: None,
            reasons: vec![err.reason_code().to_string()],
            messages: vec![err.to_string()],
        }
    }

    fn fail(&mut self, code: &str, message: impl Into<String>) {
        self.reasons.push(code.to_string());
        self.messages.push(message.into());
    }
}

fn verify_signature(
    decoded: &Decoded,
    key: &PublicKey,
) -> std::result::Result<(), (&'static str, String)> {
    let tbs = decoded.to_be_signed();
    let sig = decoded.signature();
    let invalid = |e: &dyn std::fmt::Display| {
        (
            "signature_invalid",
            format!("signature does not verify: {e}"),
        )
    };
    match (decoded.algorithm, key) {
        (Some(ALG_ES256) | None, PublicKey::P256(vk)) => {
            let signature = if sig.len() == 64 {
                p256::ecdsa::Signature::from_slice(sig).map_err(|e| invalid(&e))?
            } else {
                // Tolerated: DER-encoded ECDSA signature instead of the COSE r||s form.
                p256::ecdsa::Signature::from_der(sig).map_err(|e| invalid(&e))?
            };
            vk.verify(&tbs, &signature).map_err(|e| invalid(&e))
        }
        (Some(ALG_PS256) | None, PublicKey::Rsa(rk)) => {
            let signature = rsa::pss::Signature::try_from(sig).map_err(|e| invalid(&e))?;
            let vk = rsa::pss::VerifyingKey::<sha2::Sha256>::new(rk.clone());
            vk.verify(&tbs, &signature).map_err(|e| invalid(&e))
        }
        (alg, key) => Err((
            "unsupported_algorithm",
            format!(
                "algorithm {alg:?} cannot be verified with a {} key (HCERT allows ES256 with P-256 and PS256 with RSA)",
                key.describe()
            ),
        )),
    }
}

impl Verification {
    /// A verification of a decoded certificate with no check done yet (all flags false).
    fn for_decoded(decoded: &Decoded) -> Self {
        Verification {
            decoded: true,
            signature_valid: false,
            expired: false,
            not_yet_valid: false,
            key_usage_ok: false,
            schema_valid: false,
            valid: false,
            kid: decoded.kid_hex(),
            issuer: decoded.issuer.clone(),
            issued_at: decoded.issued_at,
            expires_at: decoded.expires_at,
            certificate_types: decoded.certificate_types(),
            payload: Some(decoded.dcc.clone()),
            reasons: Vec::new(),
            messages: Vec::new(),
        }
    }
}

/// Verify a decoded certificate against a document-signer certificate at time `at`.
pub fn verify(decoded: &Decoded, certificate: &DscCertificate, at: DateTime<Utc>) -> Verification {
    let mut v = Verification::for_decoded(decoded);

    // Signature (and the kid naming this certificate).
    match decoded.kid() {
        Some(kid) if kid != certificate.kid() => v.fail(
            "kid_mismatch",
            format!(
                "kid {} does not identify the certificate (kid {})",
                hex::encode(kid),
                certificate.kid_hex()
            ),
        ),
        _ => match verify_signature(decoded, certificate.public_key()) {
            Ok(()) => v.signature_valid = true,
            Err((code, msg)) => v.fail(code, msg),
        },
    }

    // Validity period.
    match decoded.expires_at {
        Some(exp) if at > exp => {
            v.expired = true;
            v.fail("expired", format!("expired at {exp}"));
        }
        Some(_) => {}
        None => v.fail("missing_exp", "the CWT has no expiry claim"),
    }
    if let Some(iat) = decoded.issued_at
        && at < iat
    {
        v.not_yet_valid = true;
        v.fail(
            "not_yet_valid",
            format!("issued at {iat}, after the verification time"),
        );
    }

    // Extended key usage of the DSC.
    let denied: Vec<_> = v
        .certificate_types
        .iter()
        .filter(|t| !certificate.allows(**t))
        .collect();
    if denied.is_empty() {
        v.key_usage_ok = true;
    } else {
        v.fail(
            "key_usage",
            format!("the signing certificate may not sign {denied:?} certificates"),
        );
    }

    // Schema.
    let violations = dcc::validate(&decoded.dcc);
    if violations.is_empty() {
        v.schema_valid = true;
    } else {
        let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
        v.fail("schema", format!("schema violations: {}", list.join("; ")));
    }

    v.valid = v.reasons.is_empty();
    v
}

/// Decode and verify an `HC1:` text in one call; decoding failures give `decoded: false` and
/// the failing step's reason code.
pub fn verify_text(text: &str, certificate: &DscCertificate, at: DateTime<Utc>) -> Verification {
    match decode(text) {
        Ok(d) => verify(&d, certificate, at),
        Err(e) => Verification::decode_failed(&e),
    }
}

/// Verify against a trust list: the certificate whose `kid` matches is used. Without a `kid`
/// in the COSE headers every certificate is tried. No match gives reason `unknown_kid`.
pub fn verify_with_trust_list(
    decoded: &Decoded,
    trusted: &[DscCertificate],
    at: DateTime<Utc>,
) -> Verification {
    let candidates: Vec<&DscCertificate> = match decoded.kid() {
        Some(kid) => trusted.iter().filter(|c| c.kid() == kid).collect(),
        None => trusted.iter().collect(),
    };
    let mut last = None;
    for cert in candidates {
        let v = verify(decoded, cert, at);
        if v.signature_valid {
            return v;
        }
        last = Some(v);
    }
    last.unwrap_or_else(|| {
        let mut v = Verification::for_decoded(decoded);
        v.fail("unknown_kid", "no trusted certificate matches the kid");
        v
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zip_bomb_is_refused_before_it_takes_memory() {
        use flate2::write::ZlibEncoder;
        use std::io::Write;
        let mut enc = ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 10 * 1024 * 1024]).unwrap();
        let bomb = enc.finish().unwrap();
        assert!(bomb.len() < 20_000, "{} bytes compressed", bomb.len());
        let err = inflate(&bomb).unwrap_err();
        assert_eq!(err.reason_code(), "bad_compression");
        let mut enc = ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&[7u8; 5_000]).unwrap();
        assert_eq!(inflate(&enc.finish().unwrap()).unwrap(), vec![7u8; 5_000]);
    }
    use crate::dcc::Vaccination;
    use crate::keys::SelfSignedParams;
    use crate::translit::vietnamese_person_name;
    use chrono::{Duration, TimeZone};
    use coset::CborSerializable;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0).unwrap()
    }

    fn signer(key_usage: Vec<CertificateType>) -> Signer {
        let mut p = SelfSignedParams::test(now() - Duration::days(10), 365);
        p.key_usage = key_usage;
        Signer::generate_self_signed(&p).unwrap()
    }

    fn payload() -> CwtPayload {
        let dcc = Dcc::vaccination(
            vietnamese_person_name("Nguyễn Thị Ánh Tuyết"),
            "1990-04-12",
            Vaccination {
                tg: dcc::DISEASE_COVID19.into(),
                vp: "J07BX03".into(),
                mp: "EU/1/20/1528".into(),
                ma: "ORG-100030215".into(),
                dn: 2,
                sd: 2,
                dt: "2021-09-01".into(),
                co: "VN".into(),
                is_: "Bộ Y tế".into(),
                ci: crate::uvci::vietnam("00000001").unwrap(),
            },
        );
        CwtPayload::new("VN", now(), now() + Duration::days(365), &dcc)
    }

    #[test]
    fn round_trip_verifies() {
        let s = signer(vec![CertificateType::Vaccination]);
        let p = payload();
        let text = encode(&p, &s).unwrap();
        assert!(text.starts_with("HC1:"));
        let d = decode(&text).unwrap();
        assert_eq!(d.dcc, p.dcc);
        assert_eq!(d.issuer.as_deref(), Some("VN"));
        assert_eq!(d.issued_at, Some(now()));
        assert_eq!(d.algorithm, Some(ALG_ES256));
        assert_eq!(d.protected_kid.as_deref(), Some(&s.kid()[..]));
        assert_eq!(
            d.typed_dcc().unwrap().nam.gnt.as_deref(),
            Some("THI<ANH<TUYET")
        );
        let v = verify(&d, s.certificate(), now() + Duration::hours(1));
        assert!(v.valid, "{:?}", v.reasons);
        assert!(v.signature_valid && v.key_usage_ok && v.schema_valid && !v.expired);
        assert_eq!(v.kid, Some(s.certificate().kid_hex()));
        assert_eq!(v.payload.as_ref(), Some(&p.dcc));
        assert!(v.reasons.is_empty());
        let again = verify_text(&text, s.certificate(), now());
        assert!(again.valid);
        let listed = verify_with_trust_list(
            &d,
            &[
                signer(vec![]).certificate().clone(),
                s.certificate().clone(),
            ],
            now(),
        );
        assert!(listed.valid);
    }

    #[test]
    fn tampered_payload_fails_signature() {
        let s = signer(vec![]);
        let cose = sign_cose(&payload(), &s).unwrap();
        // Flip one byte inside the DCC (the name "NGUYEN" → "NGUYEM").
        let pos = cose.windows(6).position(|w| w == b"NGUYEN").unwrap();
        let mut tampered = cose.clone();
        tampered[pos + 5] = b'M';
        let d = decode(&wrap(&tampered).unwrap()).unwrap();
        assert_eq!(d.dcc["nam"]["fnt"], "NGUYEM");
        let v = verify(&d, s.certificate(), now());
        assert!(!v.signature_valid && !v.valid);
        assert_eq!(v.reasons, vec!["signature_invalid"]);

        // Another signer's certificate: the kid does not match.
        let v = verify(&d, signer(vec![]).certificate(), now());
        assert_eq!(v.reasons, vec!["kid_mismatch"]);
        let v = verify_with_trust_list(&d, &[signer(vec![]).certificate().clone()], now());
        assert_eq!(v.reasons, vec!["unknown_kid"]);
    }

    #[test]
    fn algorithm_must_fit_the_key() {
        let s = signer(vec![]);
        let protected = HeaderBuilder::new()
            .algorithm(iana::Algorithm::PS256)
            .key_id(s.kid().to_vec())
            .build();
        let cose = CoseSign1Builder::new()
            .protected(protected)
            .payload(payload().to_cbor().unwrap())
            .create_signature(b"", |tbs| {
                let sig: p256::ecdsa::Signature = s.signing_key().sign(tbs);
                sig.to_bytes().to_vec()
            })
            .build()
            .to_tagged_vec()
            .unwrap();
        let d = decode(&wrap(&cose).unwrap()).unwrap();
        assert_eq!(d.algorithm, Some(ALG_PS256));
        let v = verify(&d, s.certificate(), now());
        assert!(!v.signature_valid && !v.valid);
        assert_eq!(v.reasons, vec!["unsupported_algorithm"]);
    }

    #[test]
    fn expiry_and_issue_time() {
        let s = signer(vec![]);
        let d = decode(&encode(&payload(), &s).unwrap()).unwrap();
        let later = verify(&d, s.certificate(), now() + Duration::days(366));
        assert!(later.expired && !later.valid && later.signature_valid);
        assert_eq!(later.reasons, vec!["expired"]);
        let earlier = verify(&d, s.certificate(), now() - Duration::seconds(1));
        assert!(earlier.not_yet_valid && !earlier.expired && !earlier.valid);
        assert_eq!(earlier.reasons, vec!["not_yet_valid"]);
    }

    #[test]
    fn key_usage_and_schema_failures() {
        let s = signer(vec![CertificateType::Test]);
        let d = decode(&encode(&payload(), &s).unwrap()).unwrap();
        let v = verify(&d, s.certificate(), now());
        assert!(v.signature_valid && !v.key_usage_ok && !v.valid);
        assert_eq!(v.reasons, vec!["key_usage"]);

        let s = signer(vec![]);
        let mut p = payload();
        p.dcc["v"][0]["dn"] = Value::from(0);
        let v = verify_text(&encode(&p, &s).unwrap(), s.certificate(), now());
        assert!(v.signature_valid && !v.schema_valid);
        assert_eq!(v.reasons, vec!["schema"]);
    }

    #[test]
    fn transport_errors_have_reasons() {
        let s = signer(vec![]);
        let text = encode(&payload(), &s).unwrap();
        let code = |t: &str| decode(t).unwrap_err().reason_code();
        assert_eq!(code(&text[4..]), "bad_prefix");
        assert_eq!(code(&text.replacen("HC1:", "HC2:", 1)), "bad_prefix");
        assert_eq!(code(&format!("{text}a")), "bad_base45");
        assert_eq!(code("HC1:GGW"), "bad_base45"); // 16+16*45+32*2025 = 65536 > 65535
        assert_eq!(code("HC1:::"), "bad_base45"); // trailing pair 2024 > 255
        assert_eq!(code("HC1:ABCD"), "bad_base45"); // dangling single character

        // Uncompressed COSE is rejected.
        let cose = sign_cose(&payload(), &s).unwrap();
        let raw = format!("HC1:{}", base45::encode(&cose));
        assert_eq!(code(&raw), "not_compressed");
        let v = verify_text(&raw, s.certificate(), now());
        assert!(!v.decoded && !v.valid);
        assert_eq!(v.reasons, vec!["not_compressed"]);

        // A zlib header followed by garbage.
        let broken = format!(
            "HC1:{}",
            base45::encode([0x78, 0xda, 0xff, 0xff, 0x00, 0x12])
        );
        assert_eq!(code(&broken), "bad_compression");

        // Compressed garbage that is not COSE.
        assert_eq!(code(&wrap(b"hello").unwrap()), "bad_cose");
    }

    #[test]
    fn tolerated_variants_decode() {
        let s = signer(vec![]);
        let cose = sign_cose(&payload(), &s).unwrap();
        // Untagged COSE_Sign1.
        let sign1 = CoseSign1::from_tagged_slice(&cose).unwrap();
        let untagged = sign1.clone().to_vec().unwrap();
        let d = decode(&wrap(&untagged).unwrap()).unwrap();
        assert!(verify(&d, s.certificate(), now()).valid);
        // CWT tag 61 around tag 18.
        let inner: Cbor = ciborium::from_reader(&cose[..]).unwrap();
        let mut cwt = Vec::new();
        ciborium::into_writer(&Cbor::Tag(61, Box::new(inner)), &mut cwt).unwrap();
        let d = decode(&wrap(&cwt).unwrap()).unwrap();
        assert!(verify(&d, s.certificate(), now()).valid);
        // Other zlib compression levels.
        let mut enc = ZlibEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(&cose).unwrap();
        let fast = enc.finish().unwrap();
        let d = decode(&format!("HC1:{}", base45::encode(fast))).unwrap();
        assert!(verify(&d, s.certificate(), now()).valid);
    }

    #[test]
    fn cbor_json_conversion() {
        let v = serde_json::json!({"a": [1, -2, 2.5, "x", true, null], "b": {"c": 18446744073709551615u64}});
        assert_eq!(cbor_to_json(&json_to_cbor(&v).unwrap()), v);
        assert_eq!(
            cbor_to_json(&Cbor::Bytes(vec![1, 2, 3])),
            Value::from("AQID")
        );
        assert_eq!(
            cbor_to_json(&Cbor::Tag(
                0,
                Box::new(Cbor::Text("2021-01-01T00:00:00Z".into()))
            )),
            Value::from("2021-01-01T00:00:00Z")
        );
        let f = timestamp(&Cbor::Float(1_620_000_000.5), "iat").unwrap();
        assert_eq!(f.timestamp(), 1_620_000_000);
        assert_eq!(f.timestamp_subsec_millis(), 500);
        assert!(timestamp(&Cbor::Text("x".into()), "iat").is_err());
    }
}
