//! The race course: a closed loop of gates laid out over a map, the test that says
//! whether a flight segment went through a gate, and the gates as sprites.
//!
//! A run starts by flying through gate 0, passes the others in order and finishes
//! through gate 0 again: one lap. The server judges with [`Gate::crossed`] on the segment
//! between two ticks, so no gate is skipped at full speed; the same code tells the
//! browser where the next gate is. Pure and deterministic, like the rest of `shared`.

use crate::camera::Camera;
use crate::map::Map;
use crate::mapgen::SplitMix64;
use crate::protocol::{GHOST_EVERY, GhostSample};
use crate::sprite::{Aircraft, Look};

/// Gates in a course: between these, from the seed.
pub const MIN_GATES: usize = 8;
pub const MAX_GATES: usize = 16;
/// Radius of a gate's ring, map units: wide enough to fly through at full speed.
pub const GATE_RADIUS: f32 = 28.0;
/// Beads drawn around a gate's ring.
pub const BEADS: usize = 16;
/// Beyond this distance a ring is drawn with every other bead.
const FAR_RING: f32 = 400.0;
/// Height between the ground and the bottom of a ring, at least.
const GROUND_GAP: f32 = 14.0;
/// A gate can be flown through level from this far before it to this far after: the
/// ground along that corridor stays below the ring's middle half.
pub const APPROACH: f32 = 100.0;

/// A ring standing upright, flown through in the direction of `yaw`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gate {
    pub x: f32,
    pub y: f32,
    /// Height of the ring's centre.
    pub altitude: f32,
    /// The direction to fly through it, as a camera's yaw.
    pub yaw: f32,
    pub radius: f32,
}

/// Where a segment met a gate's plane.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Crossing {
    /// Fraction of the segment before the plane, `0..=1`: the tick's share before the
    /// crossing, for times finer than a tick.
    pub at: f32,
}

/// Differences across a wrapping world: the nearest image.
fn wrapped(d: f32, period: f32) -> f32 {
    d - libm::floorf(d / period + 0.5) * period
}

impl Gate {
    /// The unit vector a flight through the gate goes along (map x, y).
    pub fn forward(&self) -> (f32, f32) {
        (libm::sinf(self.yaw), -libm::cosf(self.yaw))
    }

    /// Whether flying from `from` to `to` (x, y, altitude; one tick apart) went through
    /// the ring forwards: the segment crosses the gate's plane from behind to in front,
    /// at a point inside the disk (the edge counts). Backwards, around or beside: `None`.
    pub fn crossed(
        &self,
        from: (f32, f32, f32),
        to: (f32, f32, f32),
        map_size: (f32, f32),
    ) -> Option<Crossing> {
        let (fx, fy) = self.forward();
        let rel = |p: (f32, f32, f32)| {
            (
                wrapped(p.0 - self.x, map_size.0),
                wrapped(p.1 - self.y, map_size.1),
                p.2 - self.altitude,
            )
        };
        let a = rel(from);
        // The segment is short: measure `to` from `from`, so a wrap between them is fine.
        let step = (
            wrapped(to.0 - from.0, map_size.0),
            wrapped(to.1 - from.1, map_size.1),
            to.2 - from.2,
        );
        let b = (a.0 + step.0, a.1 + step.1, a.2 + step.2);
        let da = a.0 * fx + a.1 * fy;
        let db = b.0 * fx + b.1 * fy;
        if !(da < 0.0 && db >= 0.0) {
            return None;
        }
        let t = da / (da - db);
        let q = (a.0 + step.0 * t, a.1 + step.1 * t, a.2 + step.2 * t);
        // Across the plane: along the gate's right (cos, sin) and up.
        let lateral = q.0 * -fy + q.1 * fx;
        let inside = lateral * lateral + q.2 * q.2 <= self.radius * self.radius;
        inside.then_some(Crossing { at: t })
    }

    /// Appends the ring's beads to `out` as sprites in `tint`.
    pub fn beads(&self, tint: u8, out: &mut Vec<Aircraft>) {
        let (fx, fy) = self.forward();
        for k in 0..BEADS {
            let phi = k as f32 * core::f32::consts::TAU / BEADS as f32;
            let (s, c) = (libm::sinf(phi), libm::cosf(phi));
            out.push(Aircraft {
                x: self.x - fy * self.radius * c,
                y: self.y + fx * self.radius * c,
                altitude: self.altitude + self.radius * s,
                yaw: 0.0,
                tint,
                look: Look::Bead,
            });
        }
    }
}

