//! Flight model: how held keys and look deltas move a camera over one tick.
//!
//! Pure and deterministic, so the server (the authority) and any future client-side
//! prediction agree.

use crate::camera::Camera;
use crate::map::Map;
use crate::protocol::keys;

/// Tunable speeds, per second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlightModel {
    pub speed: f32,
    pub fast_factor: f32,
    pub turn_rate: f32,
    pub climb_rate: f32,
    /// Minimum height above the terrain.
    pub clearance: f32,
    pub max_altitude: f32,
    /// Furthest the horizon may move from the centre, as a fraction of the height.
    pub max_pitch: f32,
}

impl Default for FlightModel {
    fn default() -> Self {
        FlightModel {
            speed: 90.0,
            fast_factor: 3.0,
            turn_rate: 1.6,
            climb_rate: 80.0,
            clearance: 12.0,
            max_altitude: 700.0,
            max_pitch: 0.9,
        }
    }
}

/// What the player asked for during one tick.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Controls {
    /// Bits from [`keys`].
    pub keys: u16,
    /// Yaw change in radians (mouse or touch drag).
    pub look_yaw: f32,
    /// Horizon change as a fraction of the viewport height.
    pub look_pitch: f32,
}

impl Controls {
    /// The look deltas of an `Input` message: yaw in 1/1000 radian, at most half a turn
    /// (a bigger delta is no mouse movement), and horizon in 1/1000 of the height. The
    /// server and the client's prediction both turn messages into controls here, so
    /// they do the same float operations.
    pub fn look(look_x: i16, look_y: i16) -> Controls {
        Controls {
            keys: 0,
            look_yaw: (look_x as f32 / 1000.0).clamp(-3.2, 3.2),
            look_pitch: look_y as f32 / 1000.0,
        }
    }

    /// Whether these controls move nothing by themselves.
    pub fn is_still(&self) -> bool {
        self.keys == 0 && self.look_yaw == 0.0 && self.look_pitch == 0.0
    }
}

impl FlightModel {
    /// Advances `cam` by `dt` seconds over `map`. Keeps the camera above the terrain,
    /// below the ceiling, and its position wrapped into the map.
    pub fn step(&self, cam: &Camera, controls: &Controls, dt: f32, map: &Map) -> Camera {
        let held = |k| controls.keys & k != 0;
        let axis = |pos, neg| held(pos) as i32 as f32 - held(neg) as i32 as f32;
        let boost = if held(keys::FAST) {
            self.fast_factor
        } else {
            1.0
        };
        let mut c = *cam;
        c.yaw += axis(keys::TURN_RIGHT, keys::TURN_LEFT) * self.turn_rate * dt + controls.look_yaw;
        c.yaw = wrap(c.yaw, core::f32::consts::TAU);
        c.horizon = (c.horizon + controls.look_pitch).clamp(-self.max_pitch, self.max_pitch);
        let forward = axis(keys::FORWARD, keys::BACK) * self.speed * boost * dt;
        let strafe = axis(keys::STRAFE_RIGHT, keys::STRAFE_LEFT) * self.speed * boost * dt;
        let (sin, cos) = (libm::sinf(c.yaw), libm::cosf(c.yaw));
        c.x = wrap(c.x + sin * forward + cos * strafe, map.width() as f32);
        c.y = wrap(c.y - cos * forward + sin * strafe, map.height() as f32);
        c.altitude += axis(keys::UP, keys::DOWN) * self.climb_rate * boost * dt;
        let floor = map.height_at(c.x, c.y) + self.clearance;
        c.altitude = c.altitude.clamp(floor, self.max_altitude.max(floor));
        c
    }
}

/// `v` wrapped into `[0, period)`.
pub fn wrap(v: f32, period: f32) -> f32 {
    let w = v - libm::floorf(v / period) * period;
    if w >= period { 0.0 } else { w }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::Palette;

    fn flat(height: u8) -> Map {
        Map::new(64, 64, &[height; 4096], &[0; 4096], Palette([[0; 3]; 256])).unwrap()
    }

    fn start() -> Camera {
        Camera {
            x: 10.0,
            y: 10.0,
            altitude: 100.0,
            yaw: 0.0,
            ..Camera::default()
        }
    }

    #[test]
    fn forward_at_yaw_zero_goes_up_the_map_and_wraps() {
        let model = FlightModel::default();
        let c = model.step(
            &start(),
            &Controls {
                keys: keys::FORWARD,
                ..Default::default()
            },
            0.1,
            &flat(0),
        );
        assert_eq!((c.x, c.y), (10.0, 1.0));
        let c = model.step(
            &c,
            &Controls {
                keys: keys::FORWARD,
                ..Default::default()
            },
            0.1,
            &flat(0),
        );
        assert_eq!(c.y, 56.0, "wrapped from -8 to 56");
    }

    #[test]
    fn turning_strafing_and_boost() {
        let model = FlightModel::default();
        let right = Controls {
            keys: keys::TURN_RIGHT,
            ..Default::default()
        };
        let c = model.step(&start(), &right, 0.5, &flat(0));
        assert!((c.yaw - 0.8).abs() < 1e-6);
        let strafe = Controls {
            keys: keys::STRAFE_RIGHT | keys::FAST,
            ..Default::default()
        };
        let c = model.step(&start(), &strafe, 0.1, &flat(0));
        assert!((c.x - 37.0).abs() < 1e-4, "{}", c.x);
    }

    #[test]
    fn never_below_the_terrain_nor_above_the_ceiling() {
        let model = FlightModel::default();
        let down = Controls {
            keys: keys::DOWN | keys::FAST,
            ..Default::default()
        };
        let c = model.step(&start(), &down, 10.0, &flat(200));
        assert_eq!(c.altitude, 200.0 + model.clearance);
        let up = Controls {
            keys: keys::UP,
            ..Default::default()
        };
        let c = model.step(&start(), &up, 100.0, &flat(0));
        assert_eq!(c.altitude, model.max_altitude);
    }

    #[test]
    fn look_deltas_clamp_the_pitch() {
        let model = FlightModel::default();
        let look = Controls {
            look_yaw: -0.5,
            look_pitch: 5.0,
            ..Default::default()
        };
        let c = model.step(&start(), &look, 0.0, &flat(0));
        assert!((c.yaw - (core::f32::consts::TAU - 0.5)).abs() < 1e-5);
        assert_eq!(c.horizon, model.max_pitch);
    }
}
