//! Records that last: finished runs (with their ghosts) in a database. SQLite by default,
//! embedded in a file under `--data`; the same schema and queries run on PostgreSQL
//! (`--database postgres://…`) through sqlx's `Any` driver. No SQL anywhere else.
//!
//! Every write is awaited on the runtime by the store's own task (see
//! [`crate::game`]): sqlx runs SQLite on its own worker thread, so a slow disk stalls
//! neither the tick nor the connections' I/O.

mod accounts;
mod chat;
mod schema;

pub use accounts::Account;
pub use chat::{KEEP as CHAT_KEEP, StoredLine};

use shared::protocol::GhostSample;
use sqlx::AnyPool;
use sqlx::Row;
use sqlx::any::AnyPoolOptions;
use std::collections::HashMap;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {url}")]
    Open {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("the database {url} cannot be migrated")]
    Migrate {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("the database has schema version {found}, newer than this server's {known}")]
    TooNew { found: i64, known: i64 },
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
}

/// A finished run to save.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRun {
    pub course: String,
    pub name: String,
    pub time: u32,
    pub splits: Vec<u32>,
    /// Milliseconds since the Unix epoch.
    pub finished_at: i64,
    pub samples: Vec<GhostSample>,
}

/// What saving a run changed on the board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Saved {
    /// Place of the player's best on the all-time board.
    pub rank: u32,
    /// The run is the course record now.
    pub record: bool,
    /// The run is the player's best now.
    pub personal_best: bool,
}

/// One line of a leaderboard: a player's best.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    /// An account holds the name.
    pub claimed: bool,
    pub time: u32,
    pub finished_at: i64,
}

/// A player's best run, with its splits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BestRun {
    pub time: u32,
    pub splits: Vec<u32>,
}

/// The course record's flight.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub name: String,
    pub time: u32,
    pub samples: Vec<GhostSample>,
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
}

/// `sqlite://path` for a file in `dir`, created when missing.
pub fn sqlite_url(dir: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("voxelcast.db").display())
}

