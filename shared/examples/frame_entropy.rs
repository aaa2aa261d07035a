//! How small could a frame of runs get with a better entropy coder? Over the flight of
//! the `flight` benchmark (one frame in ten, 800x450), the empirical entropy of each run
//! stream under a few contexts, each frame with its own statistics (what a static coder
//! sending its tables would reach, before the tables' cost). Prints a Markdown table.
//!
//! `cargo run --release -p shared --example frame_entropy`

#[path = "../benches/script.rs"]
mod flight;

use shared::flight::FlightModel;
use shared::mapgen::{DEFAULT_SEED, generate};
use shared::{Camera, RenderOptions, Renderer, Viewport};
use std::collections::HashMap;

/// Symbol counts per context for one frame.
#[derive(Default)]
struct Model(HashMap<(u32, i32), u32>);

impl Model {
    fn add(&mut self, context: u32, symbol: i32) {
        *self.0.entry((context, symbol)).or_default() += 1;
    }

    /// Bytes at the empirical entropy, and the number of (context, symbol) pairs seen.
    fn bytes(&self) -> (f64, usize) {
        let mut totals: HashMap<u32, u32> = HashMap::new();
        for (&(c, _), &n) in &self.0 {
            *totals.entry(c).or_default() += n;
        }
        let bits: f64 = self
            .0
            .iter()
            .map(|(&(c, _), &n)| -(n as f64) * (n as f64 / totals[&c] as f64).log2())
            .sum();
        (bits / 8.0, self.0.len())
    }
}

const MODELS: [&str; 6] = [
    "run length, alone (what protocol 1's Huffman codes saw; 2 codes pairs)",
    "run length given the distance to the left column's next run end",
    "... and whether the previous run ended with the left column's",
    "colour XOR left pixel, alone (what deflate's Huffman codes see)",
    "colour given the left pixel's colour",
    "sky rows",
];

fn main() {
    let map = generate(DEFAULT_SEED);
    let (w, h) = (800, 450);
    let viewport = Viewport::new(w as u32, h as u32).expect("viewport");
    let model = FlightModel::default();
    let mut renderer = Renderer::new();
    let mut camera = Camera::default();
    let mut totals = [(0.0, 0usize); MODELS.len()];
    let (mut frames, mut runs) = (0, 0);
    for i in 0..60 * 60 {
        camera = model.step(&camera, &flight::script(i as f32 / 60.0), 1.0 / 60.0, &map);
        if i % 10 != 0 {
            continue;
        }
        frames += 1;
        renderer.render_columns(&map, &camera, &RenderOptions::default(), viewport);
        let (columns, stride) = renderer.columns();
        let sky = renderer.sky();
        let mut m: [Model; MODELS.len()] = Default::default();
        let (mut left, mut left_ends): (&[u8], Vec<usize>) = (&[], Vec::new());
        for x in 0..w {
            let column = &columns[x * stride..][..h];
            let mut y = column.iter().zip(sky).take_while(|(c, s)| c == s).count();
            m[5].add(0, y as i32);
            let (mut ends, mut matched) = (Vec::new(), 1);
            while y < h {
                let colour = column[y];
                let end = y + column[y..].iter().take_while(|&&c| c == colour).count();
                let len = (end - y) as i32;
                let next = left_ends.iter().find(|&&e| e > y).map_or(h - y, |&e| e - y);
                let bucket = match next {
                    0..=1 => 0,
                    2..=3 => 1,
                    4..=8 => 2,
                    9..=32 => 3,
                    _ => 4,
                };
                let off = len - next as i32;
                m[0].add(0, len);
                m[1].add(bucket, off);
                m[2].add(bucket * 2 + matched, off);
                matched = (off == 0) as u32;
                let l = left.get(y).copied().unwrap_or(0);
                m[3].add(0, (colour ^ l) as i32);
                m[4].add(l as u32, colour as i32);
                ends.push(end);
                runs += 1;
                y = end;
            }
            (left, left_ends) = (column, ends);
        }
        for (t, m) in totals.iter_mut().zip(&m) {
            let (b, pairs) = m.bytes();
            (t.0, t.1) = (t.0 + b, t.1 + pairs);
        }
    }
    let f = frames as f64;
    println!(
        "{frames} frames at {w}x{h}, {:.0} runs a frame",
        runs as f64 / f
    );
    println!();
    println!("| stream and context | bytes a frame | (context, symbol) pairs a frame |");
    println!("| --- | ---: | ---: |");
    for (name, (b, pairs)) in MODELS.iter().zip(totals) {
        println!("| {name} | {:.0} | {:.0} |", b / f, pairs as f64 / f);
    }
}
