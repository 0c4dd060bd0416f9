//! Contract tests for the vaccination-certificate storage — the signing hierarchy and its
//! rotation, the trust list, certificates through their approval steps, revocations — on SQLite
//! and (with `PHONGDICH_TEST_PG`) PostgreSQL.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::ErrorCode;
use domain::audit::NewAuditEntry;
use domain::person::{NationalId, Person, Sex};
use store::{
    CertificateStatus, Revocation, SigningKey, SigningRole, TrustedSigner, VaccinationCertificate,
};
use testkit::TestDb;
use uuid::Uuid;

fn at(day: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap() + Duration::days(day)
}

fn audit(action: &str) -> NewAuditEntry {
    NewAuditEntry {
        at: at(0),
        actor_id: None,
        actor: Some("test".into()),
        action: action.into(),
        entity_type: None,
        entity_id: None,
        unit_code: None,
        ip: None,
        details: serde_json::json!({}),
    }
}

fn key(kid: &str, role: SigningRole, day: i64) -> SigningKey {
    SigningKey {
        kid: kid.into(),
        role,
        certificate: format!("DER of {kid}").into_bytes(),
        sealed_private_key: vec![1, 2, 3, day as u8],
        issuer_kid: (role == SigningRole::Dsc).then(|| "csca-1".to_string()),
        not_before: at(day),
        not_after: at(day + 730),
        created_at: at(day),
        retired_at: None,
    }
}

fn certificate(person: &Person, uvci: &str, day: i64) -> VaccinationCertificate {
    VaccinationCertificate {
        id: Uuid::now_v7(),
        uvci: uvci.into(),
        person_id: person.id,
        province_code: person.province_code.clone(),
        status: CertificateStatus::Pending,
        payload: serde_json::json!({"ver": "1.3.0", "v": [{"dn": 2, "sd": 2}]}),
        hc1: None,
        kid: None,
        issued_at: None,
        expires_at: None,
        requested_by: "diemtiem".into(),
        approved_by: None,
        approved_at: None,
        signed_by: None,
        created_at: at(day),
    }
}

