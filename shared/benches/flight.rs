//! A scripted 60-second flight over the default map at 800x450, 60 fps: bytes a frame
//! for each frame encoding, and render + encode time. Prints a Markdown table.
//!
//! `cargo bench -p shared --bench flight`

use shared::codec::{FrameDecoder, FrameEncoder};
use shared::flight::FlightModel;
use shared::mapgen::{DEFAULT_SEED, generate};
use shared::protocol::FrameEncoding;
use shared::{Camera, RenderOptions, Renderer, Viewport};
use std::time::{Duration, Instant};

#[path = "script.rs"]
mod script;
use script::script;

fn main() {
    let map = generate(DEFAULT_SEED);
    let viewport = Viewport::new(800, 450).unwrap();
    let model = FlightModel::default();
    let options = RenderOptions::default();
    let mut renderer = Renderer::new();
    let mut frame = vec![0u8; viewport.pixels()];
    let mut decoded = vec![0u8; viewport.pixels()];
    let mut decoder = FrameDecoder::new();
    // Run planes go out through permessage-deflate, compressed like runs: their row shows
    // the planes before it, and decoding without the inflate the browser does natively.
    let encodings = [
        FrameEncoding::Raw,
        FrameEncoding::Runs,
        FrameEncoding::RunPlanes,
    ];
    let mut encoders: Vec<FrameEncoder> = encodings.iter().map(|_| FrameEncoder::new()).collect();
    let mut bytes = vec![0usize; encodings.len()];
    let mut encode_time = vec![Duration::ZERO; encodings.len()];
    let mut decode_time = vec![Duration::ZERO; encodings.len()];
    let mut render_time = Duration::ZERO;
    let mut camera = Camera::default();
    let frames = 60 * 60;
    for i in 0..frames {
        camera = model.step(&camera, &script(i as f32 / 60.0), 1.0 / 60.0, &map);
        let t = Instant::now();
        renderer.render(&map, &camera, &options, viewport, &mut frame);
        render_time += t.elapsed();
        for (k, &encoding) in encodings.iter().enumerate() {
            let t = Instant::now();
            let payload = encoders[k]
                .encode(&frame, viewport, encoding, renderer.sky())
                .to_vec();
            encode_time[k] += t.elapsed();
            bytes[k] += payload.len();
            let t = Instant::now();
            decoder
                .decode(&payload, viewport, encoding, renderer.sky(), &mut decoded)
                .expect("decodes");
            decode_time[k] += t.elapsed();
            assert_eq!(decoded, frame, "{encoding:?} round trip, frame {i}");
        }
    }
    let raw = bytes[0] as f64 / frames as f64;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0 / frames as f64;
    println!(
        "{frames} frames at 800x450; render {:.3} ms a frame",
        ms(render_time)
    );
    println!();
    println!(
        "| encoding | bytes a frame | ÷ raw indexed | ÷ RGBA | encode ms | render + encode ms | decode ms (native) |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (k, e) in encodings.iter().enumerate() {
        let avg = bytes[k] as f64 / frames as f64;
        println!(
            "| {e:?} | {avg:.0} | 1/{:.1} | 1/{:.1} | {:.3} | {:.3} | {:.3} |",
            raw / avg,
            raw * 4.0 / avg,
            ms(encode_time[k]),
            ms(render_time + encode_time[k]),
            ms(decode_time[k])
        );
    }
}
