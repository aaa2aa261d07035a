//! The game driven by hand: ticks, inputs and the render pool called in turn, frames
//! read back from the player's outbox.

use super::tick;
use super::*;
use crate::ws::outbox::{self, Drain, Next};
use shared::flight::Controls;
use shared::protocol::{Hello, Input, VERSION, keys};

pub(super) fn game(fps: u32) -> Arc<Game> {
    let config = GameConfig {
        fps,
        max_viewport: Viewport::new(160, 100).unwrap(),
        max_players: 8,
        render_threads: 1,
        video_ceiling: 2_850_000,
    };
    let map = shared::mapgen::generate_sized(256, 3);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(Game::new(config, map, None)).unwrap()
}

/// A server-rendered player, welcomed, and the reading end of its outbox.
fn join(game: &Game) -> (u16, Drain) {
    let (id, drain, _) = join_as(game, RenderMode::Server, FrameEncoding::Raw.bit());
    (id, drain)
}

/// A player asking for `mode`, decoding `encodings`, welcomed; the mode it got.
pub(super) fn join_as(game: &Game, mode: RenderMode, encodings: u8) -> (u16, Drain, RenderMode) {
    join_sized(game, mode, encodings, Viewport::new(64, 48).unwrap())
}

/// The same with frames of `viewport`'s size.
fn join_sized(
    game: &Game,
    mode: RenderMode,
    encodings: u8,
    viewport: Viewport,
) -> (u16, Drain, RenderMode) {
    let (out, drain) = outbox::outbox(16);
    let hello = Hello {
        version: VERSION,
        mode,
        width: viewport.width() as u16,
        height: viewport.height() as u16,
        encodings,
        name: "t".into(),
    };
    let (id, _, _, mode) = game.join(&hello, viewport, out, None).unwrap();
    game.with_player(id, |p| p.welcomed = true);
    (id, drain, mode)
}

fn input(seq: u32, keys: u16, look_x: i16) -> Input {
    Input {
        seq,
        keys,
        look_x,
        look_y: 0,
        client_time: 0,
    }
}

/// Draws every queued frame on one canvas, as a render thread does; returns how many.
pub(super) fn render_queued(game: &Game) -> usize {
    let (mut n, mut canvas) = (0, Canvas::default());
    while let Some(id) = game.render_queue.try_pop() {
        tick::render_one(game, id, &mut canvas);
        n += 1;
    }
    n
}

/// What waits in the outbox, in order, taken as a writer without a socket to lend
/// takes it (frames are never written directly here).
pub(super) fn written(drain: &mut Drain) -> Vec<crate::ws::frame::Outgoing> {
    let mut out = Vec::new();
    while let Some(next) = drain.ready() {
        match next {
            Next::Send(o) => out.push(o),
            Next::LendSocket => drain.lend_socket(None),
            Next::Close(_) | Next::Trim | Next::Stop => {}
        }
    }
    out
}

#[test]
fn only_players_who_get_frames_ask_for_the_socket() {
    let game = game(60);
    let raw = FrameEncoding::Raw.bit();
    let (_, mut server, _) = join_as(&game, RenderMode::Server, raw);
    let (id, mut client, _) = join_as(&game, RenderMode::Client, raw);
    let asks =
        |d: &mut Drain| std::iter::from_fn(|| d.ready()).any(|n| matches!(n, Next::LendSocket));
    assert!(asks(&mut server), "frames to write directly");
    assert!(!asks(&mut client), "a descriptor saved");
    game.set_mode(id, RenderMode::Server);
    assert!(asks(&mut client), "frames from now on");
}

/// The frames waiting in the outbox: (camera, last input).
fn frames(drain: &mut Drain) -> Vec<(Camera, u32)> {
    let mut out = Vec::new();
    for o in written(drain) {
        if let Ok(Message::Frame(f)) = Message::decode(&o.payload) {
            out.push((f.camera, f.last_input));
        }
    }
    out
}

/// Ticks at 60 Hz of made-up time, so the `--fps` cap sees real gaps.
pub(super) struct Clock(pub(super) Instant);

impl Clock {
    pub(super) fn new() -> Clock {
        Clock(Instant::now())
    }

