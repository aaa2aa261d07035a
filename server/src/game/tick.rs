//! The fixed-rate simulation tick and the dispatch of frames to the render pool.

use super::{Game, Player, Scratch, TICK_HZ, ws_binary};
use crate::ws::outbox::Slot;
use shared::flight::Controls;
use shared::protocol::{Frame, FrameEncoding, Message, PlayerInfo, RenderMode, State};
use shared::{Camera, RenderOptions};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Players lists go out at this rate (every 6th tick).
const PLAYERS_EVERY: u32 = TICK_HZ / 10;

pub async fn run(game: Arc<Game>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(Duration::from_secs(1) / TICK_HZ);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = interval.tick() => {
                let started = Instant::now();
                tick(&game);
                let us = started.elapsed().as_micros() as u64;
                game.stats.ticks.fetch_add(1, Ordering::Relaxed);
                game.stats.tick_us_total.fetch_add(us, Ordering::Relaxed);
                game.stats.tick_us_max.fetch_max(us, Ordering::Relaxed);
            }
            _ = shutdown.changed() => return,
        }
    }
}

fn tick(game: &Arc<Game>) {
    let dt = 1.0 / TICK_HZ as f32;
    let now = Instant::now();
    let mut players = game.players();
    players.tick = players.tick.wrapping_add(1);
    let tick = players.tick;
    let list = (tick % PLAYERS_EVERY == 0).then(|| {
        ws_binary(&Message::Players(
            players
                .by_id
                .iter()
                .map(|(&id, p)| PlayerInfo {
                    id,
                    name: p.name.clone(),
                    camera: p.camera,
                })
                .collect(),
        ))
    });
    for (&id, p) in players.by_id.iter_mut() {
        let controls = Controls {
            keys: p.keys,
            ..Controls::default()
        };
        p.camera = game.flight.step(&p.camera, &controls, dt, &game.map);
        if p.paused || !p.welcomed {
            continue;
        }
        if let Some(list) = &list {
            let _ = p.out.replace(Slot::Players, list.clone());
        }
        match p.mode {
            RenderMode::Client => {
                let state = State {
                    tick,
                    last_input: p.last_input,
                    camera: p.camera,
                };
                let _ = p
                    .out
                    .replace(Slot::State, ws_binary(&Message::State(state)));
            }
            RenderMode::Server => maybe_render(game, id, p, now),
        }
    }
}

/// Starts a frame for a server-rendered player if the picture changed since the last one
/// and the frame-rate cap allows.
pub(super) fn maybe_render(game: &Arc<Game>, id: u16, p: &mut Player, now: Instant) {
    let min_frame_gap = Duration::from_secs(1) / game.config.fps.max(1);
    let ready = p.mode == RenderMode::Server && p.welcomed && !p.paused;
    let changed = p.dirty || p.last_frame != Some((p.camera, p.last_input));
    if ready && changed && now.duration_since(p.last_frame_at) >= min_frame_gap {
        start_render(game, id, p, now);
    }
}

/// Lends the player's scratch space to a blocking render task, if a render slot is free
/// (otherwise the next tick tries again: load sheds as a lower frame rate).
fn start_render(game: &Arc<Game>, id: u16, p: &mut Player, now: Instant) {
    if p.scratch.is_none() {
        return; // this player's previous frame is still being drawn
    }
    let Ok(permit) = game.renders.clone().try_acquire_owned() else {
        return;
    };
    let Some(mut scratch) = p.scratch.take() else {
        return;
    };
    p.dirty = false;
    p.last_frame = Some((p.camera, p.last_input));
    p.last_frame_at = now;
    p.frame_seq = p.frame_seq.wrapping_add(1);
    let (camera, last_input, seq, viewport, encoding) =
        (p.camera, p.last_input, p.frame_seq, p.viewport, p.encoding);
    let out = p.out.clone();
    let game = game.clone();
    tokio::task::spawn_blocking(move || {
        let bytes = render_frame(
            &game,
            &mut scratch,
            &camera,
            seq,
            last_input,
            viewport,
            encoding,
        );
        drop(permit);
        let _ = out.replace(Slot::Frame, bytes);
        game.with_player(id, |p| p.scratch = Some(scratch));
    });
}

fn render_frame(
    game: &Game,
    s: &mut Scratch,
    camera: &Camera,
    seq: u32,
    last_input: u32,
    viewport: shared::Viewport,
    encoding: FrameEncoding,
) -> crate::ws::frame::Outgoing {
    s.indices.resize(viewport.pixels(), 0);
    shared::render::sky_rows(camera, viewport, &mut s.sky);
    s.renderer.render(
        &game.map,
        camera,
        &RenderOptions::default(),
        viewport,
        &mut s.indices,
    );
    ws_binary(&Message::Frame(Frame {
        seq,
        camera: *camera,
        last_input,
        width: viewport.width() as u16,
        height: viewport.height() as u16,
        encoding,
        payload: s.encoder.encode(&s.indices, viewport, encoding, &s.sky),
    }))
}
