//! Picks the map from the flags: loads a PNG pair from disk, or generates the default.

use crate::cli::MapArgs;
use anyhow::Context;
use shared::Map;

/// The map of room `index` (0 for the first) and what the lobby calls it: a generated
/// map's seed moves on by one a room; a loaded map is in every room.
pub fn for_room(args: &MapArgs, index: u32) -> anyhow::Result<(Map, String)> {
    match &args.color_map {
        Some(colour) => {
            let name = (colour.file_stem())
                .map_or("loaded map".into(), |s| s.to_string_lossy().into_owned());
            Ok((load(args)?, name))
        }
        None => {
            let seed = args.seed.wrapping_add(index as u64);
            let args = MapArgs {
                seed,
                color_map: None,
                height_map: None,
            };
            Ok((load(&args)?, format!("seed {seed}")))
        }
    }
}

pub fn load(args: &MapArgs) -> anyhow::Result<Map> {
    match (&args.color_map, &args.height_map) {
        (Some(colour), Some(height)) => {
            let read = |p: &std::path::Path| {
                std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))
            };
            let map = shared::loader::load_png_pair(&read(colour)?, &read(height)?).with_context(
                || format!("cannot load {} + {}", colour.display(), height.display()),
            )?;
            tracing::info!(width = map.width(), height = map.height(), colour = %colour.display(), "loaded map");
            Ok(map)
        }
        _ => {
            let start = std::time::Instant::now();
            let map = shared::mapgen::generate(args.seed);
            tracing::info!(
                seed = args.seed,
                ms = start.elapsed().as_millis() as u64,
                "generated map"
            );
            Ok(map)
        }
    }
}
