//! What racing costs the tick and the disk, on one core:
//! - a tick of 64 racing players (flight model and judge) against the same 64 players
//!   flying without judging, in the same run;
//! - finished runs saved a second to SQLite (each committed on its own, with a ghost of
//!   a one-minute lap), sustained.
//!
//! `cargo bench -p server --bench race`

use criterion::{Criterion, criterion_group, criterion_main};
use server::game::race::{Race, Step};
use server::store::{NewRun, Store, sqlite_url};
use shared::Camera;
use shared::course::Course;
use shared::flight::{Controls, FlightModel};
use shared::protocol::{GhostSample, keys};
use std::hint::black_box;

const PLAYERS: usize = 64;

fn tick(c: &mut Criterion) {
    let map = shared::mapgen::generate(shared::mapgen::DEFAULT_SEED);
    let course = Course::of(&map);
    let model = FlightModel::default();
    let size = (map.width() as f32, map.height() as f32);
    // Each player starts behind a gate and flies on, turning gently: runs start, gates
    // are passed and missed, some crash.
    let start: Vec<Camera> = (0..PLAYERS)
        .map(|i| {
            let g = course.gates[i % course.gates.len()];
            let (fx, fy) = g.forward();
            Camera {
                x: g.x - fx * 40.0,
                y: g.y - fy * 40.0,
                altitude: g.altitude,
                yaw: g.yaw,
                ..Camera::default()
            }
        })
        .collect();
    let controls = |i: usize, t: u32| Controls {
        keys: keys::FORWARD
            | if (t / 90 + i as u32) % 3 == 0 {
                keys::FAST
            } else {
                0
            },
        look_yaw: if (t / 60) % 2 == 0 { 0.004 } else { -0.004 },
        look_pitch: 0.0,
    };
    let mut group = c.benchmark_group("tick, 64 players");
    for judged in [false, true] {
        let name = if judged {
            "flying and racing"
        } else {
            "flying"
        };
        group.bench_function(name, |b| {
            let mut cams = start.clone();
            let mut races = vec![Race::default(); PLAYERS];
            let mut t = 0u32;
            b.iter(|| {
                t = t.wrapping_add(1);
                if t % 3600 == 0 {
                    cams.clone_from(&start); // a minute of flight, then again
                }
                for (i, (cam, race)) in cams.iter_mut().zip(&mut races).enumerate() {
                    let c = controls(i, t);
                    let next = model.step(cam, &c, 1.0 / 60.0, &map);
                    if judged {
                        let out = race.step(&Step {
                            course: &course,
                            map_size: size,
                            tick: t,
                            from: cam,
                            to: &next,
                            keys: c.keys,
                            max_climb: model.climb_rate * model.fast_factor / 60.0,
                            best: None,
                        });
                        black_box(out);
                    }
                    *cam = next;
                }
            })
        });
    }
    group.finish();
}

fn saves(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = std::env::temp_dir().join(format!("voxelcast-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = runtime
        .block_on(Store::open(&sqlite_url(&dir)))
        .expect("store");
    let time = 3600; // a one-minute lap: 901 ghost samples, 14 KB
    let mut run = NewRun {
        course: "bench".into(),
        name: String::new(),
        time,
        splits: (1..=12).map(|i| i * 300).collect(),
        finished_at: 0,
        samples: (0..=time / 4)
            .map(|i| GhostSample {
                x: i as f32,
                y: 1.0,
                altitude: 100.0,
                yaw: 0.0,
            })
            .collect(),
    };
    let mut n = 0u32;
    c.bench_function("save a finished run (SQLite, committed)", |b| {
        b.iter(|| {
            n += 1;
            run.name = format!("p{}", n % 500);
            run.time = time + n % 977;
            runtime.block_on(store.save_run(&run)).expect("saved")
        })
    });
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, tick, saves);
criterion_main!(benches);
