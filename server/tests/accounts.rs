//! Accounts over real sockets: claiming a name, signing in and out with the cookie,
//! changing the password, what the game makes of a session, the abuse rules (Origin,
//! body limits, attempt limits, the same answer for an unknown name), operators'
//! moderation, and that no password or token reaches the log.

mod common;

use common::{Server, Ws, status};
use shared::protocol::{Channel, Message, chat_flags};
use std::io::Write;
use std::time::{Duration, Instant};

const ORIGIN: &str = "Origin: http://t\r\n";
const JSON: &str = "Content-Type: application/json\r\n";

struct Reply {
    status: u16,
    head: String,
    body: serde_json::Value,
}

impl Reply {
    /// The session cookie the reply sets: `vc_session=<token>`.
    fn cookie(&self) -> String {
        let line = (self.head.lines())
            .find(|l| l.starts_with("Set-Cookie: "))
            .unwrap_or_else(|| panic!("no Set-Cookie in {}", self.head));
        line["Set-Cookie: ".len()..]
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }
}

fn call(server: &Server, method: &str, path: &str, headers: &str, body: &str) -> Reply {
    let raw = server.exchange(
        format!(
            "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    Reply {
        status: status(head).parse().unwrap_or(0),
        head: head.to_owned(),
        body: serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    }
}

fn post(server: &Server, path: &str, cookie: &str, body: serde_json::Value) -> Reply {
    let cookie = match cookie {
        "" => String::new(),
        c => format!("Cookie: {c}\r\n"),
    };
    call(
        server,
        "POST",
        path,
        &format!("{ORIGIN}{JSON}{cookie}"),
        &body.to_string(),
    )
}

fn who(server: &Server, cookie: &str) -> serde_json::Value {
    call(
        server,
        "GET",
        "/api/account",
        &format!("Cookie: {cookie}\r\n"),
        "",
    )
    .body
}

/// Joins with `headers` (a cookie, an Origin) asking for `name`; the name given.
fn join(server: &Server, headers: &str, name: &str) -> (Ws, String) {
    let (mut ws, _) = Ws::open_with(server, "/ws", headers);
    ws.send(2, &common::hello(name));
    let Ok(Message::Welcome(w)) = Message::decode(&ws.message(2)) else {
        panic!("no Welcome");
    };
    (ws, w.name)
}

#[test]
fn claim_sign_in_sign_out_and_change_password() {
    let server = Server::start_logged(&[]);
    let password = "correct horse battery";
    let claimed = post(
        &server,
        "/api/account/claim",
        "",
        serde_json::json!({ "name": "Ace", "password": password }),
    );
    assert_eq!(claimed.status, 201, "{}", claimed.head);
    assert_eq!(claimed.body["name"], "Ace");
    let set = claimed
        .head
        .lines()
        .find(|l| l.starts_with("Set-Cookie"))
        .unwrap();
    assert!(
        set.contains("; HttpOnly") && set.contains("; SameSite=Strict") && set.contains("Path=/"),
        "{set}"
    );
    assert!(!set.contains("Secure"), "plain HTTP here: {set}");
    let first = claimed.cookie();
    assert_eq!(who(&server, &first)["name"], "Ace");
    assert_eq!(who(&server, "vc_session=0")["signed_in"], false);

    // Taken, by any case; too short a password; a name that is not a clean name.
    let taken = post(
        &server,
        "/api/account/claim",
        "",
        serde_json::json!({ "name": "ace", "password": "another one" }),
    );
    assert_eq!(
        (taken.status, taken.body["error"].as_str()),
        (409, Some("that name is claimed already"))
    );
    let short = post(
        &server,
        "/api/account/claim",
        "",
        serde_json::json!({ "name": "bo", "password": "short" }),
    );
    assert_eq!(short.status, 400);
    let messy = post(
        &server,
        "/api/account/claim",
        "",
        serde_json::json!({ "name": "a\u{202e}b", "password": "long enough" }),
    );
    assert_eq!(messy.status, 400);

    // Sign in again elsewhere: a second session.
    let signed = post(
        &server,
        "/api/account/signin",
        "",
        serde_json::json!({ "name": "ACE", "password": password }),
    );
    assert_eq!(
        (signed.status, signed.body["name"].as_str()),
        (200, Some("Ace"))
    );
    let second = signed.cookie();
    assert_ne!(first, second);

    // A new password needs the old one, and ends every other session.
    let wrong = post(
        &server,
        "/api/account/password",
        &second,
        serde_json::json!({ "old": "nope nope", "new": "brand new pass" }),
    );
    assert_eq!(wrong.status, 401);
    let changed = post(
        &server,
        "/api/account/password",
        &second,
        serde_json::json!({ "old": password, "new": "brand new pass" }),
    );
    assert_eq!(changed.status, 200, "{}", changed.head);
    assert_eq!(
        who(&server, &first)["signed_in"],
        false,
        "the other session ended"
    );
    assert_eq!(who(&server, &second)["name"], "Ace", "this one goes on");
    assert_eq!(
        post(
            &server,
            "/api/account/signin",
            "",
            serde_json::json!({ "name": "ace", "password": password })
        )
        .status,
        401
    );

    // Signing out ends the session and clears the cookie.
    let out = post(
        &server,
        "/api/account/signout",
        &second,
        serde_json::json!({}),
    );
    assert_eq!(out.status, 200);
    assert!(
        out.head
            .contains("Set-Cookie: vc_session=; Path=/; Max-Age=0"),
        "{}",
        out.head
    );
    assert_eq!(who(&server, &second)["signed_in"], false);
    assert_eq!(
        post(
            &server,
            "/api/account/password",
            &second,
            serde_json::json!({ "old": "brand new pass", "new": "x".repeat(9) })
        )
        .status,
        401
    );

    // Nothing secret in the log, which did record the events.
    let log = server.log();
    assert!(
        log.contains("name claimed") && log.contains("signed in"),
        "{log}"
    );
    for secret in [password, "brand new pass", &first[11..], &second[11..]] {
        assert!(!log.contains(secret), "{secret:?} is in the log");
    }
}

#[test]
fn abuse_is_refused_with_the_same_answer_for_unknown_names() {
    let server = Server::start(&[]);
    let body = serde_json::json!({ "name": "zed", "password": "zed's password" }).to_string();
    assert_eq!(
        call(&server, "POST", "/api/account/claim", JSON, &body).status,
        403,
        "no Origin"
    );
    let evil = format!("Origin: http://evil.example\r\n{JSON}");
    assert_eq!(
        call(&server, "POST", "/api/account/claim", &evil, &body).status,
        403
    );
    let form = format!("{ORIGIN}Content-Type: application/x-www-form-urlencoded\r\n");
    assert_eq!(
        call(&server, "POST", "/api/account/claim", &form, &body).status,
        415
    );
    assert_eq!(
        call(
            &server,
            "POST",
            "/api/account/claim",
            &format!("{ORIGIN}{JSON}"),
            "{nope"
        )
        .status,
        400
    );
    assert_eq!(
        call(
            &server,
            "POST",
            "/api/account/claim",
            &format!("{ORIGIN}{JSON}"),
            "[1]"
        )
        .status,
        400
    );
    let huge = format!("{{\"name\":\"{}\"}}", "x".repeat(5000));
    assert_eq!(
        call(
            &server,
            "POST",
            "/api/account/claim",
            &format!("{ORIGIN}{JSON}"),
            &huge
        )
        .status,
        413
    );
    let chunked = server.exchange(b"POST /api/account/claim HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    assert_eq!(status(&chunked), "411", "{chunked}");
    assert_eq!(
        call(&server, "GET", "/api/account/claim", "", "").status,
        405
    );
    assert_eq!(
        call(
            &server,
            "POST",
            "/api/admin/kick",
            &format!("{ORIGIN}{JSON}"),
            "{}"
        )
        .status,
        404,
        "no operator token: no admin endpoints"
    );
    // A body that never comes: the server gives up instead of waiting forever.
    let mut slow = server.connect();
    slow.write_all(b"POST /api/account/signin HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\n{")
        .unwrap();
    let mut answer = String::new();
    let started = Instant::now();
    let _ = std::io::Read::read_to_string(&mut slow, &mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(4));

    assert_eq!(
        post(
            &server,
            "/api/account/claim",
            "",
            serde_json::json!({ "name": "zed", "password": "zed's password" })
        )
        .status,
        201
    );
    let unknown = post(
        &server,
        "/api/account/signin",
        "",
        serde_json::json!({ "name": "nobody", "password": "zed's password" }),
    );
    let wrong = post(
        &server,
        "/api/account/signin",
        "",
        serde_json::json!({ "name": "zed", "password": "not zed's one" }),
    );
    assert_eq!(
        (unknown.status, &unknown.body),
        (wrong.status, &wrong.body),
        "the same answer"
    );
    assert_eq!(wrong.body["error"], "wrong name or password");
    // Five free failures for a name (two spent), then waits.
    for _ in 0..4 {
        assert_eq!(
            post(
                &server,
                "/api/account/signin",
                "",
                serde_json::json!({ "name": "zed", "password": "guess guess" })
            )
            .status,
            401
        );
    }
    let limited = post(
        &server,
        "/api/account/signin",
        "",
        serde_json::json!({ "name": "zed", "password": "zed's password" }),
    );
    assert_eq!(
        limited.status, 429,
        "even the right password waits: {}",
        limited.head
    );
    assert!(limited.head.contains("Retry-After: "), "{}", limited.head);
}

#[test]
fn the_game_knows_who_is_playing_and_guests_cannot_pass_for_them() {
    let server = Server::start(&[]);
    let claimed = post(
        &server,
        "/api/account/claim",
        "",
        serde_json::json!({ "name": "Ace", "password": "correct horse" }),
    );
    let cookie = claimed.cookie();
    let own = format!("Cookie: {cookie}\r\n{ORIGIN}");
    let (mut ace, name) = join(&server, &own, "someone else");
    assert_eq!(name, "Ace", "the account's name, whatever the Hello asks");
    let (mut guest, name) = join(&server, ORIGIN, "ace");
    assert_eq!(name, "ace#2", "a claimed name goes to its owner only");
    // Another site's page with the player's cookie plays as a guest.
    let foreign = format!("Cookie: {cookie}\r\nOrigin: http://evil.example\r\n");
    let (_hijack, name) = join(&server, &foreign, "");
    assert!(name.starts_with("pilot-"), "{name}");
    // The owner's chat lines carry the mark; a guest's do not.
    let mut say = Vec::new();
    Message::Say {
        channel: Channel::World,
        text: "hello".into(),
    }
    .encode(&mut say);
    ace.send(2, &say);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        assert!(Instant::now() < deadline, "no chat line");
        if let Ok(Message::Chat(line)) = Message::decode(&guest.message(24)) {
            assert_eq!(
                (line.from.as_str(), line.flags & chat_flags::CLAIMED),
                ("Ace", chat_flags::CLAIMED)
            );
            break;
        }
    }
}

#[test]
fn operators_mute_kick_and_revoke_with_their_token() {
    let dir = std::env::temp_dir().join(format!("voxelcast-admin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("token");
    std::fs::write(&token_file, "op-token-0123456789abcdef\n").unwrap();
    let server = Server::start(&["--admin-token-file", token_file.to_str().unwrap()]);
    let admin = |path: &str, token: &str, body: serde_json::Value| {
        call(
            &server,
            "POST",
            path,
            &format!("{JSON}Authorization: Bearer {token}\r\n"),
            &body.to_string(),
        )
    };
    assert_eq!(
        admin(
            "/api/admin/mute",
            "wrong-token-0123456789",
            serde_json::json!({ "name": "spam" })
        )
        .status,
        401
    );
    let (mut spam, _) = join(&server, ORIGIN, "spam");
    let muted = admin(
        "/api/admin/mute",
        "op-token-0123456789abcdef",
        serde_json::json!({ "name": "spam", "minutes": 5 }),
    );
    assert_eq!(muted.status, 200, "{}", muted.head);
    let mut say = Vec::new();
    Message::Say {
        channel: Channel::World,
        text: "buy gold".into(),
    }
    .encode(&mut say);
    spam.send(2, &say);
    let Ok(Message::ChatNotice(notice)) = Message::decode(&spam.message(25)) else {
        panic!("no notice");
    };
    assert!(notice.contains("an operator muted you"), "{notice}");
    assert_eq!(
        admin(
            "/api/admin/kick",
            "op-token-0123456789abcdef",
            serde_json::json!({ "name": "spam" })
        )
        .status,
        200
    );
    assert_eq!(spam.close_code(), 4403);
    // Revoking ends every session of a name.
    let claimed = post(
        &server,
        "/api/account/claim",
        "",
        serde_json::json!({ "name": "cheat", "password": "cheater's pass" }),
    );
    let cookie = claimed.cookie();
    let revoked = admin(
        "/api/admin/revoke",
        "op-token-0123456789abcdef",
        serde_json::json!({ "name": "cheat" }),
    );
    assert_eq!(revoked.body["sessions"], 1);
    assert_eq!(who(&server, &cookie)["signed_in"], false);
    let _ = std::fs::remove_dir_all(dir);
}