#[tokio::test]
async fn keys_rotate_certificates_move_through_their_steps_and_revocations_stick() {
    for db in TestDb::all().await {
        let s = db.store.as_ref();
        let backend = s.backend();
        let commune = domain::units::AdminUnits::embedded()
            .v2025
            .communes_under("12")[0]
            .clone();
        let person = Person {
            id: Uuid::now_v7(),
            province_code: "12".into(),
            commune_code: commune,
            old_commune_code: None,
            household_id: None,
            full_name: "Nguyễn Thị Ánh Tuyết".into(),
            dob: NaiveDate::from_ymd_opt(1990, 5, 17).unwrap(),
            sex: Sex::Female,
            national_id: NationalId::compose(12, 1990, Sex::Female, 7),
            phone: None,
        };
        s.insert_persons(std::slice::from_ref(&person))
            .await
            .unwrap();

        // Hierarchy and rotation.
        s.add_signing_key(&key("csca-1", SigningRole::Csca, 0), &audit("cert.keygen"))
            .await
            .unwrap();
        s.add_signing_key(&key("dsc-1", SigningRole::Dsc, 0), &audit("cert.keygen"))
            .await
            .unwrap();
        s.add_signing_key(&key("dsc-2", SigningRole::Dsc, 30), &audit("cert.rotate"))
            .await
            .unwrap();
        let err = s
            .add_signing_key(&key("dsc-2", SigningRole::Dsc, 31), &audit("cert.rotate"))
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::Conflict, "{backend:?}");
        let keys = s.signing_keys().await.unwrap();
        let kids: Vec<(&str, Option<DateTime<Utc>>)> = keys
            .iter()
            .map(|k| (k.kid.as_str(), k.retired_at))
            .collect();
        assert_eq!(
            kids,
            [("csca-1", None), ("dsc-1", Some(at(30))), ("dsc-2", None)],
            "{backend:?}"
        );
        assert_eq!(keys[1].certificate, b"DER of dsc-1");
        assert_eq!(keys[1].sealed_private_key, vec![1, 2, 3, 0]);
        assert_eq!(keys[1].issuer_kid.as_deref(), Some("csca-1"));

        // Both document signers stay trusted; imports skip what is there.
        let own: Vec<String> = s
            .trust_list()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.kid)
            .collect();
        assert_eq!(own, ["dsc-1", "dsc-2"]);
        let foreign = TrustedSigner {
            kid: "AT-1".into(),
            country: "AT".into(),
            certificate: b"DER AT".to_vec(),
            source: "dgc-testdata".into(),
            added_at: at(40),
        };
        assert_eq!(
            s.add_trusted_signers(std::slice::from_ref(&foreign))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            s.add_trusted_signers(std::slice::from_ref(&foreign))
                .await
                .unwrap(),
            0
        );
        assert_eq!(s.trust_list().await.unwrap()[0], foreign);

        // Pending → approved → issued; a later issue supersedes the earlier.
        let mut first = certificate(&person, "URN:UVCI:01:VN:A#1", 50);
        s.save_certificate(&first, &audit("cert.request"))
            .await
            .unwrap();
        assert_eq!(
            s.certificates_in_status(CertificateStatus::Pending, 10)
                .await
                .unwrap()
                .len(),
            1
        );
        first.status = CertificateStatus::Approved;
        first.approved_by = Some("tram".into());
        first.approved_at = Some(at(51));
        s.save_certificate(&first, &audit("cert.approve"))
            .await
            .unwrap();
        first.status = CertificateStatus::Issued;
        first.hc1 = Some("HC1:FIRST".into());
        first.kid = Some("dsc-2".into());
        first.issued_at = Some(at(52));
        first.expires_at = Some(at(52 + 365));
        first.signed_by = Some("tinh".into());
        s.save_certificate(&first, &audit("cert.sign"))
            .await
            .unwrap();
        assert_eq!(
            s.certificate(first.id).await.unwrap().as_ref(),
            Some(&first)
        );
        let mut second = certificate(&person, "URN:UVCI:01:VN:B#2", 200);
        second.status = CertificateStatus::Issued;
        second.hc1 = Some("HC1:SECOND".into());
        second.kid = Some("dsc-2".into());
        second.issued_at = Some(at(200));
        second.expires_at = Some(at(565));
        s.save_certificate(&second, &audit("cert.sign"))
            .await
            .unwrap();
        let mine = s.certificates_of_person(person.id).await.unwrap();
        assert_eq!(
            mine.iter()
                .map(|c| (c.uvci.as_str(), c.status))
                .collect::<Vec<_>>(),
            [
                ("URN:UVCI:01:VN:B#2", CertificateStatus::Issued),
                ("URN:UVCI:01:VN:A#1", CertificateStatus::Superseded)
            ],
            "{backend:?}"
        );
        assert!(s.certificate(Uuid::now_v7()).await.unwrap().is_none());
        // The same certificate id twice is refused.
        let mut clash = certificate(&person, "URN:UVCI:01:VN:B#2", 300);
        clash.id = Uuid::now_v7();
        let err = s
            .save_certificate(&clash, &audit("cert.request"))
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::Conflict, "{backend:?}");

        // Revocations.
        let r = Revocation {
            uvci: first.uvci.clone(),
            reason: "cấp nhầm".into(),
            revoked_by: "tinh".into(),
            revoked_at: at(210),
        };
        assert!(
            s.revoke_certificate(&r, &audit("cert.revoke"))
                .await
                .unwrap()
        );
        assert!(
            !s.revoke_certificate(&r, &audit("cert.revoke"))
                .await
                .unwrap()
        );
        assert_eq!(s.revocations().await.unwrap(), vec![r]);
        let (entries, _) = s.audit_chain().await.unwrap();
        assert_eq!(
            entries
                .iter()
                .filter(|e| e.entry.action.starts_with("cert."))
                .count(),
            3 + 4 + 1,
            "every successful change is audited once"
        );
        db.cleanup().await;
    }
}
