//! Sections of the main menu whose capabilities are not built yet. Each says so plainly and
//! names what it will hold, rather than showing invented figures.

use axum::routing::{MethodRouter, get};
use maud::{Markup, html};

use super::layout::{SECTIONS, page_for};
use crate::AppState;
use crate::auth::{MaybeCaller, Principal};
use crate::i18n::Lang;

/// Sections with no capability yet: every one but the overview, vaccination, cases, epidemic
/// level, reports and administration.
pub fn planned_paths() -> impl Iterator<Item = &'static str> {
    SECTIONS.iter().map(|(p, _, _)| *p).filter(|p| {
        !matches!(
            *p,
            "/" | "/admin" | "/vaccination" | "/cases" | "/epidemic-level" | "/reports"
        )
    })
}

/// The handler of a planned section.
pub fn handler(path: &'static str) -> MethodRouter<AppState> {
    get(
        move |lang: Lang, MaybeCaller(who): MaybeCaller| async move {
            planned(lang, who.as_deref(), path)
        },
    )
}

fn planned(lang: Lang, who: Option<&Principal>, path: &'static str) -> Markup {
    let (_, vi, en) = SECTIONS
        .iter()
        .find(|(p, _, _)| *p == path)
        .copied()
        .unwrap_or(("/", "", ""));
    let title = lang.t(vi, en);
    page_for(
        lang,
        who,
        Some(path),
        title,
        html! {
            h1 { (title) }
            p.notice {
                (lang.t(
                    "Chức năng này đang được xây dựng; chưa có số liệu.",
                    "This capability is being built; there are no figures yet.",
                ))
            }
            p { a href="/" { (lang.t("Chọn đơn vị và xem sổ dân cư", "Pick a unit and view the population register")) } }
        },
    )
}
