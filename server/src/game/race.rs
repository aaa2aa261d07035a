//! Time trials: one player's run through the course, judged tick by tick. Only decides:
//! the tick applies what it says (events to send, a finished run to save, a player to
//! put back after a crash), and the store saves.

use shared::Camera;
use shared::course::Course;
use shared::protocol::{GHOST_EVERY, GhostSample, MAX_GHOST_SAMPLES, RaceEvent, keys};

/// Ticks a crashed player is held before going back to the last gate.
pub const CRASH_HOLD: u32 = 45;
/// Terrain that lifts the aircraft this much more in one tick than it climbed by itself
/// was flown into: a crash.
const CRASH_LIFT: f32 = 1.5;
/// A run this long is given up (its ghost would not fit a message).
const MAX_RUN_TICKS: u32 = MAX_GHOST_SAMPLES as u32 * GHOST_EVERY;

/// A player's best run on the course, for splits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Best {
    pub time: u32,
    /// Ticks from the start at each gate after gate 0, then at the finish.
    pub splits: Vec<u32>,
}

/// A run that reached the finish.
#[derive(Clone, Debug, PartialEq)]
pub struct Finished {
    pub time: u32,
    pub splits: Vec<u32>,
    pub samples: Vec<GhostSample>,
}

#[derive(Clone, Debug, Default)]
pub struct Race {
    run: Option<Run>,
}

#[derive(Clone, Debug)]
struct Run {
    start: u32,
    /// Gates passed after gate 0 (the next is `passed + 1`, or gate 0 to finish).
    passed: usize,
    splits: Vec<u32>,
    samples: Vec<GhostSample>,
    /// Held after a crash until this tick.
    crashed_until: Option<u32>,
}

/// What one tick of racing asks of the game.
#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    pub events: Vec<RaceEvent>,
    pub finished: Option<Finished>,
    /// Put the player here (back at a gate after a crash).
    pub put_back: Option<Camera>,
}

/// What the judge needs of one tick's flight.
pub struct Step<'a> {
    pub course: &'a Course,
    pub map_size: (f32, f32),
    /// The tick that moved the player from `from` to `to`.
    pub tick: u32,
    pub from: &'a Camera,
    pub to: &'a Camera,
    /// Keys held during the tick.
    pub keys: u16,
    /// How much the keys alone could have climbed this tick.
    pub max_climb: f32,
    pub best: Option<&'a Best>,
}

fn sample(c: &Camera) -> GhostSample {
    GhostSample {
        x: c.x,
        y: c.y,
        altitude: c.altitude,
        yaw: c.yaw,
    }
}

impl Race {
    /// Whether the player is held after a crash: its keys do not move it.
    pub fn held(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.crashed_until.is_some())
    }

    /// Ticks since the start of the current run, at `tick`.
    pub fn elapsed(&self, tick: u32) -> Option<u32> {
        self.run.as_ref().map(|r| tick.wrapping_sub(r.start))
    }

    /// The gate the player should fly through next: gate 0 without a run.
    pub fn next_gate(&self, gates: usize) -> usize {
        self.run
            .as_ref()
            .map_or(0, |r| (r.passed + 1) % gates.max(1))
    }

    /// Gives up the run, if there is one.
    pub fn abandon(&mut self) -> Option<RaceEvent> {
        self.run.take().map(|_| RaceEvent::Abandon)
    }

    /// Judges one tick: gates flown through (the segment between the two positions
    /// against each gate's disk, so none is skipped at any speed), crashes, the finish.
    pub fn step(&mut self, s: &Step) -> Outcome {
        let mut out = Outcome::default();
        let gates = &s.course.gates;
        if gates.is_empty() {
            return out;
        }
        let from = (s.from.x, s.from.y, s.from.altitude);
        let to = (s.to.x, s.to.y, s.to.altitude);
        let through = |i: usize| gates[i].crossed(from, to, s.map_size).is_some();
        let Some(run) = &mut self.run else {
            if through(0) {
                self.start(s.tick, s.to, &mut out);
            }
            return out;
        };
        let elapsed = s.tick.wrapping_sub(run.start);
        if let Some(until) = run.crashed_until {
            if s.tick.wrapping_sub(until) as i32 >= 0 {
                run.crashed_until = None;
                let g = &gates[run.passed % gates.len()];
                out.put_back = Some(Camera {
                    x: g.x,
                    y: g.y,
                    altitude: g.altitude,
                    yaw: g.yaw,
                    ..*s.to
                });
            }
        } else if crashed(s) {
            let until = s.tick.wrapping_add(CRASH_HOLD);
            run.crashed_until = Some(until);
            out.events.push(RaceEvent::Crash {
                gate: (run.passed % gates.len()) as u8,
                until,
            });
        } else {
            let next = (run.passed + 1) % gates.len();
            if through(next) {
                run.passed += 1;
                run.splits.push(elapsed);
                let best = s
                    .best
                    .and_then(|b| b.splits.get(run.passed - 1))
                    .copied()
                    .unwrap_or(0);
                if next == 0 {
                    // The ghost ends where the run did.
                    if elapsed % GHOST_EVERY == 0 {
                        run.samples.push(sample(s.to));
                    }
                    out.events.push(RaceEvent::Finish {
                        time: elapsed,
                        best: s.best.map_or(0, |b| b.time),
                    });
                    out.finished = Some(Finished {
                        time: elapsed,
                        splits: std::mem::take(&mut run.splits),
                        samples: std::mem::take(&mut run.samples),
                    });
                    // The finish is the next run's start: no waiting.
                    self.start(s.tick, s.to, &mut out);
                    return out;
                }
                out.events.push(RaceEvent::Gate {
                    gate: next as u8,
                    split: elapsed,
                    best,
                });
            }
        }
        if let Some(run) = &mut self.run {
            if elapsed >= MAX_RUN_TICKS {
                self.run = None;
                out.events.push(RaceEvent::Abandon);
            } else if elapsed % GHOST_EVERY == 0 {
                run.samples.push(sample(s.to));
            }
        }
        out
    }

    fn start(&mut self, tick: u32, at: &Camera, out: &mut Outcome) {
        self.run = Some(Run {
            start: tick,
            passed: 0,
            splits: Vec::new(),
            samples: vec![sample(at)],
            crashed_until: None,
        });
        out.events.push(RaceEvent::Start { tick });
    }
}

