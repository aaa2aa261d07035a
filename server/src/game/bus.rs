//! What one room tells the others: saved runs, so a result reaches every room and a
//! record set in one room becomes the ghost in every room racing the same course.
//!
//! It carries chat posts too (see [`crate::chat`]): every room hears every post and
//! delivers those meant for its players.
//!
//! In one process these are broadcast channels; the rooms subscribe when they start.
//! With `--redis`, [`crate::cluster`] relays both between processes.

use super::race::Best;
use shared::protocol::{GhostRun, RunResult};
use std::sync::Arc;
use tokio::sync::broadcast;

/// Announcements waiting for a slow room before the oldest are dropped (a room that
/// lags this far behind misses a feed line, never blocks the others).
const BACKLOG: usize = 256;

/// A run saved by one room.
#[derive(Debug)]
pub struct Announcement {
    /// The room it was flown in (it told its own players already).
    pub from: String,
    pub result: RunResult,
    /// The name's new best on the course, if the run is one.
    pub best: Option<(String, Best)>,
    /// The course's new record flight, if the run is one.
    pub ghost: Option<Arc<GhostRun>>,
}

/// Chat posts waiting for a slow room (a burst from many players at once).
const CHAT_BACKLOG: usize = 4096;

#[derive(Clone)]
pub struct Bus {
    runs: broadcast::Sender<Arc<Announcement>>,
    chat: broadcast::Sender<Arc<crate::chat::Post>>,
}

impl Default for Bus {
    fn default() -> Bus {
        Bus {
            runs: broadcast::channel(BACKLOG).0,
            chat: broadcast::channel(CHAT_BACKLOG).0,
        }
    }
}

impl Bus {
    pub fn publish(&self, a: Announcement) {
        // No subscriber (a lone room in a test): nobody else to tell.
        let _ = self.runs.send(Arc::new(a));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Announcement>> {
        self.runs.subscribe()
    }

    pub fn post(&self, p: crate::chat::Post) {
        let _ = self.chat.send(Arc::new(p));
    }

    pub fn chat_feed(&self) -> broadcast::Receiver<Arc<crate::chat::Post>> {
        self.chat.subscribe()
    }
}
