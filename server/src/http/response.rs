//! Writing response heads.

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        304 => "Not Modified",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
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
    /// A head with the status line and, as RFC 9110 (6.6.1) asks of a server with a
    /// clock, the current `Date`.
    pub fn new(status: u16) -> Head {
        Head::dated(status, SystemTime::now())
    }

    fn dated(status: u16, now: SystemTime) -> Head {
        let mut s = String::with_capacity(256);
        let _ = write!(s, "HTTP/1.1 {status} {}\r\n", reason(status));
        Head(s).header("Date", http_date(now))
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

/// `t` as an HTTP date (IMF-fixdate, RFC 9110 5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, time) = (secs / 86_400, secs % 86_400);
    // 1970-01-01 was a Thursday.
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    // Days to a civil date, after Howard Hinnant's `civil_from_days` (eras of 400 years
    // that start on 1 March, so the leap day comes last).
    let z = days + 719_468;
    let (era, day_of_era) = (z / 146_097, z % 146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = (month_from_march + 2) % 12; // 0 = January
    let year = era * 400 + year_of_era + u64::from(month < 2);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{weekday}, {day:02} {} {year:04} {:02}:{:02}:{:02} GMT",
        MONTHS[month as usize],
        time / 3600,
        time % 3600 / 60,
        time % 60
    )
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
    use std::time::Duration;

    #[test]
    fn simple_response_bytes() {
        let r = String::from_utf8(simple(405, "no\n", false, &[("Allow", "GET, HEAD")])).unwrap();
        let (status, rest) = r.split_once("\r\n").unwrap();
        assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
        let (date, rest) = rest.split_once("\r\n").unwrap();
        assert!(
            date.starts_with("Date: ") && date.ends_with(" GMT"),
            "{date}"
        );
        assert_eq!(
            rest,
            "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\nConnection: close\r\nAllow: GET, HEAD\r\n\r\nno\n"
        );
    }

    #[test]
    fn heads_carry_the_date() {
        let at = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(
            String::from_utf8(Head::dated(304, at).finish()).unwrap(),
            "HTTP/1.1 304 Not Modified\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n"
        );
    }

    /// Against Python's `email.utils.formatdate(t, usegmt=True)`: the RFC's example, leap
    /// days (2000 is a leap year, 2100 is not) and the last second of year 9999.
    #[test]
    fn http_dates() {
        for (secs, date) in [
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (951_868_799, "Tue, 29 Feb 2000 23:59:59 GMT"),
            (1_709_164_800, "Thu, 29 Feb 2024 00:00:00 GMT"),
            (4_107_542_399, "Sun, 28 Feb 2100 23:59:59 GMT"),
            (4_107_542_400, "Mon, 01 Mar 2100 00:00:00 GMT"),
            (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 GMT"),
        ] {
            assert_eq!(http_date(UNIX_EPOCH + Duration::from_secs(secs)), date);
        }
        // A clock before 1970 reads as the epoch rather than failing.
        assert_eq!(
            http_date(UNIX_EPOCH - Duration::from_secs(5)),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
    }
}
