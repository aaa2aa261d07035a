//! Picks the map from the flags: loads a PNG pair from disk, or generates the default.

use crate::cli::MapArgs;
use anyhow::Context;
use shared::Map;

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
