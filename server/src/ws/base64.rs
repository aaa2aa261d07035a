//! Base64 (RFC 4648, standard alphabet, padded), for the WebSocket handshake.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid base64")]
pub struct DecodeError;

/// Strict decoding: canonical padding required, no whitespace, zero trailing bits.
pub fn decode(text: &[u8]) -> Result<Vec<u8>, DecodeError> {
    if text.len() % 4 != 0 {
        return Err(DecodeError);
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let quads = text.len() / 4;
    for (q, chunk) in text.chunks_exact(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && q + 1 != quads) {
            return Err(DecodeError);
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = n << 6 | value(c).ok_or(DecodeError)?;
        }
        n <<= 6 * pad as u32;
        let bytes = n.to_be_bytes();
        let keep = 3 - pad;
        // Non-canonical encodings (stray bits in the padding) are rejected.
        if bytes[1 + keep..].iter().any(|&b| b != 0) {
            return Err(DecodeError);
        }
        out.extend_from_slice(&bytes[1..1 + keep]);
    }
    Ok(out)
}

fn value(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    } as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4648 section 10.
    const VECTORS: [(&str, &str); 7] = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn rfc4648_vectors() {
        for (plain, coded) in VECTORS {
            assert_eq!(encode(plain.as_bytes()), coded);
            assert_eq!(decode(coded.as_bytes()).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "Zg=", "Zg===", "Z===", "Zm9v!A==", "Zg==Zg==", "Zh==", "Zm9=", " Zg==",
        ] {
            assert_eq!(decode(bad.as_bytes()), Err(DecodeError), "{bad}");
        }
    }

    proptest::proptest! {
        /// Against the `base64` crate: same encoding, and decoding agrees on every input.
        #[test]
        fn matches_reference(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100)) {
            use base64::Engine;
            let reference = base64::engine::general_purpose::STANDARD;
            let text = encode(&data);
            proptest::prop_assert_eq!(&text, &reference.encode(&data));
            proptest::prop_assert_eq!(decode(text.as_bytes()), Ok(data));
        }

        #[test]
        fn rejects_what_the_reference_rejects(text in "[A-Za-z0-9+/=]{0,12}") {
            use base64::Engine;
            let reference = base64::engine::general_purpose::STANDARD;
            proptest::prop_assert_eq!(decode(text.as_bytes()).ok(), reference.decode(&text).ok());
        }
    }
}
