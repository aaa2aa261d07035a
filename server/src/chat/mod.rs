//! Chat on the game's own WebSocket: channels (`#world` per room, `#race` and `#global`
//! for everyone) and direct messages by name. A message is checked
//! ([`rules`]), saved (channels keep their last 100 in the store, sent to newcomers),
//! then posted on the bus: every room delivers it to its players in that channel, the
//! sender included (that copy is the sender's receipt), and with `--redis` the cluster
//! relays it to every process. Chat goes through the connections' reliable queues;
//! frames and state keep their latest-wins slots, so a chat burst never delays them.

pub mod rules;
pub mod wire;

use crate::game::bus::Bus;
use crate::store::{Store, StoreError};
use shared::protocol::{Channel, ChatLine, chat_flags};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What goes on the bus.
#[derive(Clone, Debug, PartialEq)]
pub enum What {
    /// A message; `room`: the sender's (a `#world` line goes to that room only).
    Line { room: String, line: ChatLine },
    /// An operator silenced `name` until `until` (ms since the epoch; 0 lifts it).
    Mute { name: String, until: u64 },
    /// An operator removed every player called `name`.
    Kick { name: String },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Post {
    pub what: What,
    /// The process it came from, if another ([`crate::cluster`] relays only its own).
    pub origin: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("{0}")]
    Refused(#[from] rules::Refused),
    #[error("an operator muted you for {0} more s")]
    Muted(u64),
    #[error("no player named {0:?} is online")]
    NoSuchPlayer(String),
    #[error("that is you")]
    ToSelf,
    #[error("chat is unavailable right now: not sent")]
    Unavailable(#[source] StoreError),
}

/// The chat of a process: shared by its rooms and connections.
#[derive(Clone)]
pub struct Chat {
    store: Option<Store>,
    bus: Bus,
    /// Names (folded to lower case) an operator muted, until when (ms since the epoch).
    mutes: Arc<Mutex<HashMap<String, u64>>>,
    /// Ids of channel messages when there is no store to number them.
    next_id: Arc<std::sync::atomic::AtomicU64>,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The store's name of a kept channel; direct messages are not kept.
fn channel_key(room: &str, channel: &Channel) -> Option<String> {
    match channel {
        Channel::World => Some(format!("world:{room}")),
        Channel::Race => Some("race".into()),
        Channel::Global => Some("global".into()),
        Channel::Direct(_) => None,
    }
}

impl Chat {
    /// Without a store, messages are delivered but not kept.
    pub fn new(store: Option<Store>, bus: Bus) -> Chat {
        Chat {
            store,
            bus,
            mutes: Default::default(),
            next_id: Default::default(),
        }
    }

    /// Hears operators' actions from other processes until the bus closes.
    pub fn start(&self) {
        let chat = self.clone();
        let mut feed = self.bus.chat_feed();
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                match feed.recv().await {
                    Ok(post) => {
                        if let (What::Mute { name, until }, Some(_)) = (&post.what, &post.origin) {
                            chat.set_mute(name, *until);
                        }
                    }
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                }
            }
        });
    }

    fn set_mute(&self, name: &str, until: u64) {
        let mut mutes = self.mutes.lock().unwrap_or_else(|e| e.into_inner());
        let now = now_ms();
        mutes.retain(|_, u| *u > now);
        if until > now {
            mutes.insert(name.to_lowercase(), until);
        } else {
            mutes.remove(&name.to_lowercase());
        }
    }

    /// Seconds an operator's mute of `name` still lasts.
    fn muted(&self, name: &str) -> Option<u64> {
        let mutes = self.mutes.lock().unwrap_or_else(|e| e.into_inner());
        let until = *mutes.get(&name.to_lowercase())?;
        let now = now_ms();
        (until > now).then(|| (until - now).div_ceil(1000))
    }

    /// Sends `text` (cleaned and allowed by the sender's limiter already) from `from`
    /// in `room`: saved if the channel is kept, then posted. Returns the line: for a
    /// direct message, the sender's copy to show (the others come back on the bus).
    pub async fn say(
        &self,
        room: &str,
        from: &str,
        claimed: bool,
        channel: Channel,
        text: String,
    ) -> Result<ChatLine, ChatError> {
        if let Some(secs) = self.muted(from) {
            return Err(ChatError::Muted(secs));
        }
        let flags = if claimed { chat_flags::CLAIMED } else { 0 };
        let line = self.keep(room, from, flags, channel, text).await?;
        let what = What::Line {
            room: room.to_owned(),
            line: line.clone(),
        };
        self.bus.post(Post { what, origin: None });
        Ok(line)
    }

    /// A line from the server itself (a run result on `#race`, an operator's word).
    pub async fn announce(&self, room: &str, channel: Channel, text: String) {
        match self.keep(room, "", chat_flags::SERVER, channel, text).await {
            Ok(line) => self.bus.post(Post {
                what: What::Line {
                    room: room.to_owned(),
                    line,
                },
                origin: None,
            }),
            Err(e) => tracing::warn!(error = %e, "a server chat line was not posted"),
        }
    }

    /// Saves the line if its channel is kept; gives it its id and time.
    async fn keep(
        &self,
        room: &str,
        from: &str,
        flags: u8,
        channel: Channel,
        text: String,
    ) -> Result<ChatLine, ChatError> {
        let time = now_ms();
        let id = match (&self.store, channel_key(room, &channel)) {
            // Direct messages are not kept, and have no place in a sequence.
            (_, None) => 0,
            (Some(store), Some(key)) => store
                .save_chat(&key, from, flags, time as i64, &text)
                .await
                .map_err(|e| {
                    tracing::warn!(error = %e, "a chat message was not saved");
                    ChatError::Unavailable(e)
                })?,
            (None, Some(_)) => {
                1 + (self.next_id).fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            }
        };
        Ok(ChatLine {
            id,
            channel,
            from: from.to_owned(),
            flags,
            time,
            text,
        })
    }

    /// What a newcomer to `room` is sent: the kept channels' last messages, oldest first
    /// (each channel in order; the page files them by channel).
    pub async fn history(&self, room: &str) -> Result<Vec<ChatLine>, StoreError> {
        let Some(store) = &self.store else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for channel in [Channel::World, Channel::Race, Channel::Global] {
            let Some(key) = channel_key(room, &channel) else {
                continue;
            };
            for l in store.chat_history(&key, crate::store::CHAT_KEEP).await? {
                out.push(ChatLine {
                    id: l.id,
                    channel: channel.clone(),
                    from: l.name,
                    flags: l.flags | chat_flags::HISTORY,
                    time: l.sent_at.max(0) as u64,
                    text: l.body,
                });
            }
        }
        Ok(out)
    }

    /// An operator mutes `name` (every process, with Redis) for `for_`; zero lifts it.
    pub fn mute(&self, name: &str, for_: Duration) {
        let until = if for_.is_zero() {
            0
        } else {
            now_ms() + for_.as_millis() as u64
        };
        self.set_mute(name, until);
        tracing::warn!(name, seconds = for_.as_secs(), "moderation: muted");
        self.bus.post(Post {
            what: What::Mute {
                name: name.to_owned(),
                until,
            },
            origin: None,
        });
    }

    /// An operator removes every player called `name` (every process, with Redis).
    pub fn kick(&self, name: &str) {
        tracing::warn!(name, "moderation: kicked");
        self.bus.post(Post {
            what: What::Kick {
                name: name.to_owned(),
            },
            origin: None,
        });
    }
}
