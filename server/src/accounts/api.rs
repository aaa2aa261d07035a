//! The account and operator endpoints (docs/HTTP.md):
//!
//! - `GET /api/account`: who this browser is signed in as.
//! - `POST /api/account/claim`, `/signin`, `/signout`, `/password`: JSON bodies; each
//!   must come from the site's own pages (`Origin`), as `application/json` (which a
//!   cross-site form cannot send).
//! - `POST /api/admin/mute`, `/kick`, `/revoke`: with `Authorization: Bearer <token>`
//!   from `--admin-token-file`; without that flag they do not exist.

use super::{AccountError, Accounts, SESSION_DAYS, token};
use crate::game::api::{Reply, bad, reply};
use crate::http::request::Request;
use crate::net::ApiCall;
use serde_json::{Value, json};
use std::time::Duration;

/// What the endpoints need besides the call.
pub struct Context<'a> {
    pub accounts: &'a Accounts,
    pub chat: &'a crate::chat::Chat,
    /// The operators' bearer token, if operators are allowed at all.
    pub admin_token: Option<&'a str>,
    /// Origins besides the site's own whose pages may call (`--allowed-origin`).
    pub allowed_origins: &'a [String],
}

/// The request came over TLS (at the proxy in front, which says so).
pub fn secure(request: &Request) -> bool {
    (request.header("x-forwarded-proto")).is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

/// Whether the request comes from the site's own pages: its `Origin` is this host (by
/// the scheme the proxy reports) or one allowed. A request without `Origin` is not.
pub fn same_origin(request: &Request, allowed: &[String]) -> bool {
    let Some(origin) = request.header("origin").map(str::trim) else {
        return false;
    };
    if allowed.iter().any(|a| a == origin) {
        return true;
    }
    let scheme = if secure(request) { "https" } else { "http" };
    request
        .header("host")
        .is_some_and(|host| origin == format!("{scheme}://{}", host.trim()))
}

/// The session token the request's cookie carries.
pub fn cookie_token(request: &Request) -> Option<&str> {
    token::from_cookies(request.headers("cookie"))
}

/// Answers the account and admin endpoints; `None` for any other path.
pub async fn handle(cx: &Context<'_>, call: &ApiCall<'_>) -> Option<Reply> {
    let path = call.path;
    if path == "/api/account" {
        return Some(match call.method {
            "GET" | "HEAD" => who(cx, call.request).await,
            _ => method_not_allowed("GET"),
        });
    }
    let action = path
        .strip_prefix("/api/account/")
        .map(|a| (false, a))
        .or_else(|| path.strip_prefix("/api/admin/").map(|a| (true, a)));
    let (admin, action) = action?;
    if admin && cx.admin_token.is_none() {
        return None;
    }
    if call.method != "POST" {
        return Some(method_not_allowed("POST"));
    }
    let is_json = (call.request.header("content-type")).is_some_and(|t| {
        t.trim()
            .to_ascii_lowercase()
            .starts_with("application/json")
    });
    if !is_json {
        return Some(reply(415, json!({ "error": "send application/json" })));
    }
    let body: Value = match serde_json::from_slice(call.body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return Some(bad("the body is a JSON object")),
        Err(e) => return Some(bad(format!("the body is not JSON: {e}"))),
    };
    Some(match admin {
        true => operator(cx, call, action, &body).await,
        false => account(cx, call, action, &body).await,
    })
}

fn method_not_allowed(allow: &str) -> Reply {
    let mut r = reply(405, json!({ "error": format!("use {allow}") }));
    r.headers.push(("Allow", allow.to_owned()));
    r
}

fn field<'a>(body: &'a Value, name: &str) -> Result<&'a str, Reply> {
    body[name]
        .as_str()
        .ok_or_else(|| bad(format!("{name} is missing (a string)")))
}

fn refusal(e: AccountError) -> Reply {
    if let AccountError::Unavailable(source) = &e {
        tracing::warn!(error = %source, "accounts unavailable");
    }
    let mut r = reply(e.status(), json!({ "error": e.to_string() }));
    if let AccountError::Wait(secs) = e {
        r.headers.push(("Retry-After", secs.to_string()));
    }
    r
}

async fn who(cx: &Context<'_>, request: &Request) -> Reply {
    let account = match cookie_token(request) {
        Some(t) => cx.accounts.session(t).await,
        None => Ok(None),
    };
    match account {
        Ok(Some(a)) => reply(200, json!({ "signed_in": true, "name": a.name })),
        Ok(None) => reply(200, json!({ "signed_in": false })),
        Err(e) => refusal(e),
    }
}

