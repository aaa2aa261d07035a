//! The fixed-rate simulation tick and the dispatch of frames to the render pool.

use super::{Canvas, FrameWire, Game, Player, TICK_HZ, ws_binary};
use crate::ws::outbox::Slot;
use shared::protocol::{
    Frame, GhostRun, Label, Message, PlayerInfo, RaceEvent, RenderMode, State, VIDEO_KEY,
};
use shared::sprite::{Aircraft, Projector};
use shared::{Camera, RenderOptions};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Players lists go out 20 times a second (browser-side rendering draws the others
/// from them), or twice a second on a crowded server.
const PLAYERS_EVERY: u32 = TICK_HZ / 20;
const PLAYERS_EVERY_CROWDED: u32 = TICK_HZ / 2;
/// Players per step down of the State rate (60, 30, then 20 Hz).
const STATE_CROWD: usize = 2000;
/// Most players in one list: the player and those nearest to it.
const MAX_LISTED: usize = 32;
/// Most frame intervals between tick frames when the render pool falls behind.
const MAX_STRIDE: u32 = 4;
/// Ticks without a backlog before the stride comes down by one.
const STRIDE_RELAX_TICKS: u32 = 30;
/// The part of a frame interval over which a tick's frames are spread (see [`due`]).
const SPREAD: f64 = 0.75;

pub async fn run(game: Arc<Game>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(Duration::from_secs(1) / TICK_HZ);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = interval.tick() => {
                let started = Instant::now();
                tick(&game, started);
                let us = started.elapsed().as_micros() as u64;
                game.stats.ticks.fetch_add(1, Ordering::Relaxed);
                game.stats.tick_us_total.fetch_add(us, Ordering::Relaxed);
                game.stats.tick_us_max.fetch_max(us, Ordering::Relaxed);
            }
            _ = shutdown.changed() => {
                game.render_queue.close();
                return;
            }
        }
    }
}

/// One step of the simulation at `now`: moves every camera, then sends states, rosters
/// and frames.
pub(super) fn tick(game: &Arc<Game>, now: Instant) {
    let mut players = game.players();
    players.tick = players.tick.wrapping_add(1);
    let tick = players.tick;
    // Frames still waiting a tick after they were due, a frame interval running: the
    // pool cannot keep up, so tick frames thin out (inputs' frames do not) until it
    // can. Not merely a queue that is never empty at a tick: 64 players at 30 fps all
    // queue on the same tick, and drawing them took two ticks on time, which thinned
    // them to a quarter at 60 % CPU.
    let ticks_per_frame = (TICK_HZ / game.config.fps.max(1)).max(1);
    players.backlog_ticks = match game.render_queue.behind(now) {
        false => 0,
        true => players.backlog_ticks + 1,
    };
    players.stride = if players.backlog_ticks >= ticks_per_frame {
        players.backlog_ticks = 0;
        (players.stride + 1).min(MAX_STRIDE)
    } else if tick % STRIDE_RELAX_TICKS == 0 {
        players.stride.saturating_sub(1).max(1)
    } else {
        players.stride.max(1)
    };
    let stride = players.stride;
    // The tick moves each player to its view: what its frames have shown since the
    // keys last changed (one call, so the two can never disagree); then judges its run.
    let super::Players { by_id, bests, .. } = &mut *players;
    for (&id, p) in by_id.iter_mut() {
        let from = p.camera;
        p.camera = p.view(&game.flight, &game.map);
        judge(game, tick, id, p, &from, bests);
    }
    // Where everyone is after this tick: what server-rendered frames show of others.
    let mut aircraft = std::mem::take(&mut players.aircraft);
    aircraft.clear();
    aircraft.extend(
        players
            .by_id
            .iter()
            .map(|(&id, p)| (id, Aircraft::of(id, &p.camera))),
    );
    players.aircraft = aircraft;
    let crowded = players.by_id.len() > MAX_LISTED;
    // States every tick, or every 2nd or 3rd with thousands of players: the clients
    // glide between them, and the server stays ahead of its sends.
    let state_every = (players.by_id.len() / STATE_CROWD + 1).min(3) as u32;
    let every = if crowded {
        PLAYERS_EVERY_CROWDED
    } else {
        PLAYERS_EVERY
    };
    let roster = (tick % every == 0).then(|| {
        let infos: Vec<PlayerInfo> = players
            .by_id
            .iter()
            .map(|(&id, p)| PlayerInfo {
                id,
                name: p.name.clone(),
                camera: p.camera,
            })
            .collect();
        Roster::new(infos, game.map.width() as f32)
    });
    let (by_id, world) = players.split();
    let count = by_id.len();
    for (k, (&id, p)) in by_id.iter_mut().enumerate() {
        if p.paused || !p.welcomed {
            continue;
        }
        if let Some(roster) = &roster {
            let me = PlayerInfo {
                id,
                name: p.name.clone(),
                camera: p.camera,
            };
            let _ = p.out.replace(Slot::Players, roster.list_for(me));
        }
        match p.mode {
            RenderMode::Client if tick % state_every == 0 => {
                let state = State {
                    tick,
                    last_input: p.last_input,
                    camera: p.camera,
                };
                let _ = p
                    .out
                    .replace(Slot::State, ws_binary(&Message::State(state)));
            }
            RenderMode::Client => {}
            RenderMode::Server | RenderMode::Video => {
                let due = due(now, k, count, game.config.fps, stride);
                maybe_render(game, id, p, now, Why::Tick { stride, due }, &world)
            }
        }
    }
}

