//! Keyboard and pointer state turned into `Input` messages. No web APIs: the page feeds
//! it key codes and pointer movements.

use shared::protocol::{Input, keys};

/// The bit for a `KeyboardEvent.code`, if the game uses that key.
pub fn key_bit(code: &str) -> Option<u16> {
    Some(match code {
        "KeyW" | "ArrowUp" => keys::FORWARD,
        "KeyS" | "ArrowDown" => keys::BACK,
        "KeyA" | "ArrowLeft" => keys::TURN_LEFT,
        "KeyD" | "ArrowRight" => keys::TURN_RIGHT,
        "KeyQ" => keys::STRAFE_LEFT,
        "KeyE" => keys::STRAFE_RIGHT,
        "KeyR" | "Space" => keys::UP,
        "KeyF" | "KeyC" => keys::DOWN,
        "ShiftLeft" | "ShiftRight" => keys::FAST,
        _ => return None,
    })
}

/// Milliradians of yaw, and thousandths of the view height of pitch, per CSS pixel dragged.
const LOOK_PER_PIXEL: f64 = 4.0;

#[derive(Debug, Default)]
pub struct InputState {
    keys: u16,
    look_x: f64,
    look_y: f64,
    seq: u32,
    sent_keys: u16,
    last_sent: f64,
}

impl InputState {
    pub fn key(&mut self, bit: u16, down: bool) {
        if down {
            self.keys |= bit;
        } else {
            self.keys &= !bit;
        }
    }

    /// Some key is held.
    pub fn held(&self) -> bool {
        self.keys != 0
    }

    /// A look of at least one unit waits to be sent.
    pub fn looking(&self) -> bool {
        self.look_x.abs() >= 1.0 || self.look_y.abs() >= 1.0
    }

    /// Releases every key (the window lost focus: keyups will never come).
    pub fn release_all(&mut self) {
        self.keys = 0;
    }

    /// A pointer drag by (dx, dy) CSS pixels: drag right to turn right, down to look down.
    pub fn drag(&mut self, dx: f64, dy: f64) {
        self.look_x += dx * LOOK_PER_PIXEL;
        self.look_y += dy * LOOK_PER_PIXEL * 0.5;
    }

    /// A message at once if the held keys changed (called from the key event itself,
    /// so a key press never waits for the next animation frame), with any look
    /// gathered so far.
    pub fn poll_keys(&mut self, now: f64) -> Option<Input> {
        if self.keys == self.sent_keys {
            return None;
        }
        self.poll(now, 0.0)
    }

    /// The next message to send at time `now` (ms), if any: when something changed, at most
    /// every `min_gap` ms, and as a heartbeat while keys are held.
    pub fn poll(&mut self, now: f64, min_gap: f64) -> Option<Input> {
        if now - self.last_sent < min_gap {
            return None;
        }
        let look = self.looking();
        let heartbeat = self.keys != 0 && now - self.last_sent >= 250.0;
        if self.keys == self.sent_keys && !look && !heartbeat {
            return None;
        }
        let take = |v: &mut f64| {
            let whole = v.trunc().clamp(i16::MIN as f64, i16::MAX as f64);
            *v -= whole;
            whole as i16
        };
        self.seq = self.seq.wrapping_add(1);
        self.sent_keys = self.keys;
        self.last_sent = now;
        Some(Input {
            seq: self.seq,
            keys: self.keys,
            look_x: take(&mut self.look_x),
            look_y: take(&mut self.look_y),
            client_time: now as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_changes_rate_limited_with_heartbeat() {
        let mut s = InputState::default();
        assert_eq!(s.poll(0.0, 16.0), None, "nothing to say");
        s.key(key_bit("KeyW").unwrap(), true);
        let first = s.poll(100.0, 16.0).unwrap();
        assert_eq!((first.seq, first.keys), (1, keys::FORWARD));
        s.key(keys::FAST, true);
        assert_eq!(s.poll(105.0, 16.0), None, "too soon");
        assert_eq!(
            s.poll(120.0, 16.0).unwrap().keys,
            keys::FORWARD | keys::FAST
        );
        assert_eq!(s.poll(200.0, 16.0), None, "no change, no heartbeat yet");
        assert_eq!(s.poll(400.0, 16.0).unwrap().seq, 3, "heartbeat while held");
        s.release_all();
        assert_eq!(s.poll(420.0, 16.0).unwrap().keys, 0);
        assert_eq!(s.poll(1000.0, 16.0), None);
    }

    #[test]
    fn key_changes_go_at_once() {
        let mut s = InputState::default();
        s.key(keys::FORWARD, true);
        assert_eq!(s.poll(100.0, 16.0).unwrap().keys, keys::FORWARD);
        s.drag(2.0, 0.0);
        assert_eq!(
            s.poll_keys(101.0),
            None,
            "no key changed: looks wait for a frame"
        );
        s.key(keys::FORWARD, false);
        let up = s
            .poll_keys(102.0)
            .expect("a key change, 2 ms after the last message");
        assert_eq!((up.seq, up.keys, up.look_x), (2, 0, 8));
        assert_eq!(s.poll_keys(103.0), None);
    }

    #[test]
    fn drag_keeps_fractions() {
        let mut s = InputState::default();
        s.drag(0.1, 0.0);
        assert_eq!(s.poll(100.0, 0.0), None, "0.4 mrad is below one unit");
        s.drag(0.2, -3.0);
        let i = s.poll(200.0, 0.0).unwrap();
        assert_eq!((i.look_x, i.look_y), (1, -6));
    }

    #[test]
    fn keys() {
        assert_eq!(key_bit("ArrowLeft"), Some(keys::TURN_LEFT));
        assert_eq!(key_bit("Space"), Some(keys::UP));
        assert_eq!(
            key_bit("KeyM"),
            None,
            "M switches modes, it is no flight key"
        );
    }
}
