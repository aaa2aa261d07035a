//! What a player may say, and how often: sans-IO, so every rule is tested without a
//! socket. Text is cleaned (never cut: a message too long is refused whole), and each
//! player has a burst of messages, then a steady rate; saying the same thing again
//! within a while is refused; flooding past the limits mutes the player for a while.

use shared::protocol::MAX_CHAT_CHARS;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Messages a player may send at once...
pub const BURST: f64 = 5.0;
/// ...then this many a second.
pub const RATE: f64 = 0.5;
/// The same text again within this is refused.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(30);
/// Recent texts remembered for the repeat check.
const REMEMBERED: usize = 4;
/// Refusals in a row (without a message getting through) that count as a flood...
pub const FLOOD_STRIKES: u32 = 8;
/// ...and silence the player this long.
pub const FLOOD_MUTE: Duration = Duration::from_secs(30);

/// Why a message was not sent; the text is what the player reads.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("nothing to send")]
    Empty,
    #[error("messages are at most {MAX_CHAT_CHARS} characters ({0} given): not sent")]
    TooLong(usize),
    #[error("slow down: one message every {} s after a burst of {}", 1.0 / RATE, BURST)]
    TooFast,
    #[error("you said that a moment ago: not sent again")]
    Repeated,
    #[error("too many messages: you are muted for {0} s")]
    Flooding(u64),
    #[error("you are muted for {0} more s")]
    Muted(u64),
}

/// Plain text fit to show: control and invisible formatting characters dropped, white
/// space folded to single spaces, trimmed. Markup stays as the characters it is (the
/// page shows text, never HTML).
pub fn clean(raw: &str) -> Result<String, Refused> {
    let mut out = String::with_capacity(raw.len());
    let mut space = false;
    for c in raw.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
        } else if !c.is_control() && !crate::game::names::is_invisible(c) {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    match out.chars().count() {
        0 => Err(Refused::Empty),
        n if n > MAX_CHAT_CHARS => Err(Refused::TooLong(n)),
        _ => Ok(out),
    }
}

/// One player's allowance.
pub struct Limiter {
    tokens: f64,
    last: Instant,
    recent: VecDeque<(String, Instant)>,
    strikes: u32,
    muted_until: Option<Instant>,
}

impl Limiter {
    pub fn new(now: Instant) -> Limiter {
        Limiter {
            tokens: BURST,
            last: now,
            recent: VecDeque::new(),
            strikes: 0,
            muted_until: None,
        }
    }

    /// Whether `text` (cleaned) may go now; counts it if so.
    pub fn check(&mut self, text: &str, now: Instant) -> Result<(), Refused> {
        if let Some(until) = self.muted_until {
            if now < until {
                return Err(Refused::Muted(secs_left(until, now)));
            }
            self.muted_until = None;
            self.strikes = 0;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * RATE).min(BURST);
        self.recent
            .retain(|(_, at)| now.saturating_duration_since(*at) < REPEAT_WINDOW);
        let folded = text.to_lowercase();
        let refusal = if self.recent.iter().any(|(t, _)| *t == folded) {
            Some(Refused::Repeated)
        } else if self.tokens < 1.0 {
            Some(Refused::TooFast)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            self.strikes += 1;
            if self.strikes >= FLOOD_STRIKES {
                self.muted_until = Some(now + FLOOD_MUTE);
                return Err(Refused::Flooding(FLOOD_MUTE.as_secs()));
            }
            return Err(refusal);
        }
        self.tokens -= 1.0;
        self.strikes = 0;
        if self.recent.len() == REMEMBERED {
            self.recent.pop_front();
        }
        self.recent.push_back((folded, now));
        Ok(())
    }
}

fn secs_left(until: Instant, now: Instant) -> u64 {
    until.saturating_duration_since(now).as_secs_f64().ceil() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_without_cutting() {
        assert_eq!(clean("  hi \n\t there "), Ok("hi there".into()));
        assert_eq!(
            clean("<script>alert(1)</script>"),
            Ok("<script>alert(1)</script>".into()),
            "markup stays text"
        );
        assert_eq!(clean("a\u{0}b\u{1b}[31m\u{202e}c"), Ok("ab[31mc".into()));
        assert_eq!(clean(" \u{200b}\n"), Err(Refused::Empty));
        let max = "é".repeat(MAX_CHAT_CHARS);
        assert_eq!(clean(&max), Ok(max.clone()));
        assert_eq!(clean(&(max + "x")), Err(Refused::TooLong(301)));
    }

    #[test]
    fn burst_then_rate() {
        let t0 = Instant::now();
        let mut l = Limiter::new(t0);
        for i in 0..5 {
            assert_eq!(l.check(&format!("m{i}"), t0), Ok(()), "burst {i}");
        }
        assert_eq!(l.check("m5", t0), Err(Refused::TooFast));
        let later = t0 + Duration::from_millis(2000);
        assert_eq!(l.check("m6", later), Ok(()), "one token back after 2 s");
        assert_eq!(l.check("m7", later), Err(Refused::TooFast));
    }

    #[test]
    fn repeats_are_refused_for_a_while() {
        let t0 = Instant::now();
        let mut l = Limiter::new(t0);
        assert_eq!(l.check("gg", t0), Ok(()));
        assert_eq!(l.check("GG", t0), Err(Refused::Repeated), "any case");
        assert_eq!(l.check("gg", t0 + REPEAT_WINDOW), Ok(()));
    }

    #[test]
    fn flooding_mutes_then_lifts() {
        let t0 = Instant::now();
        let mut l = Limiter::new(t0);
        let results: Vec<_> = (0..20).map(|i| l.check(&format!("{i}"), t0)).collect();
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 5);
        assert!(results.contains(&Err(Refused::Flooding(30))));
        assert_eq!(results.last(), Some(&Err(Refused::Muted(30))));
        let soon = t0 + Duration::from_secs(10);
        assert_eq!(l.check("hello", soon), Err(Refused::Muted(20)));
        let after = t0 + FLOOD_MUTE + Duration::from_secs(1);
        assert_eq!(l.check("hello", after), Ok(()), "the mute lifts");
    }
}
