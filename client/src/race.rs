//! The race as the page shows it, free of web APIs: the course and its gates as sprites,
//! the record's ghost, the player's own run from the server's events (the server is
//! the only judge), the HUD's words and the results feed.

use shared::Camera;
use shared::course::{Course, Gate, Scenery, ghost_at};
use shared::protocol::{GhostRun, RaceEvent, RunResult};
use shared::sprite::Aircraft;

/// Results kept for the feed.
const FEED: usize = 5;

#[derive(Debug, Default)]
pub struct RaceView {
    pub course_id: Option<u64>,
    gates: Vec<Gate>,
    scenery: Scenery,
    ghost: Option<GhostRun>,
    tick_hz: u32,
    /// The current run: its start tick and when its Start arrived (ms, local clock).
    run: Option<(u32, f64)>,
    /// Gates flown through since the start.
    passed: usize,
    /// The last split: gate, ticks, the best run's ticks there (0: none).
    split: Option<(u8, u32, u32)>,
    /// Held after a crash until this tick.
    crashed_until: Option<u32>,
    /// The last finished run: its ticks and the best before it (0: none).
    finished: Option<(u32, u32)>,
    not_saved: bool,
    /// Announced results, newest last.
    pub feed: Vec<RunResult>,
}

/// Seconds as `m:ss.cc`.
pub fn clock(seconds: f64) -> String {
    let cs = (seconds.max(0.0) * 100.0).round() as u64;
    format!("{}:{:02}.{:02}", cs / 6000, cs / 100 % 60, cs % 100)
}

/// A difference in seconds as `+1.23` / `-0.40`.
fn delta(seconds: f64) -> String {
    format!(
        "{}{:.2}",
        if seconds < 0.0 { "-" } else { "+" },
        seconds.abs()
    )
}

impl RaceView {
    pub fn new(tick_hz: u32) -> RaceView {
        RaceView {
            tick_hz: tick_hz.max(1),
            ..RaceView::default()
        }
    }

    fn seconds(&self, ticks: u32) -> f64 {
        ticks as f64 / self.tick_hz as f64
    }

    pub fn course(&mut self, id: u64, gates: Vec<Gate>) {
        self.scenery = Course {
            gates: gates.clone(),
        }
        .scenery();
        self.gates = gates;
        self.course_id = Some(id);
    }

    pub fn gates(&self) -> &[Gate] {
        &self.gates
    }

    pub fn set_ghost(&mut self, ghost: GhostRun) {
        self.ghost = Some(ghost);
    }

    /// The player's run changed; `now` in ms.
    pub fn event(&mut self, e: RaceEvent, now: f64) {
        match e {
            RaceEvent::Start { tick } => {
                self.run = Some((tick, now));
                self.passed = 0;
                self.split = None;
                self.crashed_until = None;
            }
            RaceEvent::Gate { gate, split, best } => {
                self.passed += 1;
                self.split = Some((gate, split, best));
            }
            RaceEvent::Finish { time, best } => {
                self.finished = Some((time, best));
                self.not_saved = false;
                self.run = None;
            }
            RaceEvent::Crash { until, .. } => self.crashed_until = Some(until),
            RaceEvent::Abandon => {
                self.run = None;
                self.split = None;
            }
            RaceEvent::NotSaved => self.not_saved = true,
        }
    }

    pub fn result(&mut self, r: RunResult) {
        self.feed.push(r);
        if self.feed.len() > FEED {
            self.feed.remove(0);
        }
    }

    pub fn running(&self) -> bool {
        self.run.is_some()
    }

    /// The gate to fly through next: gate 0 to start.
    pub fn next_gate(&self) -> usize {
        match self.run {
            Some(_) if !self.gates.is_empty() => (self.passed + 1) % self.gates.len(),
            _ => 0,
        }
    }

    /// The gates (next one marked) and the ghost, as sprites for a frame of `cam`,
    /// `tick` the server tick the frame shows: the server's frames add the same.
    pub fn sprites(&self, cam: &Camera, tick: u32, map_size: (f32, f32), out: &mut Vec<Aircraft>) {
        if let (Some(g), Some((start, _))) = (&self.ghost, self.run) {
            out.extend(ghost_at(&g.samples, tick.wrapping_sub(start), map_size));
        }
        self.scenery
            .beads_near(self.next_gate(), cam, map_size, out);
    }

    /// The HUD's race line at `now` (ms), for `cam`: the next gate, the clock, the last
    /// split against the best; or how to start.
    pub fn hud(&self, now: f64) -> String {
        let n = self.gates.len();
        if n == 0 {
            return String::new();
        }
        let Some((_, started)) = self.run else {
            let last = match (self.finished, self.not_saved) {
                (Some((t, _)), true) => format!(" · last {} (not saved)", clock(self.seconds(t))),
                (Some((t, best)), false) if best != 0 && t < best => format!(
                    " · last {} ({} best!)",
                    clock(self.seconds(t)),
                    delta(self.seconds(t) - self.seconds(best))
                ),
                (Some((t, _)), false) => format!(" · last {}", clock(self.seconds(t))),
                (None, _) => String::new(),
            };
            return format!("Fly through the yellow gate to start{last}");
        };
        let elapsed = (now - started) / 1000.0;
        let next = self.next_gate();
        let target = if next == 0 {
            "finish".to_owned()
        } else {
            format!("gate {next}/{}", n - 1)
        };
        let split = match self.split {
            Some((_, t, best)) if best != 0 => {
                format!(" · split {}", delta(self.seconds(t) - self.seconds(best)))
            }
            _ => String::new(),
        };
        let crashed = if self.crashed_until.is_some() && self.passed < n {
            " · crashed!"
        } else {
            ""
        };
        format!("{} · {target}{split}{crashed}", clock(elapsed))
    }