/// Judges one tick of player `id`'s run (it flew from `from` to `p.camera`): tells it
/// what happened, puts it back after a crash, queues a finished run to be saved.
fn judge(
    game: &Game,
    tick: u32,
    id: u16,
    p: &mut Player,
    from: &Camera,
    bests: &std::collections::HashMap<String, super::race::Best>,
) {
    let boost = if p.keys & shared::protocol::keys::FAST != 0 {
        game.flight.fast_factor
    } else {
        1.0
    };
    let outcome = p.race.step(&super::race::Step {
        course: &game.course,
        map_size: (game.map.width() as f32, game.map.height() as f32),
        tick,
        from,
        to: &p.camera,
        keys: p.keys,
        max_climb: game.flight.climb_rate * boost * super::TICK_DT,
        best: bests.get(&p.name),
    });
    if let Some(back) = outcome.put_back {
        p.camera = back;
        p.dirty = true;
    }
    let mut events = outcome.events;
    if let Some(run) = outcome.finished
        && !game.records.save(id, &p.name, run)
    {
        events.push(RaceEvent::NotSaved);
    }
    for e in events {
        let _ = p.out.try_send(ws_binary(&Message::Race(e)));
        p.dirty = true; // the next gate's colour, the ghost
    }
}

/// What frames show besides the terrain: everyone as of the last tick, the record's
/// ghost, and that tick's number.
pub(super) struct World<'a> {
    pub aircraft: &'a [(u16, Aircraft)],
    pub ghost: Option<&'a GhostRun>,
    pub tick: u32,
}

/// The sprites of player `id`'s frame of `view` (one tick ahead of `world`): the others
/// near it, the ghost where the record was this far into its run, and the gates in
/// reach, the next one marked. The browser builds the same list from what it is sent.
/// `ids` gets the players the first sprites are, for name labels.
fn scene(
    game: &Game,
    id: u16,
    p: &Player,
    view: &Camera,
    world: &World,
    ids: &mut Vec<u16>,
) -> Vec<Aircraft> {
    let size = (game.map.width() as f32, game.map.height() as f32);
    ids.clear();
    let mut out = Vec::new();
    for &(other, a) in others_near(world.aircraft, id, view, &game.map) {
        ids.push(other);
        out.push(a);
    }
    if let (Some(g), Some(elapsed)) = (world.ghost, p.race.elapsed(world.tick.wrapping_add(1))) {
        out.extend(shared::course::ghost_at(&g.samples, elapsed, size));
    }
    let next = p.race.next_gate(game.course.gates.len());
    game.scenery.beads_near(next, view, size, &mut out);
    out
}

