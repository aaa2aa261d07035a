//! Client-side prediction: the player's own inputs move the camera at once, through
//! `shared`'s flight model (the server's own code), and each State from the server is
//! reconciled by replaying the inputs it has not yet applied. Plain Rust, tested natively.
//!
//! Time is counted in local ticks of the server's rate from the first message. An input
//! sent during local tick `l` takes effect at tick `l + 1`, as on the server, where an
//! input moves the tick after its arrival. The server tick that applied an input, read
//! off the first State that acknowledges it, gives the offset between the two clocks.
//! Steady flight therefore replays exactly what the server computes: no correction at
//! all. When they differ (terrain, a late input), the difference is kept as an error
//! that fades over a few frames instead of a snap.

use shared::flight::{Controls, FlightModel, wrap};
use shared::protocol::{Input, State};
use shared::{Camera, Map};
use std::collections::VecDeque;

/// Most ticks replayed: a server silent for longer is not guessed past.
const MAX_REPLAY: i64 = 30;
/// Acknowledgements whose lowest latency sets the clock offset: jitter above the
/// fastest path does not move the prediction.
const OFFSET_WINDOW: usize = 16;
/// Inputs kept while unacknowledged (a dead connection must not grow this).
const MAX_PENDING: usize = 256;
/// The display error halves every this many milliseconds.
const ERROR_HALF_LIFE_MS: f64 = 30.0;
/// An error larger than this (map units) is a teleport: shown at once.
const SNAP_DISTANCE: f32 = 64.0;

/// An input as it was sent.
#[derive(Clone, Copy, Debug)]
struct Sent {
    seq: u32,
    /// Local tick it takes effect at.
    tick: i64,
    keys: u16,
    look: Controls,
}

/// How far the shown camera is from the prediction; fades to zero.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Error {
    x: f32,
    y: f32,
    altitude: f32,
    yaw: f32,
    horizon: f32,
}

impl Error {
    fn is_zero(&self) -> bool {
        *self == Error::default()
    }
}

pub struct Predictor {
    flight: FlightModel,
    tick_ms: f64,
    map_size: (f32, f32),
    /// Time (ms) of local tick 0; set by the first input or state.
    origin: Option<f64>,
    /// Server tick of the first state, so server ticks count from 0 like local ones.
    server_origin: Option<u32>,
    /// The last state: its tick (from `server_origin`) and camera.
    base: Option<(i64, Camera)>,
    /// Server tick minus local tick, from acknowledgements: the lowest recent sample.
    offsets: VecDeque<i64>,
    /// The same, guessed from the first state until an input is acknowledged.
    guessed_offset: Option<i64>,
    /// The last input the server applied, and its keys (held since).
    acked: u32,
    acked_keys: u16,
    pending: VecDeque<Sent>,
    error: Error,
    error_at: f64,
}

impl Predictor {
    pub fn new(tick_hz: u8, map_size: (u16, u16)) -> Predictor {
        Predictor {
            flight: FlightModel::default(),
            tick_ms: 1000.0 / tick_hz.max(1) as f64,
            map_size: (map_size.0.max(1) as f32, map_size.1.max(1) as f32),
            origin: None,
            server_origin: None,
            base: None,
            offsets: VecDeque::new(),
            guessed_offset: None,
            acked: 0,
            acked_keys: 0,
            pending: VecDeque::new(),
            error: Error::default(),
            error_at: 0.0,
        }
    }

    /// Local ticks since the origin, and how far into the next one `now` is (0..1).
    fn local_tick(&mut self, now: f64) -> (i64, f32) {
        let origin = *self.origin.get_or_insert(now);
        let t = ((now - origin) / self.tick_ms).max(0.0);
        (t.floor() as i64, t.fract() as f32)
    }

    /// Every input applied by the server and no correction fading.
    pub fn settled(&self) -> bool {
        self.pending.is_empty() && self.error.is_zero()
    }

    /// Records an input as it is sent: it moves the prediction from the next local tick.
    pub fn sent(&mut self, input: &Input, now: f64) {
        let tick = self.local_tick(now).0 + 1;
        if self.pending.len() == MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(Sent {
            seq: input.seq,
            tick,
            keys: input.keys,
            look: Controls::look(input.look_x, input.look_y),
        });
    }

