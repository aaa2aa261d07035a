//! How fast one video stream may go, from the client's acknowledgements (sans-IO).
//!
//! Every frame sent is remembered until the client acknowledges it (`Ack` after decoding).
//! Frames in flight beyond a budget of queueing delay are not rendered at all (dropped
//! before encoding, so the stream stays decodable and latest-wins still holds). The
//! rate follows what the link delivers: down to a bit under the delivered rate as soon
//! as acknowledgements come back later than the fastest seen (a queue is building), up
//! by a tenth each half second while they come back promptly.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Queueing delay above the fastest acknowledgement that says the link is full.
const CONGESTED: Duration = Duration::from_millis(60);
/// Queueing delay under which the rate may grow.
const CLEAR: Duration = Duration::from_millis(20);
/// Most frames in flight, whatever the rate.
const MAX_IN_FLIGHT: usize = 12;
/// Bytes in flight allowed: this much time of the current rate (and two frames at least).
const IN_FLIGHT_TIME: Duration = Duration::from_millis(150);
/// A frame not acknowledged for this long is taken as acknowledged (the client may have
/// lost it, or never acknowledges): the stream goes on instead of stalling for good.
const FORGET_AFTER: Duration = Duration::from_secs(2);
const STEP_DOWN_EVERY: Duration = Duration::from_millis(300);
const STEP_UP_EVERY: Duration = Duration::from_millis(500);
/// Delivery is measured over this window.
const WINDOW: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug)]
struct Sent {
    seq: u32,
    bytes: usize,
    at: Instant,
}

#[derive(Debug)]
pub struct Pacer {
    bitrate: u32,
    floor: u32,
    ceiling: u32,
    in_flight: VecDeque<Sent>,
    /// Acknowledged bytes and when, for the last [`WINDOW`].
    delivered: VecDeque<(Instant, usize)>,
    /// Fastest acknowledgement seen lately (the link's delay without a queue).
    base_delay: Option<Duration>,
    last_change: Instant,
    /// A frame was held back since the last step down: the link is full.
    held_back: bool,
}

impl Pacer {
    /// Starts at `start` bits a second, kept within `floor..=ceiling`.
    pub fn new(start: u32, floor: u32, ceiling: u32, now: Instant) -> Pacer {
        Pacer {
            bitrate: start.clamp(floor, ceiling),
            floor,
            ceiling,
            in_flight: VecDeque::new(),
            delivered: VecDeque::new(),
            base_delay: None,
            last_change: now,
            held_back: false,
        }
    }

    /// The rate the encoder should aim at now.
    pub fn bitrate(&self) -> u32 {
        self.bitrate
    }

    fn bytes_in_flight(&self) -> usize {
        self.in_flight.iter().map(|s| s.bytes).sum()
    }

    /// May another frame be rendered and sent now? No while too much is in flight: the
    /// frame is skipped before it costs anything, and the rate steps down.
    pub fn may_send(&mut self, now: Instant) -> bool {
        while let Some(old) = self.in_flight.front() {
            if now.duration_since(old.at) < FORGET_AFTER {
                break;
            }
            self.in_flight.pop_front();
        }
        let budget = (self.bitrate as f64 / 8.0 * IN_FLIGHT_TIME.as_secs_f64()) as usize;
        let frames = self.in_flight.len();
        let open = frames < 2 || (frames < MAX_IN_FLIGHT && self.bytes_in_flight() < budget);
        if !open {
            self.held_back = true;
            self.step_down(now);
        }
        open
    }

    /// A frame of `bytes` went to the socket.
    pub fn sent(&mut self, seq: u32, bytes: usize, now: Instant) {
        self.in_flight.push_back(Sent {
            seq,
            bytes,
            at: now,
        });
    }

