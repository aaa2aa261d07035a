//! Sign-in attempts, limited per name and per address: a few failures are free, then
//! each one more doubles the wait before the next try (up to [`MAX_WAIT`]). A success
//! clears the name's count. Sans-IO: times are passed in.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Failures allowed before waits begin.
pub const FREE: u32 = 5;
/// The first wait; each failure after doubles it.
pub const FIRST_WAIT: Duration = Duration::from_secs(2);
pub const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// A key quiet this long is forgotten.
const FORGET: Duration = Duration::from_secs(60 * 60);
/// Keys tracked before the oldest are dropped (bounded memory under a spray).
const MAX_KEYS: usize = 100_000;

struct Record {
    failures: u32,
    last: Instant,
}

#[derive(Default)]
pub struct Attempts {
    by_key: HashMap<String, Record>,
}

impl Attempts {
    /// How long `key` must still wait before another try (`None`: it may try now).
    pub fn wait(&self, key: &str, now: Instant) -> Option<Duration> {
        let r = self.by_key.get(key)?;
        let extra = r.failures.checked_sub(FREE + 1)?;
        let wait = FIRST_WAIT
            .saturating_mul(1u32.checked_shl(extra).unwrap_or(u32::MAX))
            .min(MAX_WAIT);
        let until = r.last + wait;
        (now < until).then(|| until - now)
    }

    pub fn failed(&mut self, key: &str, now: Instant) {
        if self.by_key.len() >= MAX_KEYS {
            self.by_key
                .retain(|_, r| now.saturating_duration_since(r.last) < FORGET);
        }
        if self.by_key.len() >= MAX_KEYS {
            return; // a spray from everywhere: the per-name limit still holds
        }
        let r = self.by_key.entry(key.to_owned()).or_insert(Record {
            failures: 0,
            last: now,
        });
        if now.saturating_duration_since(r.last) >= FORGET {
            r.failures = 0;
        }
        r.failures += 1;
        r.last = now;
    }

    pub fn succeeded(&mut self, key: &str) {
        self.by_key.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_failures_then_doubling_waits_then_forgotten() {
        let t0 = Instant::now();
        let mut a = Attempts::default();
        for _ in 0..FREE {
            assert_eq!(a.wait("n:ace", t0), None);
            a.failed("n:ace", t0);
        }
        assert_eq!(a.wait("n:ace", t0), None, "five are free");
        a.failed("n:ace", t0);
        assert_eq!(a.wait("n:ace", t0), Some(FIRST_WAIT));
        assert_eq!(a.wait("n:bob", t0), None, "per key");
        let t1 = t0 + FIRST_WAIT;
        assert_eq!(a.wait("n:ace", t1), None);
        a.failed("n:ace", t1);
        assert_eq!(a.wait("n:ace", t1), Some(2 * FIRST_WAIT), "doubled");
        for _ in 0..40 {
            a.failed("n:ace", t1);
        }
        assert_eq!(a.wait("n:ace", t1), Some(MAX_WAIT));
        a.succeeded("n:ace");
        assert_eq!(a.wait("n:ace", t1), None);
        a.failed("n:x", t0);
        a.failed("n:x", t0 + FORGET);
        assert_eq!(a.by_key["n:x"].failures, 1, "an old failure is forgotten");
    }
}
