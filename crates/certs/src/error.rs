//! Error type of the crate and its machine-readable reason codes.

use thiserror::Error;

/// Everything that can go wrong while building, encoding, decoding or reading a certificate.
///
/// Every variant maps to a stable, machine-readable reason code (see [`Error::reason_code`]); the
/// same codes appear in [`crate::hcert::Verification::reasons`], so API clients can switch on them.
#[derive(Debug, Error)]
pub enum Error {
    /// The text does not start with the `HC1:` context identifier.
    #[error("missing or unsupported context prefix (expected \"HC1:\")")]
    BadPrefix,
    /// The Base45 text contains characters outside the alphabet or a group that is out of range.
    #[error("invalid Base45 text: {0}")]
    BadBase45(String),
    /// The decoded bytes do not start with a zlib header (the spec requires compression).
    #[error("payload is not zlib-compressed")]
    NotCompressed,
    /// A zlib header is present but the stream could not be inflated.
    #[error("zlib stream is corrupt: {0}")]
    BadCompression(String),
    /// The inflated bytes are not a COSE_Sign1 structure.
    #[error("not a valid COSE_Sign1 structure: {0}")]
    BadCose(String),
    /// The COSE payload is not a CWT claims map, or a claim has the wrong type.
    #[error("invalid CWT claims: {0}")]
    BadCwt(String),
    /// The CWT has no health certificate claim (-260 → 1).
    #[error("CWT has no health certificate claim (-260/1)")]
    MissingDcc,
    /// The signature algorithm is not ES256 or PS256, or does not fit the key.
    #[error("unsupported or mismatched signature algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// A certificate or key could not be parsed.
    #[error("invalid certificate or key: {0}")]
    BadCertificate(String),
    /// The private key does not belong to the certificate given with it.
    #[error("the private key does not match the certificate's public key")]
    KeyMismatch,
    /// Encoding a value to CBOR/COSE failed.
    #[error("encoding failed: {0}")]
    Encoding(String),
    /// Invalid input to a builder (name, UVCI, dates …).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// QR code generation failed (for example the text is too long).
    #[error("QR code generation failed: {0}")]
    QrEncode(String),
    /// The image could not be read or contains no readable QR code.
    #[error("QR code could not be read: {0}")]
    QrDecode(String),
}

impl Error {
    /// Stable machine-readable reason code, e.g. `bad_prefix`, `bad_base45`, `not_compressed`.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Error::BadPrefix => "bad_prefix",
            Error::BadBase45(_) => "bad_base45",
            Error::NotCompressed => "not_compressed",
            Error::BadCompression(_) => "bad_compression",
            Error::BadCose(_) => "bad_cose",
            Error::BadCwt(_) => "bad_cwt",
            Error::MissingDcc => "missing_dcc",
            Error::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            Error::BadCertificate(_) => "bad_certificate",
            Error::KeyMismatch => "key_mismatch",
            Error::Encoding(_) => "encoding",
            Error::InvalidInput(_) => "invalid_input",
            Error::QrEncode(_) => "qr_encode",
            Error::QrDecode(_) => "qr_decode",
        }
    }
}

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
