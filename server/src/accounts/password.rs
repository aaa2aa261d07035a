//! Passwords: Argon2id with a random salt per password. The PHC string stored holds the
//! algorithm, its parameters and the salt, so raising the parameters later still
//! verifies older hashes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Shortest and longest password taken, in characters.
pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 128;

/// OWASP's first Argon2id choice: 19 MiB, two passes, one lane (≈ 25 ms here).
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("a password is {MIN_CHARS} to {MAX_CHARS} characters")]
    Length,
    #[error("no randomness for a salt: {0}")]
    Random(String),
    #[error("hashing failed: {0}")]
    Hash(String),
}

/// Checks a new password's length.
pub fn acceptable(password: &str) -> Result<(), PasswordError> {
    match password.chars().count() {
        MIN_CHARS..=MAX_CHARS => Ok(()),
        _ => Err(PasswordError::Length),
    }
}

/// The PHC string of `password` under a fresh salt. Slow on purpose: call it off the
/// async workers (`spawn_blocking`).
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| PasswordError::Random(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    let hash = hasher()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `stored` (a damaged one matches nothing).
/// As slow as [`hash`], whatever the answer.
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_salted_and_verifies() {
        let a = hash("correct horse").unwrap();
        let b = hash("correct horse").unwrap();
        assert_ne!(a, b, "a salt each");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert!(verify("correct horse", &a));
        assert!(!verify("correct horsE", &a));
        assert!(!verify("correct horse", "not a hash"));
        assert!(acceptable("1234567").is_err());
        assert!(acceptable("12345678").is_ok());
        assert!(acceptable(&"x".repeat(129)).is_err());
    }
}
