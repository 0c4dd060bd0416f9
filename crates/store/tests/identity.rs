//! Contract tests for users, sessions, API tokens, login throttling and the audit chain, on SQLite
//! and (with `PHONGDICH_TEST_PG`) PostgreSQL.

use chrono::{DateTime, Duration, Utc};
use domain::ErrorCode;
use domain::audit::NewAuditEntry;
use domain::auth::{Role, UnitRef, User, UserScope};
use domain::units::UnitVersion;
use store::{ApiTokenRecord, AuditFilter, SessionRecord};
use testkit::TestDb;
use uuid::Uuid;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_780_000_000, 123_456_789).unwrap()
}

fn user(name: &str, role: Role) -> User {
    User {
        id: Uuid::new_v4(),
        username: name.into(),
        display_name: format!("Cán bộ {name}"),
        role,
        scope: UserScope {
            unit: Some(UnitRef::new(UnitVersion::V2025, "12")),
            organisation: Some("CDC Lai Châu".into()),
            person_id: None,
        },
        disabled: false,
        created_at: t0(),
    }
}

fn note(action: &str) -> NewAuditEntry {
    entry(0, action)
}

#[tokio::test]
async fn users_sessions_and_tokens() {
    for db in TestDb::all().await {
        let s = &db.store;
        let u = user("tinh12", Role::ProvinceOfficer);
        s.create_user(&u, "$argon2id$fake", &note("user.create"))
            .await
            .unwrap();
        let err = s
            .create_user(&user("tinh12", Role::Admin), "x", &note("user.create"))
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::Conflict);
        // The failed write left no audit entry: a change and its entry commit together.
        assert_eq!(store::verify_audit(s.as_ref()).await.unwrap(), Ok(1));
        let (found, hash) = s.find_user_by_username("tinh12").await.unwrap().unwrap();
        assert_eq!(hash, "$argon2id$fake");
        assert_eq!(found.id, u.id);
        assert_eq!(found.scope, u.scope);
        assert_eq!(found.created_at, t0().trunc_subsecs_micros());
        assert_eq!(s.list_users().await.unwrap().len(), 1);
        assert!(s.find_user_by_username("nobody").await.unwrap().is_none());

        let session = SessionRecord {
            token_hash: "h1".into(),
            user_id: u.id,
            csrf_token: "c1".into(),
            created_at: t0(),
            expires_at: t0() + Duration::hours(8),
            ip: Some("10.0.0.1".into()),
        };
        s.create_session(&session).await.unwrap();
        let (got, su) = s
            .find_session("h1", t0() + Duration::hours(1))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.csrf_token, "c1");
        assert_eq!(su.username, "tinh12");
        assert!(
            s.find_session("h1", t0() + Duration::hours(9))
                .await
                .unwrap()
                .is_none(),
            "expired"
        );
        assert!(s.find_session("nope", t0()).await.unwrap().is_none());

        let token = ApiTokenRecord {
            id: Uuid::new_v4(),
            token_hash: "tok".into(),
            user_id: u.id,
            name: "etl".into(),
            created_at: t0(),
        };
        s.create_api_token(&token, &note("token.create"))
            .await
            .unwrap();
        assert_eq!(s.find_api_token("tok").await.unwrap().unwrap().id, u.id);

        // Disabling ends access through sessions and tokens alike, and ends the sessions.
        assert!(
            s.set_user_disabled(u.id, true, &note("user.disable"))
                .await
                .unwrap()
        );
        assert!(s.find_api_token("tok").await.unwrap().is_none());
        assert!(
            s.set_user_disabled(u.id, false, &note("user.enable"))
                .await
                .unwrap()
        );
        assert!(s.find_session("h1", t0()).await.unwrap().is_none());
        assert!(s.find_api_token("tok").await.unwrap().is_some());
        assert!(
            !s.set_user_disabled(Uuid::new_v4(), true, &note("user.disable"))
                .await
                .unwrap()
        );
        // create, token, disable, enable; the unknown user left nothing.
        assert_eq!(store::verify_audit(s.as_ref()).await.unwrap(), Ok(4));
        let h2 = SessionRecord {
            token_hash: "h2".into(),
            ..session.clone()
        };
        s.create_session(&h2).await.unwrap();
        s.delete_user_sessions(u.id).await.unwrap();
        assert!(s.find_session("h2", t0()).await.unwrap().is_none());

        // A new password ends sessions and revokes tokens in the same transaction.
        let h3 = SessionRecord {
            token_hash: "h3".into(),
            ..session.clone()
        };
        s.create_session(&h3).await.unwrap();
        s.set_password_hash(u.id, "new", &note("auth.password_change"))
            .await
            .unwrap();
        assert_eq!(
            s.find_user_by_username("tinh12").await.unwrap().unwrap().1,
            "new"
        );
        assert!(s.find_session("h3", t0()).await.unwrap().is_none());
        assert!(s.find_api_token("tok").await.unwrap().is_none());
        assert_eq!(store::verify_audit(s.as_ref()).await.unwrap(), Ok(5));
        db.cleanup().await;
    }
}

trait Micros {
    fn trunc_subsecs_micros(self) -> Self;
}
impl Micros for DateTime<Utc> {
    fn trunc_subsecs_micros(self) -> Self {
        use chrono::SubsecRound;
        self.trunc_subsecs(6)
    }
}

