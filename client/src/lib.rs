//! The voxelcast browser client: connects to `/ws`, sends input, and shows either the
//! frames the server renders or frames it renders itself from the same cameras.
//!
//! **Invariant:** only this crate touches web APIs, and only in this file, `web.rs`,
//! `account.rs`, `board.rs`, `lobby.rs`, `chat_panel.rs`, `video.rs` and `bench.rs`; the game logic
//! it drives ([`session`], [`input`], [`race`], [`chat`]) is plain Rust, tested natively.

mod account;
pub mod auto;
pub mod bench;
mod board;
pub mod chat;
mod chat_panel;
pub mod display;
pub mod input;
mod lobby;
pub mod predict;
pub mod race;
pub mod session;
mod video;
mod web;

use display::{Choice, Display};
use input::{InputState, key_bit};
use session::{Effect, Session};
use shared::protocol::{FrameEncoding, Hello, Input, Message, RenderMode, VERSION};
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web::{Listener, Socket, context, element};
use web_sys::{
    BinaryType, CanvasRenderingContext2d, CloseEvent, Document, Event, EventTarget,
    HtmlCanvasElement, HtmlElement, HtmlImageElement, KeyboardEvent, MessageEvent, PointerEvent,
    WebSocket, Window,
};

const MAX_FRAME: (f64, f64) = (800.0, 450.0);
const MINIMAP: f64 = 160.0;

thread_local! {
    /// The running app: owned here for the page's lifetime, so nothing is `forget()`-leaked.
    static APP: RefCell<Option<Rc<RefCell<App>>>> = const { RefCell::new(None) };
}

/// Starts the game on the page's `#view` canvas.
#[wasm_bindgen]
pub fn start() -> Result<(), JsValue> {
    let app = Rc::new(RefCell::new(App::new()?));
    app.borrow_mut().me = Rc::downgrade(&app);
    install(&app)?;
    connect(&app);
    start_loops(&app);
    APP.with(|a| *a.borrow_mut() = Some(app));
    Ok(())
}

/// The picture on screen expanded to RGBA through the palette on the CPU: what the
/// display must show (WebGL2 or 2-D), for tests that read the canvas back.
#[wasm_bindgen]
pub fn picture_rgba() -> Vec<u8> {
    APP.with(|a| {
        let app = a.borrow();
        let Some(app) = app.as_ref() else {
            return Vec::new();
        };
        let app = app.borrow();
        let Some(palette) = app.session.palette() else {
            return Vec::new();
        };
        let mut rgba = vec![0; app.session.indices().len() * 4];
        palette.expand_rgba(app.session.indices(), &mut rgba);
        rgba
    })
}

type Shared = Rc<RefCell<App>>;

struct App {
    me: Weak<RefCell<App>>,
    window: Window,
    document: Document,
    canvas: HtmlCanvasElement,
    display: Display,
    /// The late-warp shift the picture on screen was drawn with.
    shown_warp: (i32, i32),
    minimap: CanvasRenderingContext2d,
    /// The map from above (`/api/overview.png`), under the minimap.
    overview: HtmlImageElement,
    session: Session,
    input: InputState,
    wanted_mode: RenderMode,
    /// Auto mode (the default): chooses `wanted_mode` from what it measures.
    auto: Option<auto::Auto>,
    /// The room to join (`?room=` of the page, then the room the Welcome named, so a
    /// reconnection goes back to it); `None`: the server picks.
    room_wanted: Option<String>,
    /// The seat `/api/join` reserved, for the next socket.
    seat: Option<String>,
    /// Sockets in a row that closed before a Welcome: after two, the room is taken for
    /// gone (its process died) and the next try asks the lobby for another.
    failed_joins: u32,
    /// The server refused the room (full): no reconnecting until the player picks.
    refused: bool,
    /// When the rooms were last fetched for the HUD's count.
    last_rooms: f64,
    /// The browser decodes video (WebCodecs), and the decoder once video mode ran.
    video_ok: bool,
    video: Option<video::Video>,
    /// When Auto last timed a probe frame (server mode).
    last_probe: f64,
    name: String,
    socket: Option<Socket>,
    /// Sockets dropped from inside their own handlers wait here until the next frame:
    /// a closure must not be freed while it runs.
    retired: Vec<Socket>,
    backoff_ms: i32,
    dragging: bool,
    /// The pointer whose moves come as `pointerrawupdate` too: its looks are taken from
    /// those (at once), not again from its `pointermove`s (aligned to animation frames).
    raw_pointer: Option<i32>,
    /// The "loading the map" message is up.
    loading: bool,
    stats: Stats,
    listeners: Vec<Listener>,
    on_frame: Option<Closure<dyn FnMut(f64)>>,
    /// An animation frame is requested.
    frame_pending: bool,
    on_timer: Option<Closure<dyn FnMut()>>,
    on_reconnect: Option<Closure<dyn FnMut()>>,
    /// Results in the feed when it was last drawn, and whether the board was fetched
    /// since connecting.
    shown_feed: usize,
    board_fetched: bool,
    /// The frame size last asked for (Hello or Resize): the window's shape then.
    asked: Option<(u16, u16)>,
    chat: chat::Chat,
    /// The chat panel is open (its lines are read as they come).
    chat_open: bool,
    account: account::Account,
}

#[derive(Default)]
struct Stats {
    shows: u32,
    frames: u32,
    total_frames: u32,
    bytes: f64,
    since: f64,
    last_ping: f64,
    ping_ms: Option<f64>,
    last_hud: f64,
}

