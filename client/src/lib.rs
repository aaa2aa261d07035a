//! The voxelcast browser client.

use wasm_bindgen::prelude::*;

/// Renders the default map from a camera and returns the palette indices.
#[wasm_bindgen]
pub fn render_indices(width: u32, height: u32) -> Vec<u8> {
    let map = shared::mapgen::generate(shared::mapgen::DEFAULT_SEED);
    let viewport = shared::Viewport::new(width, height).unwrap_throw();
    let mut out = vec![0; viewport.pixels()];
    shared::Renderer::new().render(
        &map,
        &shared::Camera::default(),
        &Default::default(),
        viewport,
        &mut out,
    );
    out
}
