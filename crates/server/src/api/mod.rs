//! JSON API, version 1 (`/api/v1`). Every route is declared with its access rule in [`routes`];
//! lists are `{items, total}` (or a bare array where the contract says so); every error is
//! `{"error": {"code", "message", "details"}}`.

pub mod audit;
pub mod auth;
pub mod cases;
pub mod certificates;
pub mod coverage;
pub mod doses;
pub mod followup;
pub mod levels;
pub mod outbreaks;
pub mod persons;
pub mod population;
pub mod records;
pub mod rt;
pub mod units;
pub mod users;

use axum::Router;
use axum::http::Method;
use axum::routing::{get, patch, post, put};
use domain::auth::{Access, Permission};

use crate::AppState;
use crate::authz::{RouteSpec, SecuredRouter, Surface};

/// The API routes and their rules (relative to `/api/v1`).
pub fn routes() -> (Router<AppState>, Vec<RouteSpec>) {
    use Access::*;
    use Method as M;
    let (router, specs) = SecuredRouter::new("/api/v1", Surface::Api)
        .route(M::GET, "/units", Public, get(units::list))
        .route(M::GET, "/population", Public, get(population::pyramid))
        .route(M::POST, "/auth/login", Public, post(auth::login))
        .route(M::POST, "/auth/logout", Authenticated, post(auth::logout))
        .route(M::GET, "/auth/me", Authenticated, get(auth::me))
        .route(
            M::POST,
            "/auth/password",
            Authenticated,
            post(auth::change_password),
        )
        .route(
            M::POST,
            "/auth/tokens",
            Authenticated,
            post(auth::create_token),
        )
        .route(
            M::GET,
            "/persons",
            Requires(Permission::ListPersons),
            get(persons::list),
        )
        .route(
            M::GET,
            "/persons/{id}",
            Requires(Permission::ReadPerson),
            get(persons::get_one),
        )
        .route(
            M::GET,
            "/users",
            Requires(Permission::ManageUsers),
            get(users::list),
        )
        .route(
            M::POST,
            "/users",
            Requires(Permission::ManageUsers),
            post(users::create),
        )
        .route(
            M::POST,
            "/users/{id}/disable",
            Requires(Permission::ManageUsers),
            post(users::disable),
        )
        .route(
            M::POST,
            "/users/{id}/enable",
            Requires(Permission::ManageUsers),
            post(users::enable),
        )
        .route(
            M::POST,
            "/records",
            Requires(Permission::SubmitRecords),
            post(records::submit),
        )
        .route(
            M::GET,
            "/records",
            Requires(Permission::ReviewLinks),
            get(records::list),
        )
        .route(
            M::GET,
            "/records/{id}",
            Requires(Permission::ReviewLinks),
            get(records::get_one),
        )
        .route(
            M::POST,
            "/records/{id}/decision",
            Requires(Permission::ReviewLinks),
            post(records::decide),
        )
        .route(
            M::GET,
            "/persons/{id}/records",
            Requires(Permission::ReadPerson),
            get(records::records_of_person),
        )
        .route(
            M::GET,
            "/persons/{id}/merges",
            Requires(Permission::ReadPerson),
            get(records::merges_of_person),
        )
        .route(
            M::POST,
            "/persons/{id}/merge",
            Requires(Permission::ReviewLinks),
            post(records::merge),
        )
        .route(
            M::POST,
            "/persons/{id}/merges/{merge_id}/undo",
            Requires(Permission::ReviewLinks),
            post(records::undo),
        )
        .route(
            M::POST,
            "/doses",
            Requires(Permission::RecordDoses),
            post(doses::submit),
        )
        .route(
            M::POST,
            "/persons/{id}/doses",
            Requires(Permission::RecordDoses),
            post(doses::record_one),
        )
        .route(
            M::GET,
            "/persons/{id}/vaccinations",
            Requires(Permission::ReadPerson),
            get(doses::history),
        )
        .route(M::GET, "/vaccines", Public, get(doses::vaccines))
        .route(M::GET, "/vaccination-sites", Public, get(doses::sites))
        .route(
            M::GET,
            "/vaccine-lots",
            Requires(Permission::RecordDoses),
            get(doses::lots),
        )
        .route(M::GET, "/doses/template.xlsx", Public, get(doses::template))
        .route(
            M::GET,
            "/coverage",
            Requires(Permission::ViewCoverage),
            get(coverage::coverage),
        )
        .route(
            M::GET,
            "/allocation",
            Requires(Permission::PlanAllocation),
            get(coverage::allocation),
        )
        .route(
            M::GET,
            "/followup",
            Requires(Permission::ManageFollowUp),
            get(followup::list),
        )
        .route(
            M::PUT,
            "/followup/{id}",
            Requires(Permission::ManageFollowUp),
            put(followup::set_reason),
        )
        .route(
            M::POST,
            "/certificates/verify",
            Requires(Permission::VerifyCertificates),
            post(certificates::verify),
        )
        .route(
            M::GET,
            "/certificates/trust-list",
            Public,
            get(certificates::trust_list),
        )
        .route(
            M::GET,
            "/certificates",
            Requires(Permission::ApproveCertificates),
            get(certificates::list),
        )
        .route(
            M::POST,
            "/certificates",
            Requires(Permission::ApproveCertificates),
            post(certificates::request),
        )
        .route(
            M::POST,
            "/certificates/{id}/approve",
            Requires(Permission::ApproveCertificates),
            post(certificates::approve),
        )
        .route(
            M::POST,
            "/certificates/{id}/sign",
            Requires(Permission::SignCertificates),
            post(certificates::sign),
        )
        .route(
            M::GET,
            "/certificates/{id}/qr.png",
            Requires(Permission::ReadPerson),
            get(certificates::qr_png),
        )
        .route(
            M::GET,
            "/certificates/{id}/qr.svg",
            Requires(Permission::ReadPerson),
            get(certificates::qr_svg_route),
        )
        .route(
            M::GET,
            "/certificates/{id}/certificate.pdf",
            Requires(Permission::ReadPerson),
            get(certificates::pdf),
        )
        .route(
            M::GET,
            "/persons/{id}/certificates",
            Requires(Permission::ReadPerson),
            get(certificates::of_person),
        )
        .route(
            M::GET,
            "/audit",
            Requires(Permission::ReadAudit),
            get(audit::list),
        )
        .route(
            M::POST,
            "/tests",
            Requires(Permission::RecordTests),
            post(cases::submit_tests),
        )
        .route(
            M::GET,
            "/cases",
            Requires(Permission::ManageCases),
            get(cases::list),
        )
        .route(
            M::GET,
            "/cases/{id}",
            Requires(Permission::ManageCases),
            get(cases::get_one),
        )
        .route(
            M::PATCH,
            "/cases/{id}",
            Requires(Permission::ManageCases),
            patch(cases::patch),
        )
        .route(
            M::POST,
            "/cases/{id}/checkins",
            Requires(Permission::ManageCases),
            post(cases::add_checkin),
        )
        .route(
            M::GET,
            "/cases/{id}/checkins",
            Requires(Permission::ManageCases),
            get(cases::list_checkins),
        )
        .route(
            M::POST,
            "/cases/{id}/discharge",
            Requires(Permission::ManageCases),
            post(cases::discharge),
        )
        .route(
            M::GET,
            "/alerts",
            Requires(Permission::ManageCases),
            get(cases::alerts),
        )
        .route(
            M::GET,
            "/daily-report",
            Requires(Permission::ViewSurveillance),
            get(cases::daily_report),
        )
        .route(
            M::POST,
            "/daily-report",
            Requires(Permission::SubmitDailyReport),
            post(cases::submit_report),
        )
        .route(
            M::GET,
            "/daily-report/missing",
            Requires(Permission::ViewSurveillance),
            get(cases::missing),
        )
        .route(
            M::POST,
            "/my/checkins",
            Requires(Permission::SelfReport),
            post(cases::my_checkin),
        )
        .into_parts();
    let (outbreak_router, outbreak_specs) = outbreaks::routes();
    let (level_router, level_specs) = levels::routes();
    let (rt_router, rt_specs) = rt::routes();
    let mut specs = specs;
    specs.extend(outbreak_specs);
    specs.extend(level_specs);
    specs.extend(rt_specs);
    (
        router
            .merge(outbreak_router)
            .merge(level_router)
            .merge(rt_router)
            .fallback(not_found),
        specs,
    )
}

async fn not_found() -> crate::error::ApiError {
    crate::error::ApiError(domain::Error::new(
        domain::ErrorCode::NotFound,
        "Không có đường dẫn API này",
        "No such API route",
    ))
}