    /// Where the next gate is from `cam`: the turn to it (radians, positive to the
    /// right, in `(-π, π]`) and its distance in map units.
    pub fn bearing(&self, cam: &Camera, map_size: (f32, f32)) -> Option<(f32, f32)> {
        let g = self.gates.get(self.next_gate())?;
        // For the HUD only: platform float maths is fine here.
        let wrapped = |d: f32, p: f32| d - (d / p + 0.5).floor() * p;
        let dx = wrapped(g.x - cam.x, map_size.0);
        let dy = wrapped(g.y - cam.y, map_size.1);
        let turn = wrapped(dx.atan2(-dy) - cam.yaw, core::f32::consts::TAU);
        Some((turn, dx.hypot(dy)))
    }

    /// The results feed as lines of text, newest first.
    pub fn feed_lines(&self) -> Vec<String> {
        self.feed
            .iter()
            .rev()
            .map(|r| {
                let record = if r.record { " — new record!" } else { "" };
                format!(
                    "{} finished in {} (#{}){record}",
                    r.name,
                    clock(self.seconds(r.time)),
                    r.rank
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gates() -> Vec<Gate> {
        (0..4)
            .map(|i| Gate {
                x: 100.0 * i as f32,
                y: 500.0,
                altitude: 100.0,
                yaw: 1.0,
                radius: 28.0,
            })
            .collect()
    }

    #[test]
    fn the_hud_follows_the_servers_events() {
        let mut r = RaceView::new(60);
        r.course(7, gates());
        assert!(r.hud(0.0).starts_with("Fly through the yellow gate"));
        assert_eq!(r.next_gate(), 0);
        r.event(RaceEvent::Start { tick: 100 }, 1000.0);
        assert_eq!(r.next_gate(), 1);
        assert_eq!(r.hud(3500.0), "0:02.50 · gate 1/3");
        r.event(
            RaceEvent::Gate {
                gate: 1,
                split: 120,
                best: 150,
            },
            3000.0,
        );
        assert_eq!(r.hud(4000.0), "0:03.00 · gate 2/3 · split -0.50");
        r.event(
            RaceEvent::Crash {
                gate: 1,
                until: 400,
            },
            4000.0,
        );
        assert!(r.hud(4000.0).ends_with("crashed!"));
        for gate in 2..=3 {
            r.event(
                RaceEvent::Gate {
                    gate,
                    split: 200,
                    best: 0,
                },
                5000.0,
            );
        }
        assert_eq!(r.next_gate(), 0);
        assert!(r.hud(5000.0).contains("finish"));
        r.event(
            RaceEvent::Finish {
                time: 540,
                best: 600,
            },
            9000.0,
        );
        assert_eq!(
            r.hud(9000.0),
            "Fly through the yellow gate to start · last 0:09.00 (-1.00 best!)"
        );
        r.event(RaceEvent::NotSaved, 9100.0);
        assert!(r.hud(9100.0).ends_with("(not saved)"));
        r.event(RaceEvent::Start { tick: 700 }, 9000.0);
        r.event(RaceEvent::Abandon, 9500.0);
        assert!(!r.running());
    }

    #[test]
    fn feed_is_text_newest_first_and_bounded() {
        let mut r = RaceView::new(60);
        for i in 0..7 {
            r.result(RunResult {
                course: 1,
                name: format!("<b>p{i}</b>"),
                time: 600 + i,
                rank: 1,
                record: i == 6,
            });
        }
        let lines = r.feed_lines();
        assert_eq!(lines.len(), FEED);
        assert_eq!(lines[0], "<b>p6</b> finished in 0:10.10 (#1) — new record!");
        assert!(lines[4].starts_with("<b>p2</b>"));
    }

    #[test]
    fn bearing_points_at_the_next_gate() {
        let mut r = RaceView::new(60);
        r.course(7, gates());
        // Gate 0 at (0, 500); from (0, 600) looking up the map (-y): straight ahead.
        let cam = Camera {
            x: 0.0,
            y: 600.0,
            yaw: 0.0,
            ..Camera::default()
        };
        let (turn, d) = r.bearing(&cam, (1024.0, 1024.0)).unwrap();
        assert!(turn.abs() < 1e-6 && (d - 100.0).abs() < 1e-3);
        // Looking east, it is a quarter turn to the left.
        let east = Camera {
            yaw: core::f32::consts::FRAC_PI_2,
            ..cam
        };
        let (turn, _) = r.bearing(&east, (1024.0, 1024.0)).unwrap();
        assert!((turn + core::f32::consts::FRAC_PI_2).abs() < 1e-5, "{turn}");
    }
}