/// The aircraft of everyone but `id` that `camera` could show: within the reach of its
/// view (depth below its distance, so up to distance / cos(fov / 2) to the side, plus a
/// sprite's span), nearest images on the wrapped map. The renderer drops those behind
/// or outside the view; a tighter circle would drop some it draws, and then the
/// browser, which draws every listed player, would show them where the server did not.
fn others_near<'a>(
    aircraft: &'a [(u16, Aircraft)],
    id: u16,
    camera: &Camera,
    map: &shared::Map,
) -> impl Iterator<Item = &'a (u16, Aircraft)> {
    let (w, h) = (map.width() as f32, map.height() as f32);
    let wrapped = |d: f32, period: f32| d - (d / period).round() * period;
    let cam = camera.sanitized();
    let reach = cam.distance / (cam.fov * 0.5).cos().max(0.05) + shared::sprite::SPAN;
    aircraft.iter().filter(move |(other, a)| {
        let (dx, dy) = (wrapped(a.x - cam.x, w), wrapped(a.y - cam.y, h));
        *other != id && dx * dx + dy * dy < reach * reach
    })
}

/// When the `k`th of `count` players' tick frame is drawn at `fps` and `stride`:
/// spread over most of a frame interval rather than all at the tick. Drawn in one burst,
/// the frames kept both cores busy for milliseconds after every tick, and the I/O
/// threads, inputs' frames and anything else on the machine waited for a time slice;
/// spread, a core is mostly free when an input comes. Each player keeps its place (the
/// map's order), so its frames stay a frame interval apart; a frame shows the camera a
/// tick ahead, so even the last in line is not behind the simulation when it arrives.
pub(super) fn due(tick: Instant, k: usize, count: usize, fps: u32, stride: u32) -> Instant {
    let interval = Duration::from_secs(1) * stride.max(1) / fps.clamp(1, TICK_HZ);
    tick + interval.mul_f64(SPREAD * k as f64 / count.max(1) as f64)
}

/// What asks for a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Why {
    /// The tick moved the camera: frames follow the `--fps` cap, `stride` times
    /// further apart while the render pool falls behind, each drawn from `due` on.
    Tick { stride: u32, due: Instant },
    /// An input changed the view: drawn at once, from the player's own input-frame
    /// budget, never held back by the cap.
    Input,
}

/// Queues a frame for a server-rendered player if the picture changed since the last one
/// and the budget for `why` allows. The render pool takes frames that answer an input
/// first (what a player feels), then the ticks' frames first come, first served, and
/// draws each from the player's view as it is when the frame starts.
pub(super) fn maybe_render(
    game: &Game,
    id: u16,
    p: &mut Player,
    now: Instant,
    why: Why,
    world: &World,
) {
    if !p.mode.server_renders() || !p.welcomed || p.paused {
        return;
    }
    // Waiting already: an input's frame may still move ahead of the ticks' frames.
    match (p.queued, why) {
        (None, _) | (Some(Queued::Tick), Why::Input) => {}
        (Some(_), _) => return,
    }
    if p.rendering {
        // The frame being drawn predates this input: draw again as soon as it is done.
        p.urgent |= why == Why::Input;
        return;
    }
    let view = p.view(&game.flight, &game.map);
    // The same view, and the others drawn alike (one that turned a little, or is out
    // of sight, changes no pixel): the picture has not changed.
    let same = p.last_frame == Some((view, p.last_input)) && {
        let size = (game.map.width() as f32, game.map.height() as f32);
        let others = scene(game, id, p, &view, world, &mut Vec::new());
        Projector::for_frame(&view, size, p.viewport).same_picture(&p.others, &others)
    };
    let refine = same && p.video.as_ref().is_some_and(|v| v.refine > 0);
    if !p.dirty && same && !refine {
        return;
    }
    let allowed = match why {
        Why::Tick { stride, .. } => {
            let min_frame_gap = Duration::from_secs(1) * stride / game.config.fps.max(1);
            // A little slack, so that a 30 fps cap is met by every other 60 Hz tick
            // despite jitter.
            now + Duration::from_millis(1) >= p.last_frame_at + min_frame_gap
        }
        Why::Input => p.input_frames.take(now),
    };
    // A video frame depends on the one before: it is not even drawn while the last one
    // still waits for the socket or the link is full (it stays due: `dirty` or moved).
    if allowed
        && let Some(v) = &mut p.video
        && (p.out.is_waiting(Slot::Frame) || !v.pacer.may_send(now))
    {
        game.stats.video_held.fetch_add(1, Ordering::Relaxed);
        p.dirty = true;
        return;
    }
    if !allowed {
        return;
    }
    p.urgent = false;
    // Every frame counts against the cap, an input's too: the tick's next frame waits
    // a frame interval after it (the input's frame never waits for the cap).
    p.last_frame_at = now;
    match (why, p.queued) {
        (Why::Tick { due, .. }, _) => {
            p.queued = Some(Queued::Tick);
            game.render_queue.push(id, due);
        }
        // Not found: a render thread has just taken it and will draw this input too.
        (Why::Input, Some(Queued::Tick)) => {
            if game.render_queue.promote(id) {
                p.queued = Some(Queued::Input);
            }
        }
        (Why::Input, _) => {
            p.queued = Some(Queued::Input);
            game.render_queue.push_input(id);
        }
    }
}

