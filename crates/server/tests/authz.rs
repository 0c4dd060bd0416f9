//! The authorization matrix: every route of `server::route_specs()` × every role × a target
//! inside and outside the user's scope, plus anonymous callers, against the real server. The test
//! fails on any leak, and on any route it has no probe for (so a new route cannot slip in without
//! an authorization rule being exercised).

use std::collections::{BTreeMap, HashMap};

use domain::auth::{Access, Permission, Role, role_allows};
use domain::person::Person;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use server::authz::{RouteSpec, Surface};
use testkit::{TestApp, TestDb};
use uuid::Uuid;

/// Who is calling: a role with a scope, or nobody.
struct Caller {
    role: Option<Role>,
    client: reqwest::Client,
    csrf: String,
    /// Unit code and version of the user's scope (what "in scope" means for lists).
    unit: Option<(String, &'static str)>,
    /// A person the user may read (in scope).
    own_person: Option<Uuid>,
    /// A unit (code, version) and a person just outside the user's scope — in the same province
    /// where the scope is smaller than a province, so a check that compared provinces only
    /// would fail.
    outside_unit: (String, &'static str),
    outside_person: Uuid,
    /// Vaccination certificates of the inside and outside persons: a signed one (for the QR
    /// routes) and a pending one made for this caller alone (approved, then signed, by the
    /// probes of those routes).
    inside_certs: Certs,
    outside_certs: Certs,
}

/// A person's signed certificate and a pending one.
#[derive(Clone, Copy)]
struct Certs {
    issued: Uuid,
    pending: Uuid,
}

/// One probe: method, path, JSON body, and whether it targets data inside the caller's scope.
struct Probe {
    method: Method,
    path: String,
    body: Option<Value>,
}

struct World {
    app: TestApp,
    /// Persons of Lai Châu (12), where every scoped user works.
    inside: Vec<Person>,
    /// A person of Hà Nội (01), outside every scoped user's unit.
    outside: Person,
    /// An incoming record typed with the first Lai Châu person's pre-2025 commune (inside every
    /// scoped user's unit) and one typed in Hà Nội (outside).
    record_inside: Uuid,
    record_outside: Uuid,
    /// The open case of each person a case probe may target (person id → case id).
    cases: HashMap<Uuid, Uuid>,
    /// Outbreak records around each of those cases (person id → records).
    outbreaks: HashMap<Uuid, OutbreakFixture>,
}

fn source_record(commune: &str, id: &str) -> store::NewSourceRecord {
    store::NewSourceRecord {
        id: Uuid::now_v7(),
        kind: store::RecordKind::Dose,
        source: "authz".into(),
        external_id: id.into(),
        full_name: "Nguyễn Văn Kiểm".into(),
        dob: "1990-01-01".into(),
        sex: "male".into(),
        national_id: String::new(),
        commune_code: commune.into(),
        phone: String::new(),
        payload: serde_json::json!({}),
        batch_id: Uuid::now_v7(),
    }
}

async fn world() -> World {
    let db = TestDb::sqlite().await;
    let inside = testkit::load_demo(db.store.as_ref(), "12", 1500, 3)
        .await
        .persons;
    let outside = testkit::load_demo(db.store.as_ref(), "01", 200, 4)
        .await
        .persons
        .remove(0);
    let inside_record = source_record(
        inside[0].old_commune_code.as_deref().expect("old code"),
        "in",
    );
    let outside_record = source_record(&outside.commune_code, "out");
    let (record_inside, record_outside) = (inside_record.id, outside_record.id);
    db.store
        .insert_source_records(&[inside_record, outside_record])
        .await
        .unwrap();
    passport::hierarchy::keygen(
        db.store.as_ref(),
        &cert_passphrase().unwrap(),
        chrono::Utc::now() - chrono::Duration::days(1),
        "authz",
    )
    .await
    .unwrap();
    let cases = open_cases(db.store.as_ref(), &inside, &outside).await;
    let outbreaks = outbreak_fixtures(db.store.as_ref(), &cases, &inside, &outside).await;
    let app = TestApp::spawn_with(db, |s| s.with_cert_passphrase(cert_passphrase)).await;
    World {
        app,
        inside,
        outside,
        record_inside,
        record_outside,
        cases,
        outbreaks,
    }
}

/// The certificate signing keys' passphrase of this test's server.
fn cert_passphrase() -> Result<passport::Passphrase, domain::Error> {
    passport::Passphrase::new("authz test signing passphrase")
}

/// The certificates of a person for one caller: the person's signed certificate (made once,
/// after two doses) and a new pending one.
async fn certs_for(w: &World, issued: &mut HashMap<Uuid, Uuid>, person: Uuid) -> Certs {
    let s = w.app.db.store.as_ref();
    let p = w
        .inside
        .iter()
        .chain(std::iter::once(&w.outside))
        .find(|p| p.id == person)
        .expect("a known person")
        .clone();
    let now = chrono::Utc::now();
    if let std::collections::hash_map::Entry::Vacant(slot) = issued.entry(person) {
        let first = p
            .dob
            .max(chrono::NaiveDate::from_ymd_opt(2021, 8, 2).unwrap())
            + chrono::Duration::days(1);
        // Two Comirnaty doses: the primary series.
        for date in [first, first + chrono::Duration::days(28)] {
            testkit::give_dose(s, &p, "EU/1/20/1528", &date.to_string()).await;
        }
        let c = passport::issuing::issue_now(s, &cert_passphrase().unwrap(), &p, now, "authz")
            .await
            .expect("certificate issued");
        slot.insert(c.id);
    }
    let pending = passport::issuing::request(s, &p, now, "authz")
        .await
        .expect("certificate requested");
    Certs {
        issued: issued[&person],
        pending: pending.id,
    }
}

/// The scope each role gets in this test, all inside Lai Châu.
fn scope_for(role: Role, w: &World) -> (Option<String>, Option<Uuid>) {
    let commune = w.inside[0].commune_code.clone();
    match role {
        Role::Admin | Role::Verifier => (None, None),
        Role::Citizen => (None, Some(w.inside[0].id)),
        Role::ProvinceOfficer | Role::Lab | Role::TreatmentFacility => (Some("12".into()), None),
        Role::DistrictOfficer => {
            let old = w.inside[0]
                .old_commune_code
                .clone()
                .expect("demo persons have old codes");
            let units = domain::units::AdminUnits::embedded();
            (
                units.pre2025.get(&old).and_then(|u| u.parent_code.clone()),
                None,
            )
        }
        Role::CommuneStaff | Role::VaccinationSite | Role::Business => (Some(commune), None),
    }
}

async fn callers(w: &World) -> Vec<Caller> {
    let mut issued = HashMap::new();
    let inside_certs = certs_for(w, &mut issued, w.inside[0].id).await;
    let outside_certs = certs_for(w, &mut issued, w.outside.id).await;
    let mut out = vec![Caller {
        role: None,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        csrf: String::new(),
        unit: None,
        own_person: None,
        outside_unit: ("01".into(), "2025"),
        outside_person: w.outside.id,
        inside_certs,
        outside_certs,
    }];
    for role in Role::ALL {
        let (unit, person) = scope_for(role, w);
        let name = format!("u_{}", role.as_str());
        w.app
            .add_user(&name, role.as_str(), unit.as_deref(), person)
            .await;
        let (client, csrf) = w.app.login_as(&name).await;
        let version = match unit.as_deref() {
            Some(u) if u.len() == 3 => "pre2025",
            _ => "2025",
        };
        let (outside_unit, outside_person) = outside_for(role, unit.as_deref(), w);
        let own = person.unwrap_or(w.inside[0].id);
        let inside_certs = certs_for(w, &mut issued, own).await;
        let outside_certs = certs_for(w, &mut issued, outside_person).await;
        out.push(Caller {
            role: Some(role),
            client,
            csrf,
            unit: unit.map(|u| (u, version)).or(Some(("12".into(), "2025"))),
            own_person: person.or(Some(w.inside[0].id)),
            outside_unit,
            outside_person,
            inside_certs,
            outside_certs,
        });
    }
    out
}

/// The nearest unit and person outside a scope.
fn outside_for(role: Role, unit: Option<&str>, w: &World) -> ((String, &'static str), Uuid) {
    let units = domain::units::AdminUnits::embedded();
    match (role, unit) {
        // A citizen's "outside" is anyone else, even next door.
        (Role::Citizen, _) => (("01".into(), "2025"), w.inside[1].id),
        (_, Some(d)) if d.len() == 3 => {
            let p = w
                .inside
                .iter()
                .find(|p| {
                    p.old_commune_code
                        .as_deref()
                        .is_some_and(|o| !units.pre2025.is_within(o, d))
                })
                .expect("a Lai Châu person outside the district");
            ((p.commune_code.clone(), "2025"), p.id)
        }
        (_, Some(c)) if c.len() == 5 => {
            let p = w
                .inside
                .iter()
                .find(|p| p.commune_code != c)
                .expect("another commune");
            ((p.commune_code.clone(), "2025"), p.id)
        }
        _ => (("01".into(), "2025"), w.outside.id),
    }
}

/// Builds the request for a route, in or out of the caller's scope. Panics for a route without a
/// probe: add one here when adding a route.
fn probe(spec: &RouteSpec, c: &Caller, w: &World, inside: bool, fresh_user: Uuid) -> Probe {
    let (unit, version) = if inside {
        c.unit.clone().unwrap_or(("12".into(), "2025"))
    } else {
        c.outside_unit.clone()
    };
    let person = if inside {
        c.own_person.unwrap_or(w.inside[0].id)
    } else {
        c.outside_person
    };
    let m = spec.method.clone();
    let p = |path: String| Probe {
        method: m.clone(),
        path,
        body: None,
    };
    match (spec.method.as_str(), spec.path.as_str()) {
        ("GET", "/api/v1/units") => p("/api/v1/units?version=2025&level=province".into()),
        ("GET", "/api/v1/population") => p(format!(
            "/api/v1/population?unit={}",
            if inside { "12" } else { "01" }
        )),
        ("POST", "/api/v1/auth/login") => Probe {
            method: m,
            path: spec.path.clone(),
            // A different unknown user each time, so per-user throttling does not kick in.
            body: Some(serde_json::json!({
                "username": format!("nobody-{}", Uuid::new_v4().simple()),
                "password": "wrong-password"
            })),
        },
        ("POST", "/api/v1/auth/logout") => p(spec.path.clone()),
        ("GET", "/api/v1/auth/me") => p(spec.path.clone()),
        ("POST", "/api/v1/auth/password") => Probe {
            method: m,
            path: spec.path.clone(),
            body: Some(
                serde_json::json!({"current_password": "not-the-password", "new_password": "another-long-password"}),
            ),
        },
        ("POST", "/api/v1/auth/tokens") => Probe {
            method: m,
            path: spec.path.clone(),
            body: Some(serde_json::json!({"name": "probe"})),
        },
        ("GET", "/api/v1/persons") => p(format!(
            "/api/v1/persons?version={version}&unit={unit}&limit=500"
        )),
        ("GET", "/api/v1/persons/{id}") => p(format!("/api/v1/persons/{person}")),
        ("POST", "/api/v1/records") => Probe {
            method: m,
            path: spec.path.clone(),
            body: Some(serde_json::json!({
                "kind": "dose", "source": "probe",
                "records": [{"record_id": Uuid::new_v4().to_string(), "full_name": "Lò Văn Thử",
                             "dob": "1990-05-05", "sex": "male", "commune_code": unit, "lot": "A1"}]
            })),
        },
        ("GET", "/api/v1/records") => p("/api/v1/records?status=unlinked".into()),
        ("GET", "/api/v1/records/{id}") => p(format!("/api/v1/records/{}", record_for(w, inside))),
        ("POST", "/api/v1/records/{id}/decision") => Probe {
            method: m,
            path: format!("/api/v1/records/{}/decision", record_for(w, inside)),
            body: Some(serde_json::json!({"decision": "reject"})),
        },
        ("GET", "/api/v1/persons/{id}/records") => p(format!("/api/v1/persons/{person}/records")),
        ("GET", "/api/v1/persons/{id}/merges") => p(format!("/api/v1/persons/{person}/merges")),
        ("POST", "/api/v1/persons/{id}/merge") => Probe {
            method: m,
            path: format!("/api/v1/persons/{person}/merge"),
            // Merging a person into itself: refused (400) once the scope check has passed.
            body: Some(serde_json::json!({"duplicate_id": person.to_string()})),
        },
        ("POST", "/api/v1/persons/{id}/merges/{merge_id}/undo") => p(format!(
            "/api/v1/persons/{person}/merges/{}/undo",
            Uuid::new_v4()
        )),
        ("GET", "/api/v1/users") => p(spec.path.clone()),
        ("POST", "/api/v1/users") => Probe {
            method: m,
            path: spec.path.clone(),
            body: Some(serde_json::json!({
                "username": format!("made_{}", Uuid::new_v4().simple()),
                "password": "a-long-enough-password", "role": "verifier"
            })),
        },
        ("POST", "/api/v1/users/{id}/disable") => p(format!("/api/v1/users/{fresh_user}/disable")),
        ("POST", "/api/v1/users/{id}/enable") => p(format!("/api/v1/users/{fresh_user}/enable")),
        ("GET", "/api/v1/audit") => p("/api/v1/audit?limit=5".into()),
        ("GET", "/api/v1/coverage") => p(format!(
            "/api/v1/coverage?unit={unit}&hierarchy={version}&as_of=2026-01-01"
        )),
        // Rt: public aggregates of any unit.
        ("GET", "/api/v1/rt") => p(format!(
            "/api/v1/rt?unit={unit}&hierarchy={version}&days=60&as_of=2022-03-20"
        )),
        ("GET", "/api/v1/allocation") => p(format!(
            "/api/v1/allocation?unit={unit}&hierarchy={version}&product=Pfizer&doses=100&as_of=2026-01-01"
        )),
        ("POST", "/api/v1/doses") => Probe {
            method: m,
            path: spec.path.clone(),
            // A site not in the lists, so only the person's commune puts the row in scope.
            body: Some(serde_json::json!({"records": [{
                "record_id": Uuid::new_v4().to_string(), "full_name": "Lò Văn Thử",
                "dob": "1990-05-05", "sex": "male", "commune_code": dose_commune(w, c, inside),
                "vaccine": "Pfizer", "dose_date": "2021-08-02", "site_code": "probe"}]})),
        },
        ("POST", "/api/v1/persons/{id}/doses") => Probe {
            method: m,
            path: format!("/api/v1/persons/{person}/doses"),
            body: Some(
                serde_json::json!({"vaccine": "Pfizer", "dose_date": "2021-08-02",
                "site_code": "probe", "check_only": true}),
            ),
        },
        ("GET", "/api/v1/persons/{id}/vaccinations") => {
            p(format!("/api/v1/persons/{person}/vaccinations"))
        }
        ("GET", "/api/v1/vaccines" | "/api/v1/vaccination-sites" | "/api/v1/vaccine-lots") => {
            p(spec.path.clone())
        }
        ("GET", "/api/v1/doses/template.xlsx") => p(spec.path.clone()),
        ("GET", "/api/v1/followup") => p(format!(
            "/api/v1/followup?unit={unit}&hierarchy={version}&as_of=2026-01-01&limit=50"
        )),
        ("PUT", "/api/v1/followup/{id}") => Probe {
            method: m,
            path: format!("/api/v1/followup/{person}"),
            body: Some(serde_json::json!({"reason": "unreachable", "note": "probe"})),
        },
        ("POST", "/api/v1/certificates/verify") => Probe {
            method: m,
            path: spec.path.clone(),
            body: Some(serde_json::json!({"qr": "HC1:PROBE"})),
        },
        ("GET", "/api/v1/certificates/trust-list") => p(spec.path.clone()),
        ("GET", "/api/v1/certificates") => p("/api/v1/certificates?status=pending".into()),
        ("POST", "/api/v1/certificates") => Probe {
            method: m,
            path: spec.path.clone(),
            body: Some(serde_json::json!({"person_id": person})),
        },
        ("POST", "/api/v1/certificates/{id}/approve" | "/api/v1/certificates/{id}/sign") => {
            let certs = if inside {
                c.inside_certs
            } else {
                c.outside_certs
            };
            Probe {
                method: m,
                path: spec.path.replace("{id}", &certs.pending.to_string()),
                body: Some(serde_json::json!({})),
            }
        }
        (
            "GET",
            "/api/v1/certificates/{id}/qr.png"
            | "/api/v1/certificates/{id}/qr.svg"
            | "/api/v1/certificates/{id}/certificate.pdf",
        ) => {
            let certs = if inside {
                c.inside_certs
            } else {
                c.outside_certs
            };
            p(spec.path.replace("{id}", &certs.issued.to_string()))
        }
        ("GET", "/api/v1/persons/{id}/certificates") => {
            p(format!("/api/v1/persons/{person}/certificates"))
        }
        // Outbreak response: records of the person's case, lists and creations for the unit.
        ("GET" | "POST", "/api/v1/cases/{id}/contacts")
        | ("GET", "/api/v1/cases/{id}/graph.svg") => {
            let case = w.cases.get(&person).copied().unwrap_or_else(Uuid::nil);
            Probe {
                method: m,
                path: spec.path.replace("{id}", &case.to_string()),
                body: (spec.method == Method::POST).then(|| {
                    serde_json::json!({"full_name": "Lò Thị Tiếp", "last_exposure": "2022-03-01"})
                }),
            }
        }
        (_, path)
            if [
                "/api/v1/contacts/",
                "/api/v1/clusters/{id}",
                "/api/v1/sample-sessions/{id}",
                "/api/v1/samples/{id}",
            ]
            .iter()
            .any(|prefix| path.starts_with(prefix)) =>
        {
            let f = w.outbreaks.get(&person);
            let id = |pick: fn(&OutbreakFixture) -> Uuid| {
                f.map(pick).unwrap_or_else(Uuid::nil).to_string()
            };
            let case = w.cases.get(&person).copied().unwrap_or_else(Uuid::nil);
            let (target, body) = match path {
                "/api/v1/contacts/{id}" => (
                    id(|f| f.contact),
                    Some(serde_json::json!({"note": "probe"})),
                ),
                "/api/v1/clusters/{id}/cases" => {
                    (id(|f| f.cluster), Some(serde_json::json!({"add": [case]})))
                }
                "/api/v1/sample-sessions/{id}/samples" => (
                    id(|f| f.session),
                    Some(
                        serde_json::json!({"code": Uuid::new_v4().simple().to_string(),
                                            "members": [{"full_name": "Lò Văn Thử"}]}),
                    ),
                ),
                "/api/v1/samples/{id}/receive" => (id(|f| f.sample), Some(serde_json::json!({}))),
                "/api/v1/samples/{id}/result" => (
                    id(|f| f.sample),
                    Some(serde_json::json!({"result": "negative"})),
                ),
                _ => (
                    id(|f| f.cluster),
                    (spec.method == Method::PATCH).then(|| serde_json::json!({"zoning": "zoned"})),
                ),
            };
            Probe {
                method: m,
                path: path.replace("{id}", &target),
                body,
            }
        }
        ("POST", "/api/v1/clusters" | "/api/v1/sample-sessions" | "/api/v1/entry-declarations") => {
            let (commune, h) = outbreak_commune(w, c, inside);
            let body = match spec.path.as_str() {
                "/api/v1/clusters" => {
                    serde_json::json!({"name": "Ổ dịch thử", "commune_code": commune, "hierarchy": h})
                }
                "/api/v1/sample-sessions" => {
                    serde_json::json!({"place": "Điểm thử", "lab_code": "AUTHZ-LAB",
                                                                "commune_code": commune, "hierarchy": h})
                }
                _ => serde_json::json!({"full_name": "Người Về", "document_number": "C1234567",
                                        "gate_code": "G1", "entered_on": "2022-03-01", "from_area": "Lào",
                                        "variant_area": true, "commune_code": commune, "hierarchy": h}),
            };
            Probe {
                method: m,
                path: spec.path.clone(),
                body: Some(body),
            }
        }
        ("GET", "/api/v1/clusters" | "/api/v1/sample-sessions" | "/api/v1/entry-declarations") => {
            p(format!("{}?unit={unit}&hierarchy={version}", spec.path))
        }
        ("GET", "/api/v1/lab-queue" | "/api/v1/lab-turnaround") => p(format!(
            "{}?lab=AUTHZ-LAB&unit={unit}&hierarchy={version}",
            spec.path
        )),
        ("GET", "/api/v1/entry-declarations/share") => p(format!(
            "{}?unit={}",
            spec.path,
            if inside { "12" } else { "01" }
        )),
        ("PUT", "/api/v1/border-counts") => Probe {
            method: m,
            path: spec.path.clone(),
            body: Some(
                serde_json::json!({"gate_code": "G1", "province_code": if inside { "12" } else { "01" },
                                          "day": "2022-03-01", "entrants": 10, "from_variant_areas": 2}),
            ),
        },
        ("POST", "/api/v1/tests") => Probe {
            method: m,
            path: spec.path.clone(),
            body: Some(serde_json::json!({"records": [{
                "record_id": Uuid::new_v4().to_string(), "full_name": "Lò Văn Thử",
                "dob": "1990-05-05", "sex": "male", "commune_code": dose_commune(w, c, inside),
                "sample_date": "2022-03-01", "test_type": "rt-pcr", "result": "negative",
                "lab_code": "probe"}]})),
        },
        ("GET", "/api/v1/cases") => p(format!(
            "/api/v1/cases?unit={unit}&hierarchy={version}&limit=500"
        )),
        ("GET", "/api/v1/alerts") => p(format!("/api/v1/alerts?unit={unit}&hierarchy={version}")),
        ("GET", "/api/v1/daily-report" | "/api/v1/daily-report/missing") => p(format!(
            "{}?unit={unit}&hierarchy={version}&day=2022-03-01",
            spec.path
        )),
        ("POST", "/api/v1/daily-report") => Probe {
            method: m,
            path: spec.path.clone(),
            body: Some(
                serde_json::json!({"unit": unit, "hierarchy": version, "day": "2022-03-01"}),
            ),
        },
        ("POST", "/api/v1/my/checkins") => Probe {
            method: m,
            path: spec.path.clone(),
            body: Some(serde_json::json!({"spo2": 97, "resp_rate": 18})),
        },
        (_, path) if path.starts_with("/api/v1/cases/{id}") => {
            let case = w.cases.get(&person).copied().unwrap_or_else(Uuid::nil);
            let body = match (spec.method.as_str(), path) {
                ("PATCH", _) => Some(serde_json::json!({"note": "probe"})),
                (_, "/api/v1/cases/{id}/checkins") => {
                    Some(serde_json::json!({"spo2": 97, "resp_rate": 18}))
                }
                _ => Some(serde_json::json!({})),
            };
            Probe {
                method: m,
                path: path.replace("{id}", &case.to_string()),
                body: body.filter(|_| spec.method != Method::GET),
            }
        }
        // Epidemic levels: computed and approved for a whole province.
        ("GET", "/api/v1/levels") => p("/api/v1/levels".into()),
        ("POST", "/api/v1/levels/runs") => Probe {
            method: m,
            path: spec.path.clone(),
            body: Some(serde_json::json!({
                "province_code": province_of(&unit, version), "hierarchy": version,
                "week_start": "2022-03-07"})),
        },
        ("GET", "/api/v1/levels/runs") => p(format!(
            "/api/v1/levels/runs?province={}",
            province_of(&unit, version)
        )),
        ("GET", "/api/v1/levels/runs/{id}") => p(format!("/api/v1/levels/runs/{}", Uuid::nil())),
        ("POST", "/api/v1/levels/runs/{id}/approve") => {
            p(format!("/api/v1/levels/runs/{}/approve", Uuid::nil()))
        }
        ("PUT", "/api/v1/levels/capacity") => Probe {
            method: m,
            path: spec.path.clone(),
            body: Some(serde_json::json!({
                "unit_code": unit, "hierarchy": version, "week_start": "2022-03-07",
                "free_covid_beds": 10})),
        },
        ("GET", "/api/v1/levels/alerts") => p(format!(
            "/api/v1/levels/alerts?province={}&hierarchy={version}",
            province_of(&unit, version)
        )),
        ("GET", "/healthz" | "/readyz" | "/metrics") => p(spec.path.clone()),
        ("GET", path) if path.starts_with("/static/") => p(spec.path.clone()),
        (method, path) => panic!(
            "route {method} {path} has no authorization probe: add one to crates/server/tests/authz.rs"
        ),
    }
}

/// The province of a unit code in a hierarchy.
fn province_of(unit: &str, version: &str) -> String {
    let units = domain::units::AdminUnits::embedded();
    let h = domain::units::UnitVersion::parse(version).unwrap();
    units
        .hierarchy(h)
        .province_of(unit)
        .map(|p| p.code.clone())
        .unwrap_or_else(|| unit.to_string())
}

/// The commune typed on a dose row: one of the caller's unit (the first Lai Châu person's
/// pre-2025 commune, inside every scope), or that of the nearest person outside it (the pre-2025
/// commune for a pre-2025 district scope).
fn dose_commune(w: &World, c: &Caller, inside: bool) -> String {
    if inside {
        return w.inside[0].old_commune_code.clone().expect("old code");
    }
    let p = w
        .inside
        .iter()
        .chain(std::iter::once(&w.outside))
        .find(|p| p.id == c.outside_person)
        .expect("outside person");
    match &c.unit {
        Some((_, "pre2025")) => p.old_commune_code.clone().expect("old code"),
        _ => p.commune_code.clone(),
    }
}

fn record_for(w: &World, inside: bool) -> Uuid {
    if inside {
        w.record_inside
    } else {
        w.record_outside
    }
}

/// The status the policy demands for a caller on a route, in or out of scope.
fn expected(spec: &RouteSpec, c: &Caller, inside: bool) -> StatusCode {
    let path = spec.path.as_str();
    let Some(role) = c.role else {
        return match (spec.access, path) {
            (Access::Public, "/api/v1/auth/login") => StatusCode::UNAUTHORIZED,
            (Access::Public, _) => StatusCode::OK,
            _ => StatusCode::UNAUTHORIZED,
        };
    };
    let allowed = match spec.access {
        Access::Public | Access::Authenticated => true,
        Access::Requires(p) => role_allows(role, p),
    };
    if !allowed {
        return StatusCode::FORBIDDEN;
    }
    match path {
        "/api/v1/auth/login" => StatusCode::UNAUTHORIZED,
        "/api/v1/auth/password" => StatusCode::BAD_REQUEST,
        "/api/v1/auth/logout" => StatusCode::NO_CONTENT,
        "/api/v1/auth/tokens" | "/api/v1/users" if spec.method == Method::POST => {
            StatusCode::CREATED
        }
        "/api/v1/users/{id}/disable" | "/api/v1/users/{id}/enable" => StatusCode::NO_CONTENT,
        "/api/v1/persons" if !inside && role != Role::Admin => StatusCode::FORBIDDEN,
        "/api/v1/persons/{id}"
        | "/api/v1/persons/{id}/records"
        | "/api/v1/persons/{id}/merges"
        | "/api/v1/persons/{id}/merge"
        | "/api/v1/records/{id}"
        | "/api/v1/records/{id}/decision"
        | "/api/v1/persons/{id}/doses"
        | "/api/v1/persons/{id}/vaccinations"
        | "/api/v1/persons/{id}/certificates"
        | "/api/v1/certificates/{id}/approve"
        | "/api/v1/certificates/{id}/sign"
        | "/api/v1/certificates/{id}/qr.png"
        | "/api/v1/certificates/{id}/qr.svg"
        | "/api/v1/certificates/{id}/certificate.pdf"
            if !inside && role != Role::Admin =>
        {
            StatusCode::NOT_FOUND
        }
        "/api/v1/followup" if !inside && role != Role::Admin => StatusCode::FORBIDDEN,
        "/api/v1/followup/{id}" if !inside && role != Role::Admin => StatusCode::NOT_FOUND,
        "/api/v1/records" if spec.method == Method::POST => StatusCode::CREATED,
        // A person outside the unit does not exist for the caller.
        "/api/v1/certificates" if spec.method == Method::POST && !inside && role != Role::Admin => {
            StatusCode::NOT_FOUND
        }
        "/api/v1/certificates" if spec.method == Method::POST => StatusCode::CREATED,
        "/api/v1/doses" if !inside && role != Role::Admin => StatusCode::FORBIDDEN,
        "/api/v1/doses" => StatusCode::CREATED,
        "/api/v1/persons/{id}/merge" => StatusCode::BAD_REQUEST,
        // Cases: out-of-scope records 404, lists 403; aggregates of any unit.
        "/api/v1/cases/{id}" | "/api/v1/cases/{id}/checkins" | "/api/v1/cases/{id}/discharge"
            if !inside && role != Role::Admin =>
        {
            StatusCode::NOT_FOUND
        }
        "/api/v1/cases" | "/api/v1/alerts" | "/api/v1/tests" | "/api/v1/daily-report"
            if spec.method != Method::GET || path != "/api/v1/daily-report" =>
        {
            match (inside || role == Role::Admin, spec.method == Method::POST) {
                (false, _) => StatusCode::FORBIDDEN,
                (true, true) => StatusCode::CREATED,
                (true, false) => StatusCode::OK,
            }
        }
        "/api/v1/cases/{id}/checkins" | "/api/v1/my/checkins" if spec.method == Method::POST => {
            StatusCode::CREATED
        }
        // No negative test in this world: not ready to be discharged.
        "/api/v1/cases/{id}/discharge" => StatusCode::BAD_REQUEST,
        // Outbreak response: records outside the unit 404, lists and creations there 403.
        "/api/v1/cases/{id}/contacts"
        | "/api/v1/cases/{id}/graph.svg"
        | "/api/v1/contacts/{id}"
        | "/api/v1/clusters/{id}"
        | "/api/v1/clusters/{id}/cases"
        | "/api/v1/clusters/{id}/graph.svg"
        | "/api/v1/sample-sessions/{id}/samples"
        | "/api/v1/samples/{id}/receive"
        | "/api/v1/samples/{id}/result"
            if !inside && role != Role::Admin =>
        {
            StatusCode::NOT_FOUND
        }
        "/api/v1/clusters"
        | "/api/v1/sample-sessions"
        | "/api/v1/lab-queue"
        | "/api/v1/lab-turnaround"
        | "/api/v1/entry-declarations"
        | "/api/v1/border-counts"
        | "/api/v1/entry-declarations/share"
            if !inside && role != Role::Admin =>
        {
            StatusCode::FORBIDDEN
        }
        "/api/v1/cases/{id}/contacts"
        | "/api/v1/clusters"
        | "/api/v1/sample-sessions"
        | "/api/v1/sample-sessions/{id}/samples"
        | "/api/v1/entry-declarations"
            if spec.method == Method::POST =>
        {
            StatusCode::CREATED
        }
        "/api/v1/persons/{id}/merges/{merge_id}/undo" => StatusCode::NOT_FOUND,
        // Levels: a whole province (district officers may only type their capacity).
        "/api/v1/levels/runs" if spec.method == Method::POST => {
            if role == Role::Admin || (role == Role::ProvinceOfficer && inside) {
                StatusCode::CREATED
            } else {
                StatusCode::FORBIDDEN
            }
        }
        "/api/v1/levels/alerts" => {
            if role == Role::Admin || (role == Role::ProvinceOfficer && inside) {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            }
        }
        "/api/v1/levels/runs/{id}" | "/api/v1/levels/runs/{id}/approve" => StatusCode::NOT_FOUND,
        "/api/v1/levels/capacity" if !inside && role != Role::Admin => StatusCode::FORBIDDEN,
        // Coverage is aggregate (any unit); allocation only within the caller's unit.
        "/api/v1/allocation" if !inside && role != Role::Admin => StatusCode::FORBIDDEN,
        _ => StatusCode::OK,
    }
}

/// Whether every person in a list response lies inside the caller's unit.
fn list_within_scope(body: &Value, c: &Caller) -> bool {
    let units = domain::units::AdminUnits::embedded();
    let Some((unit, version)) = &c.unit else {
        return true;
    };
    if c.role == Some(Role::Admin) {
        return true;
    }
    body["items"].as_array().is_some_and(|items| {
        items.iter().all(|p| match *version {
            "pre2025" => p["old_commune_code"]
                .as_str()
                .is_some_and(|old| units.pre2025.is_within(old, unit)),
            _ => p["commune_code"]
                .as_str()
                .is_some_and(|cc| units.v2025.is_within(cc, unit)),
        })
    })
}

/// Whether every certificate of a queue belongs to a person inside the caller's unit.
fn certificates_within_scope(body: &Value, c: &Caller, w: &World) -> bool {
    let units = domain::units::AdminUnits::embedded();
    if c.role == Some(Role::Admin) {
        return true;
    }
    let Some((code, version)) = &c.unit else {
        return false;
    };
    let scope = domain::auth::UnitRef::new(
        domain::units::UnitVersion::parse(version).unwrap(),
        code.as_str(),
    );
    body["items"].as_array().is_some_and(|items| {
        items.iter().all(|item| {
            w.inside
                .iter()
                .chain(std::iter::once(&w.outside))
                .find(|p| item["person_id"] == p.id.to_string())
                .is_some_and(|p| domain::auth::person_in_scope(units, &scope, p))
        })
    })
}

#[tokio::test]
async fn every_api_route_role_and_scope() {
    let w = world().await;
    let callers = callers(&w).await;
    let mut specs: Vec<RouteSpec> = server::route_specs()
        .into_iter()
        .filter(|s| s.surface == Surface::Api)
        .collect();
    // Logout ends the caller's session, so it runs last.
    specs.sort_by_key(|s| s.path == "/api/v1/auth/logout");
    let fresh = w.app.add_user("throwaway", "verifier", None, None).await.id;
    let mut failures = Vec::new();
    let mut checked = 0;
    for spec in &specs {
        for c in &callers {
            for inside in [true, false] {
                // Login and logout are not about data scope; probe them once.
                if !inside && spec.path.starts_with("/api/v1/auth/") {
                    continue;
                }
                let pr = probe(spec, c, &w, inside, fresh);
                let mut req = c.client.request(pr.method.clone(), w.app.url(&pr.path));
                if pr.method != Method::GET {
                    req = req.header("x-csrf-token", &c.csrf);
                }
                if let Some(b) = &pr.body {
                    req = req.json(b);
                }
                let res = req.send().await.unwrap();
                let status = res.status();
                let body: Value = res.json().await.unwrap_or(Value::Null);
                let want = expected(spec, c, inside);
                let who = c.role.map(|r| r.as_str()).unwrap_or("anonymous");
                checked += 1;
                if status != want {
                    failures.push(format!(
                        "{} {} as {who} (inside={inside}): got {status}, want {want}: {body}",
                        pr.method, pr.path
                    ));
                    continue;
                }
                if status == StatusCode::OK
                    && spec.path == "/api/v1/followup"
                    && (!list_within_scope(&body, c)
                        || body["items"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|p| p["national_id"].as_str().is_some_and(|n| !n.contains('*'))))
                {
                    failures.push(format!(
                        "LEAK: {} as {who}: follow-up list outside its unit or with a full ID",
                        pr.path
                    ));
                }
                if status == StatusCode::OK
                    && spec.path == "/api/v1/certificates"
                    && spec.method == Method::GET
                    && !certificates_within_scope(&body, c, &w)
                {
                    failures.push(format!(
                        "LEAK: {} as {who} listed certificates of persons outside its unit",
                        pr.path
                    ));
                }
                if status == StatusCode::OK
                    && spec.path == "/api/v1/cases"
                    && (!list_within_scope(&body, c)
                        || body["items"].as_array().into_iter().flatten().any(|i| {
                            i["phone"]
                                .as_str()
                                .is_some_and(|n| !n.is_empty() && !n.contains('*'))
                        }))
                {
                    failures.push(format!(
                        "LEAK: {} as {who}: cases outside its unit or with a full phone",
                        pr.path
                    ));
                }
                if status == StatusCode::OK
                    && spec.path == "/api/v1/persons"
                    && !list_within_scope(&body, c)
                {
                    failures.push(format!(
                        "LEAK: {} as {who} listed persons outside its unit",
                        pr.path
                    ));
                }
                if status == StatusCode::OK && spec.path == "/api/v1/persons/{id}" {
                    let full_id = body["national_id"].as_str().unwrap_or("");
                    if full_id.contains('*') {
                        failures.push(format!(
                            "{} as {who}: record should show the full ID",
                            pr.path
                        ));
                    }
                }
                if status == StatusCode::OK && spec.path == "/api/v1/persons" {
                    let leaked = body["items"].as_array().into_iter().flatten().any(|p| {
                        p["national_id"].as_str().is_some_and(|n| !n.contains('*'))
                            || p["phone"].as_str().is_some_and(|n| !n.contains('*'))
                    });
                    if leaked {
                        failures.push(format!(
                            "LEAK: {} as {who}: unmasked identifier in a list",
                            pr.path
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 200, "{checked}");
    w.app.stop().await;
}

#[tokio::test]
async fn every_page_route_requires_its_rule() {
    let w = world().await;
    let callers = callers(&w).await;
    let units = domain::units::AdminUnits::embedded();
    let commune = units.v2025.communes_under("12")[0].clone();
    let mut failures = Vec::new();
    let mut by_role: BTreeMap<&str, usize> = BTreeMap::new();
    for spec in server::route_specs()
        .into_iter()
        .filter(|s| s.surface == Surface::Page)
    {
        let path = spec
            .path
            .replace("{id}", &w.outside.id.to_string())
            .replace("{code}", "en")
            .replace("{merge_id}", &Uuid::nil().to_string());
        for c in &callers {
            // Each user lists their own unit.
            let path = match (path.as_str(), &c.unit) {
                ("/persons", Some((unit, version))) => {
                    format!("/persons?version={version}&unit={unit}")
                }
                ("/persons", None) => format!("/persons?unit={commune}"),
                _ => path.clone(),
            };
            if spec.path == "/logout" {
                continue; // ends the session; covered in auth tests
            }
            let req = c.client.request(spec.method.clone(), w.app.url(&path));
            let req = if spec.method == Method::POST {
                req.form(&[("csrf", "wrong")])
            } else {
                req
            };
            let res = req.send().await.unwrap();
            let status = res.status();
            let who = c.role.map(|r| r.as_str()).unwrap_or("anonymous");
            *by_role.entry(who).or_default() += 1;
            let is_post = spec.method == Method::POST;
            let ok = match (spec.access, c.role) {
                // A forged form (wrong CSRF token) is refused on every page POST.
                (Access::Public, _) if is_post => status == StatusCode::FORBIDDEN,
                (Access::Public, _) => status == StatusCode::OK || status == StatusCode::SEE_OTHER,
                (_, None) => {
                    status == StatusCode::SEE_OTHER
                        && res.headers()["location"]
                            .to_str()
                            .unwrap()
                            .starts_with("/login?next=")
                }
                (Access::Authenticated, Some(_)) if is_post => status == StatusCode::FORBIDDEN,
                (Access::Authenticated, Some(_)) => status == StatusCode::OK,
                (Access::Requires(p), Some(role)) => {
                    if role_allows(role, p) {
                        if is_post {
                            status == StatusCode::FORBIDDEN
                        } else {
                            // Allowed GETs succeed (200, or 303 for /admin), or, for a record
                            // outside the user's scope, 404.
                            matches!(
                                status,
                                StatusCode::OK | StatusCode::SEE_OTHER | StatusCode::NOT_FOUND
                            )
                        }
                    } else {
                        status == StatusCode::FORBIDDEN
                    }
                }
            };
            if !ok {
                failures.push(format!("{} {path} as {who}: {status}", spec.method));
            }
            // A person of another province is never shown to staff of Lai Châu.
            if spec.path == "/persons/{id}"
                && matches!(c.role, Some(r) if r != Role::Admin)
                && status == StatusCode::OK
            {
                failures.push(format!("LEAK: {path} as {who}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(by_role.len(), 11);
    let _ = Permission::ReadAudit;
    w.app.stop().await;
}

/// Opens a case (a positive test sampled on 1/3/2022) for every person a case probe may target:
/// the first Lai Châu person (inside every scope; the citizen's own) and the next one, the
/// Hà Nội person, and the nearest persons outside the commune and the district of the first.
async fn open_cases(
    store: &dyn store::Store,
    inside: &[Person],
    outside: &Person,
) -> HashMap<Uuid, Uuid> {
    let units = domain::units::AdminUnits::embedded();
    let first = &inside[0];
    let district = first
        .old_commune_code
        .as_deref()
        .and_then(|o| units.pre2025.get(o))
        .and_then(|u| u.parent_code.clone())
        .expect("a district");
    let mut targets: Vec<&Person> = vec![first, &inside[1], outside];
    targets.extend(inside.iter().find(|p| p.commune_code != first.commune_code));
    targets.extend(inside.iter().find(|p| {
        p.old_commune_code
            .as_deref()
            .is_some_and(|o| !units.pre2025.is_within(o, &district))
    }));
    let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let rows: Vec<domain::test_record::TestRow> = targets
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let cells: HashMap<&str, String> = HashMap::from([
                ("record_id", format!("authz-case-{i}")),
                (
                    "national_id",
                    p.national_id
                        .as_ref()
                        .map(|n| n.as_str().to_string())
                        .unwrap_or_default(),
                ),
                ("full_name", p.full_name.clone()),
                ("dob", p.dob.to_string()),
                ("sex", p.sex.as_str().to_string()),
                ("commune_code", p.commune_code.clone()),
                ("sample_date", "2022-03-01".into()),
                ("test_type", "rt-pcr".into()),
                ("result", "positive".into()),
                ("lab_code", "authz".into()),
            ]);
            domain::test_record::parse_row(|c| cells.get(c).cloned(), today).expect("a test row")
        })
        .collect();
    intake::lab_tests::record_tests(store, &rows, chrono::Utc::now(), None)
        .await
        .expect("cases opened");
    let mut out = HashMap::new();
    for p in targets {
        if let Some(c) = store.cases_of_person(p.id).await.expect("cases").first() {
            out.insert(p.id, c.id);
        }
    }
    assert!(
        out.contains_key(&first.id),
        "the first person's case was opened"
    );
    out
}

/// Outbreak records around a person's case: a contact of the case, a cluster and a sampling
/// session in the person's commune, and a single sample of the person in that session.
struct OutbreakFixture {
    contact: Uuid,
    cluster: Uuid,
    session: Uuid,
    sample: Uuid,
}

/// Creates the outbreak records of every person with a case.
async fn outbreak_fixtures(
    store: &dyn store::Store,
    cases: &HashMap<Uuid, Uuid>,
    inside: &[Person],
    outside: &Person,
) -> HashMap<Uuid, OutbreakFixture> {
    use intake::outbreaks as ob;
    let units = domain::units::AdminUnits::embedded();
    let now = chrono::Utc::now();
    let audit = domain::audit::NewAuditEntry {
        at: now,
        actor_id: None,
        actor: Some("authz".into()),
        action: "authz.fixture".into(),
        entity_type: None,
        entity_id: None,
        unit_code: None,
        ip: None,
        details: serde_json::json!({}),
    };
    let mut targets: Vec<(&Uuid, &Uuid)> = cases.iter().collect();
    targets.sort();
    let mut out = HashMap::new();
    for (i, (person_id, case_id)) in targets.into_iter().enumerate() {
        let p = inside
            .iter()
            .chain(std::iter::once(outside))
            .find(|p| p.id == *person_id)
            .expect("a known person");
        let case = store.case(*case_id).await.unwrap().expect("the case");
        let contact = ob::add_contacts(
            store,
            &case,
            &[ob::ContactInput {
                full_name: "Lò Thị Tiếp".into(),
                last_exposure: "2022-03-01".into(),
                ..ob::ContactInput::default()
            }],
            &ob::ContactRules::default(),
            now,
            &audit,
        )
        .await
        .expect("a contact")[0]
            .id;
        // Placed by the person's own units (both hierarchies), like the other person probes.
        let mut cluster = ob::new_cluster(
            units,
            &ob::ClusterInput {
                name: format!("Ổ dịch {i}"),
                commune_code: p.commune_code.clone(),
                opened_on: "2022-03-02".into(),
                ..ob::ClusterInput::default()
            },
            now,
        )
        .expect("a cluster");
        cluster.units = store::CaseUnits::of_person(p);
        ob::create_cluster(store, &cluster, &audit).await.unwrap();
        let mut session = ob::new_session(
            units,
            &ob::SessionInput {
                commune_code: p.commune_code.clone(),
                place: "Điểm lấy mẫu thử".into(),
                lab_code: "AUTHZ-LAB".into(),
                ..ob::SessionInput::default()
            },
            "authz",
            now,
        )
        .expect("a session");
        session.units = store::CaseUnits::of_person(p);
        ob::create_session(store, &session, &audit).await.unwrap();
        let sample = ob::add_samples(
            store,
            &session,
            &[ob::SampleInput {
                code: format!("AZ-{i}"),
                members: vec![ob::MemberInput {
                    full_name: p.full_name.clone(),
                    national_id: p
                        .national_id
                        .as_ref()
                        .map(|n| n.as_str().to_string())
                        .unwrap_or_default(),
                    phone: String::new(),
                }],
            }],
            now,
            &audit,
        )
        .await
        .expect("a sample")[0]
            .id;
        out.insert(
            *person_id,
            OutbreakFixture {
                contact,
                cluster: cluster.id,
                session: session.id,
                sample,
            },
        );
    }
    out
}

/// The commune typed on an outbreak form: the first Lai Châu person's (inside every scope) or
/// that of the nearest person outside the caller's unit, in the caller's hierarchy.
fn outbreak_commune(w: &World, c: &Caller, inside: bool) -> (String, &'static str) {
    let p = if inside {
        &w.inside[0]
    } else {
        w.inside
            .iter()
            .chain(std::iter::once(&w.outside))
            .find(|p| p.id == c.outside_person)
            .expect("outside person")
    };
    match &c.unit {
        Some((_, "pre2025")) => (p.old_commune_code.clone().expect("old code"), "pre2025"),
        _ => (p.commune_code.clone(), "2025"),
    }
}
