//! `passport` — vaccination certificates ("hộ chiếu vắc xin", Decision 5772/QĐ-BYT) issued from
//! the registry, on top of the pure HCERT crate `certs`:
//!
//! - [`sealing`]: private keys sealed at rest (Argon2id + AES-256-GCM, passphrase from
//!   `PHONGDICH_CERT_PASSPHRASE`);
//! - [`hierarchy`]: CSCA → document signer certificates, creation and rotation (`cert keygen`),
//!   the current signer;
//! - [`issuing`]: the DCC built from a person's linked doses (primary series complete, latest
//!   dose numbered in the series), request → site approval → province signature, or all at once;
//!   12-month validity; a newer certificate supersedes the older;
//! - [`verifying`]: verification against the trust list (or one signer certificate) with
//!   revocations, and the trust-list exchange format;
//! - [`pdf`]: the printable certificate (Vietnamese and English, fields of Decision 5772, QR).

pub mod hierarchy;
pub mod issuing;
pub mod pdf;
pub mod sealing;
pub mod verifying;

pub use sealing::Passphrase;
pub use verifying::VerifyResult;
