//! A token bucket: `rate` tokens a second, holding at most `burst`. Limits client
//! messages and the frames a player's inputs may bring ahead of the tick.

use std::time::Instant;

pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// Starts full.
    pub fn new(rate: f64, burst: f64) -> TokenBucket {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// Takes a token if one is there at `now`.
    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn allows_the_burst_then_the_rate() {
        let mut b = TokenBucket::new(10.0, 20.0);
        let t0 = b.last;
        assert_eq!((0..25).filter(|_| b.take(t0)).count(), 20, "the burst");
        assert!(!b.take(t0));
        assert!(b.take(t0 + Duration::from_millis(100)));
        assert!(!b.take(t0 + Duration::from_millis(100)));
        assert!(
            !b.take(t0 + Duration::from_millis(50)),
            "an earlier instant adds nothing"
        );
    }
}
