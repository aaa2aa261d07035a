//! Claimed names and their sessions. Only hashes are stored: the password's (Argon2id,
//! made by [`crate::accounts`]) and the session token's (SHA-256).

use super::{Store, StoreError};
use sqlx::Row;

/// An account as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The name folded to lower case: what makes two names the same account.
    pub key: String,
    /// The name as claimed (what others see).
    pub name: String,
    /// The password's Argon2id PHC string.
    pub hash: String,
}

/// An account from a row of `key, name, hash`.
fn account_of(r: &sqlx::any::AnyRow) -> Result<Account, StoreError> {
    Ok(Account {
        key: r.try_get(0)?,
        name: r.try_get(1)?,
        hash: r.try_get(2)?,
    })
}

impl Store {
    /// Creates the account; `false` if the name is claimed already (by any case).
    pub async fn create_account(
        &self,
        account: &Account,
        created_at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO accounts (key, name, hash, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(&account.key)
        .bind(&account.name)
        .bind(&account.hash)
        .bind(created_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn account(&self, key: &str) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query("SELECT key, name, hash FROM accounts WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_of).transpose()
    }

    /// Whether an account holds exactly this name.
    pub async fn is_claimed(&self, name: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM accounts WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        Ok(n > 0)
    }

    /// Replaces the password's hash and ends every session of the account but `keep`.
    pub async fn set_password(&self, key: &str, hash: &str, keep: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE accounts SET hash = $1 WHERE key = $2")
            .bind(hash)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE account = $1 AND token_hash <> $2")
            .bind(key)
            .bind(keep)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_session(
        &self,
        token_hash: &str,
        account: &str,
        created_at: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, account, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(account)
        .bind(created_at)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The account a session that has not lapsed by `now` belongs to.
    pub async fn session(&self, token_hash: &str, now: i64) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(
            "SELECT a.key, a.name, a.hash FROM sessions s JOIN accounts a ON a.key = s.account \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(account_of).transpose()
    }

    /// Ends a session (signing out); lapsed sessions go at the same time.
    pub async fn delete_session(&self, token_hash: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1 OR expires_at <= $2")
            .bind(token_hash)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends every session of an account (an operator revoking it).
    pub async fn delete_sessions_of(&self, key: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE account = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
