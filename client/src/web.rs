//! Small owners of web resources: they detach and close what they hold when dropped.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{
    CanvasRenderingContext2d, Document, Event, EventTarget, HtmlCanvasElement, WebSocket,
};

/// A WebSocket and its handlers; dropping it detaches the handlers and closes it.
pub struct Socket {
    pub ws: WebSocket,
    /// Kept alive for as long as the socket may call them.
    _handlers: Vec<Closure<dyn FnMut(Event)>>,
}

impl Socket {
    pub fn new(ws: WebSocket, handlers: Vec<Closure<dyn FnMut(Event)>>) -> Socket {
        Socket {
            ws,
            _handlers: handlers,
        }
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        let _ = self.ws.close();
    }
}

/// An event listener that removes itself when dropped.
pub struct Listener {
    pub target: EventTarget,
    pub kind: &'static str,
    pub callback: Closure<dyn FnMut(Event)>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self
            .target
            .remove_event_listener_with_callback(self.kind, self.callback.as_ref().unchecked_ref());
    }
}

pub fn element<T: JsCast>(document: &Document, id: &str) -> Result<T, JsValue> {
    document
        .get_element_by_id(id)
        .ok_or_else(|| JsValue::from_str(&format!("#{id} is missing from the page")))?
        .dyn_into::<T>()
        .map_err(|_| JsValue::from_str(&format!("#{id} has the wrong element type")))
}

pub fn context(canvas: &HtmlCanvasElement) -> Result<CanvasRenderingContext2d, JsValue> {
    canvas
        .get_context("2d")?
        .ok_or("no 2d context")?
        .dyn_into::<CanvasRenderingContext2d>()
        .map_err(|_| "not a 2d context".into())
}

/// `GET url`; an HTTP error status is an error.
async fn fetch_ok(window: &web_sys::Window, url: &str) -> Result<web_sys::Response, JsValue> {
    let response: web_sys::Response =
        wasm_bindgen_futures::JsFuture::from(window.fetch_with_str(url))
            .await?
            .dyn_into()?;
    if !response.ok() {
        return Err(format!("HTTP {}", response.status()).into());
    }
    Ok(response)
}

/// The body of `GET url`, when the answer is a 200.
pub async fn fetch_bytes(window: &web_sys::Window, url: &str) -> Result<Vec<u8>, JsValue> {
    let response = fetch_ok(window, url).await?;
    let buffer = wasm_bindgen_futures::JsFuture::from(response.array_buffer()?).await?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// `GET url` as JSON; an HTTP error status is an error.
pub async fn fetch_json(window: &web_sys::Window, url: &str) -> Result<JsValue, JsValue> {
    let response = fetch_ok(window, url).await?;
    wasm_bindgen_futures::JsFuture::from(response.json()?).await
}

/// A property of a JSON value (undefined when missing).
pub fn get(v: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(v, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// `POST url` with a JSON body; the status and the JSON answer (null if none).
pub async fn post_json(
    window: &web_sys::Window,
    url: &str,
    body: &JsValue,
) -> Result<(u16, JsValue), JsValue> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&js_sys::JSON::stringify(body)?.into());
    let headers = web_sys::Headers::new()?;
    headers.set("Content-Type", "application/json")?;
    init.set_headers(&headers);
    let response: web_sys::Response =
        wasm_bindgen_futures::JsFuture::from(window.fetch_with_str_and_init(url, &init))
            .await?
            .dyn_into()?;
    let json = match response.json() {
        Ok(p) => wasm_bindgen_futures::JsFuture::from(p)
            .await
            .unwrap_or(JsValue::NULL),
        Err(_) => JsValue::NULL,
    };
    Ok((response.status(), json))
}