impl App {
    fn new() -> Result<App, JsValue> {
        let window = web_sys::window().ok_or("no window")?;
        let document = window.document().ok_or("no document")?;
        let canvas: HtmlCanvasElement = element(&document, "view")?;
        let minimap_canvas: HtmlCanvasElement = element(&document, "minimap")?;
        let params = web_sys::UrlSearchParams::new_with_str(&window.location().search()?)?;
        let video_ok = video::supported();
        let (wanted_mode, auto) = match params.get("mode").as_deref() {
            Some("client") => (RenderMode::Client, None),
            Some("server") => (RenderMode::Server, None),
            Some("video") if video_ok => (RenderMode::Video, None),
            _ => (RenderMode::Server, Some(auto::Auto::new(0.0, video_ok))),
        };
        let display = Display::new(
            &canvas,
            Choice::from_param(params.get("display").as_deref()),
        )?;
        if let Some(body) = document.body() {
            let _ = body.dataset().set("display", display.kind());
        }
        let overview: HtmlImageElement = document.create_element("img")?.dyn_into()?;
        Ok(App {
            me: Weak::new(),
            display,
            shown_warp: (0, 0),
            minimap: context(&minimap_canvas)?,
            overview,
            canvas,
            session: Session::new(wanted_mode),
            input: InputState::default(),
            wanted_mode,
            auto,
            room_wanted: params.get("room").filter(|r| !r.is_empty()),
            seat: None,
            failed_joins: 0,
            refused: false,
            last_rooms: f64::NEG_INFINITY,
            video_ok,
            video: None,
            last_probe: 0.0,
            name: params.get("name").unwrap_or_default(),
            socket: None,
            retired: Vec::new(),
            backoff_ms: 500,
            dragging: false,
            raw_pointer: None,
            loading: false,
            stats: Stats::default(),
            listeners: Vec::new(),
            on_frame: None,
            frame_pending: false,
            on_timer: None,
            on_reconnect: None,
            shown_feed: 0,
            board_fetched: false,
            asked: None,
            chat: chat::Chat {
                muted: chat_panel::load_muted(&window).into_iter().collect(),
                ..chat::Chat::default()
            },
            chat_open: true,
            account: account::Account::default(),
            window,
            document,
        })
    }

    /// Sends the look and keys not yet sent, unless a message went less than a frame
    /// (16 ms) ago: then they wait for the next call.
    fn send_pending_input(&mut self, now: f64) {
        let input = self.input.poll(now, 16.0);
        self.send_input(input, now);
    }

    fn send_input(&mut self, input: Option<Input>, now: f64) {
        if let Some(input) = input {
            self.send(&Message::Input(input));
            self.session.sent_input(&input, now);
        }
    }

    /// A held key changed: tell the server now, not at the next animation frame.
    fn key(&mut self, bit: u16, down: bool) {
        self.input.key(bit, down);
        self.keys_changed();
    }

    /// Every key let go (focus lost or page hidden: their keyups will never come).
    fn release_keys(&mut self) {
        self.input.release_all();
        self.keys_changed();
    }

    fn keys_changed(&mut self) {
        let now = self.now();
        let input = self.input.poll_keys(now);
        self.send_input(input, now);
        self.wake();
    }

    /// A drag by (dx, dy) CSS pixels: the look goes out at once unless a message went
    /// less than a frame ago (then with the next animation frame, as before).
    fn look(&mut self, dx: f64, dy: f64) {
        self.input.drag(dx, dy);
        self.send_pending_input(self.now());
        self.wake();
    }

    fn retire_socket(&mut self) {
        if let Some(s) = self.socket.take() {
            self.retired.push(s);
        }
    }

    fn schedule_reconnect(&mut self, why: &str) {
        let delay = self.backoff_ms;
        self.backoff_ms = (self.backoff_ms * 2).min(10_000);
        self.status(Some(&format!(
            "Connection lost ({why}). Reconnecting in {:.1} s…",
            delay as f64 / 1000.0
        )));
        if self.on_reconnect.is_none() {
            let weak = self.me.clone();
            self.on_reconnect = Some(Closure::new(move || {
                if let Some(app) = weak.upgrade() {
                    connect(&app);
                }
            }));
        }
        if let Some(cb) = &self.on_reconnect {
            let _ = self
                .window
                .set_timeout_with_callback_and_timeout_and_arguments_0(
                    cb.as_ref().unchecked_ref(),
                    delay,
                );
        }
    }

    fn now(&self) -> f64 {
        self.window.performance().map_or(0.0, |p| p.now())
    }

    fn send(&self, msg: &Message) {
        if let Some(s) = &self.socket
            && s.ws.ready_state() == WebSocket::OPEN
        {
            let mut bytes = Vec::new();
            msg.encode(&mut bytes);
            let _ = s.ws.send_with_u8_array(&bytes);
        }
    }

    fn set_text(&self, id: &str, text: &str) {
        if let Some(e) = self.document.get_element_by_id(id) {
            e.set_text_content(Some(text));
        }
    }

    /// Shows a status message over the view, or hides it with `None`.
    fn status(&self, text: Option<&str>) {
        if let Ok(e) = element::<HtmlElement>(&self.document, "status") {
            e.set_text_content(text);
            e.set_hidden(text.is_none());
        }
    }

    /// The frame size to ask for: the window's aspect, at most 800x450.
    fn wanted_viewport(&self) -> (u16, u16) {
        let num =
            |v: Result<JsValue, JsValue>| v.ok().and_then(|v| v.as_f64()).unwrap_or(800.0).max(1.0);
        let (iw, ih) = (
            num(self.window.inner_width()),
            num(self.window.inner_height()),
        );
        let aspect = (iw / ih).clamp(0.75, 3.0);
        let (mut w, mut h) = (MAX_FRAME.1 * aspect, MAX_FRAME.1);
        if w > MAX_FRAME.0 {
            (w, h) = (MAX_FRAME.0, MAX_FRAME.0 / aspect);
        }
        (w.round().max(64.0) as u16, h.round().max(48.0) as u16)
    }

    /// Shows the session's picture, warped by the looks still on their way (server mode).
    fn show(&mut self) -> bool {
        let (Some(v), Some(palette)) = (self.session.viewport, self.session.palette()) else {
            return false;
        };
        self.shown_warp = self.session.warp();
        self.display.show(
            self.session.indices(),
            (v.width() as u32, v.height() as u32),
            palette,
            self.shown_warp,
        );
        self.place_labels();
        // Every picture put on the canvas, warped ones included (benchmarks watch it).
        self.stats.shows += 1;
        if let Some(body) = self.document.body() {
            let _ = body.dataset().set("shows", &self.stats.shows.to_string());
        }
        true
    }