    pub(super) fn tick(&mut self, game: &Arc<Game>) {
        self.0 += Duration::from_secs(1) / TICK_HZ;
        tick::tick(game, self.0);
    }
}

fn camera(game: &Game, id: u16) -> Camera {
    game.players().by_id[&id].camera
}

#[test]
fn a_key_is_drawn_on_arrival_where_the_next_tick_puts_the_player() {
    let game = game(60);
    let mut clock = Clock::new();
    let (id, mut drain) = join(&game);
    clock.tick(&game);
    render_queued(&game);
    let [(rest, 0)] = frames(&mut drain)[..] else {
        panic!("one frame at rest")
    };
    assert_eq!(rest, camera(&game, id), "no keys: the view is the camera");

    game.apply_input(id, &input(1, keys::FORWARD | keys::TURN_LEFT, 0));
    assert_eq!(
        render_queued(&game),
        1,
        "rendered without waiting for a tick"
    );
    let [(shown, 1)] = frames(&mut drain)[..] else {
        panic!("one frame answering input 1")
    };
    assert_ne!(shown, rest, "the frame shows the key");
    clock.tick(&game);
    assert_eq!(
        camera(&game, id),
        shown,
        "the tick puts the player exactly where the frame showed it"
    );
    // The tick's own frame shows the tick after, and so on: one steady step a frame.
    render_queued(&game);
    let [(next, 1)] = frames(&mut drain)[..] else {
        panic!("the tick's frame")
    };
    clock.tick(&game);
    assert_eq!(camera(&game, id), next);
}

#[test]
fn inputs_never_change_where_the_ticks_put_a_player() {
    // Inputs arrive between ticks at random; the frames drawn on arrival must not move
    // the authority: every tick equals a plain simulation that applies each look when it
    // arrives and the latest keys at the tick. And every frame is drawn from the view
    // the next tick then confirms, unless a newer input replaced it before that tick.
    let game = game(60);
    let mut clock = Clock::new();
    let (id, mut drain) = join(&game);
    let flight = game.flight;
    let mut reference = camera(&game, id);
    let mut held = 0u16;
    let mut rng = 0x2545_f491_u32;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        rng
    };
    let mut seq = 0;
    let mut answered = 0;
    for _ in 0..300 {
        for _ in 0..next() % 3 {
            seq += 1;
            let keys = (next() & 0x1ff) as u16;
            let look_x = (next() % 41) as i16 - 20;
            game.apply_input(id, &input(seq, keys, look_x));
            let look = Controls::look(look_x, 0);
            if look_x != 0 {
                reference = flight.step(&reference, &look, 0.0, &game.map);
            }
            held = keys;
            if next() % 2 == 0 {
                render_queued(&game);
            }
        }
        render_queued(&game);
        let drawn = frames(&mut drain);
        clock.tick(&game);
        let controls = Controls {
            keys: held,
            ..Default::default()
        };
        reference = flight.step(&reference, &controls, TICK_DT, &game.map);
        assert_eq!(camera(&game, id), reference, "the tick is the authority");
        // A frame that answers the newest input shows where the tick then put the
        // player (older ones were replaced; a flood of inputs runs out of input frames).
        if let Some(&(last, input)) = drawn.last()
            && input == seq
        {
            assert_eq!(last, reference, "input {seq}");
            answered += 1;
        }
    }
    assert!(answered > 100, "only {answered} ticks had a frame to check");
}

#[test]
fn an_input_during_a_render_is_drawn_right_after_it() {
    let game = game(60);
    let mut clock = Clock::new();
    let (id, mut drain) = join(&game);
    clock.tick(&game);
    // A render thread has taken the job; an input arrives before it is done.
    let job = tick::take_job(&game, game.render_queue.try_pop().unwrap()).unwrap();
    game.apply_input(id, &input(1, keys::TURN_RIGHT, 0));
    assert!(game.render_queue.try_pop().is_none(), "one frame at a time");
    tick::finish_job(&game, job, &mut Canvas::default());
    assert_eq!(frames(&mut drain).last().map(|f| f.1), Some(0));
    assert_eq!(render_queued(&game), 1, "requeued as soon as it is done");
    assert_eq!(frames(&mut drain).last().map(|f| f.1), Some(1));
}

