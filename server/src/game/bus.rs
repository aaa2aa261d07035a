//! What one room tells the others: saved runs, so a result reaches every room and a
//! record set in one room becomes the ghost in every room racing the same course.
//!
//! In one process this is a broadcast channel; the rooms subscribe when they start.
//! (A bus across processes would carry the same announcements.)

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

#[derive(Clone)]
pub struct Bus(broadcast::Sender<Arc<Announcement>>);

impl Default for Bus {
    fn default() -> Bus {
        Bus(broadcast::channel(BACKLOG).0)
    }
}

impl Bus {
    pub fn publish(&self, a: Announcement) {
        // No subscriber (a lone room in a test): nobody else to tell.
        let _ = self.0.send(Arc::new(a));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Announcement>> {
        self.0.subscribe()
    }
}
