//! Protocol clients that fly the course, steering from the States the server sends.

use super::Ws;
use shared::course::Gate;
use shared::protocol::{CourseInfo, Input, Message, RaceEvent, RunResult, keys};

/// Steers towards `gate`: the heading to its centre (a look delta) and climbing or
/// sinking to its height, high enough over the terrain ahead while far from it.
pub fn steer(cam: &shared::Camera, gate: &Gate, map: &shared::Map, seq: u32) -> Input {
    let size = (map.width() as f32, map.height() as f32);
    let wrapped = |d: f32, p: f32| d - (d / p).round() * p;
    let (dx, dy) = (
        wrapped(gate.x - cam.x, size.0),
        wrapped(gate.y - cam.y, size.1),
    );
    let want = dx.atan2(-dy);
    let turn = wrapped(want - cam.yaw, std::f32::consts::TAU);
    let distance = dx.hypot(dy);
    let mut target = gate.altitude;
    if distance > 70.0 {
        let (sx, sy) = (dx / distance, dy / distance);
        let ahead = (0..=12)
            .map(|i| map.height_at(cam.x + sx * i as f32 * 8.0, cam.y + sy * i as f32 * 8.0))
            .fold(0.0f32, f32::max);
        target = target.max(ahead + 30.0);
    }
    let climb = if cam.altitude < target - 2.0 {
        keys::UP
    } else if cam.altitude > target + 2.0 {
        keys::DOWN
    } else {
        0
    };
    Input {
        seq,
        keys: keys::FORWARD | keys::FAST | climb,
        look_x: (turn * 1000.0).round().clamp(-3000.0, 3000.0) as i16,
        look_y: 0,
        client_time: 0,
    }
}

/// The cautious pilot of `tests/browser/racer.mjs`, for any start: above every hill
/// between gates, lined up 70 behind the next gate, down to its height, then through
/// along its direction. `last_altitude`: the altitude one State ago.
fn line_up(
    cam: &shared::Camera,
    g: &Gate,
    size: (f32, f32),
    last_altitude: f32,
    seq: u32,
) -> Input {
    let wrap = |d: f32, p: f32| d - (d / p + 0.5).floor() * p;
    let (fx, fy) = (g.yaw.sin(), -g.yaw.cos());
    let (rx, ry) = (wrap(cam.x - g.x, size.0), wrap(cam.y - g.y, size.1));
    let along = rx * fx + ry * fy;
    let lateral = -rx * fy + ry * fx;
    let lined = along < 5.0 && along > -80.0 && lateral.abs() < 10.0;
    let reach = if lined { 30.0 } else { -70.0 };
    let dx = wrap(g.x + fx * reach - cam.x, size.0);
    let dy = wrap(g.y + fy * reach - cam.y, size.1);
    let distance = if lined { -along } else { dx.hypot(dy) };
    let turn = wrap(dx.atan2(-dy) - cam.yaw, std::f32::consts::TAU);
    let target = if distance > 30.0 && !lined {
        290.0
    } else {
        g.altitude
    };
    let error = target - cam.altitude;
    let mut k = keys::FAST
        | if error > 2.0 {
            keys::UP
        } else if error < -2.0 {
            keys::DOWN
        } else {
            0
        };
    let grounded = error < 0.0 && last_altitude - cam.altitude < 0.5;
    if (distance > 30.0 && !lined) || error.abs() < 12.0 || grounded {
        k |= keys::FORWARD;
    }
    Input {
        seq,
        keys: k,
        look_x: (turn * 1000.0).round().clamp(-3000.0, 3000.0) as i16,
        look_y: 0,
        client_time: 0,
    }
}

fn send(ws: &mut Ws, msg: &Message) {
    let mut body = Vec::new();
    msg.encode(&mut body);
    ws.send(2, &body);
}

/// Flies one lap of `course` on `ws` (a browser-side player, welcomed) over a map of
/// `size`; returns the Result the server announced for it. Gives up after three minutes.
pub fn fly_lap(ws: &mut Ws, course: &CourseInfo, size: (f32, f32)) -> RunResult {
    let (mut seq, mut next_gate, mut finished) = (0u32, 0usize, false);
    let (mut gates, mut crashes, mut last_altitude) = (0, 0, 0.0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    while std::time::Instant::now() < deadline {
        let (op, payload) = ws.recv();
        assert_ne!(op, 8, "closed while flying");
        match Message::decode(&payload) {
            // Steer only from a State that has seen the last turn (else the turn would
            // be asked twice); the held keys go on meanwhile.
            Ok(Message::State(s)) if !finished && s.last_input == seq => {
                seq += 1;
                let gate = &course.gates[next_gate];
                let input = line_up(&s.camera, gate, size, last_altitude, seq);
                last_altitude = s.camera.altitude;
                send(ws, &Message::Input(input));
            }
            Ok(Message::Race(e)) => match e {
                RaceEvent::Start { .. } if !finished => next_gate = 1,
                RaceEvent::Gate { gate, .. } => {
                    gates += 1;
                    next_gate = (gate as usize + 1) % course.gates.len()
                }
                RaceEvent::Crash { .. } => crashes += 1,
                RaceEvent::Finish { .. } => finished = true,
                RaceEvent::NotSaved => panic!("the run was not saved"),
                _ => {}
            },
            Ok(Message::Result(r)) if finished => return r,
            _ => {}
        }
    }
    panic!("no lap within three minutes: {gates} gates, {crashes} crashes");
}
