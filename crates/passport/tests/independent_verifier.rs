//! Our vaccination certificates verify with an independent implementation (issue 6, point 6):
//! a certificate issued from the registry on SQLite is handed to
//! `tests/independent/verify_hcert.py`, a Python HCERT verifier built only on `base45`, `zlib`,
//! `cbor2` and `cryptography`, which must accept it with the document signer certificate and
//! reject tampered, expired and wrongly keyed variants.
//!
//! Needs `python3` with the packages of `tests/independent/requirements.txt`. Without them the
//! test prints a notice and passes, unless `PHONGDICH_TEST_INDEPENDENT=1` makes it fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use domain::person::{NationalId, Person, Sex};
use passport::{Passphrase, hierarchy, issuing};
use store::SigningRole;
use testkit::TestDb;
use uuid::Uuid;

const REQUIRED_ENV: &str = "PHONGDICH_TEST_INDEPENDENT";

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(9, 0, 0)
        .unwrap()
        .and_utc()
}

fn person(name: &str, serial: u32) -> Person {
    Person {
        id: Uuid::now_v7(),
        province_code: "12".into(),
        commune_code: domain::units::AdminUnits::embedded()
            .v2025
            .communes_under("12")[0]
            .clone(),
        old_commune_code: None,
        household_id: None,
        full_name: name.into(),
        dob: NaiveDate::from_ymd_opt(1985, 7, 9).unwrap(),
        sex: Sex::Female,
        national_id: NationalId::compose(12, 1985, Sex::Female, serial),
        phone: None,
    }
}