/// Which part of the render queue a player's frame waits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Queued {
    Tick,
    Input,
}

/// A render worker: draws queued frames on its own canvas until the queue closes.
pub(super) fn render_worker(game: Arc<Game>, mut canvas: Canvas) {
    while let Some(id) = game.render_queue.pop() {
        render_one(&game, id, &mut canvas);
    }
}

/// Draws and sends one queued frame of player `id`.
pub(super) fn render_one(game: &Game, id: u16, canvas: &mut Canvas) {
    if let Some(job) = take_job(game, id) {
        finish_job(game, job, canvas);
    }
}

/// One frame to draw: what it shows, and the player's video encoder, lent for the
/// drawing.
pub(super) struct Job {
    id: u16,
    video_encoder: Option<Box<crate::video::VideoEncoder>>,
    camera: Camera,
    last_input: u32,
    seq: u32,
    viewport: shared::Viewport,
    wire: FrameWire,
    out: crate::ws::outbox::Outbox,
    /// What the frame shows besides the terrain ([`scene`]), and the players the first
    /// of those are.
    aircraft: Vec<Aircraft>,
    ids: Vec<u16>,
    /// A video frame: the stream's rate now, and whether it must be a key frame.
    video: Option<(u32, bool)>,
}

/// Takes player `id`'s queued frame, with the lock held only for this.
pub(super) fn take_job(game: &Game, id: u16) -> Option<Job> {
    let mut players = game.players();
    let (by_id, world) = players.split();
    let p = by_id.get_mut(&id)?;
    p.queued = None;
    if p.rendering {
        return None;
    }
    p.rendering = true;
    let camera = p.view(&game.flight, &game.map);
    if let Some(v) = &mut p.video {
        v.refine = match p.last_frame == Some((camera, p.last_input)) {
            true => v.refine.saturating_sub(1),
            false => super::VIDEO_REFINE_FRAMES,
        };
    }
    p.dirty = false;
    p.last_frame = Some((camera, p.last_input));
    let mut ids = Vec::new();
    p.others = scene(game, id, p, &camera, &world, &mut ids);
    p.frame_seq = p.frame_seq.wrapping_add(1);
    Some(Job {
        id,
        video_encoder: p.video_encoder.take(),
        camera,
        last_input: p.last_input,
        seq: p.frame_seq,
        viewport: p.viewport,
        wire: if p.video.is_some() {
            FrameWire::VIDEO
        } else {
            p.wire
        },
        out: p.out.clone(),
        aircraft: p.others.clone(),
        ids,
        video: (p.video.as_mut()).map(|v| (v.pacer.bitrate(), std::mem::take(&mut v.key))),
    })
}

