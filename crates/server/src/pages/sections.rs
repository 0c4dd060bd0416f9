//! Sections of the main menu whose capabilities are not built yet. Each says so plainly and
//! names what it will hold, rather than showing invented figures.

use axum::Router;
use axum::routing::get;
use maud::{Markup, html};

use super::layout::{SECTIONS, page};
use crate::AppState;
use crate::i18n::Lang;

pub fn routes() -> Router<AppState> {
    let mut r = Router::new();
    for (path, _, _) in SECTIONS.iter().skip(1) {
        let path: &'static str = path;
        r = r.route(
            path,
            get(move |lang: Lang| async move { planned(lang, path) }),
        );
    }
    r
}

fn planned(lang: Lang, path: &'static str) -> Markup {
    let (_, vi, en) = SECTIONS
        .iter()
        .find(|(p, _, _)| *p == path)
        .copied()
        .unwrap_or(("/", "", ""));
    let title = lang.t(vi, en);
    page(
        lang,
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
