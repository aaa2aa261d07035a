//! The room's side of the chat: delivers each post on the bus to the players it is
//! meant for, and posts run results on `#race`.

use super::{Game, ws_binary};
use crate::chat::{Post, What};
use shared::protocol::{Channel, Message};
use std::sync::Arc;
use std::sync::atomic::Ordering;

impl Game {
    /// Delivers the bus's chat posts until the bus closes.
    pub(super) fn listen_chat(self: &Arc<Self>) {
        let game = self.clone();
        let mut feed = self.bus.chat_feed();
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                match feed.recv().await {
                    Ok(post) => game.hear_chat(&post),
                    Err(RecvError::Lagged(missed)) => {
                        game.stats.chat_dropped.fetch_add(missed, Ordering::Relaxed);
                        tracing::warn!(missed, room = %game.room, "chat posts missed");
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        });
    }

    /// A post from anywhere: a line goes to the players in its channel (a `#world` line
    /// only in its own room, a direct one to the addressee); a kick closes the named
    /// players' connections.
    pub(super) fn hear_chat(&self, post: &Post) {
        let mut players = self.players();
        match &post.what {
            What::Line { room, line } => {
                let to: Option<&str> = match &line.channel {
                    Channel::World if *room != self.room => return,
                    Channel::Direct(name) => Some(name),
                    _ => None,
                };
                let bytes = ws_binary(&Message::Chat(line.clone()));
                let (mut delivered, mut dropped) = (0, 0);
                for p in (players.by_id.values_mut())
                    .filter(|p| p.welcomed && to.is_none_or(|n| n == p.name))
                {
                    // The reliable queue: a reader so far behind that it is full misses
                    // the line (counted), and never holds up the others.
                    match p.out.try_send(bytes.clone()) {
                        Ok(()) => delivered += 1,
                        Err(_) => dropped += 1,
                    }
                }
                let s = &self.stats;
                s.chat_delivered.fetch_add(delivered, Ordering::Relaxed);
                s.chat_dropped.fetch_add(dropped, Ordering::Relaxed);
            }
            What::Kick { name } => {
                for p in players.by_id.values_mut().filter(|p| p.name == *name) {
                    tracing::warn!(name = %p.name, room = %self.room, "moderation: connection closed");
                    p.out.close(4403, "removed by an operator");
                }
            }
            What::Mute { .. } => {}
        }
    }

    /// Whether a player called `name` is in this room.
    pub fn has_player(&self, name: &str) -> bool {
        self.players().by_id.values().any(|p| p.name == name)
    }

    /// The player's name (empty once gone).
    pub(super) fn player_name(&self, id: u16) -> String {
        (self.players().by_id.get(&id)).map_or(String::new(), |p| p.name.clone())
    }

    /// Posts a saved run on `#race` (once, by the room it was flown in).
    pub(super) fn post_result(&self, r: &shared::protocol::RunResult) {
        let secs = r.time as f64 / super::TICK_HZ as f64;
        let text = if r.record {
            format!("{} set the course record: {secs:.2} s", r.name)
        } else {
            format!("{} finished in {secs:.2} s (rank {})", r.name, r.rank)
        };
        let (chat, room) = (self.chat.clone(), self.room.clone());
        tokio::spawn(async move { chat.announce(&room, Channel::Race, text).await });
    }
}
