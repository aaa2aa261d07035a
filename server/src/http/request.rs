//! Sans-IO HTTP/1.1 request-head parser: bytes in, a typed request or "need more" out.

use thiserror::Error;

/// Limits on a request head; defaults suit a game server that only serves files.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_head: usize,
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head: 8 * 1024,
            max_headers: 64,
        }
    }
}

#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum HttpError {
    #[error("malformed request: {0}")]
    BadRequest(&'static str),
    #[error("request head larger than {0} bytes")]
    HeadTooLarge(usize),
    #[error("request line longer than {0} bytes")]
    UriTooLong(usize),
    #[error("more than {0} header fields")]
    TooManyHeaders(usize),
    #[error("HTTP version not supported")]
    VersionNotSupported,
    #[error("a body needs a Content-Length here")]
    LengthRequired,
    #[error("request body larger than {0} bytes")]
    BodyTooLarge(usize),
}

impl HttpError {
    pub fn status(&self) -> u16 {
        match self {
            HttpError::BadRequest(_) => 400,
            HttpError::HeadTooLarge(_) | HttpError::TooManyHeaders(_) => 431,
            HttpError::UriTooLong(_) => 414,
            HttpError::VersionNotSupported => 505,
            HttpError::LengthRequired => 411,
            HttpError::BodyTooLarge(_) => 413,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub target: String,
    /// Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// All values of a header (names compare case-insensitively).
    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn header<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.headers(name).next()
    }

    /// Whether a comma-separated token list header (e.g. `Connection`) holds `token`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// How much the client wants the content coding `coding` in thousandths, 0 (not
    /// acceptable) to 1000: the weight of its own `Accept-Encoding` entry, else that of
    /// `*`, else 0 (RFC 9110, 12.5.3). A malformed weight counts as 0: better
    /// uncompressed than something the client cannot read.
    pub fn encoding_quality(&self, coding: &str) -> u16 {
        let mut wildcard = 0;
        for item in self.headers("accept-encoding").flat_map(|v| v.split(',')) {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let q = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .map_or(Some(1000), |(_, v)| qvalue(v.trim()))
                .unwrap_or(0);
            if name.eq_ignore_ascii_case(coding) {
                return q;
            }
            if name == "*" {
                wildcard = q;
            }
        }
        wildcard
    }

    /// HTTP/1.1 keeps the connection open unless told otherwise; HTTP/1.0 the reverse.
    pub fn keep_alive(&self) -> bool {
        if self.has_token("connection", "close") {
            false
        } else {
            self.minor >= 1 || self.has_token("connection", "keep-alive")
        }
    }

    /// The body's length by `Content-Length`, at most `max`: 0 without one. A chunked
    /// body is refused (411: the JSON endpoints take small bodies of known length), as
    /// are conflicting or malformed lengths (a request-smuggling staple).
    pub fn body_length(&self, max: usize) -> Result<usize, HttpError> {
        if self.header("transfer-encoding").is_some() {
            return Err(HttpError::LengthRequired);
        }
        let mut length = None;
        for v in self.headers("content-length").flat_map(|v| v.split(',')) {
            let v = v.trim();
            if v.is_empty() || v.len() > 12 || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(HttpError::BadRequest("malformed Content-Length"));
            }
            let n: usize = v
                .parse()
                .map_err(|_| HttpError::BadRequest("malformed Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(HttpError::BadRequest("conflicting Content-Length"));
            }
            length = Some(n);
        }
        match length.unwrap_or(0) {
            n if n > max => Err(HttpError::BodyTooLarge(max)),
            n => Ok(n),
        }
    }

    /// Whether a body follows the head (only the JSON endpoints read one).
    pub fn has_body(&self) -> bool {
        self.header("transfer-encoding").is_some()
            || self
                .header("content-length")
                .is_some_and(|v| v.trim() != "0")
    }
}

/// A weight (`qvalue`: "0" to "1" with up to three decimals) in thousandths.
fn qvalue(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0, |n, b| n * 10 + u16::from(b - b'0'));
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Parses a request head from the start of `buf`: `Ok(Some((request, head_len)))`, or
/// `Ok(None)` if the head is not complete yet (and still within the limits).
pub fn parse(buf: &[u8], limits: &Limits) -> Result<Option<(Request, usize)>, HttpError> {
    // RFC 9112 2.2: ignore empty lines before the request line.
    let skip = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let too_large = || {
        // No end to the request line within the limit: it is the target that is too long.
        let within = &buf[skip.min(limits.max_head)..buf.len().min(limits.max_head)];
        if !within.is_empty() && find(within, b"\r\n").is_none() {
            HttpError::UriTooLong(limits.max_head)
        } else {
            HttpError::HeadTooLarge(limits.max_head)
        }
    };
    let Some(end) = find(&buf[skip..], b"\r\n\r\n") else {
        if buf.len() > limits.max_head {
            return Err(too_large());
        }
        return Ok(None);
    };
    let head_len = skip + end + 4;
    if head_len > limits.max_head {
        return Err(too_large());
    }
    let head = std::str::from_utf8(&buf[skip..skip + end])
        .map_err(|_| HttpError::BadRequest("head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::BadRequest("request line"));
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(HttpError::BadRequest("method"));
    }
    if target.is_empty() || target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(HttpError::BadRequest("target"));
    }
    let minor = match version {
        "HTTP/1.1" => 1,
        "HTTP/1.0" => 0,
        v if v.starts_with("HTTP/") => return Err(HttpError::VersionNotSupported),
        _ => return Err(HttpError::BadRequest("version")),
    };
    let mut headers = Vec::new();
    for line in lines {
        if headers.len() == limits.max_headers {
            return Err(HttpError::TooManyHeaders(limits.max_headers));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(HttpError::BadRequest("header line"))?;
        // No whitespace before the colon; no obsolete line folding (RFC 9112 5.1, 5.2).
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(HttpError::BadRequest("header name"));
        }
        let value = value.trim_matches([' ', '\t']);
        if value.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f) {
            return Err(HttpError::BadRequest("header value"));
        }
        headers.push((name.to_owned(), value.to_owned()));
    }
    let request = Request {
        method: method.to_owned(),
        target: origin_form(target)?,
        minor,
        headers,
    };
    if request.minor == 1 && request.headers("host").count() != 1 {
        return Err(HttpError::BadRequest("HTTP/1.1 needs exactly one Host"));
    }
    if request.headers("content-length").count() > 1 {
        return Err(HttpError::BadRequest("several Content-Length"));
    }
    Ok(Some((request, head_len)))
}

