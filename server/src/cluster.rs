//! What crosses processes, through Redis (`--redis URL`): every process advertises its
//! rooms in a registry whose entries expire unless renewed (a process that dies leaves
//! it within [`EXPIRY`]), lists everyone's rooms for the lobby, and relays saved runs
//! between the processes' buses (pub/sub), so a result reaches every room and a record
//! becomes the ghost in every room on that course.
//!
//! Redis going away never stops a room: the advertiser and the relay log it once, say so
//! in `/stats`, and carry on when it is back (the connection manager reconnects).

use crate::game::bus::{Announcement, Bus};
use crate::game::race::Best;
use redis::AsyncCommands;
use serde_json::{Value, json};
use shared::protocol::{GhostRun, GhostSample, RunResult};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use thiserror::Error;
use tokio::sync::Mutex;

/// A room's registry entry lives this long unless renewed (every [`RENEW`]).
pub const EXPIRY: Duration = Duration::from_secs(5);
pub const RENEW: Duration = Duration::from_secs(1);
/// Longest a Redis call may take before the room carries on without it.
const CALL: Duration = Duration::from_secs(2);
/// A reserved seat is held this long for its WebSocket to arrive.
pub const SEAT: Duration = Duration::from_secs(10);
const ROOMS: &str = "voxelcast:rooms";
const RUNS: &str = "voxelcast:runs";
const CHAT: &str = "voxelcast:chat";

#[derive(Debug, Error)]
pub enum ClusterError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("a malformed message from another process: {0}")]
    Malformed(String),
}

/// A room as the registry holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct RoomEntry {
    pub id: String,
    pub process: String,
    pub map: String,
    pub course: String,
    pub players: u64,
    pub capacity: u64,
    /// The record: name and ticks.
    pub record: Option<(String, u64)>,
}

pub struct Cluster {
    /// This process's name (room ids start with it).
    pub process: String,
    client: redis::Client,
    conn: Mutex<Option<redis::aio::ConnectionManager>>,
    up: AtomicBool,
}

fn key(room: &str) -> String {
    format!("voxelcast:room:{room}")
}

fn seats(room: &str) -> String {
    format!("voxelcast:seats:{room}")
}

/// Reserves a seat in one step: the room must be advertised, and its players plus the
/// seats still held must leave one free. Seats are a sorted set scored by when they
/// lapse; lapsed ones are dropped first. KEYS: room hash, seats; ARGV: now (ms), the
/// new seat's lapse (ms), its token. 1: reserved, 0: full, -1: no such room.
const RESERVE: &str = r#"
local players = tonumber(redis.call('HGET', KEYS[1], 'players'))
if players == nil then return -1 end
local capacity = tonumber(redis.call('HGET', KEYS[1], 'capacity'))
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
if players + redis.call('ZCARD', KEYS[2]) >= capacity then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[2] - ARGV[1])
return 1
"#;

/// Turns a reserved seat into a player. KEYS: seats, room hash; ARGV: the token.
const CLAIM: &str = r#"
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 and redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HINCRBY', KEYS[2], 'players', 1)
end
return 0
"#;

/// What reserving a seat came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seat {
    Reserved,
    Full,
    NoSuchRoom,
}

impl Cluster {
    /// Checks the URL only: the connection is made (and remade) when needed.
    pub fn new(url: &str, process: &str) -> Result<Cluster, ClusterError> {
        Ok(Cluster {
            process: process.to_owned(),
            client: redis::Client::open(url)?,
            conn: Mutex::new(None),
            up: AtomicBool::new(false),
        })
    }

