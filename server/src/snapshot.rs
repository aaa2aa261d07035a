//! `server snapshot`: one frame to a PNG, for docs, golden images and map previews.

use crate::cli::SnapshotArgs;
use anyhow::Context;
use shared::{Camera, RenderOptions, Renderer, Viewport};

pub fn run(args: &SnapshotArgs, map_args: &crate::cli::MapArgs) -> anyhow::Result<()> {
    let map = crate::maps::load(map_args)?;
    let viewport = Viewport::new(args.width, args.height)?;
    let course = shared::course::Course::of(&map);
    let mut camera = Camera {
        x: args.x,
        y: args.y,
        altitude: args.altitude,
        yaw: args.yaw.to_radians(),
        horizon: args.horizon,
        distance: args.distance,
        fov: args.fov.to_radians(),
    };
    let options = RenderOptions {
        fog: !args.no_fog,
        ..RenderOptions::default()
    };
    // Each aircraft its own tint, in the order given.
    let aircraft: Vec<_> = (args.aircraft.iter().enumerate())
        .map(|(i, a)| shared::sprite::Aircraft {
            tint: (i % shared::sprite::TINTS) as u8,
            ..*a
        })
        .collect();
    if let Some(i) = args.at_gate {
        let g = course
            .gates
            .get(i)
            .with_context(|| format!("the course has {} gates", course.gates.len()))?;
        let (fx, fy) = g.forward();
        camera.x = g.x - fx * 150.0;
        camera.y = g.y - fy * 150.0;
        camera.altitude = g.altitude + 20.0;
        camera.yaw = g.yaw;
    }
    let mut aircraft = aircraft;
    if args.course || args.at_gate.is_some() {
        let size = (map.width() as f32, map.height() as f32);
        let next = args.at_gate.unwrap_or(0);
        course
            .scenery()
            .beads_near(next, &camera, size, &mut aircraft);
    }
    let mut frame = vec![0; viewport.pixels()];
    Renderer::new().render_scene(&map, &camera, &options, viewport, &aircraft, &mut frame);
    let png = encode_png(map.palette(), viewport, &frame)?;
    std::fs::write(&args.out, png)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!("wrote {}", args.out.display());
    Ok(())
}

/// A frame as an RGB PNG.
pub fn encode_png(
    palette: &shared::Palette,
    viewport: Viewport,
    frame: &[u8],
) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, viewport.width() as u32, viewport.height() as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let rgb: Vec<u8> = frame.iter().flat_map(|&i| palette.0[i as usize]).collect();
    enc.write_header()?.write_image_data(&rgb)?;
    Ok(out)
}
