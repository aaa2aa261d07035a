//! Writing response heads.

use std::fmt::Write;

pub fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// A response head under construction; `finish` adds the blank line.
pub struct Head(String);

impl Head {
    pub fn new(status: u16) -> Head {
        let mut s = String::with_capacity(256);
        let _ = write!(s, "HTTP/1.1 {status} {}\r\n", reason(status));
        Head(s)
    }

    pub fn header(mut self, name: &str, value: impl std::fmt::Display) -> Head {
        let _ = write!(self.0, "{name}: {value}\r\n");
        self
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.0.push_str("\r\n");
        self.0.into_bytes()
    }
}

/// A complete small response with a plain-text body; the connection stays open if `keep_alive`.
pub fn simple(status: u16, body: &str, keep_alive: bool, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut head = Head::new(status)
        .header("Content-Type", "text/plain; charset=utf-8")
        .header("Content-Length", body.len())
        .header(
            "Connection",
            if keep_alive { "keep-alive" } else { "close" },
        );
    for (name, value) in extra {
        head = head.header(name, value);
    }
    let mut out = head.finish();
    out.extend_from_slice(body.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_response_bytes() {
        let r = simple(405, "no\n", false, &[("Allow", "GET, HEAD")]);
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\nConnection: close\r\nAllow: GET, HEAD\r\n\r\nno\n"
        );
    }
}
