//! Language of the web UI: Vietnamese by default, English on request (`lang` cookie set by
//! `/lang/{code}`). Strings are written inline as `lang.t("Tổng quan", "Overview")`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// UI language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    /// Picks the Vietnamese or English text.
    pub fn t(self, vi: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }

    /// The `lang` attribute value.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "vi" => Some(Lang::Vi),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// Reads the `lang` cookie from request headers.
    pub fn from_headers(headers: &axum::http::HeaderMap) -> Lang {
        headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == "lang")
            .and_then(|(_, v)| Lang::parse(v))
            .unwrap_or_default()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Lang::from_headers(&parts.headers))
    }
}

/// Formats a date the Vietnamese way, dd/mm/yyyy.
pub fn date_vn(d: chrono::NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// Formats an integer with `.` thousands separators (Vietnamese style): 12.345.
pub fn int_vn(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(
            date_vn(chrono::NaiveDate::from_ymd_opt(2021, 3, 7).unwrap()),
            "07/03/2021"
        );
        assert_eq!(int_vn(1234567), "1.234.567");
        assert_eq!(int_vn(12), "12");
        let mut h = axum::http::HeaderMap::new();
        h.insert("cookie", "a=b; lang=en".parse().unwrap());
        assert_eq!(Lang::from_headers(&h), Lang::En);
    }
}