    /// Redis answered the last call.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    async fn call<T>(
        &self,
        f: impl AsyncFnOnce(&mut redis::aio::ConnectionManager) -> redis::RedisResult<T>,
    ) -> Result<T, ClusterError> {
        let result = tokio::time::timeout(CALL, async {
            // The manager multiplexes one connection: each call takes a handle and lets
            // the lock go, so calls do not queue behind each other.
            let mut conn = {
                let mut slot = self.conn.lock().await;
                match &*slot {
                    Some(conn) => conn.clone(),
                    None => {
                        let config = redis::aio::ConnectionManagerConfig::new()
                            .set_connection_timeout(CALL)
                            .set_response_timeout(CALL)
                            .set_number_of_retries(1);
                        let conn = (self.client)
                            .get_connection_manager_with_config(config)
                            .await?;
                        slot.insert(conn).clone()
                    }
                }
            };
            Ok::<_, ClusterError>(f(&mut conn).await?)
        })
        .await
        .unwrap_or(Err(ClusterError::Timeout(CALL)));
        let up = result.is_ok();
        if self.up.swap(up, Ordering::Relaxed) != up {
            match &result {
                Ok(_) => tracing::info!("redis is back"),
                Err(e) => tracing::warn!(error = %e, "redis unavailable: rooms go on alone"),
            }
        }
        result
    }

    /// Writes (renews) this process's rooms in the registry.
    pub async fn advertise(&self, rooms: &[RoomEntry]) -> Result<(), ClusterError> {
        let rooms = rooms.to_vec();
        self.call(async move |c| {
            let mut pipe = redis::pipe();
            for r in &rooms {
                let record = r.record.as_ref();
                pipe.hset_multiple(
                    key(&r.id),
                    &[
                        ("process", r.process.clone()),
                        ("map", r.map.clone()),
                        ("course", r.course.clone()),
                        ("players", r.players.to_string()),
                        ("capacity", r.capacity.to_string()),
                        ("record_name", record.map_or(String::new(), |x| x.0.clone())),
                        (
                            "record_ticks",
                            record.map_or(String::new(), |x| x.1.to_string()),
                        ),
                    ],
                )
                .ignore()
                .expire(key(&r.id), EXPIRY.as_secs() as i64)
                .ignore()
                .sadd(ROOMS, &r.id)
                .ignore();
            }
            pipe.query_async::<()>(c).await
        })
        .await
    }

    /// Every process's rooms, by id; ids whose entry expired leave the set.
    pub async fn rooms(&self) -> Result<Vec<RoomEntry>, ClusterError> {
        self.call(async move |c| {
            let mut ids: Vec<String> = c.smembers(ROOMS).await?;
            ids.sort();
            let mut pipe = redis::pipe();
            for id in &ids {
                pipe.hgetall(key(id));
            }
            let entries: Vec<std::collections::HashMap<String, String>> =
                pipe.query_async(c).await?;
            let mut out = Vec::new();
            for (id, e) in ids.into_iter().zip(entries) {
                if e.is_empty() {
                    let _: () = c.srem(ROOMS, &id).await?;
                    continue;
                }
                let num = |k: &str| e.get(k).and_then(|v| v.parse().ok()).unwrap_or(0);
                let text = |k: &str| e.get(k).cloned().unwrap_or_default();
                let record = Some(text("record_name"))
                    .filter(|n| !n.is_empty())
                    .map(|n| (n, num("record_ticks")));
                out.push(RoomEntry {
                    process: text("process"),
                    map: text("map"),
                    course: text("course"),
                    players: num("players"),
                    capacity: num("capacity"),
                    record,
                    id,
                });
            }
            Ok(out)
        })
        .await
    }

    /// Reserves a seat in `room` under `token` for `hold` (the WebSocket then claims it).
    pub async fn reserve(
        &self,
        room: &str,
        token: &str,
        hold: Duration,
    ) -> Result<Seat, ClusterError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let (room, token) = (room.to_owned(), token.to_owned());
        let answer: i64 = self
            .call(async move |c| {
                redis::Script::new(RESERVE)
                    .key(key(&room))
                    .key(seats(&room))
                    .arg(now)
                    .arg(now + hold.as_millis() as u64)
                    .arg(token)
                    .invoke_async(c)
                    .await
            })
            .await?;
        Ok(match answer {
            1 => Seat::Reserved,
            0 => Seat::Full,
            _ => Seat::NoSuchRoom,
        })
    }

    /// The seat's player arrived: the reservation goes and the player counts in the
    /// room's entry at once, in one step (else, until the next renewal, the seat would
    /// be free again for someone else).
    pub async fn claim(&self, room: &str, token: &str) -> Result<(), ClusterError> {
        let (room, token) = (room.to_owned(), token.to_owned());
        self.call(async move |c| {
            redis::Script::new(CLAIM)
                .key(seats(&room))
                .key(key(&room))
                .arg(token)
                .invoke_async::<()>(c)
                .await
        })
        .await
    }

    /// Sends a run saved here to the other processes.
    pub async fn publish(&self, a: &Announcement) -> Result<(), ClusterError> {
        let message = encode(&self.process, a).to_string();
        self.call(async move |c| c.publish::<_, _, ()>(RUNS, message).await)
            .await
    }

    /// Relays runs and chat both ways between the local bus and Redis until the process
    /// ends: runs saved in `local` rooms and chat posted here go out, the other
    /// processes' come in.
    pub fn relay(self: &Arc<Self>, bus: Bus, local: Vec<String>) {
        let me = self.clone();
        let mut chat = bus.chat_feed();
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                match chat.recv().await {
                    Ok(post) if post.origin.is_none() => {
                        let message =
                            crate::chat::wire::encode(&me.process, &post.what).to_string();
                        let sent = me
                            .call(async move |c| c.publish::<_, _, ()>(CHAT, message).await)
                            .await;
                        if let Err(e) = sent {
                            tracing::warn!(error = %e, "chat not relayed to the other processes");
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(n)) => tracing::warn!(missed = n, "chat relay lagged"),
                    Err(RecvError::Closed) => return,
                }
            }
        });
        let me = self.clone();
        let mut rx = bus.subscribe();
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                match rx.recv().await {
                    Ok(a) if local.contains(&a.from) => {
                        if let Err(e) = me.publish(&a).await {
                            tracing::warn!(error = %e, name = %a.result.name, "run not relayed to the other processes");
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(n)) => tracing::warn!(missed = n, "relay lagged"),
                    Err(RecvError::Closed) => return,
                }
            }
        });
        let me = self.clone();
        tokio::spawn(async move {
            // Said once an outage, not at every retry.
            let mut listening = true;
            loop {
                if let Err(e) = me.listen(&bus, &mut listening).await
                    && std::mem::take(&mut listening)
                {
                    tracing::warn!(error = %e, "runs from other processes not heard; retrying every second");
                }
                tokio::time::sleep(RENEW).await;
            }
        });
    }

    /// Subscribes (`listening` set once it has) and hands other processes' runs to `bus`
    /// until the connection drops.
    async fn listen(&self, bus: &Bus, listening: &mut bool) -> Result<(), ClusterError> {
        use futures_util::StreamExt;
        let mut pubsub = tokio::time::timeout(CALL, self.client.get_async_pubsub())
            .await
            .map_err(|_| ClusterError::Timeout(CALL))??;
        pubsub.subscribe(&[RUNS, CHAT]).await?;
        if !std::mem::replace(listening, true) {
            tracing::info!("hearing other processes' runs again");
        }
        let mut messages = pubsub.on_message();
        while let Some(msg) = messages.next().await {
            let payload: String = msg.get_payload()?;
            if msg.get_channel_name() == CHAT {
                match crate::chat::wire::decode(&payload) {
                    Ok((process, what)) if process != self.process => bus.post(crate::chat::Post {
                        what,
                        origin: Some(process),
                    }),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "ignored"),
                }
                continue;
            }
            match decode(&payload) {
                Ok((process, a)) if process != self.process => bus.publish(a),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "ignored"),
            }
        }
        Ok(())
    }
}