/// The target in origin-form (`/path?query`). A server must accept the absolute-form too
/// (`http://host/path`, RFC 9112 3.2.2), which becomes its path; the authority is not
/// used (one site is served, whatever the Host). Other forms are kept for the router to
/// refuse.
fn origin_form(target: &str) -> Result<String, HttpError> {
    let scheme_end = target.find("://").unwrap_or(0);
    let scheme = &target[..scheme_end];
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return Ok(target.to_owned());
    }
    let rest = &target[scheme_end + 3..];
    let path_start = rest.find(['/', '?']).unwrap_or(rest.len());
    if path_start == 0 {
        return Err(HttpError::BadRequest("target without a host"));
    }
    Ok(match &rest[path_start..] {
        path if path.starts_with('/') => path.to_owned(),
        query => format!("/{query}"),
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// RFC 9110 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_lengths() {
        let with = |headers: &[(&str, &str)]| Request {
            method: "POST".into(),
            target: "/api/x".into(),
            minor: 1,
            headers: (headers.iter())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        assert_eq!(with(&[]).body_length(10), Ok(0));
        assert_eq!(with(&[("Content-Length", " 7 ")]).body_length(10), Ok(7));
        assert_eq!(with(&[("content-length", "7, 7")]).body_length(10), Ok(7));
        assert_eq!(
            with(&[("Content-Length", "11")]).body_length(10),
            Err(HttpError::BodyTooLarge(10))
        );
        assert_eq!(
            with(&[("Content-Length", "99999999999999999999")]).body_length(10),
            Err(HttpError::BadRequest("malformed Content-Length"))
        );
        for bad in ["-1", "1e3", "", "0x10"] {
            assert!(
                with(&[("Content-Length", bad)]).body_length(10).is_err(),
                "{bad}"
            );
        }
        assert_eq!(
            with(&[("Content-Length", "3"), ("Content-Length", "4")]).body_length(10),
            Err(HttpError::BadRequest("conflicting Content-Length"))
        );
        assert_eq!(
            with(&[("Transfer-Encoding", "chunked")]).body_length(10),
            Err(HttpError::LengthRequired)
        );
        assert_eq!(HttpError::LengthRequired.status(), 411);
    }

    fn check(input: &str, expected: Result<Option<usize>, HttpError>) -> Option<Request> {
        let got = parse(input.as_bytes(), &Limits::default());
        let summary = got
            .as_ref()
            .map(|o| o.as_ref().map(|(_, n)| *n))
            .map_err(Clone::clone);
        assert_eq!(summary, expected, "{input:?}");
        got.ok().flatten().map(|(r, _)| r)
    }

    #[test]
    fn absolute_form_targets_become_paths() {
        for (target, path) in [
            ("http://localhost:8080/index.html?x=1", "/index.html?x=1"),
            ("HTTPS://example.com/ws", "/ws"),
            ("http://example.com", "/"),
            ("http://example.com?x", "/?x"),
            ("/already/a/path", "/already/a/path"),
            ("*", "*"),
            ("example.com:443", "example.com:443"),
        ] {
            let input = format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n");
            let r = check(&input, Ok(Some(input.len()))).unwrap();
            assert_eq!(r.target, path, "{target}");
        }
        check(
            "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n",
            Err(HttpError::BadRequest("target without a host")),
        );
    }

    #[test]
    fn parses_a_browser_request() {
        let input = "GET /index.html?x=1 HTTP/1.1\r\nHost: localhost:8080\r\nConnection: keep-alive, Upgrade\r\nAccept:  text/html \r\n\r\nNEXT";
        let r = check(input, Ok(Some(input.len() - 4))).unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, "/index.html?x=1");
        assert_eq!(r.minor, 1);
        assert_eq!(r.header("ACCEPT"), Some("text/html"));
        assert!(r.has_token("connection", "upgrade"));
        assert!(r.keep_alive());
        assert!(!r.has_body());
    }

    #[test]
    fn partial_is_not_invalid() {
        let full = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        for n in 0..full.len() {
            check(&full[..n], Ok(None));
        }
    }

    #[test]
    fn keep_alive_rules() {
        let r = check("GET / HTTP/1.0\r\n\r\n", Ok(Some(18))).unwrap();
        assert!(!r.keep_alive());
        let r = check(
            "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            Ok(Some(42)),
        )
        .unwrap();
        assert!(r.keep_alive());
        let r = check(
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            Ok(Some(46)),
        )
        .unwrap();
        assert!(!r.keep_alive());
    }

    #[test]
    fn rejects() {
        let bad = |s: &str, what| check(s, Err(HttpError::BadRequest(what)));
        bad("GET /\r\n\r\n", "request line");
        bad("GET  / HTTP/1.1\r\n\r\n", "request line");
        bad("G(T / HTTP/1.1\r\n\r\n", "method");
        bad("GET / HTTX/1.1\r\n\r\n", "version");
        bad("GET / HTTP/1.1\r\nHost : a\r\n\r\n", "header name");
        bad(
            "GET / HTTP/1.1\r\nHost: a\r\n X: folded\r\n\r\n",
            "header name",
        );
        bad(
            "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
            "header line",
        );
        bad("GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 needs exactly one Host");
        bad(
            "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            "several Content-Length",
        );
        bad("GET / HTTP/1.1\r\nHost: a\u{1}b\r\n\r\n", "header value");
        check(
            "GET / HTTP/2.0\r\n\r\n",
            Err(HttpError::VersionNotSupported),
        );
    }

    #[test]
    fn encoding_weights() {
        let quality = |accept: &str, coding: &str| {
            let head = format!("GET / HTTP/1.1\r\nHost: a\r\nAccept-Encoding: {accept}\r\n\r\n");
            let (req, _) = parse(head.as_bytes(), &Limits::default()).unwrap().unwrap();
            req.encoding_quality(coding)
        };
        assert_eq!(quality("gzip, deflate, br", "gzip"), 1000);
        assert_eq!(quality("gzip, deflate, br", "deflate"), 1000);
        assert_eq!(quality("GZIP", "gzip"), 1000, "names ignore case");
        assert_eq!(quality("br", "gzip"), 0, "not listed");
        assert_eq!(quality("deflate;q=0.5, gzip ; Q=0.25", "deflate"), 500);
        assert_eq!(quality("deflate;q=0.5, gzip ; Q=0.25", "gzip"), 250);
        assert_eq!(quality("gzip;q=0", "gzip"), 0);
        assert_eq!(quality("gzip;q=0.000", "gzip"), 0);
        assert_eq!(quality("gzip;q=1.000", "gzip"), 1000);
        assert_eq!(quality("gzip;q=0.001", "gzip"), 1);
        assert_eq!(quality("*", "gzip"), 1000, "the wildcard");
        assert_eq!(quality("*;q=0.3, deflate", "gzip"), 300);
        assert_eq!(quality("*, gzip;q=0", "gzip"), 0, "its own entry first");
        assert_eq!(quality("identity", "gzip"), 0);
        for bad in ["2", "1.5", "0.1234", "-1", "0.x", "", ".5", "1.001"] {
            assert_eq!(quality(&format!("gzip;q={bad}"), "gzip"), 0, "q={bad}");
        }
        let (req, _) = parse(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(req.encoding_quality("gzip"), 0, "no header");
    }

    #[test]
    fn limits() {
        let limits = Limits::default();
        let huge = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(limits.max_head));
        assert_eq!(
            parse(huge.as_bytes(), &limits),
            Err(HttpError::HeadTooLarge(limits.max_head))
        );
        assert_eq!(HttpError::HeadTooLarge(1).status(), 431);
        // A request line longer than the whole head may be, complete or not.
        let long = format!(
            "GET /{} HTTP/1.1\r\nHost: a\r\n\r\n",
            "a".repeat(limits.max_head)
        );
        for input in [&long[..], &long[..limits.max_head + 1]] {
            assert_eq!(
                parse(input.as_bytes(), &limits),
                Err(HttpError::UriTooLong(limits.max_head))
            );
        }
        assert_eq!(HttpError::UriTooLong(1).status(), 414);
        let many: String = (0..=limits.max_headers)
            .map(|i| format!("X{i}: y\r\n"))
            .collect();
        let req = format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n");
        assert_eq!(
            parse(req.as_bytes(), &limits),
            Err(HttpError::TooManyHeaders(limits.max_headers))
        );
    }
}