#[test]
fn frames_that_answer_an_input_go_first() {
    let game = game(60);
    let mut clock = Clock::new();
    let (a, _da) = join(&game);
    game.apply_input(a, &input(1, keys::FORWARD, 0));
    render_queued(&game);
    clock.tick(&game);
    assert_eq!(
        game.render_queue.try_pop(),
        Some(a),
        "a flies: a tick frame"
    );
    game.render_queue.push(a, Instant::now());
    // Two players join after the tick and press a key, c first.
    let (c, _dc) = join(&game);
    let (d, _dd) = join(&game);
    game.apply_input(c, &input(1, keys::UP, 0));
    game.apply_input(d, &input(1, keys::UP, 0));
    assert_eq!(
        game.render_queue.try_pop(),
        Some(c),
        "inputs jump the queue"
    );
    assert_eq!(game.render_queue.try_pop(), Some(d), "in arrival order");
    assert_eq!(game.render_queue.try_pop(), Some(a));
}

#[test]
fn tick_frames_wait_until_due_and_inputs_do_not() {
    let queue = tick::RenderQueue::default();
    let start = Instant::now();
    let later = Duration::from_millis(100);
    queue.push(1, start + later);
    queue.push_input(2);
    assert_eq!(queue.pop(), Some(2), "an input's frame at once");
    assert!(
        start.elapsed() < later,
        "without waiting for the tick frame"
    );
    assert_eq!(queue.pop(), Some(1));
    assert!(
        start.elapsed() >= later,
        "the tick frame not before it is due"
    );
    // The tick's frames spread over three quarters of its interval, in players' order.
    let interval = Duration::from_secs(1) / TICK_HZ;
    let dues: Vec<Instant> = (0..16).map(|k| tick::due(start, k, 16, 60, 1)).collect();
    assert_eq!(dues[0], start);
    assert!(dues.windows(2).all(|w| w[0] < w[1]));
    assert!(dues[15] - start >= interval / 2 && dues[15] - start < interval * 3 / 4);
    // At 30 fps over a frame interval (two ticks); queued soonest first.
    assert!(tick::due(start, 15, 16, 30, 1) - start > interval);
    queue.push(3, start + interval);
    queue.push(4, start);
    // Behind only once a frame has waited a whole tick past its due time.
    assert!(!queue.behind(start + interval / 2));
    assert!(queue.behind(start + interval));
    assert_eq!(queue.pop(), Some(4));
    assert!(!queue.behind(start + interval), "3 is due only then");
    queue.push_input(5);
    assert!(queue.behind(start), "an input's frame waits");
}

#[test]
fn a_promoted_frame_wakes_a_thread_waiting_for_a_due_time() {
    let queue = Arc::new(tick::RenderQueue::default());
    queue.push(7, Instant::now() + Duration::from_secs(30));
    let (tx, rx) = std::sync::mpsc::channel();
    let waiting = queue.clone();
    std::thread::spawn(move || tx.send(waiting.pop()));
    std::thread::sleep(Duration::from_millis(50));
    assert!(queue.promote(7), "an input for 7 came");
    let popped = rx.recv_timeout(Duration::from_secs(10));
    assert_eq!(
        popped,
        Ok(Some(7)),
        "drawn now, not when the tick frame was due"
    );
}

#[test]
fn an_input_moves_a_frame_the_tick_queued_ahead_of_the_others() {
    let game = game(60);
    let mut clock = Clock::new();
    let (a, _da) = join(&game);
    let (b, _db) = join(&game);
    for (id, seq) in [(a, 1), (b, 1)] {
        game.apply_input(id, &input(seq, keys::FORWARD, 0));
    }
    render_queued(&game);
    // Both fly: the tick queues a frame for each, behind one still waiting.
    game.render_queue.push(u16::MAX, Instant::now());
    clock.tick(&game);
    // b turns while its tick frame waits.
    game.apply_input(b, &input(2, keys::FORWARD | keys::TURN_LEFT, 0));
    assert_eq!(
        game.render_queue.try_pop(),
        Some(b),
        "b's frame moved ahead"
    );
    assert_eq!(game.render_queue.try_pop(), Some(u16::MAX));
    assert_eq!(game.render_queue.try_pop(), Some(a));
    assert_eq!(game.render_queue.try_pop(), None, "b waits once, not twice");
    // The frame drawn for b answers the turn.
    let job = tick::take_job(&game, b).expect("b's frame");
    tick::finish_job(&game, job, &mut Canvas::default());
    let mut answered = None;
    game.with_player(b, |p| answered = p.last_frame.map(|(_, input)| input));
    assert_eq!(answered, Some(2));
}

