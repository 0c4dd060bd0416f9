//! Single-thread throughput of HCERT signing and verification.
//!
//! Generates a P-256 key with a self-signed DSC, signs `N` vaccination certificates (default
//! 500, or the first argument), then measures on one thread:
//! * `full_verify_per_sec`: `hcert::verify_text` — prefix, Base45, zlib inflate, COSE parse,
//!   CBOR → JSON, ECDSA verify, validity period, key usage and schema checks;
//! * `raw_ecdsa_verify_per_sec`: `p256` ECDSA verification of the same `Sig_structure` bytes
//!   and signatures;
//! * `sign_per_sec`: `hcert::encode` (CBOR, ECDSA sign, zlib, Base45).
//!
//! Run with `cargo run --release -p certs --example verify_bench`. Prints one JSON object.

use std::hint::black_box;
use std::time::{Duration, Instant};

use certs::dcc::{self, Dcc, Vaccination};
use certs::hcert::{self, CwtPayload};
use certs::keys::{SelfSignedParams, Signer};
use certs::{translit, uvci};
use chrono::{Duration as ChronoDuration, Utc};
use p256::ecdsa::signature::Verifier as _;

/// Repeat `f` over the items until at least `min` has elapsed; returns operations per second.
fn rate<T>(items: &[T], min: Duration, mut f: impl FnMut(&T)) -> f64 {
    let start = Instant::now();
    let mut ops = 0u64;
    loop {
        for item in items {
            f(item);
        }
        ops += items.len() as u64;
        let elapsed = start.elapsed();
        if elapsed >= min {
            return ops as f64 / elapsed.as_secs_f64();
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(500);
    let now = Utc::now();
    let signer = Signer::generate_self_signed(&SelfSignedParams::test(now, 365))?;
    let cert = signer.certificate().clone();

    let payloads: Vec<CwtPayload> = (0..n)
        .map(|i| {
            let dcc = Dcc::vaccination(
                translit::vietnamese_person_name("Nguyễn Thị Ánh Tuyết"),
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
                    ci: uvci::vietnam(&format!("{i:012}")).expect("valid UVCI"),
                },
            );
            CwtPayload::new("VN", now, now + ChronoDuration::days(365), &dcc)
        })
        .collect();

    let min = Duration::from_secs(2);
    let sign_per_sec = rate(&payloads, min, |p| {
        black_box(hcert::encode(p, &signer).expect("encode"));
    });

    let texts: Vec<String> = payloads
        .iter()
        .map(|p| hcert::encode(p, &signer))
        .collect::<Result<_, _>>()?;
    let avg_len = texts.iter().map(String::len).sum::<usize>() as f64 / n as f64;

    // Sanity check before timing.
    for t in &texts {
        let v = hcert::verify_text(t, &cert, now);
        assert!(v.valid, "{:?}", v.reasons);
    }

    let full_verify_per_sec = rate(&texts, min, |t| {
        let v = hcert::verify_text(black_box(t), &cert, now);
        assert!(v.signature_valid);
    });

    let key = match cert.public_key() {
        certs::keys::PublicKey::P256(k) => *k,
        _ => unreachable!("the bench signer uses P-256"),
    };
    let raw: Vec<(Vec<u8>, p256::ecdsa::Signature)> = texts
        .iter()
        .map(|t| {
            let d = hcert::decode(t).expect("decode");
            let sig = p256::ecdsa::Signature::from_slice(d.signature()).expect("signature");
            (d.to_be_signed(), sig)
        })
        .collect();
    let raw_ecdsa_verify_per_sec = rate(&raw, min, |(tbs, sig)| {
        key.verify(black_box(tbs), black_box(sig)).expect("verify");
    });

    let report = serde_json::json!({
        "certificates": n,
        "avg_hc1_chars": (avg_len * 10.0).round() / 10.0,
        "threads": 1,
        "sign_per_sec": sign_per_sec.round(),
        "full_verify_per_sec": full_verify_per_sec.round(),
        "raw_ecdsa_verify_per_sec": raw_ecdsa_verify_per_sec.round(),
        "full_to_raw_ratio": (full_verify_per_sec / raw_ecdsa_verify_per_sec * 1000.0).round() / 1000.0,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