    /// The server has applied every input up to `last_input` (a State or a Frame says so).
    /// Returns the acknowledged input's local tick if it is newly acknowledged.
    pub fn acknowledge(&mut self, last_input: u32) -> Option<i64> {
        if (last_input.wrapping_sub(self.acked) as i32) <= 0 {
            return None;
        }
        self.acked = last_input;
        let mut tick = None;
        while let Some(s) = self.pending.front() {
            if (s.seq.wrapping_sub(last_input) as i32) > 0 {
                break;
            }
            if s.seq == last_input {
                self.acked_keys = s.keys;
                tick = Some(s.tick);
            }
            self.pending.pop_front();
        }
        tick
    }

    /// Rebases on a State from the server. Whatever this changes in the camera shown at
    /// `now` becomes an error that fades, so the view never jumps.
    pub fn state(&mut self, s: &State, now: f64, map: Option<&Map>) {
        let before = map.and_then(|m| self.predict(now, m));
        let server_origin = *self.server_origin.get_or_insert(s.tick);
        let tick = s.tick.wrapping_sub(server_origin) as i64;
        let (local, _) = self.local_tick(now);
        // The first state that acknowledges an input tells the tick that applied it.
        if let Some(applied_at) = self.acknowledge(s.last_input) {
            self.push_offset(tick - applied_at);
        }
        // Until then, a guess: the state was made now. An input it has not applied yet
        // proves the server's clock is further ahead than that.
        let mut guess = self.guessed_offset.unwrap_or(tick - local);
        if let Some(first) = self.pending.front() {
            guess = guess.max(tick - first.tick + 1);
        }
        self.guessed_offset = Some(guess);
        self.base = Some((tick, s.camera));
        if let (Some(before), Some(map)) = (before, map)
            && let Some(after) = self.predict(now, map)
        {
            self.add_error(before, after, now);
        }
    }

    fn push_offset(&mut self, offset: i64) {
        if self.offsets.len() == OFFSET_WINDOW {
            self.offsets.pop_front();
        }
        self.offsets.push_back(offset);
    }

    /// The camera to show at `now`: the prediction plus the fading error.
    pub fn camera(&mut self, now: f64, map: &Map) -> Option<Camera> {
        let predicted = self.predict(now, map)?;
        self.decay(now);
        let e = self.error;
        if e.is_zero() {
            return Some(predicted);
        }
        let floor = map.height_at(predicted.x, predicted.y) + self.flight.clearance;
        Some(Camera {
            x: wrap(predicted.x + e.x, self.map_size.0),
            y: wrap(predicted.y + e.y, self.map_size.1),
            altitude: (predicted.altitude + e.altitude).max(floor),
            yaw: wrap(predicted.yaw + e.yaw, core::f32::consts::TAU),
            horizon: predicted.horizon + e.horizon,
            ..predicted
        })
    }

    /// Fades the error for the time since it was last faded; a remnant too small to see
    /// becomes exactly zero, so the view is the prediction again to the bit.
    fn decay(&mut self, now: f64) {
        let elapsed = (now - self.error_at).max(0.0);
        self.error_at = now;
        if self.error.is_zero() {
            return;
        }
        let keep = 0.5f64.powf(elapsed / ERROR_HALF_LIFE_MS) as f32;
        let e = &mut self.error;
        for v in [
            &mut e.x,
            &mut e.y,
            &mut e.altitude,
            &mut e.yaw,
            &mut e.horizon,
        ] {
            *v *= keep;
        }
        if e.x.abs() + e.y.abs() + e.altitude.abs() < 0.01
            && e.yaw.abs() < 1e-4
            && e.horizon.abs() < 1e-4
        {
            *e = Error::default();
        }
    }