    /// Name labels over the players the picture shows, as text: the canvas keeps its
    /// aspect inside the window (`object-fit: contain`), so frame pixels map to the
    /// page through the same scale and centring; a late-warped picture moves them too.
    fn place_labels(&self) {
        let Some(layer) = self.document.get_element_by_id("labels") else {
            return;
        };
        layer.set_text_content(None);
        let Some(v) = self.session.viewport else {
            return;
        };
        let rect = self.canvas.get_bounding_client_rect();
        let (fw, fh) = (v.width() as f64, v.height() as f64);
        let scale = (rect.width() / fw).min(rect.height() / fh);
        let left = rect.left() + (rect.width() - fw * scale) / 2.0;
        let top = rect.top() + (rect.height() - fh * scale) / 2.0;
        let (dx, dy) = self.shown_warp;
        for (name, x, y) in self.session.labels() {
            let (px, py) = (
                left + (x as f64 + dx as f64) * scale,
                top + (y as f64 + dy as f64) * scale,
            );
            if let Ok(span) = self.document.create_element("span") {
                span.set_text_content(Some(name)); // text, never markup
                let _ = span.set_attribute("style", &format!("left:{px:.0}px;top:{py:.0}px"));
                let _ = layer.append_child(&span);
            }
        }
        if let Some(body) = self.document.body() {
            let _ = body
                .dataset()
                .set("labels", &self.session.labels().len().to_string());
        }
    }

    /// Shows a new picture and counts it.
    fn draw(&mut self) {
        if !self.show() {
            return;
        }
        self.stats.frames += 1;
        self.stats.total_frames += 1;
        if let Some(body) = self.document.body() {
            let _ = body
                .dataset()
                .set("frames", &self.stats.total_frames.to_string());
        }
    }

    /// `M`: auto → server → video (where the browser decodes it) → browser → auto.
    fn toggle_mode(&mut self) {
        let now = self.now();
        let mode = match (self.auto.is_some(), self.wanted_mode) {
            (true, _) => {
                self.auto = None;
                RenderMode::Server
            }
            (false, RenderMode::Server) if self.video_ok => RenderMode::Video,
            (false, RenderMode::Server | RenderMode::Video) => RenderMode::Client,
            (false, RenderMode::Client) => {
                self.auto = Some(auto::Auto::new(now, self.video_ok));
                RenderMode::Server
            }
        };
        self.switch_to(mode);
    }

    fn switch_to(&mut self, mode: RenderMode) {
        self.session.prefetch_map = self.auto.is_some();
        if mode != RenderMode::Video
            && let Some(v) = &self.video
        {
            v.stop();
        }
        if mode != self.wanted_mode {
            self.wanted_mode = mode;
            self.session.set_mode(mode);
            self.send(&Message::SetMode(mode));
        }
        self.update_hud(self.now());
        self.wake();
    }

    /// Auto mode: time a probe frame now and then in server mode, feed it what it
    /// measures, and switch when it says so.
    fn auto_step(&mut self, now: f64) {
        let Some(auto) = &mut self.auto else {
            return;
        };
        self.session.prefetch_map = true;
        if self.session.mode.server_renders() && now - self.last_probe >= 1000.0 {
            let started = self.window.performance().map_or(now, |p| p.now());
            if self.session.probe() {
                let took = self.window.performance().map_or(now, |p| p.now()) - started;
                auto.rendered(took);
                self.last_probe = now;
            }
        }
        if let Some(mode) = auto.decide(now) {
            self.switch_to(mode);
        }
    }

    fn on_message(&mut self, bytes: &[u8]) {
        let now = self.now();
        self.stats.bytes += bytes.len() as f64;
        let was_welcome = self.session.viewport.is_none();
        match self.session.handle(bytes, now) {
            Effect::None => {}
            Effect::FrameReady => {
                if let Some(v) = &self.video {
                    v.stop(); // a lossless frame: the view shows it, not the video
                }
                self.draw();
                self.note_encoding();
            }
            Effect::VideoFrame { seq, key } => {
                self.push_video(seq, key);
                self.note_encoding();
            }
            Effect::Pong(stamp) => self.stats.ping_ms = Some(now - stamp as f64),
            Effect::Race => self.race_changed(now),
            Effect::Resized => {
                if let Some(v) = self.session.viewport {
                    self.canvas.set_width(v.width() as u32);
                    self.canvas.set_height(v.height() as u32);
                }
                self.update_hud(now);
                self.wake();
            }
            Effect::ServerError(text) => self.status(Some(&format!("Server: {text}"))),
            Effect::Refused { full: true, text } => {
                // Full: the player picks another room (or waits and reloads).
                self.refused = true;
                self.show_lobby(Some(&text));
            }
            Effect::Refused { full: false, text } => {
                // The room is gone (its server stopped): back in through the lobby.
                self.room_wanted = None;
                self.status(Some(&format!("{text}; joining another room…")));
            }
            Effect::Chat(line) => {
                if self.chat.receive(line, self.chat_open) {
                    self.render_chat();
                }
            }
            Effect::ChatNotice(text) => {
                self.chat.notice(text, js_sys::Date::now() as u64);
                self.render_chat();
            }
            Effect::Disconnect(text) => {
                web_sys::console::warn_1(&JsValue::from_str(&text));
                self.retire_socket();
                self.schedule_reconnect(&text);
            }
        }
        if self.loading && self.session.map_ready() {
            self.loading = false;
            self.status(None);
        }
        // Browser-side rendering: a state or a list that moves the view is drawn at the
        // next frame.
        if self.session.stale(now) {
            self.wake();
        }
        if was_welcome && let Some(v) = self.session.viewport {
            self.canvas.set_width(v.width() as u32);
            self.canvas.set_height(v.height() as u32);
            self.backoff_ms = 500;
            self.status(None);
            self.room_wanted = Some(self.session.room.clone());
            self.failed_joins = 0;
            // A reconnection, here or in another room, keeps the name given.
            self.name = self.session.name.clone();
            // The minimap's terrain: this room's map.
            let room = js_sys::encode_uri_component(&self.session.room);
            self.overview
                .set_src(&format!("/api/overview.png?room={room}"));
            self.set_text("hud-room", &self.session.room);
            self.chat.me = self.session.name.clone();
            if let Some(link) = self.document.get_element_by_id("invite") {
                let _ = link.set_attribute("href", &lobby::room_link(&self.session.room, ""));
            }
            self.refresh_rooms();
            self.update_hud(now);
        }
    }

    /// The last frame's encoding, on the page for tests.
    fn note_encoding(&self) {
        if let (Some(body), Some(e)) = (self.document.body(), self.session.last_encoding) {
            let name = match e {
                FrameEncoding::Raw => "raw",
                FrameEncoding::Runs => "runs",
                FrameEncoding::RunPlanes => "run-planes",
                FrameEncoding::Video => "video",
            };
            let _ = body.dataset().set("encoding", name);
        }
    }