/// Draws and sends the frame, gives the buffers back, and queues the next frame at
/// once if an input came while this one was drawn.
pub(super) fn finish_job(game: &Game, mut job: Job, canvas: &mut Canvas) {
    let frame = render_frame(game, &mut job, canvas);
    let sent = frame.as_ref().map(|f| f.payload.len());
    if let Some(frame) = frame {
        game.stats.frames.fetch_add(1, Ordering::Relaxed);
        game.stats
            .frame_bytes
            .fetch_add(frame.payload.len() as u64, Ordering::Relaxed);
        let _ = job.out.send_frame(frame);
    }
    let mut players = game.players();
    let (by_id, world) = players.split();
    if let Some(p) = by_id.get_mut(&job.id) {
        p.rendering = false;
        if p.mode.server_renders() {
            p.video_encoder = job.video_encoder;
        }
        if let (Some(v), Some(_)) = (&mut p.video, job.video) {
            match sent {
                Some(bytes) => v.pacer.sent(job.seq, bytes, Instant::now()),
                // Not encoded: the stream goes on from a key frame.
                None => {
                    v.key = true;
                    p.dirty = true;
                }
            }
        }
        if std::mem::take(&mut p.urgent) {
            maybe_render(game, job.id, p, Instant::now(), Why::Input, &world);
        }
    }
}

/// Players waiting for a frame: those answering an input first, then the ticks', each
/// in arrival order. A player waits in at most one of them at a time (`Player::queued`),
/// so a wait is bounded by the number of players even when every one of them floods.
#[derive(Default)]
pub(super) struct RenderQueue {
    jobs: std::sync::Mutex<Queues>,
    ready: std::sync::Condvar,
}

#[derive(Default)]
struct Queues {
    inputs: std::collections::VecDeque<u16>,
    /// Players and when their frame is due, soonest first.
    ticks: std::collections::VecDeque<(u16, Instant)>,
    closed: bool,
}