    /// Keeps the view where it was (`shown`) while the prediction moved to `predicted`.
    fn add_error(&mut self, shown: Camera, predicted: Camera, now: f64) {
        if shown == predicted {
            return;
        }
        self.decay(now);
        let e = Error {
            x: self.error.x + wrapped_delta(predicted.x, shown.x, self.map_size.0),
            y: self.error.y + wrapped_delta(predicted.y, shown.y, self.map_size.1),
            altitude: self.error.altitude + shown.altitude - predicted.altitude,
            yaw: self.error.yaw + wrapped_delta(predicted.yaw, shown.yaw, core::f32::consts::TAU),
            horizon: self.error.horizon + shown.horizon - predicted.horizon,
        };
        let far = e.x.abs().max(e.y.abs()).max(e.altitude.abs()) > SNAP_DISTANCE;
        self.error = if far { Error::default() } else { e };
    }

    /// The predicted camera at `now`: the last state, advanced tick by tick to the local
    /// tick of `now` with the inputs the server had not applied, then interpolated into
    /// the next tick (so a key pressed now shows on the next animation frame).
    fn predict(&mut self, now: f64, map: &Map) -> Option<Camera> {
        let (base_tick, base) = self.base?;
        let offset = self.offsets.iter().min().copied().or(self.guessed_offset)?;
        let (local, frac) = self.local_tick(now);
        let start = base_tick - offset;
        let ticks = (local - start).clamp(0, MAX_REPLAY);
        let mut c = base;
        for l in start + 1..=start + ticks {
            c = self.look(c, l, start, map);
            c = self.advance(c, l, start, map);
        }
        // Looks sent during this tick show at once, in full, as on the server.
        let l = start + ticks + 1;
        c = self.look(c, l, start, map);
        if frac == 0.0 {
            return Some(c);
        }
        let next = self.advance(c, l, start, map);
        Some(lerp(c, next, frac, self.map_size))
    }

    /// When an input takes effect in a replay from the state at local tick `start`:
    /// one the server should have applied by then but had not, at the first tick after.
    fn effect_tick(s: &Sent, start: i64) -> i64 {
        s.tick.max(start + 1)
    }

    /// The looks that take effect at local tick `l`, applied on arrival like the server.
    fn look(&self, mut c: Camera, l: i64, start: i64, map: &Map) -> Camera {
        for s in &self.pending {
            let at = Self::effect_tick(s, start);
            if at > l {
                break;
            }
            if at == l && !s.look.is_still() {
                c = self.flight.step(&c, &s.look, 0.0, map);
            }
        }
        c
    }

    /// The tick step at local tick `l`, with the keys held then.
    fn advance(&self, c: Camera, l: i64, start: i64, map: &Map) -> Camera {
        let keys = self
            .pending
            .iter()
            .take_while(|s| Self::effect_tick(s, start) <= l)
            .last()
            .map_or(self.acked_keys, |s| s.keys);
        let controls = Controls {
            keys,
            ..Default::default()
        };
        self.flight
            .step(&c, &controls, (self.tick_ms / 1000.0) as f32, map)
    }

    /// The look not yet applied by the server to the frame answering `last_input`:
    /// what late warp shifts the last frame by.
    pub fn pending_look(&self, last_input: u32) -> Controls {
        let mut look = Controls::default();
        for s in &self.pending {
            if (s.seq.wrapping_sub(last_input) as i32) > 0 {
                look.look_yaw += s.look.look_yaw;
                look.look_pitch += s.look.look_pitch;
            }
        }
        look
    }
}

/// `a` moved `t` of the way to `b`, the short way round the wrapped map and the circle.
pub(crate) fn lerp(a: Camera, b: Camera, t: f32, (w, h): (f32, f32)) -> Camera {
    Camera {
        x: a.x + wrapped_delta(a.x, b.x, w) * t,
        y: a.y + wrapped_delta(a.y, b.y, h) * t,
        altitude: a.altitude + (b.altitude - a.altitude) * t,
        yaw: a.yaw + wrapped_delta(a.yaw, b.yaw, core::f32::consts::TAU) * t,
        horizon: a.horizon + (b.horizon - a.horizon) * t,
        ..b
    }
}

