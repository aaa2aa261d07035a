//! Session tokens and the cookie that carries them. A token is 32 random bytes in hex;
//! the database keeps only its SHA-256, so a copy of the database signs no one in.

use sha2::{Digest, Sha256};

/// The cookie's name.
pub const COOKIE: &str = "vc_session";

/// A new token: 32 bytes from the operating system's generator, as 64 hex digits.
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(hex(&bytes))
}

/// What the database keeps of a token.
pub fn digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The session token in a request's `Cookie` headers, if one is well formed.
pub fn from_cookies<'a>(headers: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    headers
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().trim_matches('"'))
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `Set-Cookie` for a session: readable by no script (`HttpOnly`), sent by no other
/// site (`SameSite=Strict`), only over TLS when the page came over TLS (`Secure`).
pub fn set_cookie(token: &str, max_age_secs: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{secure}")
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_digests_and_cookies() {
        let t = new_token().unwrap();
        assert_eq!(t.len(), 64);
        assert_ne!(t, new_token().unwrap());
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let cookie = format!("a=1; {COOKIE}={t}; b=2");
        assert_eq!(
            from_cookies([cookie.as_str()].into_iter()),
            Some(t.as_str())
        );
        assert_eq!(
            from_cookies(["x=1", &format!("{COOKIE}=\"{t}\"")].into_iter()),
            Some(t.as_str())
        );
        for bad in [
            format!("{COOKIE}=short"),
            format!("{COOKIE}={}", "g".repeat(64)),
            String::new(),
        ] {
            assert_eq!(from_cookies([bad.as_str()].into_iter()), None, "{bad}");
        }
        assert_eq!(
            set_cookie(&t, 60, true),
            format!("{COOKIE}={t}; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure")
        );
        assert!(!clear_cookie(false).contains("Secure"));
    }
}