    /// A video frame to decode; the decoder is made on the first.
    fn push_video(&mut self, seq: u32, key: bool) {
        let Some(v) = self.session.viewport else {
            return;
        };
        if self.video.is_none() {
            let Ok(canvas) = element::<HtmlCanvasElement>(&self.document, "video") else {
                return;
            };
            let (shown, failed) = (self.me.clone(), self.me.clone());
            self.video = Some(video::Video::new(
                canvas,
                move |seq| {
                    if let Some(app) = shown.upgrade() {
                        app.borrow_mut().video_shown(seq as u32);
                    }
                },
                move |why| {
                    web_sys::console::warn_1(&format!("video decoder: {why}").into());
                    if let Some(app) = failed.upgrade() {
                        app.borrow().send(&Message::KeyFrame);
                    }
                },
            ));
        }
        if let Some(video) = &self.video {
            let size = (v.width() as u32, v.height() as u32);
            video.push(self.session.video_chunk(), key, seq, size);
        }
    }

    /// A video picture is on screen: the server hears of it (it paces the stream by
    /// these), and it counts as a frame.
    fn video_shown(&mut self, seq: u32) {
        self.send(&Message::Ack(seq));
        self.place_labels();
        self.stats.frames += 1;
        self.stats.total_frames += 1;
        if let Some(body) = self.document.body() {
            let data = body.dataset();
            let _ = data.set("frames", &self.stats.total_frames.to_string());
            if let Some(v) = &self.video {
                let _ = data.set("decodeMs", &format!("{:.2}", v.decode_ms()));
            }
        }
    }

    /// A race message came: the HUD now, and the board when a result or the course came.
    fn race_changed(&mut self, now: f64) {
        let feed = self.session.race.feed.len();
        if feed != self.shown_feed || !self.board_fetched {
            self.shown_feed = feed;
            self.board_fetched = true;
            self.refresh_board();
            if let Some(list) = self.document.get_element_by_id("feed") {
                list.set_text_content(None);
                for line in self.session.race.feed_lines().iter().take(3) {
                    if let Ok(li) = self.document.create_element("li") {
                        li.set_text_content(Some(line)); // text, never markup
                        let _ = list.append_child(&li);
                    }
                }
            }
        }
        self.update_race(now);
        self.wake(); // the gates' colours and the ghost changed
    }

    /// Gets the map for browser-side rendering: over HTTP by its name (the browser's
    /// cache keeps it, so a later visit costs one revalidated request), else — no name,
    /// or the fetch failed — over the WebSocket.
    fn fetch_map(&self) {
        let Some(id) = self.session.map_id else {
            self.send(&Message::GetMap);
            return;
        };
        let (window, weak) = (self.window.clone(), self.me.clone());
        wasm_bindgen_futures::spawn_local(async move {
            let fetched = web::fetch_bytes(&window, &format!("/map/{id:016x}")).await;
            let Some(app) = weak.upgrade() else {
                return;
            };
            let mut a = app.borrow_mut();
            let loaded = fetched
                .map_err(|e| format!("{e:?}"))
                .and_then(|bytes| a.session.load_map(&bytes));
            match loaded {
                Ok(()) => a.wake(),
                Err(e) => {
                    web_sys::console::warn_1(
                        &format!("map over HTTP: {e}; asking the socket").into(),
                    );
                    a.send(&Message::GetMap);
                }
            }
        });
    }

    /// Shows or hides the leaderboard (fetched afresh when shown).
    fn toggle_board(&self) {
        if let Ok(board) = element::<HtmlElement>(&self.document, "board") {
            let show = board.hidden();
            board.set_hidden(!show);
            if show {
                self.refresh_board();
            }
        }
    }

    /// Shows the rooms panel (with why, when a room refused the player) or hides it.
    fn show_lobby(&self, why: Option<&str>) {
        if let Ok(panel) = element::<HtmlElement>(&self.document, "lobby") {
            panel.set_hidden(false);
        }
        if let Ok(p) = element::<HtmlElement>(&self.document, "lobby-why") {
            p.set_hidden(why.is_none());
            p.set_text_content(why); // text, never markup
        }
        if let Some(play) = self.document.get_element_by_id("lobby-play") {
            let _ = play.set_attribute("href", &lobby::room_link("", &self.name));
        }
        self.refresh_rooms();
    }

    fn render_chat(&self) {
        if let Err(e) = chat_panel::render(&self.document, &self.chat, self.chat_open) {
            web_sys::console::warn_2(&"chat panel".into(), &e);
        }
    }

    fn chat_input(&self) -> Option<web_sys::HtmlInputElement> {
        element(&self.document, "chat-input").ok()
    }

    /// Opens (or closes) the chat panel; an open panel's active tab is read.
    fn show_chat(&mut self, open: bool) {
        self.chat_open = open;
        if let Ok(body) = element::<HtmlElement>(&self.document, "chat-body") {
            body.set_hidden(!open);
        }
        if let Some(b) = self.document.get_element_by_id("chat-toggle") {
            let _ = b.set_attribute("aria-expanded", if open { "true" } else { "false" });
        }
        if open {
            self.chat.opened();
        }
        self.render_chat();
    }

    /// Enter or T: the panel opens and the box takes the keys (the aircraft lets go).
    fn start_typing(&mut self) {
        self.show_chat(true);
        self.release_keys();
        if let Some(input) = self.chat_input() {
            let _ = input.focus();
        }
    }

    /// What was typed in the box: sent, or acted on here (mute lists are this page's).
    fn submit_chat(&mut self) {
        let Some(input) = self.chat_input() else {
            return;
        };
        let now = js_sys::Date::now() as u64;
        let connected =
            (self.socket.as_ref()).is_some_and(|s| s.ws.ready_state() == WebSocket::OPEN);
        match self.chat.typed(&input.value()) {
            chat::Typed::Say(..) if !connected => {
                self.chat.notice("not connected: not sent".into(), now);
            }
            chat::Typed::Say(channel, text) => {
                self.send(&Message::Say { channel, text });
                input.set_value("");
            }
            chat::Typed::Mute(name) => {
                let text = format!("{name} is muted, for you only (/unmute {name})");
                self.chat.muted.insert(name);
                chat_panel::save_muted(&self.window, &self.chat);
                self.chat.notice(text, now);
                input.set_value("");
            }
            chat::Typed::Unmute(name) => {
                let text = format!("{name} is heard again");
                self.chat.muted.remove(&name);
                chat_panel::save_muted(&self.window, &self.chat);
                self.chat.notice(text, now);
                input.set_value("");
            }
            chat::Typed::Help(text) => self.chat.notice(text, now),
            chat::Typed::Nothing => {}
        }
        self.render_chat();
    }

