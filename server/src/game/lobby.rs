//! The rooms of this process, and which one a player gets: the one its link names
//! (`/?room=<id>`, the page passes it on to `/ws?room=<id>`), else the fullest room with
//! space, so players meet rather than spread thin. `/api/rooms` lists them for the
//! page's lobby (with `--redis`, every process's rooms); `/stats` sums them.

use super::Game;
use super::api::Reply;
use crate::cluster::{Cluster, RoomEntry};
use crate::http::query;
use serde_json::json;
use std::sync::Arc;

pub struct Lobby {
    rooms: Vec<Arc<Game>>,
    cluster: Option<Arc<Cluster>>,
    chat: crate::chat::Chat,
}

impl Lobby {
    /// `rooms` in the order the lobby lists them (ids must differ, and share one bus);
    /// `cluster`: the other processes, through Redis; `chat`: the rooms' chat (on
    /// their bus).
    pub fn new(
        rooms: Vec<Arc<Game>>,
        cluster: Option<Arc<Cluster>>,
        chat: crate::chat::Chat,
    ) -> Lobby {
        Lobby {
            rooms,
            cluster,
            chat,
        }
    }

    pub fn chat(&self) -> &crate::chat::Chat {
        &self.chat
    }

    /// Whether a player called `name` is in one of this process's rooms.
    pub fn has_player(&self, name: &str) -> bool {
        self.rooms.iter().any(|r| r.has_player(name))
    }

    /// Starts every room's tick, render threads and records; with a cluster, the
    /// registry's renewals and the relay of runs between processes.
    pub fn start(self: &Arc<Self>, shutdown: tokio::sync::watch::Receiver<bool>) {
        for room in &self.rooms {
            room.start(shutdown.clone());
        }
        self.chat.start();
        let (Some(cluster), Some(first)) = (&self.cluster, self.rooms.first()) else {
            return;
        };
        let local = self.rooms.iter().map(|r| r.room().to_owned()).collect();
        cluster.relay(first.bus.clone(), local);
        let lobby = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(crate::cluster::RENEW);
            loop {
                every.tick().await;
                if let Some(cluster) = &lobby.cluster {
                    // Failures are logged by the cluster once, when Redis goes away.
                    let _ = cluster.advertise(&lobby.entries()).await;
                }
            }
        });
    }

    /// This process's rooms as the registry holds them.
    fn entries(&self) -> Vec<RoomEntry> {
        let process = self.cluster.as_ref().map_or("", |c| c.process.as_str());
        (self.rooms.iter())
            .map(|r| RoomEntry {
                id: r.room().to_owned(),
                process: process.to_owned(),
                map: r.map_name().to_owned(),
                course: format!("{:016x}", r.course_id()),
                players: r.player_count() as u64,
                capacity: r.capacity() as u64,
                record: r.record().map(|(name, ticks)| (name, ticks as u64)),
            })
            .collect()
    }

    pub fn rooms(&self) -> &[Arc<Game>] {
        &self.rooms
    }

    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.as_ref()
    }

    /// The room a connection goes to: the one named (`None` if there is no such room),
    /// else the fullest with space; with every room full, the emptiest (its join then
    /// says it is full, and the page offers the lobby).
    pub fn pick(&self, wanted: Option<&str>) -> Option<&Arc<Game>> {
        if let Some(id) = wanted {
            return self.rooms.iter().find(|r| r.room() == id);
        }
        let with_space = (self.rooms.iter())
            .map(|r| (r, r.player_count()))
            .filter(|(r, n)| *n < r.capacity());
        // `max_by_key` keeps the last of equals: reversed, so ties go to the first room.
        match with_space.rev().max_by_key(|(_, n)| *n) {
            Some((room, _)) => Some(room),
            None => self.rooms.iter().min_by_key(|r| r.player_count()),
        }
    }

    /// Players in every room.
    pub fn player_count(&self) -> usize {
        self.rooms.iter().map(|r| r.player_count()).sum()
    }

    /// One line of JSON for `/stats`: the first room's figures as before (a process with
    /// one room reads as it always did), every room's, and the sums.
    pub fn stats_json(&self) -> String {
        let rooms: Vec<serde_json::Value> = (self.rooms.iter())
            .map(|r| serde_json::from_str(&r.stats_json()).unwrap_or_default())
            .collect();
        let mut out = rooms.first().cloned().unwrap_or_else(|| json!({}));
        out["players"] = json!(self.player_count());
        out["rooms"] = json!(rooms);
        if let Some(c) = &self.cluster {
            out["redis"] = json!(if c.is_up() { "up" } else { "down" });
        }
        out.to_string() + "\n"
    }

    /// `GET /api/rooms`, and the per-room endpoints with `room=<id>` picking the room
    /// (the first room without it); `/map/<id>` from whichever room has that map.
    pub async fn api(&self, path: &str, q: &str) -> Option<Reply> {
        if path == "/api/rooms" {
            return Some(self.rooms_json(q).await);
        }
        if path == "/api/join" {
            return Some(self.join_json(q).await);
        }
        if let Some(id) = path.strip_prefix("/map/") {
            let room = (self.rooms.iter())
                .find(|r| format!("{:016x}", r.map_id()) == id)
                .or(self.rooms.first())?;
            return room.api(path, q).await;
        }
        let (room, rest) = match split_room(q) {
            Ok(split) => split,
            Err(why) => return Some(super::api::bad(why)),
        };
        let game = match room {
            Some(id) => match self.rooms.iter().find(|r| r.room() == id) {
                Some(g) => g,
                None => return Some(super::api::not_found(format!("no room {id:?}"))),
            },
            None => self.rooms.first()?,
        };
        game.api(path, &rest).await
    }

    /// This process's rooms as they are now, then the other processes' as the registry
    /// last heard (without Redis, or while it is away: ours only, and `"redis": "down"`).
    async fn rooms_json(&self, q: &str) -> Reply {
        if !q.is_empty() {
            return super::api::bad("this endpoint takes no parameters");
        }
        let mut entries = self.entries();
        let mut redis = None;
        if let Some(cluster) = &self.cluster {
            match cluster.rooms().await {
                Ok(all) => {
                    entries.extend(all.into_iter().filter(|e| e.process != cluster.process));
                    redis = Some("up");
                }
                Err(_) => redis = Some("down"),
            }
        }
        let players: u64 = entries.iter().map(|e| e.players).sum();
        let rooms: Vec<serde_json::Value> = (entries.into_iter())
            .map(|e| {
                json!({
                    "id": e.id,
                    "process": e.process,
                    "map": e.map,
                    "course": e.course,
                    "players": e.players,
                    "capacity": e.capacity,
                    "record": e.record.map(|(name, ticks)| json!({
                        "name": name,
                        "ticks": ticks,
                        "seconds": ticks as f64 / super::TICK_HZ as f64,
                    })),
                })
            })
            .collect();
        let mut body = json!({ "players": players, "rooms": rooms });
        if let Some(state) = redis {
            body["redis"] = json!(state);
        }
        super::api::reply(200, body)
    }
}

