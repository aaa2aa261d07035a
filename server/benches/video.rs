//! The scripted 60-second flight at 800x450/60 fps (the one `shared`'s `flight` bench
//! measures the lossless encodings on), encoded as H.264 at several rates: bytes a frame,
//! PSNR against the lossless frame (RGB, as a viewer sees it after decoding), encode +
//! conversion time on one core, and decode time (OpenH264's decoder, for reference).
//! Prints a Markdown table; `VIDEO_FRAMES=N` shortens the flight, `VIDEO_PNG=DIR`
//! writes the middle frame of each rate as decoded.
//!
//! `cargo bench -p server --bench video`

#[path = "../../shared/benches/script.rs"]
mod script;

use openh264::decoder::Decoder;
use openh264::encoder::UsageType;
use server::video::yuv::{Planes, psnr_columns};
use server::video::{Settings, VideoEncoder};
use shared::flight::FlightModel;
use shared::mapgen::{DEFAULT_SEED, generate};
use shared::{Camera, RenderOptions, Renderer, Viewport};
use std::time::{Duration, Instant};

struct Row {
    name: String,
    bytes: usize,
    psnr: Vec<f64>,
    encode: Duration,
    decode: Duration,
    frames: usize,
}

fn main() {
    let frames: usize = std::env::var("VIDEO_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3600);
    let png_dir = std::env::var("VIDEO_PNG").ok();
    // `VIDEO_DUMP=DIR`: the encoder's input pictures (`frames.yuv`, I420) and each rate's
    // stream (`*.h264`), for comparing other codecs on the same pictures with ffmpeg.
    let dump = std::env::var("VIDEO_DUMP")
        .ok()
        .map(std::path::PathBuf::from);
    let map = generate(DEFAULT_SEED);
    let (w, h) = (800, 450);
    let viewport = Viewport::new(w as u32, h as u32).expect("viewport");
    let model = FlightModel::default();
    let base = Settings::default();
    let mut configs: Vec<(String, Settings)> = [
        1_200_000, 1_800_000, 2_400_000, 2_850_000, 3_600_000, 6_000_000,
    ]
    .iter()
    .map(|&bps| {
        let default = if bps == base.bitrate {
            " (default)"
        } else {
            ""
        };
        let name = format!("{} Mbit/s{default}", bps as f64 / 1e6);
        (
            name,
            Settings {
                bitrate: bps,
                ..base
            },
        )
    })
    .collect();
    configs.push((
        "2.85 Mbit/s, baseline (CAVLC)".into(),
        Settings {
            cabac: false,
            ..base
        },
    ));
    configs.push((
        "2.85 Mbit/s, screen content".into(),
        Settings {
            usage: UsageType::ScreenContentRealTime,
            ..base
        },
    ));
    if let Ok(only) = std::env::var("VIDEO_ONLY") {
        configs.retain(|(name, _)| name.contains(&only));
    }
    let mut rows = Vec::new();
    let mut conversion = Vec::new();
    for (name, settings) in configs {
        let mut renderer = Renderer::new();
        let mut encoder = VideoEncoder::new(map.palette(), settings).expect("encoder");
        let mut decoder = Decoder::new().expect("decoder");
        let mut camera = Camera::default();
        let mut row = Row {
            name,
            bytes: 0,
            psnr: Vec::with_capacity(frames),
            encode: Duration::ZERO,
            decode: Duration::ZERO,
            frames,
        };
        for i in 0..frames {
            camera = model.step(&camera, &script::script(i as f32 / 60.0), 1.0 / 60.0, &map);
            renderer.render_scene_columns(&map, &camera, &RenderOptions::default(), viewport, &[]);
            let (columns, stride) = renderer.columns();
            let t = Instant::now();
            let encoded = encoder
                .encode_columns(columns, stride, w, h)
                .expect("encodes");
            row.encode += t.elapsed();
            row.bytes += encoded.data.len();
            let data = encoded.data.to_vec();
            if let Some(dir) = &dump {
                use std::io::Write;
                let open = |name: &str| {
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(dir.join(name))
                        .expect("dump file")
                };
                if rows.is_empty() {
                    let p = encoder.picture();
                    let mut f = open("frames.yuv");
                    for plane in [&p.y, &p.u, &p.v] {
                        f.write_all(plane).expect("dump");
                    }
                }
                let file: String = (row.name.chars())
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                open(&format!("{file}.h264"))
                    .write_all(&data)
                    .expect("dump");
            }
            if rows.is_empty() {
                let picture = encoder.picture().planes();
                conversion.push(psnr_columns(
                    map.palette(),
                    columns,
                    stride,
                    (w, h),
                    &picture,
                ));
            }
            let t = Instant::now();
            let decoded = decoder
                .decode(&data)
                .expect("decodes")
                .expect("a picture a frame");
            row.decode += t.elapsed();
            let planes = Planes::of(&decoded);
            row.psnr.push(psnr_columns(
                map.palette(),
                columns,
                stride,
                (w, h),
                &planes,
            ));
            if i == frames / 2 {
                if let Some(dir) = &png_dir {
                    write_png(dir, &row.name, &planes, w, h);
                }
            }
        }
        eprintln!("{}: done", row.name);
        rows.push(row);
    }
    let raw = (w * h) as f64;
    println!("{frames} frames at {w}x{h}, one encoder thread");
    let conv = conversion.iter().sum::<f64>() / conversion.len().max(1) as f64;
    println!("palette to YUV 4:2:0 alone: {conv:.2} dB");
    println!();
    println!(
        "| H.264 | bytes a frame | ÷ raw indexed | PSNR dB mean | PSNR dB p5 | encode + conversion ms | decode ms (OpenH264) |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in rows {
        let mut sorted = r.psnr.clone();
        sorted.sort_by(f64::total_cmp);
        let mean = r.psnr.iter().sum::<f64>() / r.frames as f64;
        let avg = r.bytes as f64 / r.frames as f64;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0 / r.frames as f64;
        println!(
            "| {} | {avg:.0} | 1/{:.1} | {mean:.2} | {:.2} | {:.3} | {:.3} |",
            r.name,
            raw / avg,
            sorted[sorted.len() / 20],
            ms(r.encode),
            ms(r.decode)
        );
    }
}

fn write_png(dir: &str, name: &str, planes: &Planes, w: usize, h: usize) {
    let rgb: Vec<u8> = planes.to_rgb(w, h).into_iter().flatten().collect();
    let file: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let path = std::path::Path::new(dir).join(format!("video-{file}.png"));
    let out = std::fs::File::create(&path).expect("png file");
    let mut enc = png::Encoder::new(std::io::BufWriter::new(out), w as u32, h as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.write_header()
        .and_then(|mut wr| wr.write_image_data(&rgb))
        .expect("png");
}
