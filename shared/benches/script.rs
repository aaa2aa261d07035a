//! The benchmarks' scripted flight, shared by `flight` here and the server's `video`.

use shared::flight::Controls;
use shared::protocol::keys;

/// Keys held at second `t` of the flight: forward, with turns, climbs and dives.
pub fn script(t: f32) -> Controls {
    let phase = t % 12.0;
    let mut k = keys::FORWARD;
    if phase < 2.0 {
        k |= keys::TURN_RIGHT;
    } else if (6.0..7.5).contains(&phase) {
        k |= keys::TURN_LEFT;
    }
    if (3.0..4.0).contains(&phase) {
        k |= keys::UP;
    } else if (9.0..10.0).contains(&phase) {
        k |= keys::DOWN;
    }
    if t > 30.0 {
        k |= keys::FAST;
    }
    Controls {
        keys: k,
        look_yaw: 0.0,
        look_pitch: if (4.0..5.0).contains(&phase) {
            0.004
        } else if (10.0..11.0).contains(&phase) {
            -0.004
        } else {
            0.0
        },
    }
}