#[test]
fn input_frames_have_a_budget_and_count_against_the_cap() {
    let game = game(30);
    let mut clock = Clock::new();
    let (id, mut drain) = join(&game);
    // A short view, so the frames are quick to draw even in a debug build: the bucket
    // refills with wall-clock time.
    game.with_player(id, |p| p.camera.distance = Camera::MIN_DISTANCE);
    let started = Instant::now();
    let mut drawn = 0;
    for seq in 1..=INPUT_FRAME_BURST as u32 + 6 {
        let keys = if seq % 2 == 0 {
            keys::FORWARD
        } else {
            keys::BACK
        };
        game.apply_input(id, &input(seq, keys, 0));
        drawn += render_queued(&game);
    }
    // The burst, plus what the rate refilled while this ran (none on a quick machine).
    let refilled = (started.elapsed().as_secs_f64() * INPUT_FRAMES_PER_SECOND).floor() as usize;
    let burst = INPUT_FRAME_BURST as usize;
    assert!(
        (burst..=burst + refilled).contains(&drawn) && drawn < burst + 6,
        "a burst, then the rate: {drawn} drawn, {refilled} refilled"
    );
    assert_eq!(frames(&mut drain).len(), 1, "latest wins in the outbox");
    // The last input's frame counts against the 30 fps cap: the tick's next frame comes
    // a frame interval (two ticks) after it, not on top of it.
    game.with_player(id, |p| clock.0 = p.last_frame_at);
    clock.tick(&game);
    assert_eq!(render_queued(&game), 0, "held: a frame was just drawn");
    clock.tick(&game);
    assert_eq!(render_queued(&game), 1, "a frame interval later");
}

#[test]
fn tick_frames_thin_out_while_the_pool_falls_behind() {
    let game = game(60);
    let mut clock = Clock::new();
    let (id, _drain) = join(&game);
    game.apply_input(id, &input(1, keys::FORWARD, 0));
    render_queued(&game);
    let drawn = || game.stats.frames.load(Ordering::Relaxed);
    let before = drawn();
    for _ in 0..10 {
        clock.tick(&game);
        render_queued(&game);
    }
    assert_eq!(
        drawn() - before,
        10,
        "a frame every tick while the pool keeps up"
    );
    let before = drawn();
    for _ in 0..10 {
        // A frame due at the last tick still waits (for a player who has left since).
        game.render_queue.push(u16::MAX, clock.0);
        clock.tick(&game);
        render_queued(&game);
    }
    let behind = drawn() - before;
    assert!(
        (2..=4).contains(&behind),
        "{behind} tick frames while behind"
    );
    // An input is still drawn at once.
    game.render_queue.push(u16::MAX, Instant::now());
    game.apply_input(id, &input(2, keys::BACK, 0));
    assert_eq!(game.render_queue.try_pop(), Some(id));
}

#[test]
fn at_30_fps_a_queue_that_drains_within_the_frame_interval_is_not_behind() {
    let game = game(30);
    let mut clock = Clock::new();
    let (id, _drain) = join(&game);
    game.apply_input(id, &input(1, keys::TURN_RIGHT, 0));
    render_queued(&game);
    let drawn = || game.stats.frames.load(Ordering::Relaxed);
    let before = drawn();
    for i in 0..20 {
        clock.tick(&game);
        // Frames queued at this tick are still being drawn at the next one, and done
        // before the one after: on time for 30 fps.
        if i % 2 == 1 {
            render_queued(&game);
        }
    }
    assert_eq!(drawn() - before, 10, "30 fps kept");
}

/// The raw frames waiting in the outbox: (camera, palette indices).
fn raw_frames(drain: &mut Drain) -> Vec<(Camera, Vec<u8>, Vec<shared::protocol::Label>)> {
    let mut out = Vec::new();
    for o in written(drain) {
        if let Ok(Message::Frame(f)) = Message::decode(&o.payload) {
            out.push((f.camera, f.payload.to_vec(), f.labels));
        }
    }
    out
}

