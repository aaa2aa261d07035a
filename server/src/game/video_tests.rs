//! Video mode driven by hand: negotiation, key frames, pacing by acknowledgements, and
//! the picture a decoder gets back against the lossless frame.

use super::tests::{Clock, game, join_as, render_queued};
use super::*;
use crate::video::yuv::Planes;
use crate::ws::outbox::Drain;
use openh264::formats::YUVSource;
use shared::protocol::{Input, VIDEO_KEY, keys};

const BOTH: u8 = 1 << FrameEncoding::Raw as u8 | 1 << FrameEncoding::Video as u8;

/// Frames waiting in the outbox: (seq, camera, encoding, payload).
fn sent(drain: &mut Drain) -> Vec<(u32, Camera, FrameEncoding, Vec<u8>)> {
    let mut out = Vec::new();
    for o in super::tests::written(drain) {
        if let Ok(Message::Frame(f)) = Message::decode(&o.payload) {
            out.push((f.seq, f.camera, f.encoding, f.payload.to_vec()));
        }
    }
    out
}

fn step(
    game: &Arc<Game>,
    clock: &mut Clock,
    drain: &mut Drain,
) -> Vec<(u32, Camera, FrameEncoding, Vec<u8>)> {
    clock.tick(game);
    render_queued(game);
    sent(drain)
}

fn fly(game: &Arc<Game>, id: u16, seq: u32) {
    game.apply_input(
        id,
        &Input {
            seq,
            keys: keys::FORWARD,
            look_x: 0,
            look_y: 0,
            client_time: 0,
        },
    );
}

#[test]
fn a_client_that_does_not_list_video_gets_lossless_frames() {
    let game = game(60);
    let mut clock = Clock::new();
    let (id, mut drain, mode) = join_as(&game, RenderMode::Video, FrameEncoding::Raw.bit());
    assert_eq!(mode, RenderMode::Server);
    let frames = step(&game, &mut clock, &mut drain);
    assert!(!frames.is_empty());
    assert!(frames.iter().all(|f| f.2 == FrameEncoding::Raw));
    assert_eq!(game.set_mode(id, RenderMode::Video), RenderMode::Server);
}

#[test]
fn video_starts_with_a_key_frame_and_decodes_close_to_the_lossless_frame() {
    let game = game(60);
    let mut clock = Clock::new();
    let (id, mut drain, mode) = join_as(&game, RenderMode::Video, BOTH);
    assert_eq!(mode, RenderMode::Video);
    let [(seq, camera, FrameEncoding::Video, video)] = &step(&game, &mut clock, &mut drain)[..]
    else {
        panic!("one video frame")
    };
    assert_eq!(
        video[0] & VIDEO_KEY,
        VIDEO_KEY,
        "a stream starts with a key frame"
    );
    game.video_ack(id, *seq);
    // The same view, lossless.
    assert_eq!(game.set_mode(id, RenderMode::Server), RenderMode::Server);
    let [(_, same, FrameEncoding::Raw, lossless)] = &step(&game, &mut clock, &mut drain)[..] else {
        panic!("one lossless frame")
    };
    assert_eq!(same, camera);
    let mut decoder = openh264::decoder::Decoder::new().unwrap();
    let picture = decoder.decode(&video[1..]).unwrap().expect("a picture");
    assert_eq!(picture.dimensions(), (64, 48));
    let seen = Planes::of(&picture).to_rgb(64, 48);
    let psnr = crate::video::yuv::psnr(game.map.palette(), lossless, &seen);
    // A 64x48 view of a small, busy test map: 4:2:0 colour alone gives 29.6 dB here
    // (the benchmark's 800x450 flight gets 35), so the key frame loses little on top.
    assert!(psnr >= 27.5, "PSNR {psnr:.2} dB, {} bytes", video.len());
}

#[test]
fn key_frames_come_on_join_on_switching_back_and_on_request_only() {
    let game = game(60);
    let mut clock = Clock::new();
    let (id, mut drain, _) = join_as(&game, RenderMode::Video, BOTH);
    let mut keys_seen = Vec::new();
    for i in 0..12u32 {
        fly(&game, id, i + 1);
        match i {
            5 => game.video_key(id),
            8 => {
                game.set_mode(id, RenderMode::Server);
                step(&game, &mut clock, &mut drain);
                game.set_mode(id, RenderMode::Video);
            }
            _ => {}
        }
        for (seq, _, encoding, payload) in step(&game, &mut clock, &mut drain) {
            assert_eq!(encoding, FrameEncoding::Video);
            keys_seen.push((i, payload[0] & VIDEO_KEY != 0));
            game.video_ack(id, seq);
        }
    }
    let keys: Vec<u32> = keys_seen.iter().filter(|k| k.1).map(|k| k.0).collect();
    assert_eq!(keys, [0, 5, 8], "{keys_seen:?}");
    assert!(keys_seen.len() >= 10, "{keys_seen:?}");
}

#[test]
fn a_stalled_reader_gets_no_frames_drawn_until_it_reads_and_acknowledges() {
    let game = game(60);
    let mut clock = Clock::new();
    let (id, mut drain, _) = join_as(&game, RenderMode::Video, BOTH);
    fly(&game, id, 1);
    // Nobody reads the socket: the first frame waits, and no other is even drawn.
    let mut drawn = 0;
    for _ in 0..30 {
        clock.tick(&game);
        drawn += render_queued(&game);
    }
    assert!(drawn <= 2, "{drawn} frames drawn for a stalled reader");
    assert!(game.stats.video_held.load(Ordering::Relaxed) >= 25);
    // The writer takes what waits; without acknowledgements the pacer allows a few
    // frames in flight, then holds again.
    let mut got = sent(&mut drain);
    for _ in 0..30 {
        got.extend(step(&game, &mut clock, &mut drain));
    }
    let unacknowledged = got.len();
    assert!(
        (2..=13).contains(&unacknowledged),
        "{unacknowledged} frames in flight"
    );
    // Acknowledged: the stream flows again, one frame a tick.
    let last = got.last().unwrap().0;
    game.video_ack(id, last);
    let mut flowing = 0;
    for _ in 0..30 {
        for (seq, ..) in step(&game, &mut clock, &mut drain) {
            game.video_ack(id, seq);
            flowing += 1;
        }
    }
    assert!(
        flowing >= 28,
        "{flowing} frames in 30 ticks once acknowledged"
    );
    // Every frame after the first is a delta: nothing was dropped after encoding.
    assert!(got[1..].iter().all(|f| f.3[0] & VIDEO_KEY == 0));
}