/// The course of a map.
#[derive(Clone, Debug, PartialEq)]
pub struct Course {
    pub gates: Vec<Gate>,
}

/// Tints of the gates: the next one to fly through stands out.
pub const NEXT_TINT: u8 = 2; // yellow
pub const GATE_TINT: u8 = 7; // white
pub const START_TINT: u8 = 3; // green
pub const GHOST_TINT: u8 = 4; // cyan

/// A seed from a map's cells (FNV-1a), for maps that came without one.
pub fn seed_of(map: &Map) -> u64 {
    map.cells().iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &c| {
        (h ^ c as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Course {
    /// The course of `map`: laid out from a seed taken from its cells, so a generated
    /// map and a loaded Comanche pair each get theirs, the same on every server.
    pub fn of(map: &Map) -> Course {
        Course::generate(map, seed_of(map))
    }

    /// Lays out a loop of gates over `map` from `seed`: a wobbly ring around a point,
    /// each gate moved to the lowest ground near its place on the ring (valleys, passes,
    /// water), standing clear of the ground under all of its ring, and turned along the
    /// loop. The same map and seed give the same course everywhere.
    pub fn generate(map: &Map, seed: u64) -> Course {
        let mut rng = SplitMix64(seed ^ 0x636f_7572_7365); // "course"
        let (w, h) = (map.width() as f32, map.height() as f32);
        let side = w.min(h);
        let wanted = MIN_GATES + (rng.next() % (MAX_GATES - MIN_GATES + 1) as u64) as usize;
        let centre = (rng.range(0.0, w), rng.range(0.0, h));
        // Inside half the map (the world wraps, the loop must not meet itself), with
        // room for a gate every four radii.
        let loop_radius = side * rng.range(0.25, 0.32);
        let room = (core::f32::consts::TAU * loop_radius / (4.0 * GATE_RADIUS)) as usize;
        let n = wanted.min(room).max(MIN_GATES);
        let mut places: Vec<(f32, f32)> = Vec::with_capacity(n);
        for i in 0..n {
            let theta = (i as f32 + rng.range(-0.2, 0.2)) * core::f32::consts::TAU / n as f32;
            let r = loop_radius * rng.range(0.9, 1.1);
            // The lowest of a few places along the ray (the valley across the ring) that
            // keeps clear of the gates placed so far.
            let mut candidates: Vec<(f32, f32, f32)> = (0..7)
                .map(|k| {
                    let rk = r * (0.8 + 0.4 * k as f32 / 6.0);
                    let x = crate::flight::wrap(centre.0 + libm::sinf(theta) * rk, w);
                    let y = crate::flight::wrap(centre.1 - libm::cosf(theta) * rk, h);
                    (ground_under(map, x, y, 0.0, GATE_RADIUS), x, y)
                })
                .collect();
            let middle = candidates[3];
            candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
            let clear = |&&(_, x, y): &&(f32, f32, f32)| {
                places.iter().all(|&(px, py)| {
                    wrapped(px - x, w).hypot(wrapped(py - y, h)) > 3.0 * GATE_RADIUS
                })
            };
            let (_, x, y) = *candidates.iter().find(clear).unwrap_or(&middle);
            places.push((x, y));
        }
        // Gates turn along the loop: halfway between the way in and the way out, so the
        // next gate always lies ahead.
        let yaw_at = |places: &[(f32, f32)], i: usize| {
            let (p, c, q) = (places[(i + n - 1) % n], places[i], places[(i + 1) % n]);
            let unit = |a: (f32, f32), b: (f32, f32)| {
                let (dx, dy) = (wrapped(b.0 - a.0, w), wrapped(b.1 - a.1, h));
                let len = dx.hypot(dy).max(1e-3);
                (dx / len, dy / len)
            };
            let (i_in, i_out) = (unit(p, c), unit(c, q));
            libm::atan2f(i_in.0 + i_out.0, -(i_in.1 + i_out.1))
        };
        let yaws: Vec<f32> = (0..n).map(|i| yaw_at(&places, i)).collect();
        let gates = places
            .drain(..)
            .zip(yaws)
            .map(|((x, y), yaw)| {
                let ground = ground_under(map, x, y, yaw, GATE_RADIUS);
                let corridor = corridor_under(map, x, y, yaw);
                Gate {
                    x,
                    y,
                    altitude: (ground + GROUND_GAP + GATE_RADIUS).max(corridor + GROUND_GAP),
                    yaw: crate::flight::wrap(yaw, core::f32::consts::TAU),
                    radius: GATE_RADIUS,
                }
            })
            .collect();
        Course { gates }
    }

    /// The course's rings of beads, worked out once for many frames.
    pub fn scenery(&self) -> Scenery {
        let rings = self
            .gates
            .iter()
            .map(|g| {
                let mut ring = Vec::with_capacity(BEADS);
                g.beads(GATE_TINT, &mut ring);
                (*g, ring)
            })
            .collect();
        Scenery { rings }
    }
}

/// A course's gates as sprites, ready to copy into frames.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scenery {
    rings: Vec<(Gate, Vec<Aircraft>)>,
}

impl Scenery {
    /// Appends the beads of the gates a camera could see to `out`: `next` (the gate the
    /// player's run wants, or gate 0 before a run) in the highlight tint, gate 0 in its
    /// own. Server frames and the browser both call this, so they draw the same.
    pub fn beads_near(
        &self,
        next: usize,
        cam: &Camera,
        map_size: (f32, f32),
        out: &mut Vec<Aircraft>,
    ) {
        let reach = cam.distance + GATE_RADIUS;
        for (i, (g, ring)) in self.rings.iter().enumerate() {
            let dx = wrapped(g.x - cam.x, map_size.0);
            let dy = wrapped(g.y - cam.y, map_size.1);
            let d2 = dx * dx + dy * dy;
            if d2 > reach * reach {
                continue;
            }
            let tint = match i {
                _ if i == next => NEXT_TINT,
                0 => START_TINT,
                _ => GATE_TINT,
            };
            // Far rings are a few pixels across: every other bead draws the same ring
            // for half the work.
            let every = if d2 > FAR_RING * FAR_RING { 2 } else { 1 };
            out.extend(ring.iter().step_by(every).map(|b| Aircraft { tint, ..*b }));
        }
    }
}

/// The highest ground along a gate's corridor: [`APPROACH`] before and after it, half
/// the ring's width across.
fn corridor_under(map: &Map, x: f32, y: f32, yaw: f32) -> f32 {
    let (fx, fy) = (libm::sinf(yaw), -libm::cosf(yaw));
    let mut top = 0.0f32;
    let steps = (APPROACH / 2.0) as i32;
    for i in -steps..=steps {
        for j in -2..=2 {
            let along = 2.0 * i as f32;
            let across = GATE_RADIUS * 0.25 * j as f32;
            top =
                top.max(map.height_at(x + fx * along - fy * across, y + fy * along + fx * across));
        }
    }
    top
}

/// Where the ghost of a run sampled every [`GHOST_EVERY`] ticks is `elapsed` ticks after
/// its start, as a sprite: between two samples on a straight line (the nearest way on
/// the wrapping map), with the heading of the earlier one. `None` once the run is over.
/// Server frames and the browser both place the ghost with this.
pub fn ghost_at(samples: &[GhostSample], elapsed: u32, map_size: (f32, f32)) -> Option<Aircraft> {
    let i = (elapsed / GHOST_EVERY) as usize;
    let a = samples.get(i)?;
    let b = samples.get(i + 1).unwrap_or(a);
    let t = (elapsed % GHOST_EVERY) as f32 / GHOST_EVERY as f32;
    Some(Aircraft {
        x: a.x + wrapped(b.x - a.x, map_size.0) * t,
        y: a.y + wrapped(b.y - a.y, map_size.1) * t,
        altitude: a.altitude + (b.altitude - a.altitude) * t,
        yaw: a.yaw,
        tint: GHOST_TINT,
        look: Look::Ghost,
    })
}

/// The highest ground under a gate's ring seen from above: along its width (across the
/// direction `yaw`) and a little before and after.
fn ground_under(map: &Map, x: f32, y: f32, yaw: f32, radius: f32) -> f32 {
    let (fx, fy) = (libm::sinf(yaw), -libm::cosf(yaw));
    let mut top = 0.0f32;
    for i in -16..=16 {
        for j in -1..=1 {
            let across = radius * i as f32 / 16.0;
            let along = 4.0 * j as f32;
            let px = x - fy * across + fx * along;
            let py = y + fx * across + fy * along;
            top = top.max(map.height_at(px, py));
        }
    }
    top
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flight::{Controls, FlightModel};
    use crate::protocol::keys;

    const SIZE: (f32, f32) = (1024.0, 1024.0);

    fn gate() -> Gate {
        // At (500, 500), flown through northwards (towards -y).
        Gate {
            x: 500.0,
            y: 500.0,
            altitude: 100.0,
            yaw: 0.0,
            radius: 28.0,
        }
    }

    #[test]
    fn a_slow_flight_through_the_middle_counts_once() {
        let g = gate();
        let mut hits = 0;
        for i in 0..40 {
            let y0 = 520.0 - i as f32;
            if g.crossed((500.0, y0, 100.0), (500.0, y0 - 1.0, 100.0), SIZE)
                .is_some()
            {
                hits += 1;
            }
        }
        assert_eq!(hits, 1);
    }

    #[test]
    fn full_speed_cannot_skip_a_gate() {
        // Boosted flight covers 4.5 units a tick; even 40 units a tick crosses.
        let g = gate();
        let c = g.crossed((505.0, 520.0, 110.0), (505.0, 480.0, 110.0), SIZE);
        assert_eq!(c, Some(Crossing { at: 0.5 }));
    }

    #[test]
    fn backwards_around_and_grazing() {
        let g = gate();
        assert_eq!(
            g.crossed((500.0, 480.0, 100.0), (500.0, 520.0, 100.0), SIZE),
            None,
            "backwards"
        );
        // Beside the ring and above it.
        assert_eq!(
            g.crossed((530.0, 510.0, 100.0), (530.0, 490.0, 100.0), SIZE),
            None
        );
        assert_eq!(
            g.crossed((500.0, 510.0, 129.0), (500.0, 490.0, 129.0), SIZE),
            None
        );
        // Grazing the rim: exactly on it counts, a hair outside does not.
        assert!(
            g.crossed((528.0, 510.0, 100.0), (528.0, 490.0, 100.0), SIZE)
                .is_some()
        );
        assert!(
            g.crossed((528.01, 510.0, 100.0), (528.01, 490.0, 100.0), SIZE)
                .is_none()
        );
        // Diagonally through a corner of the disk: inside at the plane.
        let (d, a) = (28.0 / 2f32.sqrt() - 0.1, 100.0);
        assert!(
            g.crossed((500.0 + d, 505.0, a + d), (500.0 + d, 495.0, a + d), SIZE)
                .is_some()
        );
        // Stopping on the plane counts; leaving it forwards afterwards does not again.
        assert!(
            g.crossed((500.0, 501.0, 100.0), (500.0, 500.0, 100.0), SIZE)
                .is_some()
        );
        assert!(
            g.crossed((500.0, 500.0, 100.0), (500.0, 499.0, 100.0), SIZE)
                .is_none()
        );
    }

    #[test]
    fn crossing_works_across_the_edge_of_the_world() {
        let g = Gate { y: 0.5, ..gate() };
        assert!(
            g.crossed((500.0, 2.0, 100.0), (500.0, 1023.0, 100.0), SIZE)
                .is_some()
        );
    }

    #[test]
    fn turned_gates_and_flown_by_the_flight_model() {
        // A gate facing east, flown through by the real flight model at full boost.
        let map = crate::mapgen::generate_sized(256, 5);
        let model = FlightModel::default();
        let g = Gate {
            x: 128.0,
            y: 128.0,
            altitude: 400.0,
            yaw: core::f32::consts::FRAC_PI_2,
            radius: GATE_RADIUS,
        };
        let mut cam = Camera {
            x: 60.0,
            y: 130.0,
            altitude: 400.0,
            yaw: core::f32::consts::FRAC_PI_2,
            ..Camera::default()
        };
        let controls = Controls {
            keys: keys::FORWARD | keys::FAST,
            ..Default::default()
        };
        let size = (256.0, 256.0);
        let mut crossings = 0;
        for _ in 0..60 {
            let next = model.step(&cam, &controls, 1.0 / 60.0, &map);
            if g.crossed(
                (cam.x, cam.y, cam.altitude),
                (next.x, next.y, next.altitude),
                size,
            )
            .is_some()
            {
                crossings += 1;
            }
            cam = next;
        }
        assert_eq!(crossings, 1);
    }

    #[test]
    fn courses_are_deterministic_loops_in_free_air() {
        for seed in [1u64, 2, 3, 42, 1234] {
            let map = crate::mapgen::generate_sized(512, seed);
            let a = Course::generate(&map, seed);
            assert_eq!(a, Course::generate(&map, seed), "deterministic");
            let n = a.gates.len();
            assert!((MIN_GATES..=MAX_GATES).contains(&n), "{n} gates");
            let model = FlightModel::default();
            for (i, g) in a.gates.iter().enumerate() {
                // Free air under the whole ring, and below the ceiling: reachable.
                assert!(
                    g.altitude - g.radius >= ground_under(&map, g.x, g.y, g.yaw, g.radius) + 10.0,
                    "seed {seed} gate {i}"
                );
                assert!(g.altitude + g.radius < model.max_altitude);
                // A level corridor through it: clear of the ground by the flight model's
                // clearance, from APPROACH before to APPROACH after.
                let (fx, fy) = g.forward();
                for k in -(APPROACH as i32)..=APPROACH as i32 {
                    let (px, py) = (g.x + fx * k as f32, g.y + fy * k as f32);
                    assert!(
                        g.altitude >= map.height_at(px, py) + model.clearance,
                        "seed {seed} gate {i}: ground {k} units along"
                    );
                }
                // Every bead is above the terrain under it.
                let mut beads = Vec::new();
                g.beads(0, &mut beads);
                for b in &beads {
                    assert!(b.altitude > map.height_at(b.x, b.y), "seed {seed} gate {i}");
                }
                // Neighbours are apart, and the next gate lies ahead of this one.
                let next = a.gates[(i + 1) % n];
                let dx = wrapped(next.x - g.x, 512.0);
                let dy = wrapped(next.y - g.y, 512.0);
                assert!(dx.hypot(dy) > 2.0 * GATE_RADIUS, "seed {seed} gate {i}");
                let (fx, fy) = g.forward();
                assert!(dx * fx + dy * fy > 0.0, "seed {seed} gate {i} faces away");
            }
        }
        // Other seeds, other courses.
        let map = crate::mapgen::generate_sized(512, 1);
        assert_ne!(Course::generate(&map, 1), Course::generate(&map, 2));
    }

    #[test]
    fn the_ghost_glides_between_samples_and_ends_with_the_run() {
        let s = |x: f32, y: f32| GhostSample {
            x,
            y,
            altitude: 100.0,
            yaw: 1.0,
        };
        let samples = [s(10.0, 1022.0), s(14.0, 2.0)];
        let at = |e| ghost_at(&samples, e, SIZE).map(|a| (a.x, a.y));
        assert_eq!(at(0), Some((10.0, 1022.0)));
        // Halfway, across the map's edge: the short way.
        assert_eq!(at(GHOST_EVERY / 2), Some((12.0, 1024.0)));
        assert_eq!(at(GHOST_EVERY), Some((14.0, 2.0)));
        assert_eq!(at(GHOST_EVERY + 1), Some((14.0, 2.0)), "held at the last");
        assert_eq!(at(2 * GHOST_EVERY), None);
        assert_eq!(ghost_at(&samples, 0, SIZE).unwrap().look, Look::Ghost);
    }

    #[test]
    fn a_loaded_map_gets_a_course_from_its_own_heights() {
        // Not a generated map: ridges and valleys from a formula, a palette of greys, as
        // a Comanche pair would load (Map::new, no seed of its own).
        let n = 512usize;
        let heights: Vec<u8> = (0..n * n)
            .map(|i| {
                let (x, y) = ((i % n) as f32, (i / n) as f32);
                let k = core::f32::consts::TAU / n as f32;
                (120.0 + 80.0 * libm::sinf(3.0 * k * x) * libm::cosf(2.0 * k * y)) as u8
            })
            .collect();
        let colours: Vec<u8> = heights.iter().map(|h| h / 2).collect();
        let palette = crate::map::Palette(core::array::from_fn(|i| [i as u8; 3]));
        let map = Map::new(n as u32, n as u32, &heights, &colours, palette).unwrap();
        let course = Course::of(&map);
        assert_eq!(course, Course::of(&map));
        assert!((MIN_GATES..=MAX_GATES).contains(&course.gates.len()));
        let clearance = FlightModel::default().clearance;
        for g in &course.gates {
            let (fx, fy) = g.forward();
            for k in -(APPROACH as i32)..=APPROACH as i32 {
                let (px, py) = (g.x + fx * k as f32, g.y + fy * k as f32);
                assert!(g.altitude >= map.height_at(px, py) + clearance);
            }
        }
    }

    #[test]
    fn gates_sit_low_in_the_terrain() {
        // Valleys and water: the chosen places are lower than the ring's average ground.
        let map = crate::mapgen::generate_sized(512, 7);
        let course = Course::generate(&map, 7);
        let mean_gate: f32 = course
            .gates
            .iter()
            .map(|g| map.height_at(g.x, g.y))
            .sum::<f32>()
            / course.gates.len() as f32;
        let mean_map: f32 =
            map.cells().iter().map(|&c| (c & 0xff) as f32).sum::<f32>() / map.cells().len() as f32;
        assert!(mean_gate <= mean_map, "{mean_gate} vs {mean_map}");
    }
}