    fn toggle_lobby(&self) {
        match element::<HtmlElement>(&self.document, "lobby") {
            Ok(panel) if !panel.hidden() => panel.set_hidden(true),
            _ => self.show_lobby(None),
        }
    }

    fn refresh_rooms(&self) {
        lobby::refresh(
            &self.window,
            &self.document,
            self.session.room.clone(),
            self.name.clone(),
        );
    }

    fn refresh_board(&self) {
        if let Some(course) = self.session.race.course_id {
            board::refresh(&self.window, &self.document, course, &self.session.name);
        }
    }

    /// The race line: the next gate's direction and distance, the clock, the split.
    fn update_race(&self, now: f64) {
        let Ok(line) = element::<HtmlElement>(&self.document, "race") else {
            return;
        };
        let text = self.session.race.hud(now);
        line.set_hidden(text.is_empty());
        let size = self.session.map_size();
        let size = (size.0 as f32, size.1 as f32);
        let bearing = (self.session.shown).and_then(|cam| self.session.race.bearing(&cam, size));
        let text = match bearing {
            Some((_, d)) => format!("{text} · {d:.0} m"),
            None => text,
        };
        self.set_text("race-text", &text);
        if let (Some((turn, _)), Some(arrow)) =
            (bearing, self.document.get_element_by_id("gate-arrow"))
        {
            let _ = arrow.set_attribute("style", &format!("transform: rotate({turn:.3}rad)"));
        }
        if let Some(body) = self.document.body() {
            let data = body.dataset();
            let _ = data.set("nextGate", &self.session.race.next_gate().to_string());
            let _ = data.set("running", &self.session.race.running().to_string());
        }
    }

    /// Asks for an animation frame unless one is coming. The animation loop runs only
    /// while there is something to animate: besides the power it saves, an idle
    /// requestAnimationFrame loop makes Chromium hold the first WebSocket message after
    /// a quiet spell until around the next frame (0–17 ms, measured), which is the
    /// server-rendered answer to a key.
    fn wake(&mut self) {
        if self.frame_pending {
            return;
        }
        if let Some(cb) = &self.on_frame
            && self
                .window
                .request_animation_frame(cb.as_ref().unchecked_ref())
                .is_ok()
        {
            self.frame_pending = true;
        }
    }

    /// One animation frame: looks go out (at most one message a frame), and the view
    /// follows (the picture drawn here in browser-side rendering, the last server frame
    /// warped in server-side). True while there is more to animate.
    fn frame(&mut self, now: f64) -> bool {
        self.frame_pending = false;
        self.send_pending_input(now);
        let mut more = self.input.looking();
        match self.session.mode {
            RenderMode::Server => {
                // Late warp: looks sent since the frame on screen move it at once.
                if self.session.warp() != self.shown_warp {
                    self.show();
                }
            }
            RenderMode::Video => {}
            RenderMode::Client => {
                let started = self.window.performance().map_or(now, |p| p.now());
                let drew = self.session.render_local(now);
                if drew && let Some(auto) = &mut self.auto {
                    auto.rendered(self.window.performance().map_or(now, |p| p.now()) - started);
                }
                if drew {
                    self.draw();
                }
                more |= drew || self.input.held() || !self.session.settled();
            }
        }
        if self.session.race.running() {
            self.update_race(now);
        }
        more
    }

    /// Every quarter of a second, animating or not: pings, the HUD, heartbeats of held
    /// keys, the map request and its progress.
    fn housekeeping(&mut self, now: f64) {
        self.retired.clear();
        if self.session.should_request_map() {
            self.fetch_map();
        }
        self.send_pending_input(now);
        // The window changed shape (resized, a phone turned): frames follow it. Checked
        // here rather than on every resize event, so a drag sends a few, not hundreds.
        let want = self.wanted_viewport();
        if self.session.viewport.is_some() && self.asked.is_some_and(|a| a != want) {
            self.asked = Some(want);
            self.send(&Message::Resize(want.0, want.1));
        }
        if now - self.stats.last_ping >= 1000.0 {
            self.stats.last_ping = now;
            self.send(&Message::Ping(now as u32));
        }
        if self.session.mode == RenderMode::Client {
            let progress = self.session.map_progress();
            if let Some(p) = progress {
                self.status(Some(&format!("Loading the map… {:.0}%", p * 100.0)));
            }
            self.loading = progress.is_some();
        }
        if now - self.stats.last_hud >= 500.0 {
            self.update_hud(now);
        }
        // Everyone's count (and the panel, if open) every ten seconds.
        if now - self.last_rooms >= 10_000.0 && self.session.viewport.is_some() {
            self.last_rooms = now;
            self.refresh_rooms();
        }
        self.update_race(now);
        self.draw_minimap();
        self.auto_step(now);
    }

    fn update_hud(&mut self, now: f64) {
        let elapsed = ((now - self.stats.since) / 1000.0).max(0.001);
        // What the link delivers, while the view moves (a still view gets no frames).
        if self.session.mode == RenderMode::Server
            && self.input.held()
            && let Some(auto) = &mut self.auto
        {
            auto.link(self.stats.frames as f64 / elapsed, self.stats.ping_ms);
        }
        let (mode, side) = match self.session.mode {
            RenderMode::Server => ("server", "server"),
            RenderMode::Video => ("video", "server video"),
            RenderMode::Client => ("client", "browser"),
        };
        if let Some(body) = self.document.body() {
            let _ = body.dataset().set("mode", mode);
        }
        match &self.auto {
            Some(auto) => {
                self.set_text(
                    "hud-mode",
                    &format!("auto: {side} — {}", auto.reason().text()),
                );
                self.set_text("mode-btn", &format!("Render: auto ({side}) (M)"));
            }
            None => {
                let text = match self.session.mode {
                    RenderMode::Video => side.to_string(),
                    _ => format!("{side}-side"),
                };
                self.set_text("hud-mode", &text);
                self.set_text("mode-btn", &format!("Render: {side} (M)"));
            }
        }
        if let Some(body) = self.document.body() {
            let _ = body
                .dataset()
                .set("auto", if self.auto.is_some() { "on" } else { "off" });
        }
        self.set_text(
            "hud-fps",
            &format!("{:.0}", self.stats.frames as f64 / elapsed),
        );
        self.set_text(
            "hud-kbps",
            &format!("{:.0}", self.stats.bytes / 1000.0 / elapsed),
        );
        // Over a compressing WebSocket, script sees messages already inflated.
        let compressing = self.session.mode == RenderMode::Server
            && self.session.last_encoding == Some(FrameEncoding::RunPlanes);
        self.set_text(
            "hud-kbps-unit",
            if compressing { "kB/s inflated" } else { "kB/s" },
        );
        let ping = self
            .stats
            .ping_ms
            .map_or("–".into(), |p| format!("{p:.0} ms"));
        self.set_text("hud-ping", &ping);
        let res = self
            .session
            .viewport
            .map_or("–".into(), |v| format!("{}x{}", v.width(), v.height()));
        self.set_text("hud-res", &res);
        self.set_text("hud-players", &self.session.players.len().to_string());
        self.set_text("hud-name", &self.session.name);
        self.stats.frames = 0;
        self.stats.bytes = 0.0;
        self.stats.since = now;
        self.stats.last_hud = now;
    }

