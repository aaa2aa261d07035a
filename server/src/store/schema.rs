//! Versioned schema migrations: each step runs once, in order, in a transaction, and the
//! version it reached is recorded in `schema_version`. A database from a newer server is
//! refused rather than guessed at.

use super::StoreError;
use sqlx::AnyPool;
use sqlx::Row;

/// One step: its version and SQL for SQLite and for PostgreSQL (they differ only where
/// the two disagree on types).
struct Migration {
    version: i64,
    sqlite: &'static [&'static str],
    postgres: &'static [&'static str],
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sqlite: &[
            "CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            course TEXT NOT NULL,
            name TEXT NOT NULL,
            ticks BIGINT NOT NULL,
            splits TEXT NOT NULL,
            finished_at BIGINT NOT NULL,
            samples BLOB NOT NULL
        )",
            "CREATE INDEX runs_board ON runs (course, ticks)",
            "CREATE INDEX runs_player ON runs (course, name, ticks)",
        ],
        postgres: &[
            "CREATE TABLE runs (
            id BIGSERIAL PRIMARY KEY,
            course TEXT NOT NULL,
            name TEXT NOT NULL,
            ticks BIGINT NOT NULL,
            splits TEXT NOT NULL,
            finished_at BIGINT NOT NULL,
            samples BYTEA NOT NULL
        )",
            "CREATE INDEX runs_board ON runs (course, ticks)",
            "CREATE INDEX runs_player ON runs (course, name, ticks)",
        ],
    },
    Migration {
        version: 2,
        sqlite: &[
            "CREATE TABLE chat (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            channel TEXT NOT NULL,
            name TEXT NOT NULL,
            flags BIGINT NOT NULL,
            sent_at BIGINT NOT NULL,
            body TEXT NOT NULL
        )",
            "CREATE INDEX chat_channel ON chat (channel, id)",
            ACCOUNTS,
            SESSIONS,
            "CREATE INDEX sessions_account ON sessions (account)",
        ],
        postgres: &[
            "CREATE TABLE chat (
            id BIGSERIAL PRIMARY KEY,
            channel TEXT NOT NULL,
            name TEXT NOT NULL,
            flags BIGINT NOT NULL,
            sent_at BIGINT NOT NULL,
            body TEXT NOT NULL
        )",
            "CREATE INDEX chat_channel ON chat (channel, id)",
            ACCOUNTS,
            SESSIONS,
            "CREATE INDEX sessions_account ON sessions (account)",
        ],
    },
];

/// Claimed names. `key` is the name folded to lower case (no two accounts differ by
/// case only); `hash` an Argon2id PHC string, which records its salt and parameters.
const ACCOUNTS: &str = "CREATE TABLE accounts (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
)";

/// Signed-in browsers: the SHA-256 of the cookie's token (a stolen database holds no
/// usable token), whose account, and when it lapses.
const SESSIONS: &str = "CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
)";

/// The newest version this server knows.
pub const LATEST: i64 = 2;

/// Brings the database to [`LATEST`].
pub async fn migrate(pool: &AnyPool, postgres: bool) -> Result<(), StoreError> {
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        .execute(pool)
        .await?;
    let current: Option<i64> = sqlx::query("SELECT MAX(version) FROM schema_version")
        .fetch_one(pool)
        .await?
        .try_get(0)?;
    let current = current.unwrap_or(0);
    if current > LATEST {
        return Err(StoreError::TooNew {
            found: current,
            known: LATEST,
        });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        let mut tx = pool.begin().await?;
        for sql in if postgres { m.postgres } else { m.sqlite } {
            sqlx::query(sqlx::AssertSqlSafe(*sql))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("INSERT INTO schema_version (version) VALUES ($1)")
            .bind(m.version)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version = m.version, "database migrated");
    }
    Ok(())
}
