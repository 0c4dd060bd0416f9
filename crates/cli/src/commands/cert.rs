//! `phongdich cert …`: vaccination certificates (EU DCC / HCERT, Decision 5772/QĐ-BYT).
//!
//! - `keygen`: creates the CSCA on first use and a new document signer (rotation; the old one
//!   stays trusted). Private keys are sealed with `PHONGDICH_CERT_PASSPHRASE`.
//! - `issue --national-id ID --out FILE.json [--png F] [--svg F]`: signs a certificate for the
//!   register person holding the citizen ID (primary series complete) and writes `{hc1, dsc,
//!   kid, uvci, expires_at}` (`dsc`: base64 DER of the signer certificate).
//! - `verify [--cert FILE | --trust FILE] [--at TIME] QR`: QR is the `HC1:` text, a file holding
//!   it, or a PNG/JPEG image of the QR code. Without `--cert`/`--trust` the database's trust list
//!   and revocations are used. Prints `{decoded, signature_valid, expired, key_usage_ok, revoked,
//!   valid, kid, payload, reasons, messages}`; exits 0 only when valid.
//! - `trust-export --out FILE`, `trust-import FILE [--source NAME]`: the trust list as a JSON
//!   object kid → certificate DER (base64).
//! - `revoke --uvci ID --reason TEXT`: adds a certificate id to the revocation list.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use passport::{Passphrase, hierarchy, issuing, verifying};

use super::DatabaseArg;
use crate::config::FileConfig;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create the signing hierarchy (CSCA on first use) and a new document signer.
    Keygen(KeygenArgs),
    /// Sign a certificate for the person holding a citizen ID.
    Issue(IssueArgs),
    /// Verify a certificate (HC1 text, a file holding it, or a QR image).
    Verify(VerifyArgs),
    /// Write the trust list (kid → signer certificate) as JSON.
    TrustExport(TrustExportArgs),
    /// Add the signer certificates of a trust list JSON file (e.g. another country's).
    TrustImport(TrustImportArgs),
    /// Revoke a certificate id (UVCI).
    Revoke(RevokeArgs),
}

#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    #[command(flatten)]
    pub db: DatabaseArg,
}

#[derive(Debug, clap::Args)]
pub struct IssueArgs {
    #[command(flatten)]
    pub db: DatabaseArg,
    /// The person's 12-digit citizen ID (CCCD).
    #[arg(long)]
    pub national_id: String,
    /// Where to write `{hc1, dsc, kid, uvci, expires_at}`.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the QR code as PNG.
    #[arg(long)]
    pub png: Option<PathBuf>,
    /// Also write the QR code as SVG.
    #[arg(long)]
    pub svg: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub db: DatabaseArg,
    /// The signer certificate (DER, PEM or base64 DER).
    #[arg(long, conflicts_with = "trust")]
    pub cert: Option<PathBuf>,
    /// A trust list JSON (kid → base64 DER).
    #[arg(long)]
    pub trust: Option<PathBuf>,
    /// Time of the check: RFC 3339 (`2021-06-01T10:00:00Z`), `YYYY-MM-DDTHH:MM:SS[.fff]`
    /// (UTC) or `YYYY-MM-DD`; default now.
    #[arg(long)]
    pub at: Option<String>,
    /// `HC1:…`, a file holding it, or a PNG/JPEG image of the QR code.
    pub qr: String,
}