    /// The terrain around the player (half the map across, north up, the world
    /// wrapping), the gates (the next one ringed in yellow), other players as dots with
    /// their names, and the player as a dot with a heading line in the middle.
    fn draw_minimap(&self) {
        let ctx = &self.minimap;
        let (mw, mh) = self.session.map_size();
        let me = (self.session.players.iter())
            .find(|p| Some(p.id) == self.session.player_id)
            .map(|p| p.camera)
            .or(self.session.shown);
        let (Some(me), false) = (me, mw == 0 || mh == 0) else {
            return;
        };
        let (mw, mh) = (mw as f64, mh as f64);
        let scale = MINIMAP / (mw.max(mh) * 0.5);
        let wrapped = |d: f64, p: f64| d - (d / p + 0.5).floor() * p;
        // Map point to minimap point: the nearest image, relative to the player.
        let at = |x: f32, y: f32| {
            (
                MINIMAP / 2.0 + wrapped(x as f64 - me.x as f64, mw) * scale,
                MINIMAP / 2.0 + wrapped(y as f64 - me.y as f64, mh) * scale,
            )
        };
        ctx.set_fill_style_str("rgba(10, 20, 30, 0.85)");
        ctx.fill_rect(0.0, 0.0, MINIMAP, MINIMAP);
        if self.overview.complete() && self.overview.natural_width() > 0 {
            let (ox, oy) = (
                MINIMAP / 2.0 - me.x as f64 * scale,
                MINIMAP / 2.0 - me.y as f64 * scale,
            );
            for (i, j) in [-1.0, 0.0, 1.0]
                .iter()
                .flat_map(|&i| [(i, -1.0), (i, 0.0), (i, 1.0)])
            {
                let _ = ctx.draw_image_with_html_image_element_and_dw_and_dh(
                    &self.overview,
                    ox + i * mw * scale,
                    oy + j * mh * scale,
                    mw * scale,
                    mh * scale,
                );
            }
        }
        let next = self.session.race.next_gate();
        for (i, g) in self.session.race.gates().iter().enumerate() {
            let (x, y) = at(g.x, g.y);
            ctx.set_stroke_style_str(match i {
                _ if i == next => "#ffd34d",
                0 => "#5de36a",
                _ => "#f0f0f0",
            });
            ctx.set_line_width(if i == next { 2.5 } else { 1.5 });
            ctx.begin_path();
            let _ = ctx.arc(x, y, 3.5, 0.0, std::f64::consts::TAU);
            ctx.stroke();
        }
        ctx.set_line_width(1.0);
        ctx.set_font("10px sans-serif");
        for p in &self.session.players {
            let (x, y) = at(p.camera.x, p.camera.y);
            let me = Some(p.id) == self.session.player_id;
            ctx.set_fill_style_str(if me { "#ffd34d" } else { "#7fd4ff" });
            ctx.begin_path();
            let _ = ctx.arc(x, y, if me { 3.5 } else { 2.5 }, 0.0, std::f64::consts::TAU);
            ctx.fill();
            if me {
                ctx.set_stroke_style_str("#ffd34d");
                ctx.begin_path();
                ctx.move_to(x, y);
                let yaw = p.camera.yaw as f64;
                ctx.line_to(x + yaw.sin() * 10.0, y - yaw.cos() * 10.0);
                ctx.stroke();
            } else {
                // fillText draws the name as plain text: markup in names stays text.
                let _ = ctx.fill_text(&p.name, x + 5.0, y + 3.0);
            }
        }
    }
}

/// Connects: into the room the page wants, else first asks `/api/join` where (the
/// cluster's fullest room with space, a seat held there for this page).
fn connect(app: &Shared) {
    let (decided, window) = {
        let a = app.borrow();
        (a.room_wanted.is_some(), a.window.clone())
    };
    if decided {
        return open_socket(app);
    }
    let weak = Rc::downgrade(app);
    wasm_bindgen_futures::spawn_local(async move {
        let answer = lobby::join(&window).await;
        let Some(app) = weak.upgrade() else {
            return;
        };
        match answer {
            Ok((room, seat)) => {
                let mut a = app.borrow_mut();
                a.room_wanted = Some(room);
                a.seat = seat;
            }
            Err(lobby::Refusal::Full(why)) => {
                let mut a = app.borrow_mut();
                a.refused = true;
                a.show_lobby(Some(&why));
                return;
            }
            // No answer (an older server, a hiccup): the server picks.
            Err(lobby::Refusal::Other(e)) => web_sys::console::warn_1(&e),
        }
        open_socket(&app);
    });
}

