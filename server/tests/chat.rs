//! Chat over real sockets: channels reach the players they should and no one else,
//! markup stays text, the limits answer with a notice, direct messages reach one
//! player, and history survives a `kill -9` of the server.

mod common;

use common::{Server, Ws};
use shared::protocol::{Channel, ChatLine, Message, chat_flags};
use std::time::{Duration, Instant};

/// Joins as `name` (into `room`, if given); returns the socket and the name given.
fn player(server: &Server, name: &str, room: &str) -> (Ws, String) {
    let path = match room {
        "" => "/ws".to_owned(),
        r => format!("/ws?room={r}"),
    };
    let mut ws = Ws::open(server, &path);
    ws.send(2, &common::hello(name));
    let welcome = ws.message(2);
    let Ok(Message::Welcome(w)) = Message::decode(&welcome) else {
        panic!("no Welcome");
    };
    (ws, w.name)
}

fn say(ws: &mut Ws, channel: Channel, text: &str) {
    let mut body = Vec::new();
    Message::Say {
        channel,
        text: text.into(),
    }
    .encode(&mut body);
    ws.send(2, &body);
}

/// The chat messages (lines and notices) that arrive within `wait`.
fn heard(ws: &mut Ws, wait: Duration) -> (Vec<ChatLine>, Vec<String>) {
    let (mut lines, mut notices) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + wait;
    ws.0.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    while Instant::now() < deadline {
        let mut peek = [0u8; 1];
        match ws.0.peek(&mut peek) {
            Ok(n) if n > 0 => {}
            _ => continue,
        }
        ws.0.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let (op, payload) = ws.recv();
        ws.0.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        if op == 8 {
            break;
        }
        match Message::decode(&payload) {
            // At least once: history sent on join may overlap the first live lines;
            // the page files lines by (channel, id), as here.
            Ok(Message::Chat(line))
                if !(lines.iter())
                    .any(|l: &ChatLine| l.channel == line.channel && l.id == line.id) =>
            {
                lines.push(line)
            }
            Ok(Message::ChatNotice(text)) => notices.push(text),
            _ => {}
        }
    }
    (lines, notices)
}

fn texts(lines: &[ChatLine]) -> Vec<&str> {
    lines.iter().map(|l| l.text.as_str()).collect()
}

const SHORT: Duration = Duration::from_millis(700);

#[test]
fn channels_reach_their_players_and_limits_answer_with_notices() {
    let server = Server::start(&["--rooms", "2"]);
    let (mut ann, _) = player(&server, "ann", "r1");
    let (mut bob, _) = player(&server, "bob", "r1");
    let (mut cy, _) = player(&server, "cy", "r2");

    say(&mut ann, Channel::World, "  <b>hi</b>\u{202e}  all ");
    let (lines, _) = heard(&mut bob, SHORT);
    assert_eq!(
        texts(&lines),
        ["<b>hi</b> all"],
        "markup stays text, cleaned"
    );
    let line = &lines[0];
    assert_eq!(
        (line.from.as_str(), &line.channel),
        ("ann", &Channel::World)
    );
    assert!(line.id > 0 && line.time > 1_700_000_000_000);
    assert_eq!(line.flags & chat_flags::HISTORY, 0);
    let (lines, _) = heard(&mut ann, SHORT);
    assert_eq!(texts(&lines), ["<b>hi</b> all"], "the sender's receipt");
    let (lines, _) = heard(&mut cy, SHORT);
    assert!(lines.is_empty(), "#world stays in its room: {lines:?}");

    say(&mut cy, Channel::Global, "hello everyone");
    for ws in [&mut ann, &mut bob, &mut cy] {
        let (lines, _) = heard(ws, SHORT);
        assert_eq!(texts(&lines), ["hello everyone"]);
        assert_eq!(lines[0].channel, Channel::Global);
    }

    // Direct: the addressee and the sender's copy, nobody else.
    say(&mut ann, Channel::Direct("cy".into()), "psst");
    let (to_cy, _) = heard(&mut cy, SHORT);
    assert_eq!(texts(&to_cy), ["psst"]);
    assert_eq!(to_cy[0].channel, Channel::Direct("cy".into()));
    assert_eq!(to_cy[0].from, "ann");
    let (copy, _) = heard(&mut ann, SHORT);
    assert_eq!(texts(&copy), ["psst"]);
    assert!(heard(&mut bob, SHORT).0.is_empty());
    say(&mut ann, Channel::Direct("nobody".into()), "hello?");
    say(&mut ann, Channel::Direct("ann".into()), "me");
    let (lines, notices) = heard(&mut ann, SHORT);
    assert!(lines.is_empty());
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(
        notices[0].contains("no player named \"nobody\""),
        "{notices:?}"
    );
    assert!(notices[1].contains("that is you"), "{notices:?}");

    // Too long, empty, repeated: refused with a word, nothing sent.
    say(&mut bob, Channel::World, &"x".repeat(301));
    say(&mut bob, Channel::World, " \u{200b} ");
    say(&mut bob, Channel::World, "gg");
    say(&mut bob, Channel::World, "GG");
    let (lines, notices) = heard(&mut bob, SHORT);
    assert_eq!(texts(&lines), ["gg"]);
    assert_eq!(notices.len(), 3, "{notices:?}");
    assert!(notices[0].contains("at most 300"), "{notices:?}");
    assert!(notices[1].contains("nothing to send"), "{notices:?}");
    assert!(notices[2].contains("said that"), "{notices:?}");

    // A burst, then the steady rate.
    let (mut dee, _) = player(&server, "dee", "r2");
    for i in 0..8 {
        say(&mut dee, Channel::World, &format!("burst {i}"));
    }
    let (mut lines, notices) = heard(&mut dee, Duration::from_secs(1));
    lines.retain(|l| l.flags & chat_flags::HISTORY == 0);
    assert_eq!(lines.len(), 5, "the burst: {:?}", texts(&lines));
    assert!(
        notices.iter().all(|n| n.contains("slow down")),
        "{notices:?}"
    );
    assert_eq!(notices.len(), 3);

    // The stats count the deliveries.
    let stats = server.get("/stats");
    assert!(stats.contains("\"chat_delivered\":"), "{stats}");
}

#[test]
fn history_is_sent_on_join_and_survives_kill_9() {
    let data = std::env::temp_dir().join(format!("voxelcast-chat-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let data_arg = data.to_string_lossy().into_owned();
    let mut server = Server::start(&["--data", &data_arg]);
    let (mut ann, _) = player(&server, "ann", "");
    for i in 0..3 {
        say(&mut ann, Channel::World, &format!("line {i}"));
    }
    say(&mut ann, Channel::Race, "who races?");
    let (lines, _) = heard(&mut ann, SHORT);
    assert_eq!(lines.len(), 4, "each seen delivered: {lines:?}");
    // Killed without a chance to flush anything.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let server = Server::start(&["--data", &data_arg]);
    let (mut bob, _) = player(&server, "bob", "");
    let (lines, _) = heard(&mut bob, SHORT);
    assert_eq!(
        texts(&lines),
        ["line 0", "line 1", "line 2", "who races?"],
        "world first, then race"
    );
    assert!(lines.iter().all(|l| l.flags & chat_flags::HISTORY != 0));
    assert!(lines.windows(2).take(2).all(|w| w[0].id < w[1].id));
    assert_eq!(lines[3].channel, Channel::Race);
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}
