//! Chat posts as JSON between processes (Redis pub/sub). Whatever arrives is checked as
//! strictly as a client's message: a malformed post is refused, never half-delivered.

use super::What;
use serde_json::{Value, json};
use shared::protocol::{Channel, ChatLine, MAX_CHAT_CHARS, chat_flags};

#[derive(Debug, thiserror::Error)]
#[error("malformed chat post: {0}")]
pub struct Malformed(String);

pub fn encode(process: &str, what: &What) -> Value {
    match what {
        What::Line { room, line } => {
            let (channel, to) = match &line.channel {
                Channel::World => ("world", ""),
                Channel::Race => ("race", ""),
                Channel::Global => ("global", ""),
                Channel::Direct(name) => ("direct", name.as_str()),
            };
            json!({
                "process": process, "kind": "line", "room": room,
                "id": line.id, "channel": channel, "to": to, "from": line.from,
                "flags": line.flags, "time": line.time, "text": line.text,
            })
        }
        What::Mute { name, until } => {
            json!({ "process": process, "kind": "mute", "name": name, "until": until })
        }
        What::Kick { name } => json!({ "process": process, "kind": "kick", "name": name }),
    }
}

pub fn decode(text: &str) -> Result<(String, What), Malformed> {
    let bad = |what: &str| Malformed(what.to_owned());
    let v: Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
    let s = |k: &str| v[k].as_str().map(str::to_owned).ok_or_else(|| bad(k));
    let n = |k: &str| v[k].as_u64().ok_or_else(|| bad(k));
    let what = match s("kind")?.as_str() {
        "line" => {
            let channel = match s("channel")?.as_str() {
                "world" => Channel::World,
                "race" => Channel::Race,
                "global" => Channel::Global,
                "direct" => Channel::Direct(s("to")?),
                _ => return Err(bad("channel")),
            };
            let flags = u8::try_from(n("flags")?).map_err(|_| bad("flags"))?;
            let text = s("text")?;
            if flags & !chat_flags::ALL != 0 || text.chars().count() > MAX_CHAT_CHARS {
                return Err(bad("flags or text"));
            }
            What::Line {
                room: s("room")?,
                line: ChatLine {
                    id: n("id")?,
                    channel,
                    from: s("from")?,
                    flags,
                    time: n("time")?,
                    text,
                },
            }
        }
        "mute" => What::Mute {
            name: s("name")?,
            until: n("until")?,
        },
        "kick" => What::Kick { name: s("name")? },
        _ => return Err(bad("kind")),
    };
    Ok((s("process")?, what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posts_survive_the_trip_and_bad_ones_are_refused() {
        let posts = [
            What::Line {
                room: "p1-r1".into(),
                line: ChatLine {
                    id: 7,
                    channel: Channel::Direct("<i>bo</i>".into()),
                    from: "ace".into(),
                    flags: chat_flags::CLAIMED,
                    time: 1_700_000_000_000,
                    text: "\"quoted\" <b>&amp;</b>".into(),
                },
            },
            What::Mute {
                name: "spam".into(),
                until: 5,
            },
            What::Kick { name: "x".into() },
        ];
        for what in posts {
            let (process, back) = decode(&encode("p2", &what).to_string()).unwrap();
            assert_eq!((process.as_str(), back), ("p2", what));
        }
        let long = "a".repeat(MAX_CHAT_CHARS + 1);
        for bad in [
            String::new(),
            "{}".into(),
            r#"{"process":"p","kind":"line","room":"r","id":1,"channel":"dm","to":"","from":"a","flags":0,"time":0,"text":""}"#.into(),
            r#"{"process":"p","kind":"line","room":"r","id":1,"channel":"world","to":"","from":"a","flags":64,"time":0,"text":""}"#.into(),
            format!(r#"{{"process":"p","kind":"line","room":"r","id":1,"channel":"world","to":"","from":"a","flags":0,"time":0,"text":"{long}"}}"#),
            r#"{"process":"p","kind":"ban","name":"x"}"#.into(),
        ] {
            assert!(decode(&bad).is_err(), "{bad:?}");
        }
    }
}
