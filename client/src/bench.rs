//! The renderer alone, exported for the browser benchmark (`cargo xtask bench wasm`).

use shared::protocol::FrameEncoding;
use wasm_bindgen::prelude::*;

fn viewport(width: u32, height: u32) -> Result<shared::Viewport, JsValue> {
    shared::Viewport::new(width, height).map_err(|e| JsValue::from_str(&e.to_string()))
}

fn performance() -> Result<web_sys::Performance, JsValue> {
    web_sys::window()
        .and_then(|w| w.performance())
        .ok_or_else(|| JsValue::from_str("no performance"))
}

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
        let viewport = viewport(width, height)?;
        self.frame.resize(viewport.pixels(), 0);
        let performance = performance()?;
        let start = performance.now();
        for i in 0..frames {
            self.render(viewport, i);
        }
        Ok((performance.now() - start) / frames.max(1) as f64)
    }

    /// Milliseconds to decode a frame (what a client in server-side mode does instead of
    /// rendering), over the frames of [`Self::render_ms`]: "runs" when `planes` is false,
    /// else "run planes" (whose inflating the browser's WebSocket has already done).
    pub fn decode_ms(
        &mut self,
        width: u32,
        height: u32,
        frames: u32,
        planes: bool,
    ) -> Result<f64, JsValue> {
        let encoding = if planes {
            FrameEncoding::RunPlanes
        } else {
            FrameEncoding::Runs
        };
        let viewport = viewport(width, height)?;
        let sent = self.encoded(viewport, frames, encoding);
        let mut decoder = shared::codec::FrameDecoder::new();
        let performance = performance()?;
        let start = performance.now();
        for (payload, sky) in &sent {
            decoder
                .decode(payload, viewport, encoding, sky, &mut self.frame)
                .map_err(|e| JsValue::from_str(&e.to_string()))?;
        }
        Ok((performance.now() - start) / frames.max(1) as f64)
    }

    /// The "runs" payloads of those frames: raw deflate of the run planes, for timing a
    /// native inflate outside wasm.
    pub fn runs_payloads(
        &mut self,
        width: u32,
        height: u32,
        frames: u32,
    ) -> Result<js_sys::Array, JsValue> {
        let viewport = viewport(width, height)?;
        let sent = self.encoded(viewport, frames, FrameEncoding::Runs);
        Ok(sent
            .iter()
            .map(|(payload, _)| js_sys::Uint8Array::from(&payload[..]))
            .collect())
    }

    fn encoded(
        &mut self,
        viewport: shared::Viewport,
        frames: u32,
        encoding: FrameEncoding,
    ) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.frame.resize(viewport.pixels(), 0);
        let mut encoder = shared::codec::FrameEncoder::new();
        (0..frames)
            .map(|i| {
                self.render(viewport, i);
                let sky = self.renderer.sky().to_vec();
                let payload = encoder.encode(&self.frame, viewport, encoding, &sky);
                (payload.to_vec(), sky)
            })
            .collect()
    }

    fn render(&mut self, viewport: shared::Viewport, i: u32) {
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

/// Showing frames on a canvas, for the browser benchmark: WebGL2 (upload the indices,
/// draw) or the 2-D canvas (expand to RGBA, `putImageData`), two rendered frames in
/// turn so that every upload is new.
#[wasm_bindgen]
pub struct DisplayBench {
    display: crate::display::Display,
    pictures: [Vec<u8>; 2],
    palette: shared::Palette,
    size: (u32, u32),
    shown: u32,
}

#[wasm_bindgen]
impl DisplayBench {
    /// Fails when `webgl` is asked for and the browser has no WebGL2.
    #[wasm_bindgen(constructor)]
    pub fn new(width: u32, height: u32, webgl: bool) -> Result<DisplayBench, JsValue> {
        use wasm_bindgen::JsCast;
        let viewport = viewport(width, height)?;
        let document = web_sys::window()
            .and_then(|w| w.document())
            .ok_or("no document")?;
        let canvas: web_sys::HtmlCanvasElement = document.create_element("canvas")?.dyn_into()?;
        canvas.set_width(width);
        canvas.set_height(height);
        document.body().ok_or("no body")?.append_child(&canvas)?;
        let choice = if webgl {
            crate::display::Choice::WebGl2
        } else {
            crate::display::Choice::Canvas2d
        };
        let display = crate::display::Display::new(&canvas, choice)?;
        if display.kind() != if webgl { "webgl2" } else { "2d" } {
            return Err("this browser has no WebGL2".into());
        }
        let mut bench = RenderBench::new();
        let mut pictures = [Vec::new(), Vec::new()];
        for (i, p) in pictures.iter_mut().enumerate() {
            bench.frame.resize(viewport.pixels(), 0);
            bench.render(viewport, i as u32 * 40);
            p.clone_from(&bench.frame);
        }
        Ok(DisplayBench {
            display,
            pictures,
            palette: bench.map.palette().clone(),
            size: (width, height),
            shown: 0,
        })
    }

    /// Shows the next frame; milliseconds the call took. With `sync`, also waits until
    /// it is drawn (reads a pixel back): the drawing itself, done in software by
    /// headless Chromium here and on the GPU elsewhere.
    pub fn show_ms(&mut self, sync: bool) -> Result<f64, JsValue> {
        let performance = performance()?;
        let start = performance.now();
        let picture = &self.pictures[self.shown as usize % 2];
        self.display.show(picture, self.size, &self.palette, (0, 0));
        if sync {
            self.display.sync();
        }
        self.shown += 1;
        Ok(performance.now() - start)
    }
}
