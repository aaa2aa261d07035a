//! The opening handshake (RFC 6455 4.2): checking an upgrade request and answering it.

use super::deflate::{self, Deflate, Policy};
use super::{base64, sha1::Sha1};
use crate::http::request::Request;
use crate::http::response::{Head, simple};

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a client key.
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID.as_bytes());
    base64::encode(&h.finish())
}

/// An accepted upgrade.
#[derive(Debug)]
pub struct Accepted {
    /// The 101 response.
    pub response: Vec<u8>,
    /// permessage-deflate, if offered, allowed and accepted.
    pub deflate: Option<Deflate>,
}

/// Checks an upgrade request; `deflate` says what permessage-deflate to accept. `Err`
/// holds a complete refusal (the connection is closed after it).
pub fn respond(
    req: &Request,
    allowed_origins: &[String],
    deflate: Policy,
) -> Result<Accepted, Vec<u8>> {
    let refuse =
        |status, body: &str, extra: &[(&str, &str)]| Err(simple(status, body, false, extra));
    if req.method != "GET" {
        return refuse(405, "WebSocket upgrades use GET\n", &[("Allow", "GET")]);
    }
    if req.minor < 1 {
        return refuse(400, "WebSocket needs HTTP/1.1\n", &[]);
    }
    if !req.has_token("upgrade", "websocket") || !req.has_token("connection", "upgrade") {
        return refuse(
            426,
            "this endpoint speaks WebSocket\n",
            &[("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")],
        );
    }
    if req.headers("sec-websocket-version").ne(["13"]) {
        return refuse(
            426,
            "unsupported WebSocket version\n",
            &[("Sec-WebSocket-Version", "13")],
        );
    }
    let keys: Vec<&str> = req.headers("sec-websocket-key").collect();
    let key = match keys.as_slice() {
        [key] if base64::decode(key.as_bytes()).is_ok_and(|k| k.len() == 16) => *key,
        _ => return refuse(400, "Sec-WebSocket-Key must be 16 bytes in base64\n", &[]),
    };
    if !allowed_origins.is_empty() {
        let origin = req.header("origin").unwrap_or("");
        if !allowed_origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin))
        {
            return refuse(403, "origin not allowed\n", &[]);
        }
    }
    let deflate = deflate::negotiate(req.headers("sec-websocket-extensions"), deflate);
    let mut head = Head::new(101)
        .header("Upgrade", "websocket")
        .header("Connection", "Upgrade")
        .header("Sec-WebSocket-Accept", accept_key(key));
    if let Some(d) = deflate {
        head = head.header("Sec-WebSocket-Extensions", d.response());
    }
    Ok(Accepted {
        response: head.finish(),
        deflate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::{Limits, parse};

    fn request(extra: &str) -> Request {
        let text = format!("GET /ws HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n");
        parse(text.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap()
            .0
    }

    const GOOD: &str = "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

    fn status(r: &[u8]) -> &str {
        std::str::from_utf8(&r[9..12]).unwrap()
    }

    /// RFC 6455 section 1.3's example key and accept value.
    #[test]
    fn rfc6455_accept_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        let ok = respond(&request(GOOD), &[], Policy::Accept).unwrap();
        assert_eq!(ok.deflate, None, "not offered");
        let text = String::from_utf8(ok.response).unwrap();
        assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    }

    #[test]
    fn refusals() {
        let check = |extra: &str, code: &str| {
            let r = respond(&request(extra), &[], Policy::Accept).unwrap_err();
            assert_eq!(status(&r), code, "{extra}");
            r
        };
        let r = check(&GOOD.replace("Version: 13", "Version: 8"), "426");
        assert!(
            String::from_utf8(r)
                .unwrap()
                .contains("Sec-WebSocket-Version: 13\r\n")
        );
        check(&GOOD.replace("Upgrade: websocket\r\n", ""), "426");
        check(&GOOD.replace("keep-alive, Upgrade", "keep-alive"), "426");
        check(&GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ="), "400");
        check(&GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "!!!"), "400");
        check(
            &format!("{GOOD}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"),
            "400",
        );
    }

    #[test]
    fn permessage_deflate_when_allowed() {
        let offer = format!(
            "{GOOD}Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        );
        let ok = respond(&request(&offer), &[], Policy::Accept).unwrap();
        assert!(ok.deflate.is_some());
        let text = String::from_utf8(ok.response).unwrap();
        assert!(
            text.contains(
                "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n"
            ),
            "{text}"
        );
        let ok = respond(&request(&offer), &[], Policy::Stateless).unwrap();
        assert!(String::from_utf8(ok.response).unwrap().contains(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"
        ));
        let ok = respond(&request(&offer), &[], Policy::Off).unwrap();
        assert_eq!(ok.deflate, None);
        assert!(
            !String::from_utf8(ok.response)
                .unwrap()
                .contains("Extensions")
        );
    }

    #[test]
    fn origin_check() {
        let allowed = vec!["https://game.example".to_string()];
        let with = |o: &str| {
            respond(
                &request(&format!("{GOOD}Origin: {o}\r\n")),
                &allowed,
                Policy::Accept,
            )
        };
        assert!(with("https://game.example").is_ok());
        assert_eq!(status(&with("https://evil.example").unwrap_err()), "403");
        assert_eq!(
            status(&respond(&request(GOOD), &allowed, Policy::Accept).unwrap_err()),
            "403"
        );
    }
}
