//! The rooms of this process, and which one a player gets: the one its link names
//! (`/?room=<id>`, the page passes it on to `/ws?room=<id>`), else the fullest room with
//! space, so players meet rather than spread thin. `/api/rooms` lists them for the
//! page's lobby; `/stats` sums them.

use super::Game;
use super::api::Reply;
use crate::http::query;
use serde_json::json;
use std::sync::Arc;

pub struct Lobby {
    rooms: Vec<Arc<Game>>,
}

impl Lobby {
    /// `rooms` in the order the lobby lists them; ids must differ.
    pub fn new(rooms: Vec<Arc<Game>>) -> Lobby {
        Lobby { rooms }
    }

    /// Starts every room's tick, render threads and records.
    pub fn start(&self, shutdown: tokio::sync::watch::Receiver<bool>) {
        for room in &self.rooms {
            room.start(shutdown.clone());
        }
    }

    pub fn rooms(&self) -> &[Arc<Game>] {
        &self.rooms
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
        out.to_string() + "\n"
    }

    /// `GET /api/rooms`, and the per-room endpoints with `room=<id>` picking the room
    /// (the first room without it); `/map/<id>` from whichever room has that map.
    pub async fn api(&self, path: &str, q: &str) -> Option<Reply> {
        if path == "/api/rooms" {
            return Some(self.rooms_json(q));
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

    fn rooms_json(&self, q: &str) -> Reply {
        if !q.is_empty() {
            return super::api::bad("this endpoint takes no parameters");
        }
        let rooms: Vec<serde_json::Value> = (self.rooms.iter())
            .map(|r| {
                let record = r.record();
                json!({
                    "id": r.room(),
                    "map": r.map_name(),
                    "course": format!("{:016x}", r.course_id()),
                    "players": r.player_count(),
                    "capacity": r.capacity(),
                    "record": record.map(|(name, ticks)| json!({
                        "name": name,
                        "ticks": ticks,
                        "seconds": ticks as f64 / super::TICK_HZ as f64,
                    })),
                })
            })
            .collect();
        super::api::reply(
            200,
            json!({ "players": self.player_count(), "rooms": rooms }),
        )
    }
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