#[test]
fn server_frames_show_the_others_in_view() {
    let game = game(60);
    let mut clock = Clock::new();
    let (a, mut da) = join(&game);
    let (b, _db) = join(&game);
    // High above the terrain: a looks up the map at b, 30 units ahead and a little up.
    let at = |x: f32, y: f32, altitude: f32| Camera {
        x,
        y,
        altitude,
        yaw: 0.0,
        ..Camera::default()
    };
    game.with_player(a, |p| p.camera = at(100.0, 100.0, 320.0));
    game.with_player(b, |p| p.camera = at(104.0, 70.0, 324.0));
    clock.tick(&game);
    render_queued(&game);
    let (camera, frame, labels) = raw_frames(&mut da).pop().expect("a's frame");
    // b's name label: over the middle of the frame (b is straight ahead), above b.
    let [label] = labels[..] else {
        panic!("one label: {labels:?}");
    };
    assert_eq!(label.id, b);
    assert!(
        (28..=36).contains(&label.x) && (0..24).contains(&label.y),
        "{label:?}"
    );
    let others = [shared::sprite::Aircraft::of(b, &at(104.0, 70.0, 324.0))];
    let viewport = Viewport::new(64, 48).unwrap();
    // Every frame has the course's gates in reach too, gate 0 marked as the next.
    let draw = |planes: &[shared::sprite::Aircraft]| {
        let mut scene = planes.to_vec();
        let size = (game.map.width() as f32, game.map.height() as f32);
        game.scenery.beads_near(0, &camera, size, &mut scene);
        let mut out = vec![0; viewport.pixels()];
        let options = Default::default();
        Renderer::new().render_scene(&game.map, &camera, &options, viewport, &scene, &mut out);
        out
    };
    assert!(frame == draw(&others), "b drawn into a's frame");
    let changed = frame
        .iter()
        .zip(draw(&[]))
        .filter(|(f, t)| **f != *t)
        .count();
    assert!(changed > 5, "and visible in it: {changed} pixels");
    // b moves while a holds still: a new frame for a all the same.
    game.apply_input(b, &input(1, keys::UP, 0));
    assert_eq!(game.render_queue.try_pop(), Some(b));
    clock.tick(&game);
    let queued: Vec<u16> = std::iter::from_fn(|| game.render_queue.try_pop()).collect();
    assert!(queued.contains(&a), "a sees b climb: {queued:?}");
    // (Draw what was taken from the queue above.)
    let mut canvas = Canvas::default();
    for id in queued.into_iter().chain([b]) {
        tick::render_one(&game, id, &mut canvas);
    }
    // b stops and looks a little: the same bitmap of b, so no frame for a.
    game.apply_input(b, &input(2, 0, 0));
    render_queued(&game);
    clock.tick(&game);
    render_queued(&game);
    game.apply_input(b, &input(3, 0, 1));
    assert_eq!(game.render_queue.try_pop(), Some(b), "b's own view turned");
    tick::render_one(&game, b, &mut Canvas::default());
    clock.tick(&game);
    let queued: Vec<u16> = std::iter::from_fn(|| game.render_queue.try_pop()).collect();
    assert!(!queued.contains(&a), "a's picture is unchanged: {queued:?}");
    // b turns side on: another bitmap, a new frame for a.
    game.with_player(b, |p| p.camera.yaw += std::f32::consts::FRAC_PI_2);
    clock.tick(&game);
    let queued: Vec<u16> = std::iter::from_fn(|| game.render_queue.try_pop()).collect();
    assert!(queued.contains(&a), "a sees b turn: {queued:?}");
}

