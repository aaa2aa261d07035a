//! Accounts: a guest plays at once under a guest name and may **claim** it with a
//! password; later visits sign in with it. Sessions are random tokens in an `HttpOnly`,
//! `SameSite=Strict` cookie, kept hashed in the store (so every process sharing the
//! database honours them), expiring after [`SESSION_DAYS`] and revocable (sign-out, a
//! password change ends the others, an operator ends them all).
//!
//! "No such name" and "wrong password" get the same answer after the same work (an
//! unknown name is checked against a stand-in hash); attempts are limited per name and
//! per address ([`attempts`]). No password or token is ever logged.

pub mod api;
pub mod attempts;
pub mod password;
pub mod token;

use crate::store::{Account, Store, StoreError};
use attempts::Attempts;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A session lasts this long from sign-in.
pub const SESSION_DAYS: u64 = 30;

/// A signed-in browser: the token for its cookie (never stored or logged), and whose.
pub struct Session {
    pub token: String,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("a name is 1 to 16 printable characters")]
    BadName,
    #[error("that name is claimed already")]
    Taken,
    #[error("wrong name or password")]
    Wrong,
    #[error("too many attempts: try again in {0} s")]
    Wait(u64),
    #[error("{0}")]
    Password(#[from] password::PasswordError),
    #[error("sign in first")]
    NotSignedIn,
    #[error("accounts are unavailable right now")]
    Unavailable(#[from] StoreError),
}

impl AccountError {
    pub fn status(&self) -> u16 {
        match self {
            AccountError::BadName | AccountError::Password(password::PasswordError::Length) => 400,
            AccountError::Taken => 409,
            AccountError::Wrong | AccountError::NotSignedIn => 401,
            AccountError::Wait(_) => 429,
            AccountError::Password(_) | AccountError::Unavailable(_) => 503,
        }
    }
}

/// What makes two names the same account.
pub fn key(name: &str) -> String {
    name.to_lowercase()
}

fn now_ms() -> i64 {
    crate::chat::now_ms() as i64
}

pub struct Accounts {
    store: Option<Store>,
    attempts: Mutex<Attempts>,
    /// Checked when a name has no account, so that answer takes as long as a wrong
    /// password.
    stand_in: String,
}

/// Runs Argon2 on a blocking thread (it takes tens of milliseconds on purpose).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

/// [`password::hash`] on a blocking thread.
async fn hash_off_thread(password: &str) -> Result<String, AccountError> {
    let owned = password.to_owned();
    let hashed = blocking(move || password::hash(&owned))
        .await
        .ok_or_else(|| password::PasswordError::Hash("the hashing thread failed".into()))?;
    Ok(hashed?)
}

impl Accounts {
    /// Without a store, claiming and signing in answer "unavailable".
    pub fn new(store: Option<Store>) -> Accounts {
        let stand_in = password::hash("stand-in for a name without an account").unwrap_or_default();
        Accounts {
            store,
            attempts: Mutex::default(),
            stand_in,
        }
    }

    fn store(&self) -> Result<&Store, AccountError> {
        (self.store.as_ref()).ok_or(AccountError::Unavailable(StoreError::Query(
            sqlx::Error::PoolClosed,
        )))
    }

    fn attempts(&self) -> std::sync::MutexGuard<'_, Attempts> {
        self.attempts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The longest wait among `keys`.
    fn must_wait(&self, keys: &[String]) -> Result<(), AccountError> {
        let now = Instant::now();
        let attempts = self.attempts();
        match keys.iter().filter_map(|k| attempts.wait(k, now)).max() {
            Some(wait) => Err(AccountError::Wait(wait.as_secs_f64().ceil() as u64)),
            None => Ok(()),
        }
    }

    /// Claims `name` with `password`: the account is made and the browser signed in.
    /// Each claim counts against the address (accounts are not made in bulk).
    pub async fn claim(
        &self,
        name: &str,
        password: &str,
        client: IpAddr,
    ) -> Result<Session, AccountError> {
        let store = self.store()?;
        let clean = crate::game::names::sanitize(name);
        if clean.is_empty() || clean != name.trim() {
            return Err(AccountError::BadName);
        }
        password::acceptable(password)?;
        let by_address = format!("claim:{client}");
        self.must_wait(std::slice::from_ref(&by_address))?;
        self.attempts().failed(&by_address, Instant::now());
        let hash = hash_off_thread(password).await?;
        let account = Account {
            key: key(&clean),
            name: clean,
            hash,
        };
        if !store.create_account(&account, now_ms()).await? {
            return Err(AccountError::Taken);
        }
        tracing::info!(name = %account.name, "name claimed");
        self.start_session(&account).await
    }

    async fn start_session(&self, account: &Account) -> Result<Session, AccountError> {
        let token = token::new_token()
            .map_err(|e| AccountError::Password(password::PasswordError::Random(e.to_string())))?;
        let now = now_ms();
        let expires = now + Duration::from_secs(SESSION_DAYS * 86_400).as_millis() as i64;
        (self.store()?)
            .create_session(&token::digest(&token), &account.key, now, expires)
            .await?;
        Ok(Session {
            token,
            name: account.name.clone(),
        })
    }

    /// Signs in: the same answer, after the same work, for an unknown name and a wrong
    /// password.
    pub async fn sign_in(
        &self,
        name: &str,
        password: &str,
        client: IpAddr,
    ) -> Result<Session, AccountError> {
        let store = self.store()?;
        let by_name = format!("name:{}", key(name.trim()));
        let by_address = format!("addr:{client}");
        self.must_wait(&[by_name.clone(), by_address.clone()])?;
        let account = store.account(&key(name.trim())).await?;
        let stored = account
            .as_ref()
            .map_or(self.stand_in.clone(), |a| a.hash.clone());
        let owned = password.to_owned();
        let matches = blocking(move || password::verify(&owned, &stored))
            .await
            .unwrap_or(false);
        match account {
            Some(account) if matches => {
                self.attempts().succeeded(&by_name);
                tracing::info!(name = %account.name, "signed in");
                self.start_session(&account).await
            }
            _ => {
                let now = Instant::now();
                let mut attempts = self.attempts();
                attempts.failed(&by_name, now);
                attempts.failed(&by_address, now);
                tracing::info!(%client, "sign-in refused");
                Err(AccountError::Wrong)
            }
        }
    }

    /// The account a cookie's token signs in, if its session is alive.
    pub async fn session(&self, token: &str) -> Result<Option<Account>, AccountError> {
        Ok(self
            .store()?
            .session(&token::digest(token), now_ms())
            .await?)
    }

    pub async fn sign_out(&self, token: &str) -> Result<(), AccountError> {
        Ok(self
            .store()?
            .delete_session(&token::digest(token), now_ms())
            .await?)
    }

    /// Changes the password of the session's account (the old one confirms it is
    /// the owner); every other session of the account ends.
    pub async fn change_password(
        &self,
        token: &str,
        old: &str,
        new: &str,
    ) -> Result<(), AccountError> {
        let account = self
            .session(token)
            .await?
            .ok_or(AccountError::NotSignedIn)?;
        let by_name = format!("name:{}", account.key);
        self.must_wait(std::slice::from_ref(&by_name))?;
        password::acceptable(new)?;
        let (old, stored) = (old.to_owned(), account.hash.clone());
        if !blocking(move || password::verify(&old, &stored))
            .await
            .unwrap_or(false)
        {
            self.attempts().failed(&by_name, Instant::now());
            return Err(AccountError::Wrong);
        }
        let hash = hash_off_thread(new).await?;
        (self.store()?)
            .set_password(&account.key, &hash, &token::digest(token))
            .await?;
        tracing::info!(name = %account.name, "password changed; other sessions ended");
        Ok(())
    }

    /// An operator ends every session of `name`.
    pub async fn revoke(&self, name: &str) -> Result<u64, AccountError> {
        let n = self.store()?.delete_sessions_of(&key(name)).await?;
        tracing::warn!(name, sessions = n, "moderation: sessions revoked");
        Ok(n)
    }

    /// Whether an account holds `name` (by any case).
    pub async fn claimed(&self, name: &str) -> Result<bool, AccountError> {
        Ok(self.store()?.account(&key(name)).await?.is_some())
    }
}