impl Store {
    /// Opens (creating a SQLite file if needed) and migrates the database at `url`.
    /// Fails with one clear error for a missing directory, an unwritable or corrupt file,
    /// or a schema newer than this server knows.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(|source| StoreError::Open {
                url: redact(url),
                source,
            })?;
        let store = Store { pool };
        let postgres = url.starts_with("postgres:") || url.starts_with("postgresql:");
        schema::migrate(&store.pool, postgres)
            .await
            .map_err(|e| match e {
                StoreError::Query(source) => StoreError::Migrate {
                    url: redact(url),
                    source,
                },
                other => other,
            })?;
        Ok(store)
    }

    /// Saves a finished run in one transaction; when this returns `Ok`, it is committed.
    pub async fn save_run(&self, run: &NewRun) -> Result<Saved, StoreError> {
        let mut tx = self.pool.begin().await?;
        let record_before: Option<i64> =
            sqlx::query("SELECT MIN(ticks) FROM runs WHERE course = $1")
                .bind(&run.course)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
        let best_before: Option<i64> =
            sqlx::query("SELECT MIN(ticks) FROM runs WHERE course = $1 AND name = $2")
                .bind(&run.course)
                .bind(&run.name)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
        sqlx::query(
            "INSERT INTO runs (course, name, ticks, splits, finished_at, samples) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&run.course)
        .bind(&run.name)
        .bind(run.time as i64)
        .bind(splits_text(&run.splits))
        .bind(run.finished_at)
        .bind(samples_blob(&run.samples))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let time = run.time as i64;
        let best = best_before.map_or(time, |b| b.min(time));
        Ok(Saved {
            rank: self.rank_of_time(&run.course, best).await?,
            record: record_before.is_none_or(|r| time < r),
            personal_best: best_before.is_none_or(|b| time < b),
        })
    }

    /// Place a best of `time` ticks takes on the all-time board: one more than the
    /// players whose best is faster.
    async fn rank_of_time(&self, course: &str, time: i64) -> Result<u32, StoreError> {
        let faster: i64 = sqlx::query(
            "SELECT COUNT(*) FROM (SELECT name, MIN(ticks) AS best FROM runs \
             WHERE course = $1 GROUP BY name) AS bests WHERE best < $2",
        )
        .bind(course)
        .bind(time)
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        Ok(faster as u32 + 1)
    }

    /// The best `limit` players on `course` by their best run finished at or after
    /// `since` (ms since the epoch; 0 for all time), fastest first.
    pub async fn leaderboard(
        &self,
        course: &str,
        since: i64,
        limit: u32,
    ) -> Result<Vec<Entry>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, MIN(ticks) AS best, MIN(finished_at) AS first, \
             (SELECT COUNT(*) FROM accounts a WHERE a.name = runs.name) AS claimed FROM runs \
             WHERE course = $1 AND finished_at >= $2 GROUP BY name \
             ORDER BY best, first, name LIMIT $3",
        )
        .bind(course)
        .bind(since)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Entry {
                    name: r.try_get(0)?,
                    time: r.try_get::<i64, _>(1)? as u32,
                    finished_at: r.try_get(2)?,
                    claimed: r.try_get::<i64, _>(3)? > 0,
                })
            })
            .collect()
    }

    /// A player's best on `course` and its all-time rank.
    pub async fn best_of(
        &self,
        course: &str,
        name: &str,
    ) -> Result<Option<(u32, u32)>, StoreError> {
        let best: Option<i64> =
            sqlx::query("SELECT MIN(ticks) FROM runs WHERE course = $1 AND name = $2")
                .bind(course)
                .bind(name)
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?;
        match best {
            Some(b) => Ok(Some((b as u32, self.rank_of_time(course, b).await?))),
            None => Ok(None),
        }
    }

    /// Every player's best run on `course`, with splits: what the game compares splits
    /// against (the fastest run of each name; the earliest of equal ones).
    pub async fn bests(&self, course: &str) -> Result<HashMap<String, BestRun>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, ticks, splits FROM runs WHERE course = $1 ORDER BY ticks DESC, id DESC",
        )
        .bind(course)
        .fetch_all(&self.pool)
        .await?;
        let mut out = HashMap::new();
        for r in &rows {
            // Slowest first: each faster run of a name replaces the one before.
            let name: String = r.try_get(0)?;
            let time = r.try_get::<i64, _>(1)? as u32;
            let splits = parse_splits(&r.try_get::<String, _>(2)?);
            out.insert(name, BestRun { time, splits });
        }
        Ok(out)
    }

    /// The course record and its flight, if anyone has finished.
    pub async fn record(&self, course: &str) -> Result<Option<Record>, StoreError> {
        let row = sqlx::query(
            "SELECT name, ticks, samples FROM runs WHERE course = $1 \
             ORDER BY ticks, id LIMIT 1",
        )
        .bind(course)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Record {
                name: r.try_get(0)?,
                time: r.try_get::<i64, _>(1)? as u32,
                samples: parse_samples(&r.try_get::<Vec<u8>, _>(2)?),
            })
        })
        .transpose()
    }

    /// Runs saved on `course`, for `/stats` and tests.
    pub async fn count(&self, course: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM runs WHERE course = $1")
            .bind(course)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        Ok(n as u64)
    }
}

/// A database URL fit for logs: no password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…{}", &url[..scheme], &url[at..])
        }
        _ => url.to_owned(),
    }
}

fn splits_text(splits: &[u32]) -> String {
    splits
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Splits as stored; anything unreadable is left out (splits only inform).
fn parse_splits(text: &str) -> Vec<u32> {
    text.split(',').filter_map(|s| s.parse().ok()).collect()
}

/// Samples as little-endian f32s, four to a sample.
fn samples_blob(samples: &[GhostSample]) -> Vec<u8> {
    samples
        .iter()
        .flat_map(|s| [s.x, s.y, s.altitude, s.yaw])
        .flat_map(f32::to_le_bytes)
        .collect()
}

/// Inverse of [`samples_blob`]; a damaged blob gives the samples up to the damage, and
/// never a non-finite value.
fn parse_samples(blob: &[u8]) -> Vec<GhostSample> {
    blob.chunks_exact(16)
        .map(|c| {
            let f = |i: usize| {
                let v = f32::from_le_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
                v.is_finite().then_some(v)
            };
            Some(GhostSample {
                x: f(0)?,
                y: f(4)?,
                altitude: f(8)?,
                yaw: f(12)?,
            })
        })
        .take_while(Option::is_some)
        .flatten()
        .take(shared::protocol::MAX_GHOST_SAMPLES)
        .collect()
}

#[cfg(test)]
mod tests;