    /// The client decoded frame `seq` (and so every one before it).
    pub fn acked(&mut self, seq: u32, now: Instant) {
        let mut newest = None;
        while let Some(s) = self.in_flight.front() {
            // Sequence numbers wrap: `seq` is at or after `s.seq` within half the range.
            if seq.wrapping_sub(s.seq) >= u32::MAX / 2 {
                break;
            }
            newest = Some(*s);
            self.delivered.push_back((now, s.bytes));
            self.in_flight.pop_front();
        }
        let Some(frame) = newest else {
            return; // a stale or unknown acknowledgement: nothing to learn
        };
        while self
            .delivered
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > WINDOW)
        {
            self.delivered.pop_front();
        }
        let delay = now.duration_since(frame.at);
        // The base creeps up slowly, so a route that got slower for good is learnt.
        let base = match self.base_delay {
            Some(b) if delay >= b => b + (delay - b) / 64,
            _ => delay,
        };
        self.base_delay = Some(base);
        let queued = delay.saturating_sub(base);
        if queued > CONGESTED {
            self.step_down(now);
        } else if queued < CLEAR
            && !self.held_back
            && now.duration_since(self.last_change) >= STEP_UP_EVERY
        {
            self.bitrate = (self.bitrate as u64 * 11 / 10).min(self.ceiling as u64) as u32;
            self.last_change = now;
        }
    }

    /// What the link delivered over the last second, in bits a second (`None` before a
    /// second's worth of acknowledgements).
    pub fn delivered_rate(&self) -> Option<u32> {
        let first = self.delivered.front()?.0;
        let last = self.delivered.back()?.0;
        let span = last.duration_since(first).max(WINDOW / 4);
        let bytes: usize = self.delivered.iter().map(|(_, b)| b).sum();
        Some((bytes as f64 * 8.0 / span.as_secs_f64()) as u32)
    }

    fn step_down(&mut self, now: Instant) {
        if now.duration_since(self.last_change) < STEP_DOWN_EVERY {
            return;
        }
        let mut next = self.bitrate as u64 * 8 / 10;
        if let Some(rate) = self.delivered_rate() {
            next = next.min(rate as u64 * 9 / 10);
        }
        self.bitrate = (next as u32).clamp(self.floor, self.ceiling);
        self.last_change = now;
        self.held_back = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: Duration = Duration::from_micros(16_667);

    /// A link of `bps` bits a second and `delay` one way: frames queue behind each other.
    struct Link {
        bps: f64,
        delay: Duration,
        free_at: Instant,
    }

    impl Link {
        /// When the client acknowledges a frame of `bytes` sent at `now`.
        fn ack_at(&mut self, bytes: usize, now: Instant) -> Instant {
            let start = self.free_at.max(now);
            self.free_at = start + Duration::from_secs_f64(bytes as f64 * 8.0 / self.bps);
            self.free_at + 2 * self.delay
        }
    }

    /// Runs a stream of `seconds` at 60 frames a second whose frames are the rate's
    /// share; returns the pacer and how many frames went out.
    fn fly(pacer: &mut Pacer, link: &mut Link, start: Instant, seconds: u32) -> usize {
        let mut acks: Vec<(Instant, u32)> = Vec::new();
        let mut sent = 0;
        for i in 0..seconds * 60 {
            let now = start + FRAME * i;
            acks.sort();
            while let Some(&(at, seq)) = acks.first() {
                if at > now {
                    break;
                }
                pacer.acked(seq, at);
                acks.remove(0);
            }
            if pacer.may_send(now) {
                let bytes = (pacer.bitrate() / 8 / 60) as usize;
                pacer.sent(i, bytes, now);
                acks.push((link.ack_at(bytes, now), i));
                sent += 1;
            }
        }
        sent
    }

    #[test]
    fn a_slow_link_brings_the_rate_down_to_what_it_delivers() {
        let start = Instant::now();
        let mut pacer = Pacer::new(3_000_000, 300_000, 6_000_000, start);
        let mut link = Link {
            bps: 1_000_000.0,
            delay: Duration::from_millis(20),
            free_at: start,
        };
        let sent = fly(&mut pacer, &mut link, start, 20);
        let rate = pacer.bitrate();
        assert!((600_000..=1_100_000).contains(&rate), "settled at {rate}");
        // Nearly every frame still goes out once the rate fits the link.
        assert!(sent > 20 * 60 * 8 / 10, "only {sent} frames");
    }

    #[test]
    fn a_fast_link_lets_the_rate_climb_to_the_ceiling() {
        let start = Instant::now();
        let mut pacer = Pacer::new(1_000_000, 300_000, 4_000_000, start);
        let mut link = Link {
            bps: 50_000_000.0,
            delay: Duration::from_millis(5),
            free_at: start,
        };
        let sent = fly(&mut pacer, &mut link, start, 20);
        assert_eq!(pacer.bitrate(), 4_000_000);
        assert_eq!(sent, 20 * 60);
    }

    #[test]
    fn a_stalled_reader_gets_no_more_frames_until_it_acknowledges() {
        let start = Instant::now();
        let mut pacer = Pacer::new(2_000_000, 300_000, 6_000_000, start);
        let mut sent = 0;
        for i in 0..30 {
            let now = start + FRAME * i;
            if pacer.may_send(now) {
                pacer.sent(i, 5_000, now);
                sent += 1;
            }
        }
        assert!(
            (2..=MAX_IN_FLIGHT).contains(&sent),
            "{sent} frames in flight"
        );
        let now = start + FRAME * 30;
        assert!(!pacer.may_send(now));
        pacer.acked(sent as u32 - 1, now);
        assert!(pacer.may_send(now), "open again once acknowledged");
        // Nothing acknowledged for long: taken as lost, the stream goes on.
        pacer.sent(100, 1_000_000, now);
        pacer.sent(101, 1_000_000, now);
        assert!(!pacer.may_send(now));
        assert!(pacer.may_send(now + FORGET_AFTER));
    }

    #[test]
    fn stale_and_unknown_acknowledgements_change_nothing() {
        let start = Instant::now();
        let mut pacer = Pacer::new(2_000_000, 300_000, 6_000_000, start);
        pacer.sent(10, 1000, start);
        pacer.acked(9, start + FRAME);
        pacer.acked(u32::MAX, start + FRAME);
        assert_eq!(pacer.in_flight.len(), 1);
        assert_eq!(pacer.delivered_rate(), None);
        pacer.acked(10, start + FRAME);
        assert!(pacer.in_flight.is_empty());
    }
}
