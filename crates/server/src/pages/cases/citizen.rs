//! `/my/checkin`: a citizen with an open case enters their self-monitoring values (SpO2,
//! breathing rate, pulse, temperature, blood pressure, symptoms) on a phone; the answer is
//! «Hãy liên hệ trạm y tế ngay» with the reasons when a warning sign shows, else «Tiếp tục theo
//! dõi». Without an open case the page says so. Mobile first: one column, large inputs.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::FormMap;
use super::detail::{checkin_input, vitals_fields};
use crate::AppState;
use crate::api::cases::{own_open_case, self_checkin, self_response};
use crate::auth::{Caller, ClientIp, Principal};
use crate::i18n::{Lang, date_vn};
use crate::pages::layout::page_for;
use crate::pages::{CsrfForm, PageError};

fn title(lang: Lang) -> &'static str {
    lang.t("Khai báo sức khỏe hằng ngày", "My daily check-in")
}

fn form(lang: Lang, p: &Principal) -> Markup {
    html! {
        form.stack #self-checkin method="post" action="/my/checkin" {
            input type="hidden" name="csrf" value=[p.csrf()];
            p.muted { (lang.t("Đo khi nghỉ ngơi; nhập những chỉ số đo được, để trống chỉ số không đo.",
                "Measure at rest; enter what you measured, leave the rest empty.")) }
            (vitals_fields(lang))
            button type="submit" { (lang.t("Gửi", "Send")) }
        }
    }
}

/// `GET /my/checkin`.
pub async fn page(
    State(state): State<AppState>,
    Caller(p): Caller,
    lang: Lang,
) -> Result<Markup, PageError> {
    let case = match own_open_case(&state, &p).await {
        Ok(c) => Some(c),
        Err(e) if e.code == domain::ErrorCode::NotFound => None,
        Err(error) => return Err(PageError { error, lang }),
    };
    Ok(page_for(
        lang,
        Some(&p),
        None,
        title(lang),
        html! {
            h1 { (title(lang)) }
            @if let Some(c) = case {
                p.muted { (c.full_name) " · " (lang.t("dương tính từ ngày", "positive since")) " " (date_vn(c.first_positive)) }
                (form(lang, &p))
            } @else {
                p.notice #no-open-case { (lang.t("Bạn không có ca bệnh nào đang được theo dõi tại nhà.",
                    "You have no case being followed at home.")) }
            }
        },
    ))
}

/// `POST /my/checkin`: the check-in, then the advice.
pub async fn submit(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    CsrfForm(f): CsrfForm<FormMap>,
) -> Result<Response, PageError> {
    let result = match checkin_input(&f) {
        Ok(input) => self_checkin(&state, &p, &ip, &input).await,
        Err(e) => Err(e),
    };
    let (checkin, _) = match result {
        Ok(r) => r,
        Err(e) if e.code == domain::ErrorCode::InvalidInput => {
            let body = page_for(
                lang,
                Some(&p),
                None,
                title(lang),
                html! {
                    h1 { (title(lang)) }
                    p.error #refused { (e.message(lang == Lang::En)) }
                    (form(lang, &p))
                },
            );
            return Ok((StatusCode::BAD_REQUEST, body).into_response());
        }
        Err(error) => return Err(PageError { error, lang }),
    };
    let r = self_response(&checkin);
    Ok(page_for(
        lang,
        Some(&p),
        None,
        title(lang),
        html! {
            h1 { (title(lang)) }
            @if r.escalate {
                div.error #advice data-escalate="true" {
                    h2 { (lang.t("Hãy liên hệ trạm y tế ngay", "Contact your health station now")) }
                    ul { @for reason in &r.reasons { li { (if lang == Lang::En { &reason.message_en } else { &reason.message_vi }) } } }
                    p { (lang.t("Nếu khó thở nhiều, tím tái hoặc lơ mơ, gọi cấp cứu 115.",
                        "If breathing is very hard, lips turn blue or you feel drowsy, call 115.")) }
                }
            } @else {
                div.ok #advice data-escalate="false" {
                    h2 { (lang.t("Tiếp tục theo dõi", "Keep monitoring")) }
                    p { (lang.t("Đo lại và khai báo 2 lần mỗi ngày. Liên hệ trạm y tế nếu thấy khó thở, đau ngực hoặc mệt nhiều hơn.",
                        "Measure and check in twice a day. Contact the health station if breathing gets hard, the chest hurts or you feel worse.")) }
                }
            }
            p { a href="/my/checkin" { (lang.t("Khai báo lần khác", "Another check-in")) } }
        },
    )
    .into_response())
}