async fn account(cx: &Context<'_>, call: &ApiCall<'_>, action: &str, body: &Value) -> Reply {
    // Cookies ride along with cross-site requests; only our own pages may act on them.
    if !same_origin(call.request, cx.allowed_origins) {
        return reply(
            403,
            json!({ "error": "only the game's own pages may do this" }),
        );
    }
    let secure = secure(call.request);
    let signed_in = |session: super::Session, status: u16| {
        let mut r = reply(status, json!({ "signed_in": true, "name": session.name }));
        let max_age = SESSION_DAYS * 86_400;
        let cookie = token::set_cookie(&session.token, max_age, secure);
        r.headers.push(("Set-Cookie", cookie));
        r
    };
    let result = match action {
        "claim" | "signin" => {
            let (name, password) = match (field(body, "name"), field(body, "password")) {
                (Ok(n), Ok(p)) => (n, p),
                (Err(r), _) | (_, Err(r)) => return r,
            };
            if action == "claim" {
                cx.accounts
                    .claim(name, password, call.client)
                    .await
                    .map(|s| signed_in(s, 201))
            } else {
                cx.accounts
                    .sign_in(name, password, call.client)
                    .await
                    .map(|s| signed_in(s, 200))
            }
        }
        "signout" => {
            if let Some(t) = cookie_token(call.request) {
                if let Err(e) = cx.accounts.sign_out(t).await {
                    return refusal(e);
                }
            }
            let mut r = reply(200, json!({ "signed_in": false }));
            r.headers.push(("Set-Cookie", token::clear_cookie(secure)));
            Ok(r)
        }
        "password" => {
            let (old, new) = match (field(body, "old"), field(body, "new")) {
                (Ok(o), Ok(n)) => (o, n),
                (Err(r), _) | (_, Err(r)) => return r,
            };
            match cookie_token(call.request) {
                Some(t) => (cx.accounts.change_password(t, old, new).await)
                    .map(|()| reply(200, json!({ "changed": true }))),
                None => Err(AccountError::NotSignedIn),
            }
        }
        _ => return crate::game::api::not_found(format!("no account action {action:?}")),
    };
    result.unwrap_or_else(refusal)
}

/// Compares in time independent of where the strings differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0, |acc, (x, y)| acc | (x ^ y))
            == 0
}

async fn operator(cx: &Context<'_>, call: &ApiCall<'_>, action: &str, body: &Value) -> Reply {
    let given = (call.request.header("authorization"))
        .and_then(|v| v.trim().strip_prefix("Bearer "))
        .map(str::trim);
    let allowed = matches!((given, cx.admin_token), (Some(g), Some(t)) if same_secret(g, t));
    if !allowed {
        tracing::warn!(client = %call.client, action, "moderation: refused, no valid operator token");
        let mut r = reply(401, json!({ "error": "an operator token is needed" }));
        r.headers.push(("WWW-Authenticate", "Bearer".to_owned()));
        return r;
    }
    let name = match field(body, "name") {
        Ok(n) => n,
        Err(r) => return r,
    };
    match action {
        "mute" => {
            let minutes = body["minutes"].as_u64().unwrap_or(10).min(60 * 24 * 365);
            cx.chat.mute(name, Duration::from_secs(minutes * 60));
            reply(200, json!({ "muted": name, "minutes": minutes }))
        }
        "kick" => {
            cx.chat.kick(name);
            reply(200, json!({ "kicked": name }))
        }
        "revoke" => match cx.accounts.revoke(name).await {
            Ok(n) => reply(200, json!({ "revoked": name, "sessions": n })),
            Err(e) => refusal(e),
        },
        _ => crate::game::api::not_found(format!("no operator action {action:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request {
        Request {
            method: "POST".into(),
            target: "/api/account/signin".into(),
            minor: 1,
            headers: (headers.iter())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn origins() {
        let host = ("Host", "game.example:8080");
        assert!(same_origin(
            &request(&[host, ("Origin", "http://game.example:8080")]),
            &[]
        ));
        assert!(!same_origin(&request(&[host]), &[]), "no Origin");
        assert!(!same_origin(
            &request(&[host, ("Origin", "http://evil.example")]),
            &[]
        ));
        assert!(!same_origin(
            &request(&[host, ("Origin", "https://game.example:8080")]),
            &[]
        ));
        assert!(!same_origin(&request(&[host, ("Origin", "null")]), &[]));
        let tls = request(&[
            host,
            ("Origin", "https://game.example:8080"),
            ("X-Forwarded-Proto", "https"),
        ]);
        assert!(same_origin(&tls, &[]) && secure(&tls));
        let other = request(&[host, ("Origin", "https://friend.example")]);
        assert!(same_origin(&other, &["https://friend.example".into()]));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
