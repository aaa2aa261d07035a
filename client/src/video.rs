//! Video mode's decoder: WebCodecs through `www/video.js` (WebCodecs is outside
//! web-sys' stable API), drawing on the `#video` canvas over the view. Each picture on
//! screen is acknowledged to the server, which paces the stream by those; a decoder
//! error asks it for a key frame.

use wasm_bindgen::prelude::*;
use web_sys::HtmlCanvasElement;

#[wasm_bindgen(raw_module = "../video.js")]
extern "C" {
    #[wasm_bindgen(js_name = videoSupported)]
    fn video_supported() -> bool;

    type VideoView;

    #[wasm_bindgen(constructor)]
    fn new(
        canvas: &HtmlCanvasElement,
        shown: &Closure<dyn FnMut(f64)>,
        failed: &Closure<dyn FnMut(String)>,
    ) -> VideoView;

    #[wasm_bindgen(method)]
    fn push(this: &VideoView, data: &[u8], key: bool, seq: u32, width: u32, height: u32);

    #[wasm_bindgen(method)]
    fn close(this: &VideoView);

    #[wasm_bindgen(method, getter, js_name = decodeMs)]
    fn decode_ms(this: &VideoView) -> f64;
}

/// The browser decodes H.264 with WebCodecs.
pub fn supported() -> bool {
    video_supported()
}

/// The decoder and its canvas; callbacks live as long as it does.
pub struct Video {
    view: VideoView,
    canvas: HtmlCanvasElement,
    _shown: Closure<dyn FnMut(f64)>,
    _failed: Closure<dyn FnMut(String)>,
}

impl Video {
    /// `shown(seq)` once a picture is on the canvas; `failed(why)` when the decoder broke.
    pub fn new(
        canvas: HtmlCanvasElement,
        shown: impl FnMut(f64) + 'static,
        failed: impl FnMut(String) + 'static,
    ) -> Video {
        let shown = Closure::new(shown);
        let failed = Closure::new(failed);
        Video {
            view: VideoView::new(&canvas, &shown, &failed),
            canvas,
            _shown: shown,
            _failed: failed,
        }
    }

    /// One access unit of the stream (a frame's payload after its flags byte).
    pub fn push(&self, data: &[u8], key: bool, seq: u32, size: (u32, u32)) {
        self.canvas.set_hidden(false);
        self.view.push(data, key, seq, size.0, size.1);
    }

    /// Out of video mode: the canvas hides, the decoder closes (the next stream starts
    /// with a key frame anyway).
    pub fn stop(&self) {
        self.canvas.set_hidden(true);
        self.view.close();
    }

    /// Time from a frame's arrival to its picture on the canvas, ms (moving average).
    pub fn decode_ms(&self) -> f64 {
        self.view.decode_ms()
    }
}
