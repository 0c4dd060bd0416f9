//! The page shell: header with the main sections, language switch, stylesheet and script.

use maud::{DOCTYPE, Markup, html};

use crate::assets::{CSS_PATH, JS_PATH};
use crate::auth::Principal;
use crate::i18n::Lang;

/// Main sections of the UI: path, Vietnamese and English labels.
pub const SECTIONS: [(&str, &str, &str); 7] = [
    ("/", "Tổng quan", "Overview"),
    ("/vaccination", "Tiêm chủng", "Vaccination"),
    ("/cases", "Ca bệnh", "Cases"),
    ("/epidemic-level", "Cấp độ dịch", "Epidemic level"),
    ("/capacity", "Năng lực điều trị", "Treatment capacity"),
    ("/reports", "Báo cáo", "Reports"),
    ("/admin", "Quản trị", "Administration"),
];

/// Wraps `content` in the shell for an anonymous visitor.
pub fn page(lang: Lang, current: Option<&str>, title: &str, content: Markup) -> Markup {
    page_for(lang, None, current, title, content)
}

/// Wraps `content` in the shell. `current` is the active section path, if any; `who` shows the
/// logged-in user with account links and a logout button.
pub fn page_for(
    lang: Lang,
    who: Option<&Principal>,
    current: Option<&str>,
    title: &str,
    content: Markup,
) -> Markup {
    let here = current.unwrap_or("/");
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — phongdich" }
                link rel="stylesheet" href=(CSS_PATH);
                script src=(JS_PATH) defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "phongdich" }
                    nav.sections aria-label=(lang.t("Các mục chính", "Main sections")) {
                        @for (path, vi, en) in SECTIONS {
                            @if current == Some(path) {
                                a href=(path) aria-current="page" { (lang.t(vi, en)) }
                            } @else {
                                a href=(path) { (lang.t(vi, en)) }
                            }
                        }
                    }
                    span.account {
                        @if let Some(p) = who {
                            @if domain::auth::role_allows(p.user.role, domain::auth::Permission::ReviewLinks) {
                                a href="/linkage/review" { (lang.t("Ghép nối", "Linkage")) }
                                " "
                            }
                            @if domain::auth::role_allows(p.user.role, domain::auth::Permission::ApproveCertificates) {
                                a href="/certificates" { (lang.t("Chứng nhận", "Certificates")) }
                                " "
                            } @else if domain::auth::role_allows(p.user.role, domain::auth::Permission::VerifyCertificates) {
                                a href="/certificates/verify" { (lang.t("Kiểm tra chứng nhận", "Verify certificates")) }
                                " "
                            } @else if p.user.scope.person_id.is_some() {
                                a href="/my/certificates" { (lang.t("Chứng nhận của tôi", "My certificate")) }
                                " "
                            }
                            a href="/account/password" title=(lang.t("Đổi mật khẩu", "Change password")) { (p.user.display_name) }
                            " "
                            form.inline method="post" action="/logout" {
                                input type="hidden" name="csrf" value=[p.csrf()];
                                button.link type="submit" { (lang.t("Đăng xuất", "Log out")) }
                            }
                        } @else {
                            a href="/login" { (lang.t("Đăng nhập", "Log in")) }
                        }
                    }
                    span.lang {
                        @if lang == Lang::Vi {
                            a href={ "/lang/en?next=" (here) } lang="en" { "English" }
                        } @else {
                            a href={ "/lang/vi?next=" (here) } lang="vi" { "Tiếng Việt" }
                        }
                    }
                }
                main { (content) }
            }
        }
    }
}
