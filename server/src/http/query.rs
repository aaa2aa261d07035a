//! Query strings (`?a=1&b=x%20y`): split and percent-decoded, sans-IO. Keys and values
//! must be UTF-8 once decoded; `+` is a space, as forms send it.

/// Longest query string looked at.
pub const MAX_QUERY: usize = 2048;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("the query is longer than {MAX_QUERY} bytes")]
    TooLong,
    #[error("bad percent escape in the query")]
    BadEscape,
    #[error("the query is not UTF-8")]
    NotUtf8,
    #[error("{0} is given twice")]
    Repeated(String),
}

/// The `?…` part of a request target (empty without one).
pub fn of_target(target: &str) -> &str {
    target.split_once('?').map_or("", |(_, q)| q)
}

/// Pairs of `query`, in order; a key without `=` has an empty value. A key may appear
/// once.
pub fn parse(query: &str) -> Result<Vec<(String, String)>, QueryError> {
    if query.len() > MAX_QUERY {
        return Err(QueryError::TooLong);
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let (k, v) = (decode(k)?, decode(v)?);
        if out.iter().any(|(seen, _)| *seen == k) {
            return Err(QueryError::Repeated(k));
        }
        out.push((k, v));
    }
    Ok(out)
}

fn decode(s: &str) -> Result<String, QueryError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(QueryError::BadEscape)?;
                // Two hex digits exactly (`from_str_radix` alone would take "+1").
                let digit = |c: u8| (c as char).to_digit(16).ok_or(QueryError::BadEscape);
                out.push((digit(hex[0])? * 16 + digit(hex[1])?) as u8);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| QueryError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        parse(q).unwrap()
    }

    #[test]
    fn splits_and_decodes() {
        assert_eq!(of_target("/api/x?a=1&b=2"), "a=1&b=2");
        assert_eq!(of_target("/api/x"), "");
        assert_eq!(
            pairs("name=J%C3%BCrgen+K&course=00ff&flag&&"),
            [
                ("name".into(), "Jürgen K".into()),
                ("course".into(), "00ff".into()),
                ("flag".into(), String::new())
            ]
        );
        assert_eq!(pairs(""), []);
        assert_eq!(pairs("a=%3Cb%3E"), [("a".into(), "<b>".into())]);
    }

    #[test]
    fn rejects() {
        assert_eq!(parse("a=%"), Err(QueryError::BadEscape));
        assert_eq!(parse("a=%4"), Err(QueryError::BadEscape));
        assert_eq!(parse("a=%zz"), Err(QueryError::BadEscape));
        assert_eq!(parse("a=%+1"), Err(QueryError::BadEscape));
        assert_eq!(parse("a=%ff"), Err(QueryError::NotUtf8));
        assert_eq!(parse("a=1&a=2"), Err(QueryError::Repeated("a".into())));
        assert_eq!(parse(&"a".repeat(MAX_QUERY + 1)), Err(QueryError::TooLong));
    }
}
