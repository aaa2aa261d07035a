//! Chat history: every message of a kept channel is saved before anyone sees it, and
//! each channel keeps its last [`KEEP`] (older ones are pruned as new ones arrive).

use super::{Store, StoreError};
use sqlx::Row;

/// Messages a channel keeps, and sends a newcomer.
pub const KEEP: u32 = 100;
/// A channel is pruned once every this many messages saved.
const PRUNE_EVERY: u64 = 32;

/// A message as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredLine {
    pub id: u64,
    pub name: String,
    pub flags: u8,
    pub sent_at: i64,
    pub body: String,
}

impl Store {
    /// Saves a message in `channel` (`world:<room>`, `race`, `global`); when this returns,
    /// it is committed. Returns its id, increasing within the channel.
    pub async fn save_chat(
        &self,
        channel: &str,
        name: &str,
        flags: u8,
        sent_at: i64,
        body: &str,
    ) -> Result<u64, StoreError> {
        let id: i64 = sqlx::query(
            "INSERT INTO chat (channel, name, flags, sent_at, body) VALUES ($1, $2, $3, $4, $5) \
             RETURNING id",
        )
        .bind(channel)
        .bind(name)
        .bind(flags as i64)
        .bind(sent_at)
        .bind(body)
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        let id = id as u64;
        if id % PRUNE_EVERY == 0 {
            self.prune_chat(channel).await?;
        }
        Ok(id)
    }

    /// Drops all but the channel's last [`KEEP`] messages.
    async fn prune_chat(&self, channel: &str) -> Result<(), StoreError> {
        let cut: Option<i64> = sqlx::query(
            "SELECT id FROM chat WHERE channel = $1 ORDER BY id DESC LIMIT 1 OFFSET $2",
        )
        .bind(channel)
        .bind(KEEP as i64)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        if let Some(cut) = cut {
            sqlx::query("DELETE FROM chat WHERE channel = $1 AND id <= $2")
                .bind(channel)
                .bind(cut)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// The channel's last `limit` messages, oldest first.
    pub async fn chat_history(
        &self,
        channel: &str,
        limit: u32,
    ) -> Result<Vec<StoredLine>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, flags, sent_at, body FROM chat WHERE channel = $1 \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(channel)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut lines = rows
            .iter()
            .map(|r| {
                Ok(StoredLine {
                    id: r.try_get::<i64, _>(0)? as u64,
                    name: r.try_get(1)?,
                    flags: r.try_get::<i64, _>(2)? as u8,
                    sent_at: r.try_get(3)?,
                    body: r.try_get(4)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        lines.reverse();
        Ok(lines)
    }
}
