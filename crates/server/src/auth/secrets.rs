//! Secrets: password hashing (argon2id) and random tokens for sessions, CSRF and API clients.
//! Tokens are 32 random bytes from the OS; only their SHA-256 is stored.

use argon2::password_hash::rand_core::OsRng as HashRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use domain::auth::Password;
use rand::TryRngCore;
use sha2::{Digest, Sha256};

fn argon2() -> Argon2<'static> {
    // argon2id with the OWASP-recommended minimum (19 MiB, 2 passes, 1 lane).
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// Hashes a password (slow on purpose: run it off the async threads).
pub async fn hash_password(password: Password) -> Result<String, domain::Error> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut HashRng);
        argon2()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| {
                tracing::error!(error = %e, "password hashing failed");
                domain::Error::internal()
            })
    })
    .await
    .map_err(|_| domain::Error::internal())?
}

/// Checks a password against a stored PHC hash string (`None`: compare with a dummy hash).
pub async fn verify_password(password: Password, phc: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(dummy_hash);
        PasswordHash::new(&phc)
            .map(|h| {
                argon2()
                    .verify_password(password.expose().as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
            && known
    })
    .await
    .unwrap_or(false)
}

/// A real hash of a random password, checked when the user does not exist so that a login
/// takes the same time either way (no user enumeration by timing).
pub fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            let salt = SaltString::generate(&mut HashRng);
            argon2()
                .hash_password(new_token("").as_bytes(), &salt)
                .map(|h| h.to_string())
                .unwrap_or_default()
        })
        .clone()
}

/// A fresh random token: 32 bytes from the OS, URL-safe base64, with a readable prefix.
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random source is available");
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// SHA-256 of a token, hex; what the database keeps.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Constant-time string equality (CSRF tokens).
pub fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_differ() {
        let p = Password::given("mat-khau-dai-2026");
        let h1 = hash_password(p.clone()).await.unwrap();
        let h2 = hash_password(p.clone()).await.unwrap();
        assert!(h1.starts_with("$argon2id$"));
        assert_ne!(h1, h2, "salted");
        assert!(verify_password(p.clone(), Some(h1.clone())).await);
        assert!(!verify_password(Password::given("sai"), Some(h1)).await);
        assert!(!verify_password(Password::given("x"), Some("garbage".into())).await);
        assert!(!verify_password(p, None).await);
    }

    #[test]
    fn tokens() {
        let a = new_token("pd_");
        assert!(a.starts_with("pd_") && a.len() == 3 + 43);
        assert_ne!(a, new_token("pd_"));
        assert_eq!(token_hash(&a).len(), 64);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("a", "ab"));
    }
}
