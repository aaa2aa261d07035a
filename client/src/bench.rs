//! The renderer alone, exported for the browser benchmark (`cargo xtask bench wasm`).

use wasm_bindgen::prelude::*;

/// The renderer alone, for the browser benchmark (`cargo xtask bench wasm`): times
/// frames in wasm and hands the map to a plain-JavaScript version of the same algorithm.
#[wasm_bindgen]
pub struct RenderBench {
    map: shared::Map,
    renderer: shared::Renderer,
    frame: Vec<u8>,
}

#[wasm_bindgen]
impl RenderBench {
    #[wasm_bindgen(constructor)]
    pub fn new() -> RenderBench {
        RenderBench {
            map: shared::mapgen::generate(shared::mapgen::DEFAULT_SEED),
            renderer: shared::Renderer::new(),
            frame: Vec::new(),
        }
    }

    /// Milliseconds a frame, over `frames` frames of the default camera turning slowly.
    pub fn render_ms(&mut self, width: u32, height: u32, frames: u32) -> Result<f64, JsValue> {
        let viewport =
            shared::Viewport::new(width, height).map_err(|e| JsValue::from_str(&e.to_string()))?;
        self.frame.resize(viewport.pixels(), 0);
        let performance = web_sys::window()
            .and_then(|w| w.performance())
            .ok_or("no performance")?;
        let start = performance.now();
        for i in 0..frames {
            let camera = shared::Camera {
                yaw: i as f32 * 0.01,
                ..shared::Camera::default()
            };
            self.renderer.render(
                &self.map,
                &camera,
                &Default::default(),
                viewport,
                &mut self.frame,
            );
        }
        Ok((performance.now() - start) / frames.max(1) as f64)
    }

    /// The last frame's palette indices.
    pub fn frame(&self) -> Vec<u8> {
        self.frame.clone()
    }

    /// `height | colour << 8` per cell, as the renderer reads them.
    pub fn cells(&self) -> Vec<u16> {
        self.map.cells().to_vec()
    }

    pub fn fog(&self) -> Vec<u8> {
        self.map.fog().to_vec()
    }

    pub fn map_size(&self) -> u32 {
        self.map.width()
    }
}

impl Default for RenderBench {
    fn default() -> Self {
        RenderBench::new()
    }
}
