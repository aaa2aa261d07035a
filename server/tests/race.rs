//! A race over real sockets: a protocol client flies a lap through every gate, steering
//! from the States the server sends; the server's time must equal the one worked out
//! here from those States; a second player is told the result; the record, its ghost
//! and the board survive a `kill -9` right after the announcement.

mod common;

use common::flight::steer;
use common::{Server, Ws};
use shared::protocol::{
    CourseInfo, GhostRun, Hello, Message, RaceEvent, RenderMode, RunResult, VERSION,
};

fn send(ws: &mut Ws, msg: &Message) {
    let mut body = Vec::new();
    msg.encode(&mut body);
    ws.send(2, &body);
}

/// The next message, decoded (owned parts only: no frames are asked for here).
fn next(ws: &mut Ws) -> Option<Message<'static>> {
    let (op, payload) = ws.recv();
    assert_ne!(op, 8, "closed");
    let payload: &'static [u8] = Box::leak(payload.into_boxed_slice());
    Message::decode(payload).ok()
}

fn join(server: &Server, name: &str, mode: RenderMode) -> (Ws, CourseInfo) {
    let mut ws = Ws::open(server, "/ws");
    send(
        &mut ws,
        &Message::Hello(Hello {
            version: VERSION,
            mode,
            width: 160,
            height: 100,
            encodings: 1,
            name: name.into(),
        }),
    );
    loop {
        if let Some(Message::Course(c)) = next(&mut ws) {
            return (ws, c);
        }
    }
}

fn board(server: &Server) -> serde_json::Value {
    let response = server.get("/api/leaderboard?name=runner");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let body = response.split_once("\r\n\r\n").unwrap().1;
    serde_json::from_str(body).unwrap()
}

#[test]
fn a_lap_is_judged_by_ticks_saved_announced_and_survives_kill_9() {
    let data = std::env::temp_dir().join(format!("voxelcast-race-{}", std::process::id()));
    let data_arg = data.to_string_lossy().into_owned();
    let server = Server::start(&["--data", &data_arg]);
    let map = shared::mapgen::generate(shared::mapgen::DEFAULT_SEED);
    let size = (map.width() as f32, map.height() as f32);
    let (mut watcher, _) = join(&server, "<b>watcher</b>", RenderMode::Client);
    let (mut runner, course) = join(&server, "runner", RenderMode::Client);
    let gates = course.gates.clone();
    assert!((8..=16).contains(&gates.len()), "{} gates", gates.len());
    assert_eq!(gates, shared::course::Course::of(&map).gates);

    // Fly: steer by the States; judge the crossings here too, from those States.
    let (mut seq, mut next_gate) = (0u32, 0usize);
    let mut last: Option<(u32, shared::Camera)> = None;
    let (mut local_start, mut local_passed, mut local_time) = (None, 0usize, None);
    let mut finish = None;
    let mut crashes = 0;
    for _ in 0..60 * 120 {
        match next(&mut runner) {
            Some(Message::State(s)) => {
                if let Some((_, prev)) = last {
                    let from = (prev.x, prev.y, prev.altitude);
                    let to = (s.camera.x, s.camera.y, s.camera.altitude);
                    let want = if local_start.is_none() {
                        0
                    } else {
                        (local_passed + 1) % gates.len()
                    };
                    if gates[want].crossed(from, to, size).is_some() {
                        match local_start {
                            None => local_start = Some(s.tick),
                            Some(start) if want == 0 => {
                                local_time.get_or_insert(s.tick - start);
                            }
                            Some(_) => local_passed += 1,
                        }
                    }
                }
                last = Some((s.tick, s.camera));
                seq += 1;
                let input = steer(&s.camera, &gates[next_gate], &map, seq);
                send(&mut runner, &Message::Input(input));
            }
            Some(Message::Race(e)) => match e {
                RaceEvent::Start { .. } if finish.is_none() => next_gate = 1,
                RaceEvent::Gate { gate, .. } => next_gate = (gate as usize + 1) % gates.len(),
                RaceEvent::Crash { .. } => crashes += 1,
                RaceEvent::Finish { time, best } => {
                    assert_eq!(best, 0, "no earlier best");
                    finish = Some(time);
                }
                RaceEvent::NotSaved => panic!("the run was not saved"),
                _ => {}
            },
            Some(Message::Result(r)) => {
                assert_eq!(
                    r,
                    RunResult {
                        course: course.id,
                        name: "runner".into(),
                        time: finish.expect("Finish before the Result"),
                        rank: 1,
                        record: true,
                    }
                );
                break;
            }
            _ => {}
        }
    }
    let time = finish.expect("the lap finished");
    // Crashes put the runner back at a gate, which the States show as a jump; the
    // times agree whenever the States saw every tick of the lap.
    if crashes == 0 {
        assert_eq!(Some(time), local_time, "the server's time, from the States");
    }
    assert!(time > 60, "{time} ticks");
    eprintln!(
        "lap: {time} ticks, {crashes} crashes, {} gates",
        gates.len()
    );
    // The other player hears of it.
    let heard = loop {
        if let Some(Message::Result(r)) = next(&mut watcher) {
            break r;
        }
    };
    assert_eq!((heard.name.as_str(), heard.time), ("runner", time));

    // Committed before it was announced: kill -9 now, then start again on the same data.
    drop(runner);
    drop(watcher);
    drop(server);
    let server = Server::start(&["--data", &data_arg]);
    let b = board(&server);
    assert_eq!(b["all_time"][0]["name"], "runner");
    assert_eq!(b["all_time"][0]["ticks"], time);
    assert_eq!(b["today"][0]["ticks"], time);
    assert_eq!(b["you"]["rank"], 1);
    // Newcomers get the record's ghost: a sample every 4 ticks of the lap.
    let mut ws = Ws::open(&server, "/ws");
    send(
        &mut ws,
        &Message::Hello(Hello {
            version: VERSION,
            mode: RenderMode::Client,
            width: 160,
            height: 100,
            encodings: 1,
            name: "later".into(),
        }),
    );
    let ghost: GhostRun = loop {
        if let Some(Message::Ghost(g)) = next(&mut ws) {
            break g;
        }
    };
    assert_eq!((ghost.name.as_str(), ghost.time), ("runner", time));
    assert_eq!(ghost.samples.len() as u32, time / 4 + 1);
    // Bad queries are refused with a reason.
    for bad in ["limit=0", "course=xyz", "name=%ff", "what=1"] {
        let response = server.get(&format!("/api/leaderboard?{bad}"));
        assert!(response.starts_with("HTTP/1.1 400"), "{bad}: {response}");
        assert!(response.contains("\"error\""), "{response}");
    }
    drop(server);
    let _ = std::fs::remove_dir_all(data);
}