fn open_socket(app: &Shared) {
    let mut a = app.borrow_mut();
    let location = a.window.location();
    let secure = location.protocol().is_ok_and(|p| p == "https:");
    let host = location.host().unwrap_or_default();
    let mut url = format!("{}//{host}/ws", if secure { "wss:" } else { "ws:" });
    if let Some(room) = &a.room_wanted {
        url += &format!("?room={}", js_sys::encode_uri_component(room));
        // A reserved seat is presented once.
        if let Some(seat) = a.seat.take() {
            url += &format!("&seat={}", js_sys::encode_uri_component(&seat));
        }
    }
    let ws = match WebSocket::new(&url) {
        Ok(ws) => ws,
        Err(e) => {
            web_sys::console::error_2(&"cannot open the WebSocket".into(), &e);
            a.schedule_reconnect("cannot connect");
            return;
        }
    };
    ws.set_binary_type(BinaryType::Arraybuffer);
    a.session = Session::new(a.wanted_mode);
    a.board_fetched = false;
    a.shown_feed = 0;
    a.status(Some("Connecting…"));
    let weak = Rc::downgrade(app);
    let on_open = handler(&weak, |a, _| {
        let (width, height) = a.wanted_viewport();
        a.asked = Some((width, height));
        // Run planes only over a compressing WebSocket: the browser inflates them natively.
        let compressing = a
            .socket
            .as_ref()
            .is_some_and(|s| s.ws.extensions().contains("permessage-deflate"));
        let mut encodings = FrameEncoding::Runs.bit();
        if compressing {
            encodings |= FrameEncoding::RunPlanes.bit();
        }
        if a.video_ok {
            encodings |= FrameEncoding::Video.bit();
        }
        let hello = Hello {
            version: VERSION,
            mode: a.wanted_mode,
            width,
            height,
            encodings,
            name: a.name.clone(),
        };
        a.send(&Message::Hello(hello));
        if a.document.hidden() {
            a.send(&Message::Pause(true));
        }
    });
    let on_message = handler(&weak, |a, e| {
        if let Some(e) = e.dyn_ref::<MessageEvent>()
            && let Ok(buf) = e.data().dyn_into::<js_sys::ArrayBuffer>()
        {
            a.on_message(&js_sys::Uint8Array::new(&buf).to_vec());
        }
    });
    let weak_close = weak.clone();
    let on_close = Closure::<dyn FnMut(Event)>::new(move |e: Event| {
        let Some(app) = weak_close.upgrade() else {
            return;
        };
        let mut app = app.borrow_mut();
        let why = e
            .dyn_ref::<CloseEvent>()
            .map(|c| match c.reason().as_str() {
                "" => format!("code {}", c.code()),
                r => format!("{r}, code {}", c.code()),
            })
            .unwrap_or_default();
        let welcomed = app.session.viewport.is_some();
        app.retire_socket();
        if app.refused {
            return; // the room was full: the lobby is up, the player picks
        }
        if !welcomed {
            app.failed_joins += 1;
            if app.failed_joins >= 2 && app.room_wanted.take().is_some() {
                web_sys::console::warn_1(&"the room does not answer: asking the lobby".into());
            }
        }
        app.schedule_reconnect(&why);
    });
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    a.socket = Some(Socket::new(ws, vec![on_open, on_message, on_close]));
}

/// A closure for an event that runs `f` on the app, if it still exists.
fn handler(
    weak: &Weak<RefCell<App>>,
    mut f: impl FnMut(&mut App, &Event) + 'static,
) -> Closure<dyn FnMut(Event)> {
    let weak = weak.clone();
    Closure::new(move |e: Event| {
        if let Some(app) = weak.upgrade() {
            f(&mut app.borrow_mut(), &e);
        }
    })
}

fn listen(
    app: &Shared,
    target: &EventTarget,
    kind: &'static str,
    f: impl FnMut(&mut App, &Event) + 'static,
) -> Result<(), JsValue> {
    let callback = handler(&Rc::downgrade(app), f);
    target.add_event_listener_with_callback(kind, callback.as_ref().unchecked_ref())?;
    app.borrow_mut().listeners.push(Listener {
        target: target.clone(),
        kind,
        callback,
    });
    Ok(())
}

fn install(app: &Shared) -> Result<(), JsValue> {
    let (window, document, canvas) = {
        let a = app.borrow();
        (a.window.clone(), a.document.clone(), a.canvas.clone())
    };
    listen(app, &window, "keydown", |a, e| {
        let Some(e) = e.dyn_ref::<KeyboardEvent>() else {
            return;
        };
        if e.ctrl_key() || e.meta_key() || e.alt_key() {
            return;
        }
        // Typing in the chat box: keys are text, not flight. Esc goes back to flying,
        // Tab to the next channel.
        if (e.target()).is_some_and(|t| t.dyn_ref::<web_sys::HtmlInputElement>().is_some()) {
            match e.key().as_str() {
                "Escape" => {
                    if let Some(input) = a.chat_input() {
                        let _ = input.blur();
                    }
                }
                "Tab" => {
                    e.prevent_default();
                    let next = (a.chat.active + 1) % a.chat.tabs.len();
                    a.chat.select(next);
                    a.render_chat();
                }
                _ => {}
            }
            return;
        }
        if (e.code() == "Enter" || e.code() == "KeyT") && !e.repeat() {
            e.prevent_default();
            a.start_typing();
        } else if e.code() == "KeyM" {
            if !e.repeat() {
                a.toggle_mode();
            }
        } else if e.code() == "KeyX" {
            if !e.repeat() {
                a.send(&Message::Abandon);
            }
        } else if e.code() == "KeyL" {
            if !e.repeat() {
                a.toggle_board();
            }
        } else if e.code() == "KeyO" {
            if !e.repeat() {
                a.toggle_lobby();
            }
        } else if let Some(bit) = key_bit(&e.code()) {
            a.key(bit, true);
            e.prevent_default();
        }
    })?;
    listen(app, &window, "keyup", |a, e| {
        if let Some(bit) = e
            .dyn_ref::<KeyboardEvent>()
            .and_then(|e| key_bit(&e.code()))
        {
            a.key(bit, false);
        }
    })?;
    listen(app, &window, "blur", |a, _| a.release_keys())?;
    listen(app, &document, "visibilitychange", |a, _| {
        let hidden = a.document.hidden();
        if hidden {
            a.release_keys();
        }
        a.send(&Message::Pause(hidden));
    })?;
    listen(app, &canvas, "pointerdown", |a, e| {
        if let Some(e) = e.dyn_ref::<PointerEvent>() {
            a.dragging = true;
            let _ = a.canvas.set_pointer_capture(e.pointer_id());
            e.prevent_default();
        }
    })?;
    // Chromium holds `pointermove` for the next animation frame (5-12 ms while the view
    // animates) but sends `pointerrawupdate` at once: a look taken from it reaches the
    // server that much sooner. Pointers that never send it are looked after by
    // `pointermove` alone.
    listen(app, &canvas, "pointerrawupdate", |a, e| {
        if let Some(e) = e.dyn_ref::<PointerEvent>() {
            a.raw_pointer = Some(e.pointer_id());
            if a.dragging {
                a.look(e.movement_x() as f64, e.movement_y() as f64);
            }
        }
    })?;
    listen(app, &canvas, "pointermove", |a, e| {
        if let Some(e) = e.dyn_ref::<PointerEvent>()
            && a.dragging
            && a.raw_pointer != Some(e.pointer_id())
        {
            a.look(e.movement_x() as f64, e.movement_y() as f64);
        }
    })?;
    for kind in ["pointerup", "pointercancel"] {
        listen(app, &canvas, kind, |a, _| a.dragging = false)?;
    }
    let button: HtmlElement = element(&document, "mode-btn")?;
    listen(app, &button, "click", |a, _| a.toggle_mode())?;
    let board: HtmlElement = element(&document, "board-btn")?;
    listen(app, &board, "click", |a, _| a.toggle_board())?;
    let rooms: HtmlElement = element(&document, "rooms-btn")?;
    listen(app, &rooms, "click", |a, _| a.toggle_lobby())?;
    install_chat(app, &document)?;
    install_account(app, &document)?;
    // On a small screen the board starts closed: the view comes first.
    let small = |v: Result<JsValue, JsValue>, limit: f64| {
        v.ok().and_then(|v| v.as_f64()).is_some_and(|v| v < limit)
    };
    if (small(window.inner_width(), 700.0) || small(window.inner_height(), 500.0))
        && let Ok(panel) = element::<HtmlElement>(&document, "board")
    {
        panel.set_hidden(true);
        app.borrow_mut().show_chat(false);
    }
    // On-screen buttons (touch devices) hold the key named in their data-key.
    let pads = document.query_selector_all("#touch button[data-key]")?;
    for i in 0..pads.length() {
        let Some(pad) = pads.item(i).and_then(|n| n.dyn_into::<HtmlElement>().ok()) else {
            continue;
        };
        let Some(bit) = pad.dataset().get("key").as_deref().and_then(key_bit) else {
            continue;
        };
        listen(app, &pad, "pointerdown", move |a, e| {
            a.key(bit, true);
            e.prevent_default();
        })?;
        for kind in ["pointerup", "pointercancel", "pointerleave"] {
            listen(app, &pad, kind, move |a, _| a.key(bit, false))?;
        }
    }
    Ok(())
}