impl RenderQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queues> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a frame the tick asks for, to be drawn from `due` on (after the frames
    /// due no later: a tick's frames may be due after the next tick's first ones).
    pub(super) fn push(&self, id: u16, due: Instant) {
        let mut q = self.lock();
        let at = q.ticks.partition_point(|&(_, d)| d <= due);
        q.ticks.insert(at, (id, due));
        drop(q);
        self.ready.notify_one();
    }

    /// Queues a frame that answers an input: ahead of every tick frame.
    pub(super) fn push_input(&self, id: u16) {
        self.lock().inputs.push_back(id);
        self.ready.notify_one();
    }

    /// Moves a frame the tick queued for `id` to the inputs' queue (an input came for
    /// it): false if it is no longer waiting.
    pub(super) fn promote(&self, id: u16) -> bool {
        let mut q = self.lock();
        let Some(at) = q.ticks.iter().position(|&(t, _)| t == id) else {
            return false;
        };
        q.ticks.remove(at);
        q.inputs.push_back(id);
        drop(q);
        // The threads may be waiting for a tick frame to be due.
        self.ready.notify_one();
        true
    }

    /// At `now`, an input's frame waits, or a tick frame a whole tick after it was due.
    pub(super) fn behind(&self, now: Instant) -> bool {
        let q = self.lock();
        let late = Duration::from_secs(1) / TICK_HZ;
        !q.inputs.is_empty() || q.ticks.front().is_some_and(|&(_, due)| due + late <= now)
    }

    /// The next player to draw, waiting for an input's frame or the first tick frame
    /// to be due; `None` once closed.
    pub(super) fn pop(&self) -> Option<u16> {
        let mut q = self.lock();
        loop {
            if q.closed {
                return None;
            }
            if let Some(id) = q.inputs.pop_front() {
                return Some(id);
            }
            let now = Instant::now();
            q = match q.ticks.front() {
                Some(&(id, due)) if due <= now => {
                    q.ticks.pop_front();
                    return Some(id);
                }
                Some(&(_, due)) => match self.ready.wait_timeout(q, due - now) {
                    Ok((q, _)) => q,
                    Err(e) => e.into_inner().0,
                },
                None => self.ready.wait(q).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }

    /// The next player to draw, without waiting (tests drive the pool by hand): tick
    /// frames come whether due or not.
    #[cfg(test)]
    pub(super) fn try_pop(&self) -> Option<u16> {
        let mut q = self.lock();
        (q.inputs.pop_front()).or_else(|| q.ticks.pop_front().map(|(id, _)| id))
    }

    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}

/// The frame message, or `None` when a video frame could not be encoded (logged).
fn render_frame(
    game: &Game,
    job: &mut Job,
    canvas: &mut Canvas,
) -> Option<crate::ws::frame::Outgoing> {
    let viewport = job.viewport;
    let Canvas { renderer, encoder } = canvas;
    // Column by column: the encoder wants columns, so no transpose into rows and back.
    renderer.render_scene_columns(
        &game.map,
        &job.camera,
        &RenderOptions::default(),
        viewport,
        &job.aircraft,
    );
    // Name labels for the players it shows: ghost and gates have none.
    let labels = (renderer.shown().iter())
        .filter_map(|shown| {
            Some(Label {
                id: *job.ids.get(shown.index)?,
                x: shown.x.clamp(-9999.0, 9999.0) as i16,
                y: shown.y.clamp(-9999.0, 9999.0) as i16,
            })
        })
        .take(shared::protocol::MAX_LABELS)
        .collect();
    let (columns, stride) = renderer.columns();
    let (width, height) = (viewport.width(), viewport.height());
    let mut video_payload = Vec::new();
    if let Some((bitrate, key)) = job.video {
        let video = match &mut job.video_encoder {
            Some(e) => e,
            None => {
                let settings = crate::video::Settings {
                    bitrate,
                    fps: game.config.fps as f32,
                    ..Default::default()
                };
                match crate::video::VideoEncoder::new(game.map.palette(), settings) {
                    Ok(e) => job.video_encoder.insert(Box::new(e)),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot start a video encoder");
                        return None;
                    }
                }
            }
        };
        if key {
            video.want_key();
        }
        video.set_bitrate(bitrate);
        match video.encode_columns(columns, stride, width, height) {
            Ok(encoded) => {
                video_payload.reserve(1 + encoded.data.len());
                video_payload.push(if encoded.key { VIDEO_KEY } else { 0 });
                video_payload.extend_from_slice(encoded.data);
            }
            Err(e) => {
                tracing::warn!(error = %e, "video frame not encoded");
                return None;
            }
        }
    }
    let payload = if job.video.is_some() {
        &video_payload[..]
    } else {
        encoder.encode_columns(columns, stride, viewport, job.wire.encoding, renderer.sky())
    };
    Some(job.wire.message(&Message::Frame(Frame {
        seq: job.seq,
        camera: job.camera,
        last_input: job.last_input,
        width: viewport.width() as u16,
        height: viewport.height() as u16,
        labels,
        encoding: job.wire.encoding,
        payload,
    })))
}

/// Who appears on each player's minimap: everyone on a quiet server (one shared message),
/// the player and its nearest neighbours (by an 8x8 grid over the map) on a crowded one,
/// so a list never grows with the population.
struct Roster {
    everyone: Option<crate::ws::frame::Outgoing>,
    infos: Vec<PlayerInfo>,
    cells: Vec<Vec<usize>>,
    cell_size: f32,
}

const GRID: usize = 8;

impl Roster {
    fn new(infos: Vec<PlayerInfo>, map_side: f32) -> Roster {
        if infos.len() <= MAX_LISTED {
            return Roster {
                everyone: Some(ws_binary(&Message::Players(infos))),
                infos: Vec::new(),
                cells: Vec::new(),
                cell_size: 1.0,
            };
        }
        let cell_size = map_side / GRID as f32;
        let mut cells = vec![Vec::new(); GRID * GRID];
        for (i, info) in infos.iter().enumerate() {
            cells[Self::cell(&info.camera, cell_size)].push(i);
        }
        Roster {
            everyone: None,
            infos,
            cells,
            cell_size,
        }
    }

    fn cell(c: &Camera, size: f32) -> usize {
        let x = (c.x / size) as usize % GRID;
        let y = (c.y / size) as usize % GRID;
        y * GRID + x
    }

    fn list_for(&self, me: PlayerInfo) -> crate::ws::frame::Outgoing {
        if let Some(everyone) = &self.everyone {
            return everyone.clone();
        }
        let home = Self::cell(&me.camera, self.cell_size);
        let (hx, hy) = ((home % GRID) as isize, (home / GRID) as isize);
        let id = me.id;
        let mut list = vec![me];
        'fill: for (dx, dy) in [
            (0, 0),
            (-1, 0),
            (1, 0),
            (0, -1),
            (0, 1),
            (-1, -1),
            (1, -1),
            (-1, 1),
            (1, 1),
        ] {
            let x = (hx + dx).rem_euclid(GRID as isize) as usize;
            let y = (hy + dy).rem_euclid(GRID as isize) as usize;
            for &i in &self.cells[y * GRID + x] {
                if list.len() == MAX_LISTED {
                    break 'fill;
                }
                if self.infos[i].id != id {
                    list.push(self.infos[i].clone());
                }
            }
        }
        ws_binary(&Message::Players(list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: u16, x: f32, y: f32) -> PlayerInfo {
        PlayerInfo {
            id,
            name: format!("p{id}"),
            camera: Camera {
                x,
                y,
                ..Camera::default()
            },
        }
    }

    fn ids(o: &crate::ws::frame::Outgoing) -> Vec<u16> {
        match Message::decode(&o.payload) {
            Ok(Message::Players(list)) => list.iter().map(|p| p.id).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn others_near_the_far_corners_of_the_view_are_kept() {
        // Big enough that nothing here wraps around: flat, so quick to make.
        let n = 4096 * 4096;
        let palette = shared::Palette([[0; 3]; 256]);
        let map = shared::Map::new(4096, 4096, &vec![0; n], &vec![0; n], palette).unwrap();
        let cam = Camera {
            x: 2000.0,
            y: 2000.0,
            distance: 800.0,
            ..Camera::default()
        };
        // Depth 780 (yaw 0 looks towards -y), 740 to the right: inside a 90-degree view,
        // 1,075 units away.
        let corner = Aircraft::of(
            1,
            &Camera {
                x: 2740.0,
                y: 1220.0,
                ..cam
            },
        );
        let beyond = Aircraft::of(
            2,
            &Camera {
                x: 2000.0,
                y: 800.0,
                ..cam
            },
        );
        let me = Aircraft::of(0, &cam);
        let all = [(0, me), (1, corner), (2, beyond)];
        let near: Vec<Aircraft> = others_near(&all, 0, &cam, &map).map(|&(_, a)| a).collect();
        assert_eq!(near, vec![corner]);
    }

    #[test]
    fn small_servers_list_everyone() {
        let roster = Roster::new((0..5).map(|i| info(i, i as f32, 0.0)).collect(), 1024.0);
        assert_eq!(ids(&roster.list_for(info(3, 3.0, 0.0))).len(), 5);
    }

    #[test]
    fn crowded_servers_list_self_and_neighbours() {
        // 200 players in the top-left corner cell, one far away at the centre.
        let mut infos: Vec<PlayerInfo> = (0..200).map(|i| info(i, (i % 100) as f32, 5.0)).collect();
        infos.push(info(999, 512.0, 512.0));
        let roster = Roster::new(infos, 1024.0);
        let near = ids(&roster.list_for(info(150, 50.0, 5.0)));
        assert_eq!(near.len(), MAX_LISTED);
        assert_eq!(near[0], 150, "the player comes first");
        assert!(!near.contains(&999));
        let far = ids(&roster.list_for(info(999, 512.0, 512.0)));
        assert_eq!(far, vec![999], "nobody near the centre");
    }
}