/// A render thread's canvas draws every player in turn: what it drew for one (another
/// size, place and encoding) leaves nothing in the next one's frame.
#[test]
fn one_canvas_draws_each_player_as_a_canvas_of_its_own_would() {
    let frames_drawn = |share: bool| {
        let game = game(60);
        let mut clock = Clock::new();
        let (raw, runs) = (FrameEncoding::Raw.bit(), FrameEncoding::Runs.bit());
        let mut players = [(64, 48, raw), (160, 100, runs), (96, 60, raw)].map(|(w, h, e)| {
            let viewport = Viewport::new(w, h).unwrap();
            join_sized(&game, RenderMode::Server, e, viewport)
        });
        for (k, (id, ..)) in players.iter().enumerate() {
            game.with_player(*id, |p| {
                p.camera.x = 40.0 + 60.0 * k as f32;
                p.camera.yaw = k as f32;
            });
            game.apply_input(*id, &input(1, keys::FORWARD | keys::TURN_LEFT, 0));
        }
        let mut canvas = Canvas::default();
        let mut frames = [(); 3].map(|_| Vec::new());
        for _ in 0..4 {
            clock.tick(&game);
            while let Some(id) = game.render_queue.try_pop() {
                match share {
                    true => tick::render_one(&game, id, &mut canvas),
                    false => tick::render_one(&game, id, &mut Canvas::default()),
                }
            }
            // (Read each tick: a newer frame replaces one still waiting.)
            for (k, (_, drain, _)) in players.iter_mut().enumerate() {
                frames[k].extend(raw_frames(drain));
            }
        }
        frames
    };
    let shared = frames_drawn(true);
    assert_eq!(shared, frames_drawn(false));
    for frames in &shared {
        assert!(frames.len() >= 4, "a frame a tick: {}", frames.len());
    }
    assert_ne!(shared[0][0].1, shared[2][0].1, "two places, two pictures");
}

/// A player on a run sees the record's ghost where the record was that far into its run,
/// and the gates with the next one marked: the frame is exactly that scene.
#[test]
fn racing_players_see_the_record_ghost_and_the_next_gate() {
    use shared::protocol::{GhostRun, GhostSample};
    let game = game(60);
    let mut clock = Clock::new();
    let (a, mut da) = join(&game);
    let g0 = game.course.gates[0];
    let (fx, fy) = g0.forward();
    let along = |d: f32| (g0.x + fx * d, g0.y + fy * d);
    let (x, y) = along(-2.0);
    game.with_player(a, |p| {
        p.camera = Camera {
            x,
            y,
            altitude: g0.altitude,
            yaw: g0.yaw,
            horizon: 0.0,
            ..Camera::default()
        };
        p.keys = keys::FORWARD;
    });
    // The record flew level, 20 units ahead of the player, a unit a tick.
    let samples: Vec<GhostSample> = (0..200)
        .map(|i| {
            let (x, y) = along(20.0 + i as f32 * 4.0);
            GhostSample {
                x,
                y,
                altitude: g0.altitude + 3.0,
                yaw: g0.yaw,
            }
        })
        .collect();
    game.players().ghost = Some(Arc::new(GhostRun {
        name: "rec".into(),
        time: 800,
        samples: samples.clone(),
    }));
    for _ in 0..4 {
        clock.tick(&game);
    }
    let running = game.players().by_id[&a].race.elapsed(0).is_some();
    assert!(running, "gate 0 started a run");
    render_queued(&game);
    let _ = raw_frames(&mut da);
    clock.tick(&game);
    render_queued(&game);
    let (camera, frame, _) = raw_frames(&mut da).pop().expect("a frame");
    let players = game.players();
    let elapsed = players.by_id[&a].race.elapsed(players.tick + 1).unwrap();
    let size = (game.map.width() as f32, game.map.height() as f32);
    let ghost = shared::course::ghost_at(&samples, elapsed, size).unwrap();
    assert_eq!(ghost.look, shared::sprite::Look::Ghost);
    let mut scene = vec![ghost];
    game.scenery.beads_near(1, &camera, size, &mut scene);
    let viewport = Viewport::new(64, 48).unwrap();
    let mut expected = vec![0; viewport.pixels()];
    let options = Default::default();
    Renderer::new().render_scene(
        &game.map,
        &camera,
        &options,
        viewport,
        &scene,
        &mut expected,
    );
    assert!(frame == expected, "the ghost, and gate 1 marked");
    let mut without = vec![0; viewport.pixels()];
    Renderer::new().render_scene(
        &game.map,
        &camera,
        &options,
        viewport,
        &scene[1..],
        &mut without,
    );
    let ghost_pixels = expected
        .iter()
        .zip(&without)
        .filter(|(a, b)| a != b)
        .count();
    assert!(ghost_pixels > 5, "the ghost shows: {ghost_pixels} pixels");
}
