//! EU Digital COVID Certificate (HCERT) support for phongdich.
//!
//! The crate turns a vaccination record into a signed, QR-ready health certificate and checks
//! certificates presented to it, following the eHealth Network HCERT specification and the
//! DCC JSON schema 1.3.0:
//!
//! ```text
//! DCC JSON ─▶ CBOR ─▶ CWT claims {1: iss, 6: iat, 4: exp, -260: {1: DCC}}
//!          ─▶ COSE_Sign1 (ES256, kid = SHA-256(DSC DER)[..8]) ─▶ zlib ─▶ Base45 ─▶ "HC1:…" ─▶ QR
//! ```
//!
//! Modules:
//! * [`dcc`] — serde types of the payload and a light schema validator;
//! * [`translit`] — ICAO 9303 transliteration of (Vietnamese) names for `fnt`/`gnt`;
//! * [`uvci`] — unique certificate identifiers with the Luhn mod N check character;
//! * [`keys`] — document-signer certificates, key identifiers and the ES256 [`Signer`];
//! * [`hcert`] — encode, decode and verify `HC1:` texts;
//! * [`qr`] — QR code rendering (PNG, SVG) and reading QR images.
//!
//! ```
//! use certs::{dcc, hcert, keys, translit, uvci};
//! use chrono::{Duration, Utc};
//!
//! let now = Utc::now();
//! let signer = keys::Signer::generate_self_signed(&keys::SelfSignedParams::test(now, 30))?;
//! let record = dcc::Dcc::vaccination(
//!     translit::vietnamese_person_name("Nguyễn Thị Ánh Tuyết"),
//!     "1990-04-12",
//!     dcc::Vaccination {
//!         tg: dcc::DISEASE_COVID19.into(), vp: "J07BX03".into(), mp: "EU/1/20/1528".into(),
//!         ma: "ORG-100030215".into(), dn: 2, sd: 2, dt: "2021-09-01".into(), co: "VN".into(),
//!         is_: "Bộ Y tế".into(), ci: uvci::vietnam("0A1B2C3D")?,
//!     },
//! );
//! let payload = hcert::CwtPayload::new("VN", now, now + Duration::days(365), &record);
//! let text = hcert::encode(&payload, &signer)?;
//! let result = hcert::verify_text(&text, signer.certificate(), now);
//! assert!(result.valid, "{:?}", result.reasons);
//! # Ok::<(), certs::Error>(())
//! ```

pub mod dcc;
mod error;
pub mod hcert;
pub mod keys;
pub mod qr;
pub mod translit;
pub mod uvci;

pub use error::{Error, Result};
pub use hcert::{CwtPayload, Decoded, Verification, decode, encode, verify};
pub use keys::{DscCertificate, Signer};