#[derive(Debug, clap::Args)]
pub struct TrustExportArgs {
    #[command(flatten)]
    pub db: DatabaseArg,
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct TrustImportArgs {
    #[command(flatten)]
    pub db: DatabaseArg,
    /// Trust list JSON (kid → base64 DER).
    pub file: PathBuf,
    /// Where the list comes from (default: the file name).
    #[arg(long)]
    pub source: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    pub db: DatabaseArg,
    /// Certificate id, `URN:UVCI:01:VN:…`.
    #[arg(long)]
    pub uvci: String,
    /// Why (kept in the revocation list and the audit log).
    #[arg(long)]
    pub reason: String,
}

/// Parses `--at`: RFC 3339 (also with a `+0000` offset), a naive date-time (UTC) or a date
/// (midnight UTC).
pub fn parse_time(text: &str) -> anyhow::Result<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    // Offsets without a colon (`+0000`), as some issuers' test data write them.
    if let Ok(d) = DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Ok(d.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, f) {
            return Ok(d.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    bail!("thời điểm không hợp lệ: «{t}» (dùng RFC 3339, ví dụ 2022-01-31T10:00:00Z)")
}

/// The QR content: the text itself, a file holding it, or an image of the code.
fn qr_text(arg: &str) -> anyhow::Result<String> {
    let path = Path::new(arg);
    if !arg.trim_start().starts_with("HC1") && path.is_file() {
        let bytes = std::fs::read(path).with_context(|| format!("không đọc được {arg}"))?;
        let is_image =
            bytes.starts_with(&[0x89, b'P', b'N', b'G']) || bytes.starts_with(&[0xFF, 0xD8]);
        if is_image {
            return certs::qr::read_qr_image(&bytes)
                .map_err(|e| anyhow::anyhow!("không đọc được mã QR trong ảnh {arg}: {e}"));
        }
        return Ok(String::from_utf8_lossy(&bytes).trim().to_string());
    }
    Ok(arg.trim().to_string())
}

/// A signer certificate file: DER, PEM or base64 DER.
fn read_certificate(path: &Path) -> anyhow::Result<certs::DscCertificate> {
    let bytes =
        std::fs::read(path).with_context(|| format!("không đọc được {}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let parsed = if text.contains("-----BEGIN") {
        certs::DscCertificate::from_pem(&text)
    } else if let Ok(c) = certs::DscCertificate::from_der(&bytes) {
        Ok(c)
    } else {
        certs::DscCertificate::from_base64(text.trim())
    };
    parsed.map_err(|e| anyhow::anyhow!("chứng thư ký {} không đọc được: {e}", path.display()))
}

fn actor() -> String {
    format!(
        "phongdich cert ({})",
        std::env::var("USER").unwrap_or_else(|_| "cli".into())
    )
}

fn write_json(path: &Path, value: &serde_json::Value) -> anyhow::Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(value)? + "\n")
        .with_context(|| format!("không ghi được {}", path.display()))
}

pub async fn run(cmd: Command, file: &FileConfig) -> anyhow::Result<()> {
    match cmd {
        Command::Verify(a) => return verify(a, file).await,
        Command::Keygen(a) => {
            let passphrase = Passphrase::from_env()?;
            let store = store::open(&file.database_url(a.db.database)).await?;
            let report = hierarchy::keygen(store.as_ref(), &passphrase, Utc::now(), &actor()).await;
            store.close().await;
            println!("{}", serde_json::to_string_pretty(&report?)?);
        }
        Command::Issue(a) => {
            let passphrase = Passphrase::from_env()?;
            let store = store::open(&file.database_url(a.db.database)).await?;
            let result = async {
                let person = issuing::person_by_national_id(store.as_ref(), &a.national_id).await?;
                let c =
                    issuing::issue_now(store.as_ref(), &passphrase, &person, Utc::now(), &actor())
                        .await?;
                let keys = store.signing_keys().await?;
                let dsc = keys
                    .iter()
                    .find(|k| Some(&k.kid) == c.kid.as_ref())
                    .ok_or_else(domain::Error::internal)?;
                anyhow::Ok((c, dsc.certificate.clone()))
            }
            .await;
            store.close().await;
            let (c, dsc) = result?;
            let hc1 = c.hc1.clone().unwrap_or_default();
            use base64::Engine;
            let out = serde_json::json!({
                "hc1": hc1,
                "dsc": base64::engine::general_purpose::STANDARD.encode(&dsc),
                "kid": c.kid,
                "uvci": c.uvci,
                "expires_at": c.expires_at,
            });
            write_json(&a.out, &out)?;
            if let Some(png) = &a.png {
                let bytes = certs::qr::to_png(&hc1, 4).map_err(|e| anyhow::anyhow!("QR: {e}"))?;
                std::fs::write(png, bytes)?;
            }
            if let Some(svg) = &a.svg {
                let text = certs::qr::to_svg(&hc1).map_err(|e| anyhow::anyhow!("QR: {e}"))?;
                std::fs::write(svg, text)?;
            }
            println!(
                "{}",
                serde_json::json!({ "uvci": c.uvci, "kid": c.kid, "expires_at": c.expires_at,
                    "out": a.out })
            );
        }
        Command::TrustExport(a) => {
            let store = store::open(&file.database_url(a.db.database)).await?;
            let rows = store.trust_list().await;
            store.close().await;
            let rows = rows?;
            write_json(&a.out, &verifying::export_trust_list(&rows))?;
            println!(
                "{}",
                serde_json::json!({ "signers": rows.len(), "out": a.out })
            );
        }
        Command::TrustImport(a) => {
            let text = std::fs::read_to_string(&a.file)
                .with_context(|| format!("không đọc được {}", a.file.display()))?;
            let json: serde_json::Value =
                serde_json::from_str(&text).context("danh sách tin cậy không phải JSON")?;
            let source = a.source.unwrap_or_else(|| {
                a.file
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            let signers = verifying::parse_trust_list(&json, &source, Utc::now())?;
            let store = store::open(&file.database_url(a.db.database)).await?;
            let added = store.add_trusted_signers(&signers).await;
            store.close().await;
            println!(
                "{}",
                serde_json::json!({ "read": signers.len(), "added": added?, "source": source })
            );
        }
        Command::Revoke(a) => {
            if a.reason.trim().is_empty() {
                bail!("cần ghi lý do thu hồi (--reason)");
            }
            let now = Utc::now();
            let store = store::open(&file.database_url(a.db.database)).await?;
            let revocation = store::Revocation {
                uvci: a.uvci.trim().to_string(),
                reason: a.reason.trim().to_string(),
                revoked_by: actor(),
                revoked_at: now,
            };
            let audit = domain::audit::NewAuditEntry {
                at: now,
                actor_id: None,
                actor: Some(actor()),
                action: "cert.revoke".into(),
                entity_type: Some("certificate".into()),
                entity_id: Some(revocation.uvci.clone()),
                unit_code: None,
                ip: None,
                details: serde_json::json!({ "reason": revocation.reason }),
            };
            let added = store.revoke_certificate(&revocation, &audit).await;
            store.close().await;
            println!(
                "{}",
                serde_json::json!({ "uvci": revocation.uvci, "revoked": true,
                    "already_revoked": !added? })
            );
        }
    }
    Ok(())
}

async fn verify(a: VerifyArgs, file: &FileConfig) -> anyhow::Result<()> {
    let at = match &a.at {
        Some(t) => parse_time(t)?,
        None => Utc::now(),
    };
    let text = qr_text(&a.qr)?;
    let result = if let Some(cert) = &a.cert {
        let cert = read_certificate(cert)?;
        verifying::VerifyResult::from_verification(certs::hcert::verify_text(&text, &cert, at), &[])
    } else if let Some(trust) = &a.trust {
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(trust)
                .with_context(|| format!("không đọc được {}", trust.display()))?,
        )
        .context("danh sách tin cậy không phải JSON")?;
        let rows = verifying::parse_trust_list(&json, "file", at)?;
        let trusted = verifying::trusted_certificates(&rows);
        let v = match certs::decode(&text) {
            Ok(d) => certs::hcert::verify_with_trust_list(&d, &trusted, at),
            Err(e) => certs::Verification::decode_failed(&e),
        };
        verifying::VerifyResult::from_verification(v, &[])
    } else {
        let store = store::open(&file.database_url(a.db.database)).await?;
        let r = verifying::verify_with_store(store.as_ref(), &text, at).await;
        store.close().await;
        r?
    };
    println!("{}", serde_json::to_string_pretty(&result)?);
    if !result.valid {
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_format_of_the_test_data() {
        let want = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        for (text, expected) in [
            ("2021-05-21T12:26:07.390079Z", "2021-05-21T12:26:07.390079Z"),
            ("2021-05-17T12:58:05.296+01:00", "2021-05-17T11:58:05.296Z"),
            ("2021-05-30T13:38:49.976424", "2021-05-30T13:38:49.976424Z"),
            ("2021-06-01T10:00:27+0000", "2021-06-01T10:00:27Z"),
            ("2021-06-01T10:00:27.123+0200", "2021-06-01T08:00:27.123Z"),
            (
                "2021-06-08T20:17:27.9906293Z",
                "2021-06-08T20:17:27.9906293Z",
            ),
            ("2022-01-31", "2022-01-31T00:00:00Z"),
        ] {
            assert_eq!(parse_time(text).unwrap(), want(expected), "{text}");
        }
        assert!(parse_time("31/01/2022 10h").is_err());
    }
}