/// The chat panel's controls: the box (sent on Enter, through the form), the tabs, a
/// sender's name (starts a direct message), the title (opens and closes the panel).
fn install_chat(app: &Shared, document: &Document) -> Result<(), JsValue> {
    let form: HtmlElement = element(document, "chat-form")?;
    listen(app, &form, "submit", |a, e| {
        e.prevent_default();
        a.submit_chat();
    })?;
    let tabs: HtmlElement = element(document, "chat-tabs")?;
    listen(app, &tabs, "click", |a, e| {
        let tab = (e.target()).and_then(|t| t.dyn_into::<web_sys::Element>().ok());
        if let Some(i) = tab.and_then(|t| t.get_attribute("data-tab")?.parse().ok()) {
            a.chat.select(i);
            a.render_chat();
        }
    })?;
    let log: HtmlElement = element(document, "chat-log")?;
    listen(app, &log, "click", |a, e| {
        let who = (e.target()).and_then(|t| t.dyn_into::<web_sys::Element>().ok());
        if let Some(name) = who.and_then(|t| t.get_attribute("data-name")) {
            a.start_typing();
            if let Some(input) = a.chat_input() {
                input.set_value(&format!("@{name} "));
            }
        }
    })?;
    let toggle: HtmlElement = element(document, "chat-toggle")?;
    listen(app, &toggle, "click", |a, _| {
        let open = !a.chat_open;
        a.show_chat(open);
    })?;
    Ok(())
}

/// The account box: who this browser is (asked once), and its buttons and form.
fn install_account(app: &Shared, document: &Document) -> Result<(), JsValue> {
    let weak = Rc::downgrade(app);
    let (window, doc) = (app.borrow().window.clone(), document.clone());
    account::refresh(&window, &doc, move |name| {
        if let Some(app) = weak.upgrade() {
            app.borrow_mut().account.name = name;
        }
    });
    let button: HtmlElement = element(document, "account-btn")?;
    listen(app, &button, "click", |a, _| {
        if a.account.name.is_some() {
            account::sign_out(&a.window);
        } else {
            let mode = match a.account.mode {
                Some(_) => None,
                None => Some(account::Mode::Claim),
            };
            a.account.mode = mode;
            account::show_form(&a.document, mode, &a.session.name);
        }
    })?;
    let switch: HtmlElement = element(document, "account-switch")?;
    listen(app, &switch, "click", |a, _| {
        let mode = match (a.account.name.is_some(), a.account.mode) {
            (true, Some(_)) => None,
            (true, None) => Some(account::Mode::Password),
            (false, Some(account::Mode::SignIn)) => Some(account::Mode::Claim),
            (false, _) => Some(account::Mode::SignIn),
        };
        a.account.mode = mode;
        account::show_form(&a.document, mode, &a.session.name);
    })?;
    let form: HtmlElement = element(document, "account-form")?;
    listen(app, &form, "submit", |a, e| {
        e.prevent_default();
        if let Some(mode) = a.account.mode {
            account::submit(&a.window, &a.document, mode);
        }
    })?;
    Ok(())
}

/// The animation frame callback (run on demand, see [`App::wake`]) and the
/// housekeeping timer.
fn start_loops(app: &Shared) {
    let weak = Rc::downgrade(app);
    let on_frame = Closure::new(move |now: f64| {
        if let Some(app) = weak.upgrade() {
            let mut a = app.borrow_mut();
            if a.frame(now) {
                a.wake();
            }
        }
    });
    let weak = Rc::downgrade(app);
    let on_timer = Closure::new(move || {
        if let Some(app) = weak.upgrade() {
            let mut a = app.borrow_mut();
            let now = a.now();
            a.housekeeping(now);
        }
    });
    let mut a = app.borrow_mut();
    let _ = a
        .window
        .set_interval_with_callback_and_timeout_and_arguments_0(
            on_timer.as_ref().unchecked_ref(),
            250,
        );
    a.on_frame = Some(on_frame);
    a.on_timer = Some(on_timer);
    a.wake();
}