fn encode(process: &str, a: &Announcement) -> Value {
    let r = &a.result;
    json!({
        "process": process,
        "from": a.from,
        "course": format!("{:016x}", r.course),
        "name": r.name, "time": r.time, "rank": r.rank, "record": r.record,
        "best": a.best.as_ref().map(|(name, b)| json!({ "name": name, "time": b.time, "splits": b.splits })),
        "ghost": a.ghost.as_ref().map(|g| json!({
            "name": g.name, "time": g.time,
            "samples": g.samples.iter().map(|s| [s.x, s.y, s.altitude, s.yaw]).collect::<Vec<_>>(),
        })),
    })
}

fn decode(text: &str) -> Result<(String, Announcement), ClusterError> {
    let bad = |what: &str| ClusterError::Malformed(what.to_owned());
    let v: Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
    let s = |v: &Value, k: &str| v[k].as_str().map(str::to_owned).ok_or_else(|| bad(k));
    let n = |v: &Value, k: &str| v[k].as_u64().map(|x| x as u32).ok_or_else(|| bad(k));
    let course = u64::from_str_radix(&s(&v, "course")?, 16).map_err(|_| bad("course"))?;
    let best = match &v["best"] {
        Value::Null => None,
        b => Some((
            s(b, "name")?,
            Best {
                time: n(b, "time")?,
                splits: (b["splits"].as_array().ok_or_else(|| bad("splits"))?.iter())
                    .map(|x| x.as_u64().map(|x| x as u32).ok_or_else(|| bad("splits")))
                    .collect::<Result<_, _>>()?,
            },
        )),
    };
    let ghost = match &v["ghost"] {
        Value::Null => None,
        g => {
            let samples = (g["samples"]
                .as_array()
                .ok_or_else(|| bad("samples"))?
                .iter())
            .map(|s| {
                let f = |i: usize| s[i].as_f64().map(|x| x as f32).ok_or_else(|| bad("sample"));
                Ok(GhostSample {
                    x: f(0)?,
                    y: f(1)?,
                    altitude: f(2)?,
                    yaw: f(3)?,
                })
            })
            .collect::<Result<Vec<_>, ClusterError>>()?;
            Some(Arc::new(GhostRun {
                name: s(g, "name")?,
                time: n(g, "time")?,
                samples,
            }))
        }
    };
    let a = Announcement {
        from: s(&v, "from")?,
        result: RunResult {
            course,
            name: s(&v, "name")?,
            time: n(&v, "time")?,
            rank: n(&v, "rank")?,
            record: v["record"].as_bool().ok_or_else(|| bad("record"))?,
        },
        best,
        ghost,
    };
    Ok((s(&v, "process")?, a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_survive_the_trip_and_bad_ones_are_refused() {
        let a = Announcement {
            from: "p1-r2".into(),
            result: RunResult {
                course: 0xabc,
                name: "<b>ace</b>".into(),
                time: 300,
                rank: 1,
                record: true,
            },
            best: Some((
                "<b>ace</b>".into(),
                Best {
                    time: 300,
                    splits: vec![100, 300],
                },
            )),
            ghost: Some(Arc::new(GhostRun {
                name: "<b>ace</b>".into(),
                time: 300,
                samples: vec![GhostSample {
                    x: 1.5,
                    y: -2.0,
                    altitude: 170.0,
                    yaw: 0.25,
                }],
            })),
        };
        let (process, back) = decode(&encode("p1", &a).to_string()).unwrap();
        assert_eq!(process, "p1");
        assert_eq!(back.from, a.from);
        assert_eq!(back.result, a.result);
        assert_eq!(back.best, a.best);
        assert_eq!(back.ghost, a.ghost);
        for bad in [
            "",
            "{}",
            "[1]",
            r#"{"process":"p1","from":"x","course":"zz"}"#,
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }
}