/// Whether `python3` can import the verifier's packages; prints why not.
fn python_ready() -> bool {
    match Command::new("python3")
        .args(["-c", "import base45, cbor2, cryptography"])
        .output()
    {
        Ok(out) if out.status.success() => true,
        Ok(out) => {
            testkit::notice(&format!(
                "python3 lacks base45, cbor2 or cryptography ({}); install them with \
                 `python3 -m pip install -r tests/independent/requirements.txt`",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            false
        }
        Err(e) => {
            testkit::notice(&format!("python3 cannot be run: {e}"));
            false
        }
    }
}

/// A scratch directory removed when dropped (no tempfile crate among our dependencies).
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("phongdich-indep-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The independent verifier's verdict: exit success and its JSON line.
struct Verdict {
    ok: bool,
    json: serde_json::Value,
    output: String,
}

fn run_verifier(cert: &Path, hc1: &Path, when: DateTime<Utc>) -> Verdict {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/independent/verify_hcert.py")
        .canonicalize()
        .expect("tests/independent/verify_hcert.py exists");
    let out = Command::new("python3")
        .arg(&script)
        .arg("--cert")
        .arg(cert)
        .arg("--at")
        .arg(when.to_rfc3339_opts(SecondsFormat::Secs, true))
        .arg(hc1)
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let output = format!(
        "exit {:?}\nstdout: {stdout}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout.lines().last().unwrap_or_default();
    let json = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("the verifier printed no JSON line ({e}):\n{output}"));
    Verdict {
        ok: out.status.success(),
        json,
        output,
    }
}

/// HC1 text → COSE_Sign1 bytes, through our own transport decoding (only to build tampered
/// inputs; the verdicts come from the independent verifier).
fn cose_of(hc1: &str) -> Vec<u8> {
    let b45 = certs::hcert::strip_prefix(hc1).unwrap();
    certs::hcert::inflate(&certs::hcert::base45_decode(b45).unwrap()).unwrap()
}

/// `hc1` with one Base45 character in the middle changed so that the text still decodes as
/// Base45 (a group above 65535 would be rejected before anything interesting is checked).
fn flip_base45_char(hc1: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    let prefix = certs::hcert::PREFIX.len();
    let middle = prefix + (hc1.len() - prefix) / 2;
    for i in middle..hc1.len() {
        for &c in ALPHABET {
            if c == hc1.as_bytes()[i] {
                continue;
            }
            let mut bytes = hc1.as_bytes().to_vec();
            bytes[i] = c;
            let text = String::from_utf8(bytes).unwrap();
            if certs::hcert::base45_decode(&text[prefix..]).is_ok() {
                return text;
            }
        }
    }
    panic!("no decodable one-character change of the HC1 text");
}

#[tokio::test]
async fn an_independent_python_verifier_accepts_our_certificates() {
    let required = std::env::var(REQUIRED_ENV).is_ok_and(|v| v == "1");
    if !python_ready() {
        assert!(
            !required,
            "{REQUIRED_ENV}=1 but python3 with base45, cbor2 and cryptography is not available"
        );
        testkit::notice("skipping the independent verifier test");
        return;
    }

    // (a, b) A registry on SQLite, a key hierarchy, a person with two Comirnaty doses, and a
    // certificate issued at once.
    let db = TestDb::sqlite().await;
    let s = db.store.as_ref();
    let pass = Passphrase::new("mật khẩu thử nghiệm dài").unwrap();
    let keys = hierarchy::keygen(s, &pass, at(2022, 1, 1), "admin")
        .await
        .unwrap();
    let tuyet = person("Nguyễn Thị Ánh Tuyết", 21);
    s.insert_persons(std::slice::from_ref(&tuyet))
        .await
        .unwrap();
    testkit::give_dose(s, &tuyet, "EU/1/20/1528", "2021-08-02").await;
    testkit::give_dose(s, &tuyet, "EU/1/20/1528", "2021-08-30").await;
    let now = at(2022, 1, 10);
    let c = issuing::issue_now(s, &pass, &tuyet, now, "tinh")
        .await
        .unwrap();
    let hc1 = c.hc1.clone().expect("signed certificate has an HC1 text");
    let expires_at = c.expires_at.expect("signed certificate has an expiry");

    // (c) The HC1 text and the current document signer's certificate (DER) on disk, plus the
    // same certificate as base64 and PEM, and the CSCA certificate as a wrong key.
    let signing_keys = s.signing_keys().await.unwrap();
    let dsc = signing_keys
        .iter()
        .find(|k| k.role == SigningRole::Dsc && k.kid == keys.dsc_kid)
        .expect("the current document signer");
    assert!(dsc.retired_at.is_none());
    let csca = signing_keys
        .iter()
        .find(|k| k.role == SigningRole::Csca)
        .expect("the CSCA");
    let dir = Scratch::new();
    let hc1_file = dir.write("certificate.hc1", format!("{hc1}\n"));
    let dsc_der = dir.write("dsc.der", &dsc.certificate);
    let dsc_b64 = dir.write("dsc.b64", STANDARD.encode(&dsc.certificate));
    let dsc_pem = dir.write(
        "dsc.pem",
        certs::DscCertificate::from_der(&dsc.certificate)
            .unwrap()
            .to_pem()
            .unwrap(),
    );
    let csca_der = dir.write("csca.der", &csca.certificate);

    // (d) The independent verifier accepts it, and reads what we signed.
    let check_at = now + Duration::days(1);
    let v = run_verifier(&dsc_der, &hc1_file, check_at);
    assert!(
        v.ok,
        "the independent verifier rejected our certificate:\n{}",
        v.output
    );
    assert_eq!(v.json["signature_valid"], true, "{}", v.output);
    assert_eq!(v.json["kid_matches"], true, "{}", v.output);
    assert_eq!(v.json["expired"], false, "{}", v.output);
    assert_eq!(v.json["iss"], "VN", "{}", v.output);
    assert_eq!(v.json["iat"], now.timestamp(), "{}", v.output);
    assert_eq!(v.json["exp"], expires_at.timestamp(), "{}", v.output);
    assert_eq!(v.json["kid"].as_str(), c.kid.as_deref(), "{}", v.output);
    let theirs = &v.json["dcc"];
    for field in ["fn", "gn", "fnt", "gnt"] {
        assert_eq!(
            theirs["nam"][field], c.payload["nam"][field],
            "nam.{field}: {}",
            v.output
        );
    }
    assert_eq!(theirs["nam"]["fnt"], "NGUYEN");
    assert_eq!(theirs["nam"]["gnt"], "THI<ANH<TUYET");
    assert_eq!(*theirs, c.payload, "the whole DCC round-trips");
    // The same certificate as base64 of the DER and as PEM.
    for cert in [&dsc_b64, &dsc_pem] {
        let v = run_verifier(cert, &hc1_file, check_at);
        assert!(v.ok && v.json["kid_matches"] == true, "{}", v.output);
    }

    // (e) Tampering is caught. One Base45 character changed in the middle (still valid Base45):
    let flipped = flip_base45_char(&hc1);
    assert_ne!(flipped, hc1);
    let v = run_verifier(&dsc_der, &dir.write("flipped.hc1", &flipped), check_at);
    assert!(!v.ok, "a Base45 character flip was accepted:\n{}", v.output);
    assert_eq!(v.json["signature_valid"], false, "{}", v.output);

    // One signature byte altered, the rest intact and re-encoded: decodes, but does not verify.
    let mut cose = cose_of(&hc1);
    let n = cose.len();
    cose[n - 10] ^= 0x01;
    let bad_signature = certs::hcert::wrap(&cose).unwrap();
    let v = run_verifier(
        &dsc_der,
        &dir.write("bad-sig.hc1", &bad_signature),
        check_at,
    );
    assert!(!v.ok, "an altered signature was accepted:\n{}", v.output);
    assert_eq!(v.json["signature_valid"], false, "{}", v.output);
    assert_eq!(v.json["kid_matches"], true, "{}", v.output);
    assert_eq!(v.json["dcc"], c.payload, "{}", v.output);

    // A forged name in the signed payload (same length, so the CBOR stays well formed).
    let cose = cose_of(&hc1);
    let at_name = cose
        .windows(6)
        .position(|w| w == b"NGUYEN")
        .expect("fnt in the payload");
    let mut forged = cose.clone();
    forged[at_name..at_name + 6].copy_from_slice(b"NGUYEM");
    let forged = certs::hcert::wrap(&forged).unwrap();
    let v = run_verifier(&dsc_der, &dir.write("forged.hc1", &forged), check_at);
    assert!(!v.ok, "a forged payload was accepted:\n{}", v.output);
    assert_eq!(v.json["signature_valid"], false, "{}", v.output);
    assert_eq!(v.json["dcc"]["nam"]["fnt"], "NGUYEM", "{}", v.output);

    // Expired a year later; the CSCA's certificate is not the signer's.
    let v = run_verifier(&dsc_der, &hc1_file, expires_at + Duration::days(1));
    assert!(!v.ok, "an expired certificate was accepted:\n{}", v.output);
    assert_eq!(v.json["expired"], true, "{}", v.output);
    assert_eq!(v.json["signature_valid"], true, "{}", v.output);
    let v = run_verifier(&csca_der, &hc1_file, check_at);
    assert!(!v.ok, "the wrong certificate was accepted:\n{}", v.output);
    assert_eq!(v.json["kid_matches"], false, "{}", v.output);
    assert_eq!(v.json["signature_valid"], false, "{}", v.output);

    drop(dir);
    db.cleanup().await;
}
