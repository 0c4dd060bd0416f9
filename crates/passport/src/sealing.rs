//! Private keys at rest: sealed with AES-256-GCM under a key derived from the operator's
//! passphrase with Argon2id (fresh salt and nonce per key). Layout of a sealed key:
//! `"PDK1" ‖ salt (16) ‖ nonce (12) ‖ ciphertext+tag`. The passphrase comes from configuration
//! (`PHONGDICH_CERT_PASSPHRASE`), never from the database.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use domain::{Error, ErrorCode};
use rand_core::RngCore;
use zeroize::Zeroizing;

const MAGIC: &[u8; 4] = b"PDK1";
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;
/// Shortest passphrase accepted.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// The operator's passphrase (kept out of `Debug` output and wiped on drop).
#[derive(Clone)]
pub struct Passphrase(Zeroizing<String>);

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(…)")
    }
}

impl Passphrase {
    /// Accepts a passphrase of at least [`MIN_PASSPHRASE_CHARS`] characters.
    pub fn new(text: &str) -> Result<Self, Error> {
        if text.chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(Error::invalid(
                "passphrase",
                format!("Mật khẩu bảo vệ khoá ký phải có ít nhất {MIN_PASSPHRASE_CHARS} ký tự"),
                format!("The key passphrase must have at least {MIN_PASSPHRASE_CHARS} characters"),
            ));
        }
        Ok(Passphrase(Zeroizing::new(text.to_string())))
    }

    /// From the environment variable `PHONGDICH_CERT_PASSPHRASE`.
    pub fn from_env() -> Result<Self, Error> {
        match std::env::var("PHONGDICH_CERT_PASSPHRASE") {
            Ok(p) => Passphrase::new(&p),
            Err(_) => Err(Error::new(
                ErrorCode::InvalidInput,
                "Chưa đặt biến môi trường PHONGDICH_CERT_PASSPHRASE (mật khẩu bảo vệ khoá ký)",
                "PHONGDICH_CERT_PASSPHRASE (the signing keys' passphrase) is not set",
            )),
        }
    }

    fn derive(&self, salt: &[u8]) -> Result<Zeroizing<[u8; 32]>, Error> {
        let mut key = Zeroizing::new([0u8; 32]);
        argon2::Argon2::default()
            .hash_password_into(self.0.as_bytes(), salt, key.as_mut())
            .map_err(|e| {
                tracing::error!(%e, "argon2");
                Error::internal()
            })?;
        Ok(key)
    }
}

/// Seals a private key.
pub fn seal(secret: &[u8], passphrase: &Passphrase) -> Result<Vec<u8>, Error> {
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    rand_core::OsRng.fill_bytes(&mut salt);
    rand_core::OsRng.fill_bytes(&mut nonce);
    let key = passphrase.derive(&salt)?;
    let cipher = Aes256Gcm::new_from_slice(key.as_ref()).map_err(|_| Error::internal())?;
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), secret)
        .map_err(|_| Error::internal())?;
    let mut out = Vec::with_capacity(4 + SALT_LEN + NONCE_LEN + sealed.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&salt);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens a sealed key; a wrong passphrase or damaged data is an error.
pub fn unseal(sealed: &[u8], passphrase: &Passphrase) -> Result<Zeroizing<Vec<u8>>, Error> {
    let header = 4 + SALT_LEN + NONCE_LEN;
    if sealed.len() <= header || &sealed[..4] != MAGIC {
        return Err(Error::new(
            ErrorCode::Internal,
            "Khoá ký đã lưu bị hỏng",
            "The stored signing key is damaged",
        ));
    }
    let salt = &sealed[4..4 + SALT_LEN];
    let nonce = &sealed[4 + SALT_LEN..header];
    let key = passphrase.derive(salt)?;
    let cipher = Aes256Gcm::new_from_slice(key.as_ref()).map_err(|_| Error::internal())?;
    cipher
        .decrypt(Nonce::from_slice(nonce), &sealed[header..])
        .map(Zeroizing::new)
        .map_err(|_| {
            Error::new(
                ErrorCode::InvalidInput,
                "Không mở được khoá ký: sai mật khẩu bảo vệ (PHONGDICH_CERT_PASSPHRASE)?",
                "Cannot open the signing key: wrong passphrase (PHONGDICH_CERT_PASSPHRASE)?",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_keys_open_only_with_their_passphrase() {
        let pass = Passphrase::new("mật khẩu đủ dài 2026").unwrap();
        let secret = b"PKCS#8 bytes of a private key";
        let sealed = seal(secret, &pass).unwrap();
        assert!(
            !sealed.windows(secret.len()).any(|w| w == secret),
            "not in clear"
        );
        assert_eq!(unseal(&sealed, &pass).unwrap().as_slice(), secret);
        // A fresh salt and nonce each time.
        assert_ne!(seal(secret, &pass).unwrap(), sealed);
        let other = Passphrase::new("một mật khẩu khác hẳn").unwrap();
        assert_eq!(
            unseal(&sealed, &other).unwrap_err().code,
            ErrorCode::InvalidInput
        );
        let mut damaged = sealed.clone();
        *damaged.last_mut().unwrap() ^= 1;
        assert!(unseal(&damaged, &pass).is_err());
        assert!(unseal(b"PDK1", &pass).is_err());
        assert!(Passphrase::new("ngắn").is_err());
    }
}
