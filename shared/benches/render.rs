//! Frame time of the renderer on one core, at the original assembly server's settings
//! (320x200, distance 400) and at the JavaScript demo's (distance 800).
//!
//! "turning": each frame a little further through a slow turn (0.002 rad a frame, 32
//! frames, then again), as in flight: no two frames in a row are alike. "still": the
//! same frame every time, which lets the CPU's branch predictor learn the frame's
//! branches — flattering, and not what a game renders; kept to compare with earlier
//! figures.

use criterion::{Criterion, criterion_group, criterion_main};
use shared::mapgen::{DEFAULT_SEED, generate};
use shared::sprite::Aircraft;
use shared::{Camera, RenderOptions, Renderer, Viewport};
use std::hint::black_box;

fn render(c: &mut Criterion) {
    let map = generate(DEFAULT_SEED);
    let mut renderer = Renderer::new();
    let options = RenderOptions::default();
    for (w, h, distance) in [(320, 200, 400.0), (640, 360, 800.0), (1280, 720, 800.0)] {
        let viewport = Viewport::new(w, h).unwrap();
        let camera = Camera {
            distance,
            ..Camera::default()
        };
        let turning: Vec<Camera> = (0..32)
            .map(|i| Camera {
                yaw: camera.yaw + i as f32 * 0.002,
                ..camera
            })
            .collect();
        let mut frame = vec![0; viewport.pixels()];
        c.bench_function(
            &format!("render {w}x{h} distance {distance} turning"),
            |b| {
                let mut cameras = turning.iter().cycle();
                b.iter(|| {
                    let camera = cameras.next().unwrap_or(&camera);
                    renderer.render(&map, black_box(camera), &options, viewport, &mut frame)
                })
            },
        );
        c.bench_function(&format!("render {w}x{h} distance {distance} still"), |b| {
            b.iter(|| renderer.render(&map, black_box(&camera), &options, viewport, &mut frame))
        });
    }
    // 32 other aircraft in view at 800x450, against the terrain alone in the same run:
    // spread over the view from 30 to 600 units ahead, some behind hills.
    let viewport = Viewport::new(800, 450).unwrap();
    let camera = Camera::default();
    let aircraft: Vec<Aircraft> = (0..32)
        .map(|i| {
            let (d, bearing) = (30.0 + i as f32 * 18.0, (i as f32 * 0.37).sin() * 0.7);
            Aircraft {
                x: camera.x + d * (camera.yaw + bearing).sin(),
                y: camera.y - d * (camera.yaw + bearing).cos(),
                altitude: camera.altitude + (i as f32 * 1.3).sin() * 40.0,
                yaw: i as f32 * 0.8,
                tint: (i % 8) as u8,
                look: Default::default(),
            }
        })
        .collect();
    let turning: Vec<Camera> = (0..32)
        .map(|i| Camera {
            yaw: i as f32 * 0.002,
            ..camera
        })
        .collect();
    // The course's gates within reach (rings of beads, the next one marked), alone and
    // with the 32 aircraft: what a racer's frame holds.
    let mut gates = Vec::new();
    let size = (map.width() as f32, map.height() as f32);
    shared::course::Course::of(&map)
        .scenery()
        .beads_near(0, &camera, size, &mut gates);
    let mut everything = aircraft.clone();
    everything.extend_from_slice(&gates);
    let mut frame = vec![0; viewport.pixels()];
    for (name, planes) in [
        ("terrain alone", &[][..]),
        ("32 aircraft", &aircraft[..]),
        ("one bead", &gates[..1]),
        ("gates", &gates[..]),
        ("32 aircraft and gates", &everything[..]),
    ] {
        c.bench_function(&format!("render 800x450 turning, {name}"), |b| {
            let mut cameras = turning.iter().cycle();
            b.iter(|| {
                let camera = cameras.next().unwrap_or(&camera);
                renderer.render_scene(
                    &map,
                    black_box(camera),
                    &options,
                    viewport,
                    planes,
                    &mut frame,
                )
            })
        });
    }
    // The same ratios measured alternately, 16 frames of each in turn, so the VM's drift
    // (±5 % within a minute here) falls on both alike: the median and quartiles of 300
    // block ratios.
    for (name, planes) in [
        ("32 aircraft", &aircraft[..]),
        ("gates", &gates[..]),
        ("32 aircraft and gates", &everything[..]),
    ] {
        let mut time = |planes: &[Aircraft]| {
            let started = std::time::Instant::now();
            for camera in turning.iter().take(16) {
                renderer.render_scene(
                    &map,
                    black_box(camera),
                    &options,
                    viewport,
                    planes,
                    &mut frame,
                );
            }
            started.elapsed().as_secs_f64()
        };
        let mut ratios: Vec<f64> = (0..300).map(|_| time(planes) / time(&[])).collect();
        ratios.sort_by(f64::total_cmp);
        println!(
            "render 800x450 turning, {name} against the terrain alone, alternating: {:.3}x ({:.3}-{:.3})",
            ratios[150], ratios[75], ratios[225]
        );
    }
    c.bench_function("generate default map 1024x1024", |b| {
        b.iter(|| generate(black_box(DEFAULT_SEED)))
    });
}

criterion_group!(benches, render);
criterion_main!(benches);