/// The terrain lifted the aircraft more than its keys climbed: it flew into a slope.
fn crashed(s: &Step) -> bool {
    let climbing = s.keys & keys::UP != 0 && s.keys & keys::DOWN == 0;
    let climbed = if climbing { s.max_climb } else { 0.0 };
    s.to.altitude - s.from.altitude > climbed + CRASH_LIFT
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::course::Gate;

    const SIZE: (f32, f32) = (1024.0, 1024.0);

    /// Three gates on a line up the map (towards -y), 100 apart.
    fn course() -> Course {
        let gate = |y: f32| Gate {
            x: 500.0,
            y,
            altitude: 100.0,
            yaw: 0.0,
            radius: 28.0,
        };
        Course {
            gates: vec![gate(900.0), gate(800.0), gate(700.0)],
        }
    }

    fn at(y: f32, altitude: f32) -> Camera {
        Camera {
            x: 500.0,
            y,
            altitude,
            yaw: 0.0,
            ..Camera::default()
        }
    }

    struct Flight {
        race: Race,
        tick: u32,
        course: Course,
        events: Vec<RaceEvent>,
        finished: Vec<Finished>,
        best: Option<Best>,
    }

    impl Flight {
        fn new() -> Flight {
            Flight {
                race: Race::default(),
                tick: 100,
                course: course(),
                events: Vec::new(),
                finished: Vec::new(),
                best: None,
            }
        }

        /// One tick from `a` to `b`.
        fn step(&mut self, a: Camera, b: Camera) -> Outcome {
            self.tick += 1;
            let out = self.race.step(&Step {
                course: &self.course,
                map_size: SIZE,
                tick: self.tick,
                from: &a,
                to: &b,
                keys: keys::FORWARD,
                max_climb: 80.0 / 60.0,
                best: self.best.as_ref(),
            });
            self.events.extend(out.events.iter().copied());
            self.finished.extend(out.finished.clone());
            out
        }

        /// Flies straight up the map from `y0` to `y1`, `speed` units a tick, around
        /// the world (`laps` times past the map's edge) as needed.
        fn fly(&mut self, y0: f32, y1: f32, speed: f32) {
            let mut y = y0;
            while y > y1 {
                let next = (y - speed).max(y1);
                self.step(at(y, 100.0), at(next, 100.0));
                y = next;
            }
        }
    }

    #[test]
    fn a_lap_through_every_gate_in_order_finishes_with_its_time_in_ticks() {
        let mut f = Flight::new();
        // Before gate 0 nothing runs; 1.5 units a tick, as the flight model's speed.
        f.fly(950.0, 700.0 - 10.0, 1.5);
        assert_eq!(f.events.first(), Some(&RaceEvent::Start { tick: 100 + 34 }));
        assert_eq!(f.race.next_gate(3), 0, "gate 0 again to finish");
        // Around the world to gate 0 (at y 900): 690 → 0 → 1024 → 900.
        f.fly(690.0, 0.0, 4.5);
        f.fly(1024.0, 880.0, 4.5);
        assert_eq!(f.finished.len(), 1);
        let run = &f.finished[0];
        let split = |e: &RaceEvent| match e {
            RaceEvent::Gate { split, .. } => Some(*split),
            _ => None,
        };
        let splits: Vec<u32> = f.events.iter().filter_map(split).collect();
        assert_eq!(splits.len(), 2);
        assert_eq!(run.splits[..2], splits[..]);
        assert_eq!(*run.splits.last().unwrap(), run.time);
        assert!(f.events.contains(&RaceEvent::Finish {
            time: run.time,
            best: 0
        }));
        // 100 units at 1.5 a tick between gates 0 and 1.
        assert_eq!(splits[0], 66);
        // The finish started the next run at once.
        assert!(matches!(f.events.last(), Some(RaceEvent::Start { .. })));
        // A sample every GHOST_EVERY ticks from the start.
        assert_eq!(run.samples.len() as u32, run.time / GHOST_EVERY + 1);
    }

    #[test]
    fn gates_out_of_order_do_not_count() {
        let mut f = Flight::new();
        f.fly(950.0, 850.0, 1.5); // gate 0: started
        // Around gate 1 (beside it), then through gate 2: not the next gate.
        f.step(
            Camera {
                x: 560.0,
                ..at(850.0, 100.0)
            },
            Camera {
                x: 560.0,
                ..at(750.0, 100.0)
            },
        );
        f.fly(750.0, 650.0, 1.5);
        assert!(
            !f.events.iter().any(|e| matches!(e, RaceEvent::Gate { .. })),
            "{:?}",
            f.events
        );
        assert_eq!(f.race.next_gate(3), 1);
    }

    #[test]
    fn splits_compare_with_the_best_run() {
        let mut f = Flight::new();
        f.best = Some(Best {
            time: 400,
            splits: vec![50, 120, 400],
        });
        f.fly(950.0, 780.0, 1.5);
        assert!(f.events.contains(&RaceEvent::Gate {
            gate: 1,
            split: 66,
            best: 50
        }));
    }

    #[test]
    fn flying_into_terrain_crashes_holds_then_puts_back_at_the_last_gate() {
        let mut f = Flight::new();
        f.fly(950.0, 790.0, 1.5); // through gates 0 and 1
        // The terrain throws the aircraft up 6 units in one tick.
        let out = f.step(at(790.0, 100.0), at(788.5, 106.0));
        let until = f.tick + CRASH_HOLD;
        assert_eq!(out.events, [RaceEvent::Crash { gate: 1, until }]);
        assert!(f.race.held());
        // Held: no gate counts, nothing moves until `until`.
        for _ in 0..CRASH_HOLD - 1 {
            let out = f.step(at(788.5, 106.0), at(788.5, 106.0));
            assert_eq!(out, Outcome::default());
        }
        let out = f.step(at(788.5, 106.0), at(788.5, 106.0));
        let back = out.put_back.expect("put back");
        assert_eq!((back.x, back.y, back.altitude), (500.0, 800.0, 100.0));
        assert!(!f.race.held());
        // Climbing by itself is no crash, nor is a gentle slope.
        let mut climb = Flight::new();
        climb.fly(950.0, 850.0, 1.5);
        let out = climb.race.step(&Step {
            keys: keys::UP | keys::FAST,
            max_climb: 4.0,
            ..Step {
                course: &climb.course,
                map_size: SIZE,
                tick: 500,
                from: &at(850.0, 100.0),
                to: &at(848.5, 104.0),
                keys: 0,
                max_climb: 0.0,
                best: None,
            }
        });
        assert!(out.events.is_empty());
        let out = f.step(at(780.0, 100.0), at(778.5, 101.0));
        assert!(out.events.is_empty());
    }

    #[test]
    fn abandoning_ends_the_run_and_gate_0_starts_another() {
        let mut f = Flight::new();
        assert_eq!(f.race.abandon(), None, "nothing to abandon");
        f.fly(950.0, 850.0, 1.5);
        assert_eq!(f.race.abandon(), Some(RaceEvent::Abandon));
        assert_eq!(f.race.next_gate(3), 0);
        f.fly(850.0, 750.0, 1.5); // through gate 1 without a run: nothing
        assert_eq!(f.events.len(), 1);
    }
}