impl Lobby {
    /// `GET /api/join[?room=<id>]`: where the page should connect. Without Redis, this
    /// process's pick (the named room, else the fullest with space). With it, the
    /// cluster's: every process's rooms, fullest first, and a seat reserved atomically
    /// in the first with space (`seat`, presented on `/ws`); Redis away: the local pick.
    async fn join_json(&self, q: &str) -> Reply {
        let wanted = match split_room(q) {
            Ok((room, rest)) if rest.is_empty() => room,
            Ok(_) => return super::api::bad("only room= is taken here"),
            Err(why) => return super::api::bad(why),
        };
        if let Some(cluster) = &self.cluster
            && let Ok(mut all) = cluster.rooms().await
        {
            // Live figures for our own rooms, the registry's for the others.
            all.retain(|e| e.process != cluster.process);
            all.extend(self.entries());
            all.sort_by(|a, b| b.players.cmp(&a.players).then(a.id.cmp(&b.id)));
            let token = seat_token();
            let mut known = false;
            for room in all
                .iter()
                .filter(|e| wanted.as_ref().is_none_or(|w| *w == e.id))
            {
                known = true;
                match cluster
                    .reserve(&room.id, &token, crate::cluster::SEAT)
                    .await
                {
                    Ok(crate::cluster::Seat::Reserved) => {
                        return super::api::reply(200, json!({ "room": room.id, "seat": token }));
                    }
                    Ok(_) => {}
                    Err(_) => return self.join_here(wanted.as_deref()),
                }
            }
            return match (known, wanted) {
                (false, Some(id)) => super::api::not_found(format!("no room {id:?}")),
                (_, Some(id)) => full(&format!("room {id} is full: pick another")),
                (_, None) => full("every room is full: try again soon"),
            };
        }
        self.join_here(wanted.as_deref())
    }

    fn join_here(&self, wanted: Option<&str>) -> Reply {
        match self.pick(wanted) {
            None => super::api::not_found(format!("no room {:?}", wanted.unwrap_or(""))),
            Some(r) if r.player_count() >= r.capacity() => match wanted {
                Some(_) => full(&format!("room {} is full: pick another", r.room())),
                None => full("every room is full: try again soon"),
            },
            Some(r) => super::api::reply(200, json!({ "room": r.room() })),
        }
    }
}

fn full(why: &str) -> Reply {
    super::api::reply(409, json!({ "error": why }))
}

/// A seat's token: unguessable enough that one page cannot free another's seat by
/// accident (it grants nothing: the room's own capacity check is the limit).
fn seat_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let a = h.finish();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{a:016x}{:016x}", h.finish())
}

/// `room=<id>` out of a query, and the rest of it, as it came, for the room's own
/// endpoint (which checks it).
fn split_room(q: &str) -> Result<(Option<String>, String), String> {
    let mut room = None;
    let mut rest = Vec::new();
    for part in q.split('&').filter(|p| !p.is_empty()) {
        if part == "room" || part.starts_with("room=") {
            if room.is_some() {
                return Err("room is given twice".into());
            }
            let pairs = query::parse(part).map_err(|e| e.to_string())?;
            room = pairs.into_iter().next().map(|(_, v)| v);
        } else {
            rest.push(part);
        }
    }
    Ok((room, rest.join("&")))
}