/// Shortest signed step from `a` to `b` on a circle of length `period`.
fn wrapped_delta(a: f32, b: f32, period: f32) -> f32 {
    let d = b - a;
    if d > period / 2.0 {
        d - period
    } else if d < -period / 2.0 {
        d + period
    } else {
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::protocol::keys;

    const TICK_MS: f64 = 1000.0 / 60.0;

    /// A server (ticks at 60 Hz, the game's rules) and a client (animation frames at
    /// 60 Hz, out of phase), a one-way latency apart, run millisecond by millisecond.
    struct Sim {
        map: Map,
        flight: FlightModel,
        latency: f64,
        camera: Camera,
        tick: u32,
        keys: u16,
        last_input: u32,
        to_server: Vec<(f64, Input)>,
        to_client: Vec<(f64, State)>,
        client: Predictor,
        seq: u32,
        now: f64,
        /// The camera shown at each animation frame, and how many states changed it.
        shown: Vec<Camera>,
        corrections: usize,
    }

    impl Sim {
        fn new(latency: f64) -> Sim {
            let map = shared::mapgen::generate_sized(256, 5);
            let camera = Camera {
                x: 100.0,
                y: 100.0,
                altitude: 250.0,
                ..Camera::default()
            };
            Sim {
                map,
                flight: FlightModel::default(),
                latency,
                camera,
                tick: 1000,
                keys: 0,
                last_input: 0,
                to_server: Vec::new(),
                to_client: Vec::new(),
                client: Predictor::new(60, (256, 256)),
                seq: 0,
                now: 0.0,
                shown: Vec::new(),
                corrections: 0,
            }
        }

        fn send(&mut self, keys: u16, look_x: i16) {
            self.seq += 1;
            let input = Input {
                seq: self.seq,
                keys,
                look_x,
                look_y: 0,
                client_time: 0,
            };
            self.client.sent(&input, self.now);
            self.to_server.push((self.now + self.latency, input));
        }

        /// Runs until `until` ms; `meddle` may change the server's camera at a tick.
        fn run(&mut self, until: f64, mut meddle: impl FnMut(u32, &mut Camera)) {
            while self.now < until {
                self.now += 1.0;
                let now = self.now;
                for (_, i) in self.to_server.extract_if(.., |(at, _)| *at <= now) {
                    let look = Controls::look(i.look_x, i.look_y);
                    if !look.is_still() {
                        self.camera = self.flight.step(&self.camera, &look, 0.0, &self.map);
                    }
                    self.keys = i.keys;
                    self.last_input = i.seq;
                }
                // Server ticks at 3 ms past each multiple of the tick.
                if ((now - 3.0) / TICK_MS).floor() != ((now - 4.0) / TICK_MS).floor() {
                    self.tick += 1;
                    let controls = Controls {
                        keys: self.keys,
                        ..Default::default()
                    };
                    self.camera = self.flight.step(
                        &self.camera,
                        &controls,
                        (TICK_MS / 1000.0) as f32,
                        &self.map,
                    );
                    meddle(self.tick, &mut self.camera);
                    let state = State {
                        tick: self.tick,
                        last_input: self.last_input,
                        camera: self.camera,
                    };
                    self.to_client.push((now + self.latency, state));
                }
                for (_, s) in self.to_client.extract_if(.., |(at, _)| *at <= now) {
                    let before = self.client.error;
                    self.client.state(&s, now, Some(&self.map));
                    self.corrections += (self.client.error != before) as usize;
                }
                // Animation frames at 11 ms past each multiple of the tick.
                if ((now - 11.0) / TICK_MS).floor() != ((now - 12.0) / TICK_MS).floor()
                    && let Some(c) = self.client.camera(now, &self.map)
                {
                    self.shown.push(c);
                }
            }
        }
    }

    fn distance(a: &Camera, b: &Camera) -> f32 {
        let dx = wrapped_delta(a.x, b.x, 256.0);
        let dy = wrapped_delta(a.y, b.y, 256.0);
        (dx * dx + dy * dy + (a.altitude - b.altitude).powi(2)).sqrt()
    }

    #[test]
    fn a_key_shows_on_the_next_frame_and_steady_flight_is_never_corrected() {
        let mut sim = Sim::new(40.0);
        sim.run(300.0, |_, _| {});
        let at_rest = *sim.shown.last().unwrap();
        sim.send(keys::FORWARD, 0);
        let before = sim.shown.len();
        sim.run(sim.now + 17.0, |_, _| {});
        assert!(sim.shown.len() > before);
        assert!(
            distance(sim.shown.last().unwrap(), &at_rest) > 0.5,
            "moved on the next frame, 80 ms before the server's answer could arrive"
        );
        // Heartbeats while the key is held, as the page sends them.
        for _ in 0..8 {
            sim.run(sim.now + 250.0, |_, _| {});
            sim.send(keys::FORWARD, 0);
        }
        assert_eq!(
            sim.corrections, 0,
            "steady flight: prediction = server, exactly"
        );
        // Turn while flying, then let go: still exact, since every input reached the
        // server at the tick the client assumed (a steady latency).
        sim.send(keys::FORWARD | keys::TURN_LEFT, 0);
        sim.run(sim.now + 300.0, |_, _| {});
        sim.send(0, 0);
        sim.run(sim.now + 300.0, |_, _| {});
        assert_eq!(sim.corrections, 0);
        let shown = *sim.shown.last().unwrap();
        assert!(
            distance(&shown, &sim.camera) < 1e-3 && shown.yaw == sim.camera.yaw,
            "at rest, the client shows the server's camera: {shown:?} {:?}",
            sim.camera
        );
    }

    #[test]
    fn looks_apply_at_once_and_are_not_applied_twice() {
        let mut sim = Sim::new(30.0);
        sim.run(200.0, |_, _| {});
        let yaw0 = sim.shown.last().unwrap().yaw;
        sim.send(0, 100);
        sim.run(sim.now + 17.0, |_, _| {});
        let yaw1 = sim.shown.last().unwrap().yaw;
        assert!((yaw1 - yaw0 - 0.1).abs() < 1e-5, "{yaw0} -> {yaw1}");
        sim.run(sim.now + 300.0, |_, _| {});
        assert_eq!(sim.shown.last().unwrap().yaw, sim.camera.yaw);
        assert_eq!(sim.corrections, 0);
    }

    #[test]
    fn a_mismatch_is_smoothed_over_a_few_frames_never_a_snap() {
        let mut sim = Sim::new(40.0);
        sim.run(200.0, |_, _| {});
        sim.send(keys::FORWARD, 0);
        sim.run(600.0, |_, _| {});
        // The server puts the player 12 units aside (terrain, a lost input...).
        let from = sim.shown.len();
        let mut pushed = false;
        sim.run(1200.0, |_, c| {
            if !pushed {
                c.x += 12.0;
                pushed = true;
            }
        });
        assert!(sim.corrections > 0, "the client noticed");
        let steps: Vec<f32> = sim.shown[from - 1..]
            .windows(2)
            .map(|w| distance(&w[0], &w[1]))
            .collect();
        let flying = 90.0 * TICK_MS as f32 / 1000.0;
        let worst = steps.iter().cloned().fold(0.0, f32::max);
        assert!(
            worst < flying + 12.0 * 0.4,
            "largest step between frames {worst} (flying alone: {flying})"
        );
        assert!(worst > flying + 0.5, "the correction did show");
        // Converged: no error left, and the last frames move as flying does (frames
        // fall on whole milliseconds here, 16 or 17 apart).
        assert!(sim.client.error.is_zero());
        for &step in &steps[steps.len() - 10..] {
            assert!((step - flying).abs() < 0.15, "{step}");
        }
    }

    #[test]
    fn a_late_input_is_replayed_from_the_first_tick_after_the_state() {
        // Latency that jumps: the input reaches the server later than the client
        // assumed; the client converges on the server's camera anyway.
        let mut sim = Sim::new(20.0);
        sim.run(200.0, |_, _| {});
        sim.send(keys::FORWARD, 0);
        sim.run(400.0, |_, _| {});
        sim.latency = 60.0;
        sim.send(keys::FORWARD | keys::UP, 0);
        sim.run(450.0, |_, _| {});
        sim.send(0, 0);
        sim.run(1200.0, |_, _| {});
        let shown = *sim.shown.last().unwrap();
        assert!(
            distance(&shown, &sim.camera) < 1e-3,
            "{shown:?} vs {:?}",
            sim.camera
        );
    }
}