#[tokio::test]
async fn login_throttle_reservations() {
    use domain::auth::throttle::Reservation;
    for db in TestDb::all().await {
        let s = &db.store;
        let now = t0();
        for n in 1..=4 {
            assert_eq!(
                s.throttle_reserve("user:a", now, 5).await.unwrap(),
                Reservation::Proceed {
                    failures: n,
                    locked_until: None
                }
            );
        }
        // The fifth attempt is counted with the lock its failure would bring.
        let Reservation::Proceed {
            failures: 5,
            locked_until: Some(until),
        } = s.throttle_reserve("user:a", now, 5).await.unwrap()
        else {
            panic!("fifth attempt")
        };
        assert_eq!(
            s.throttle_reserve("user:a", now, 5).await.unwrap(),
            Reservation::Locked(until)
        );
        // Releasing without forgetting takes one attempt back and lifts the lock.
        s.throttle_release("user:a", false).await.unwrap();
        assert!(matches!(
            s.throttle_reserve("user:a", now, 5).await.unwrap(),
            Reservation::Proceed { failures: 5, .. }
        ));
        s.throttle_release("user:a", true).await.unwrap();
        assert_eq!(
            s.throttle_reserve("user:a", now, 5).await.unwrap(),
            Reservation::Proceed {
                failures: 1,
                locked_until: None
            }
        );
        // Concurrent attempts are serialised: exactly 5 proceed, the rest are refused.
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let st = s.clone();
            tasks.push(tokio::spawn(async move {
                st.throttle_reserve("user:b", t0(), 5).await.unwrap()
            }));
        }
        let mut proceeded = 0;
        for t in tasks {
            if matches!(t.await.unwrap(), Reservation::Proceed { .. }) {
                proceeded += 1;
            }
        }
        assert_eq!(proceeded, 5);
        db.cleanup().await;
    }
}

fn entry(i: i64, action: &str) -> NewAuditEntry {
    NewAuditEntry {
        at: t0() + Duration::seconds(i),
        actor_id: Some(Uuid::new_v4()),
        actor: Some(if i % 2 == 0 { "admin" } else { "xa" }.into()),
        action: action.into(),
        entity_type: Some("person".into()),
        entity_id: Some(format!("p{i}")),
        unit_code: Some("12".into()),
        ip: Some("127.0.0.1".into()),
        details: serde_json::json!({"b": 1, "a": [i, "x"]}),
    }
}

#[tokio::test]
async fn audit_chain_appends_lists_and_detects_tampering() {
    for db in TestDb::all().await {
        let s = &db.store;
        assert_eq!(store::verify_audit(s.as_ref()).await.unwrap(), Ok(0));
        for i in 1..=6 {
            let e = s
                .append_audit(&entry(
                    i,
                    if i <= 3 { "person.view" } else { "user.create" },
                ))
                .await
                .unwrap();
            assert_eq!(e.seq, i);
        }
        assert_eq!(store::verify_audit(s.as_ref()).await.unwrap(), Ok(6));

        let views = s
            .list_audit(&AuditFilter {
                action: Some("person.view".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(views.total, 3);
        assert_eq!(views.items[0].seq, 3, "newest first");
        let by_actor = s
            .list_audit(&AuditFilter {
                actor: Some("admin".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(by_actor.total, 3);
        let window = s
            .list_audit(&AuditFilter {
                from: Some(t0() + Duration::seconds(2)),
                to: Some(t0() + Duration::seconds(4)),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            window.items.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [3, 2]
        );

        // The application cannot change the log: the database refuses.
        let refused = db
            .execute_raw("UPDATE audit_log SET actor = 'x' WHERE seq = 2")
            .await;
        assert!(refused.is_err(), "append-only trigger");

        // An attacker who removes the guard and edits an entry is caught at that entry.
        let drop_guard = if db.url.starts_with("sqlite:") {
            "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;"
        } else {
            "DROP TRIGGER audit_log_no_change ON audit_log;"
        };
        db.execute_raw(drop_guard).await.unwrap();
        db.execute_raw("UPDATE audit_log SET actor = 'someone' WHERE seq = 2")
            .await
            .unwrap();
        let broken = store::verify_audit(s.as_ref()).await.unwrap().unwrap_err();
        assert_eq!(broken.seq, 2);
        db.execute_raw("UPDATE audit_log SET actor = 'admin' WHERE seq = 2")
            .await
            .unwrap();
        assert_eq!(store::verify_audit(s.as_ref()).await.unwrap(), Ok(6));
        // Deleting the newest entry is caught by the head record.
        db.execute_raw("DELETE FROM audit_log WHERE seq = 6")
            .await
            .unwrap();
        assert_eq!(
            store::verify_audit(s.as_ref())
                .await
                .unwrap()
                .unwrap_err()
                .seq,
            6
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn concurrent_audit_appends_keep_one_chain() {
    for db in TestDb::all().await {
        let mut tasks = Vec::new();
        for i in 0..20 {
            let s = db.store.clone();
            tasks.push(tokio::spawn(async move {
                s.append_audit(&entry(i, "auth.login")).await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(
            store::verify_audit(db.store.as_ref()).await.unwrap(),
            Ok(20)
        );
        db.cleanup().await;
    }
}
