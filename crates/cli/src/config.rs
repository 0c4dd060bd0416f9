//! Configuration file (TOML) and its defaults. Flags and `PHONGDICH_*` variables take precedence
//! (handled by clap); this file fills in what they leave unset.

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

/// Default database: an SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./phongdich.db";
/// Default listen address.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Contents of `phongdich.toml`. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub database_url: Option<String>,
    pub bind: Option<String>,
    pub log_format: Option<LogFormat>,
    /// Reverse proxies (IP addresses) whose `X-Forwarded-For` header is believed.
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    #[serde(default)]
    pub demo: DemoConfig,
}

/// `[demo]` section: what `serve --demo` loads into an empty database.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoConfig {
    pub province: Option<String>,
    pub persons: Option<usize>,
    pub seed: Option<u64>,
}

impl FileConfig {
    /// Reads the given file, or `./phongdich.toml` if present, or returns defaults.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (Path::new("phongdich.toml").to_path_buf(), false),
        };
        if !required && !path.exists() {
            return Ok(FileConfig::default());
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("không đọc được tệp cấu hình {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("tệp cấu hình {} không hợp lệ", path.display()))
    }

    /// Database URL: flag/env value, else file, else the SQLite default.
    pub fn database_url(&self, from_cli: Option<String>) -> String {
        from_cli
            .or_else(|| self.database_url.clone())
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_and_rejects_unknown_keys() {
        let c: FileConfig = toml::from_str(
            "database_url = \"postgres://x/y\"\nlog_format = \"json\"\n[demo]\nprovince = \"12\"\n",
        )
        .unwrap();
        assert_eq!(c.log_format, Some(LogFormat::Json));
        assert_eq!(c.database_url(None), "postgres://x/y");
        assert_eq!(c.database_url(Some("sqlite://a".into())), "sqlite://a");
        assert_eq!(c.demo.province.as_deref(), Some("12"));
        assert!(toml::from_str::<FileConfig>("databse_url = 1").is_err());
        assert_eq!(
            FileConfig::default().database_url(None),
            DEFAULT_DATABASE_URL
        );
    }
}
