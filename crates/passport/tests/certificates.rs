//! Issuing and verifying vaccination certificates end to end on SQLite and (with
//! `PHONGDICH_TEST_PG`) PostgreSQL: keys sealed and rotated, certificates built from the
//! registry, the two-step flow, supersession, revocation, expiry, and trust-list exchange.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::ErrorCode;
use domain::person::{NationalId, Person, Sex};
use passport::{Passphrase, hierarchy, issuing, verifying};
use store::CertificateStatus;
use testkit::TestDb;
use uuid::Uuid;

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

#[tokio::test]
async fn certificates_are_issued_from_the_registry_and_verified() {
    let pass = Passphrase::new("mật khẩu thử nghiệm dài").unwrap();
    for db in TestDb::all().await {
        let s = db.store.as_ref();
        let backend = s.backend();
        let tuyet = person("Nguyễn Thị Ánh Tuyết", 11);
        let half = person("Lò Văn Dũng", 12);
        s.insert_persons(&[tuyet.clone(), half.clone()])
            .await
            .unwrap();
        testkit::give_dose(s, &tuyet, "EU/1/20/1528", "2021-08-02").await;
        testkit::give_dose(s, &tuyet, "EU/1/20/1528", "2021-08-30").await;
        testkit::give_dose(s, &half, "EU/1/21/1529", "2021-09-01").await;

        // No key yet: a clear error and nothing written.
        let now = at(2022, 1, 10);
        let err = issuing::issue_now(s, &pass, &tuyet, now, "tinh")
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput, "{backend:?}");
        assert!(s.certificates_of_person(tuyet.id).await.unwrap().is_empty());

        let first_keys = hierarchy::keygen(s, &pass, at(2022, 1, 1), "admin")
            .await
            .unwrap();
        assert!(first_keys.csca_created && first_keys.retired_dsc_kid.is_none());
        // Private keys are sealed: the PKCS#8 prefix of a P-256 key is not in the store.
        for k in s.signing_keys().await.unwrap() {
            assert!(k.sealed_private_key.starts_with(b"PDK1"));
        }
        let wrong = Passphrase::new("không phải mật khẩu này").unwrap();
        assert!(
            issuing::issue_now(s, &wrong, &tuyet, now, "tinh")
                .await
                .is_err()
        );

        // Issue at once: a valid EU DCC with the registry's data.
        let c = issuing::issue_now(s, &pass, &tuyet, now, "tinh")
            .await
            .unwrap();
        assert_eq!(c.status, CertificateStatus::Issued);
        assert_eq!(c.expires_at, Some(now + Duration::days(365)));
        let v = c.payload.pointer("/v/0").unwrap();
        assert_eq!(
            (
                v["mp"].as_str(),
                v["dn"].as_u64(),
                v["sd"].as_u64(),
                v["dt"].as_str()
            ),
            (Some("EU/1/20/1528"), Some(2), Some(2), Some("2021-08-30"))
        );
        assert_eq!(c.payload["nam"]["fnt"], "NGUYEN");
        assert_eq!(c.payload["nam"]["gnt"], "THI<ANH<TUYET");
        assert!(c.uvci.starts_with("URN:UVCI:01:VN:"));
        assert!(certs::uvci::has_valid_checksum(&c.uvci));
        let hc1 = c.hc1.clone().unwrap();
        let ok = verifying::verify_with_store(s, &hc1, now + Duration::days(1))
            .await
            .unwrap();
        assert!(ok.valid, "{backend:?} {:?}", ok.reasons);
        assert_eq!(ok.kid.as_deref(), Some(first_keys.dsc_kid.as_str()));
        assert!(ok.key_usage_ok);
        // Expired 12 months later; tampering breaks the signature.
        let late = verifying::verify_with_store(s, &hc1, now + Duration::days(366))
            .await
            .unwrap();
        assert!(!late.valid && late.expired && late.reasons.contains(&"expired".to_string()));
        let mut chars: Vec<char> = hc1.chars().collect();
        let i = chars.len() - 10;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        let bad = verifying::verify_with_store(s, &tampered, now)
            .await
            .unwrap();
        assert!(!bad.valid, "{backend:?}");

        // The printable certificate: one A4 page with the fields of Decision 5772.
        let pdf = passport::pdf::certificate_pdf(&c).unwrap();
        assert!(pdf.starts_with(b"%PDF"));
        let doc = lopdf::Document::load_mem(&pdf).unwrap();
        assert_eq!(doc.get_pages().len(), 1);
        let fields = passport::pdf::fields(&c);
        let value = |label: &str| {
            fields
                .iter()
                .find(|(vi, _, _)| *vi == label)
                .map(|(_, _, v)| v.clone())
                .unwrap()
        };
        assert_eq!(value("Họ và tên"), "Nguyễn Thị Ánh Tuyết");
        assert_eq!(value("Ngày sinh"), "09/07/1985");
        assert_eq!(value("Mũi số"), "2/2");
        assert_eq!(value("Ngày tiêm"), "30/08/2021");
        assert_eq!(value("Tên vắc xin"), "Comirnaty");
        assert_eq!(value("Mã chứng nhận"), c.uvci);

        // Not eligible before the primary series is complete.
        let err = issuing::issue_now(s, &pass, &half, now, "tinh")
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput);

        // Rotation: the old certificate still verifies; a booster certificate (3/3) signed by
        // the new key supersedes it.
        let second_keys = hierarchy::keygen(s, &pass, at(2022, 6, 1), "admin")
            .await
            .unwrap();
        assert!(!second_keys.csca_created);
        assert_eq!(second_keys.csca_kid, first_keys.csca_kid);
        assert_eq!(
            second_keys.retired_dsc_kid.as_deref(),
            Some(first_keys.dsc_kid.as_str())
        );
        let later = at(2022, 6, 20);
        assert!(
            verifying::verify_with_store(s, &hc1, later)
                .await
                .unwrap()
                .valid
        );
        testkit::give_dose(s, &tuyet, "EU/1/20/1507", "2022-06-15").await;
        // Two steps: the province cannot sign before the site approves.
        let pending = issuing::request(s, &tuyet, later, "diemtiem")
            .await
            .unwrap();
        let err = issuing::sign(s, &pass, pending.id, later, "tinh")
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::Conflict, "{backend:?}");
        issuing::approve(s, pending.id, later, "diemtiem")
            .await
            .unwrap();
        let booster = issuing::sign(s, &pass, pending.id, later, "tinh")
            .await
            .unwrap();
        assert_eq!(booster.kid.as_deref(), Some(second_keys.dsc_kid.as_str()));
        assert_eq!(booster.payload.pointer("/v/0/dn").unwrap(), 3);
        assert_eq!(booster.payload.pointer("/v/0/sd").unwrap(), 3);
        let mine = s.certificates_of_person(tuyet.id).await.unwrap();
        assert_eq!(
            mine.iter().map(|c| c.status).collect::<Vec<_>>(),
            [CertificateStatus::Issued, CertificateStatus::Superseded]
        );

        // Revocation is honoured.
        let r = store::Revocation {
            uvci: c.uvci.clone(),
            reason: "cấp nhầm".into(),
            revoked_by: "tinh".into(),
            revoked_at: later,
        };
        let audit = domain::audit::NewAuditEntry {
            at: later,
            actor_id: None,
            actor: Some("tinh".into()),
            action: "cert.revoke".into(),
            entity_type: None,
            entity_id: None,
            unit_code: None,
            ip: None,
            details: serde_json::json!({}),
        };
        s.revoke_certificate(&r, &audit).await.unwrap();
        let revoked = verifying::verify_with_store(s, &hc1, later).await.unwrap();
        assert!(!revoked.valid && revoked.revoked && revoked.signature_valid);

        // The trust list travels: exported, read back, and a certificate from outside fails.
        let exported = verifying::export_trust_list(&s.trust_list().await.unwrap());
        assert_eq!(exported.as_object().unwrap().len(), 2);
        let read = verifying::parse_trust_list(&exported, "VN export", later).unwrap();
        assert_eq!(read.len(), 2);
        assert!(read.iter().all(|t| t.country == "VN"));
        let mut wrong_kid = exported.clone();
        let (kid, der) = exported.as_object().unwrap().iter().next().unwrap();
        wrong_kid[kid] = serde_json::json!(null);
        wrong_kid["AAAAAAAAAAA="] = der.clone();
        assert!(verifying::parse_trust_list(&wrong_kid, "x", later).is_err());
        let outsider =
            certs::Signer::generate_self_signed(&certs::keys::SelfSignedParams::test(later, 30))
                .unwrap();
        let foreign = certs::hcert::encode(
            &certs::hcert::CwtPayload::new(
                "VN",
                later,
                later + Duration::days(30),
                &certs::dcc::Dcc::from_json(&booster.payload).unwrap(),
            ),
            &outsider,
        )
        .unwrap();
        let unknown = verifying::verify_with_store(s, &foreign, later)
            .await
            .unwrap();
        assert!(!unknown.valid && unknown.reasons.contains(&"unknown_kid".to_string()));
        db.cleanup().await;
    }
}
