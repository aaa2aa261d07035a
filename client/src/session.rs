//! The client's view of the game, free of web APIs so it is testable natively: what the
//! server said (palette, frames, map, cameras, players) and what to draw next.

use shared::protocol::{self, FrameEncoding, Message, PlayerInfo, RenderMode};
use shared::{Camera, Map, Palette, RenderOptions, Renderer, Viewport};

/// What `Session::handle` asks the page to do.
#[derive(Debug, PartialEq)]
pub enum Effect {
    None,
    /// A new server-rendered frame is ready in [`Session::rgba`].
    FrameReady,
    /// The server reported an error; show it.
    ServerError(String),
    /// The server broke the protocol; drop the connection.
    Disconnect(String),
    /// The answer to our `Ping` with this stamp.
    Pong(u32),
}

pub struct Session {
    pub mode: RenderMode,
    pub player_id: Option<u16>,
    pub name: String,
    pub viewport: Option<Viewport>,
    palette: Option<Palette>,
    /// RGBA pixels of the latest picture, for `putImageData`.
    rgba: Vec<u8>,
    indices: Vec<u8>,
    decoder: shared::codec::FrameDecoder,
    sky: Vec<u8>,
    renderer: Renderer,
    map: Option<Map>,
    map_bytes: Vec<u8>,
    map_requested: bool,
    map_size: (u16, u16),
    pub players: Vec<PlayerInfo>,
    /// Interpolation: from `prev` to `next` over one tick, starting at `next_at` (ms).
    prev: Option<Camera>,
    next: Option<Camera>,
    next_at: f64,
    tick_ms: f64,
    /// How long to glide from `prev` to `next`.
    span_ms: f64,
    last_tick: Option<u32>,
    /// Camera of the picture currently in `rgba`.
    pub shown: Option<Camera>,
    pub last_frame_input: u32,
    /// How the last server-rendered frame came.
    pub last_encoding: Option<FrameEncoding>,
}

impl Default for Session {
    fn default() -> Self {
        Session::new(RenderMode::Server)
    }
}

impl Session {
    pub fn new(mode: RenderMode) -> Session {
        Session {
            mode,
            player_id: None,
            name: String::new(),
            viewport: None,
            palette: None,
            rgba: Vec::new(),
            indices: Vec::new(),
            decoder: shared::codec::FrameDecoder::new(),
            sky: Vec::new(),
            renderer: Renderer::new(),
            map: None,
            map_bytes: Vec::new(),
            map_requested: false,
            map_size: (0, 0),
            players: Vec::new(),
            prev: None,
            next: None,
            next_at: 0.0,
            tick_ms: 1000.0 / 60.0,
            span_ms: 1000.0 / 60.0,
            last_tick: None,
            shown: None,
            last_frame_input: 0,
            last_encoding: None,
        }
    }

    pub fn rgba(&self) -> &[u8] {
        &self.rgba
    }

    pub fn map_ready(&self) -> bool {
        self.map.is_some()
    }

    /// Whether to ask for the map now: client-side rendering needs it, and it is neither
    /// here nor on its way.
    pub fn should_request_map(&mut self) -> bool {
        let want = self.mode == RenderMode::Client
            && self.viewport.is_some()
            && self.map.is_none()
            && !self.map_requested;
        self.map_requested |= want;
        want
    }

    /// Fraction of the map received, for the loading indicator.
    pub fn map_progress(&self) -> Option<f32> {
        (self.mode == RenderMode::Client && self.map.is_none()).then(|| {
            let total = self.map_bytes.capacity().max(1);
            self.map_bytes.len() as f32 / total as f32
        })
    }

    pub fn map_size(&self) -> (u16, u16) {
        self.map_size
    }

    /// Handles one message from the server; `now` is in milliseconds.
    pub fn handle(&mut self, bytes: &[u8], now: f64) -> Effect {
        let msg = match Message::decode(bytes) {
            Ok(m) => m,
            Err(e) => return Effect::Disconnect(format!("bad message from server: {e}")),
        };
        match msg {
            Message::Welcome(w) => {
                let viewport = match Viewport::new(w.frame_width.into(), w.frame_height.into()) {
                    Ok(v) => v,
                    Err(e) => return Effect::Disconnect(e.to_string()),
                };
                self.player_id = Some(w.player_id);
                self.name = w.name;
                self.viewport = Some(viewport);
                self.palette = Some(*w.palette);
                self.map_size = (w.map_width, w.map_height);
                self.tick_ms = 1000.0 / w.tick_hz.max(1) as f64;
                self.rgba = vec![0; viewport.pixels() * 4];
                self.indices = vec![0; viewport.pixels()];
                Effect::None
            }
            Message::Frame(f) => {
                let (Some(viewport), Some(palette)) = (self.viewport, &self.palette) else {
                    return Effect::Disconnect("frame before welcome".into());
                };
                if (f.width as usize, f.height as usize) != (viewport.width(), viewport.height()) {
                    return Effect::Disconnect("frame of the wrong size".into());
                }
                if self.mode != RenderMode::Server {
                    return Effect::None; // a frame still in flight from before a switch
                }
                shared::render::sky_rows(&f.camera, viewport, &mut self.sky);
                let decoded = self.decoder.decode(
                    f.payload,
                    viewport,
                    f.encoding,
                    &self.sky,
                    &mut self.indices,
                );
                if let Err(e) = decoded {
                    return Effect::Disconnect(e.to_string());
                }
                palette.expand_rgba(&self.indices, &mut self.rgba);
                self.shown = Some(f.camera);
                self.last_frame_input = f.last_input;
                self.last_encoding = Some(f.encoding);
                Effect::FrameReady
            }
            Message::MapChunk(c) => self.map_chunk(c),
            Message::State(s) => {
                // Glide over as many ticks as this state is newer than the last one: a
                // crowded server, or a slow link, sends fewer than one a tick.
                let ticks = self
                    .last_tick
                    .map_or(1, |t| s.tick.wrapping_sub(t).clamp(1, 15));
                self.span_ms = ticks as f64 * self.tick_ms;
                self.last_tick = Some(s.tick);
                self.prev = Some(self.camera_at(now).unwrap_or(s.camera));
                self.next = Some(s.camera);
                self.next_at = now;
                Effect::None
            }
            Message::Players(list) => {
                self.players = list;
                Effect::None
            }
            Message::Error { code, text } => Effect::ServerError(format!("{code:?}: {text}")),
            Message::Pong(stamp) => Effect::Pong(stamp),
            _ => Effect::Disconnect("unexpected message from server".into()),
        }
    }

    fn map_chunk(&mut self, c: protocol::MapChunk) -> Effect {
        if self.map.is_some() {
            return Effect::None;
        }
        if c.offset as usize != self.map_bytes.len() {
            return Effect::Disconnect("map chunks out of order".into());
        }
        if self.map_bytes.is_empty() {
            self.map_bytes.reserve_exact(c.total as usize);
        }
        self.map_bytes.extend_from_slice(c.data);
        if self.map_bytes.len() == c.total as usize {
            match Map::from_compressed(&self.map_bytes) {
                Ok(map) => {
                    self.map = Some(map);
                    self.map_bytes = Vec::new();
                }
                Err(e) => return Effect::Disconnect(format!("bad map: {e}")),
            }
        }
        Effect::None
    }

    /// The interpolated camera at `now`, between the last two states.
    pub fn camera_at(&self, now: f64) -> Option<Camera> {
        let next = self.next?;
        let prev = self.prev.unwrap_or(next);
        let t = ((now - self.next_at) / self.span_ms).clamp(0.0, 1.0) as f32;
        if t >= 1.0 {
            return Some(next);
        }
        let (w, h) = (self.map_size.0.max(1) as f32, self.map_size.1.max(1) as f32);
        Some(Camera {
            x: prev.x + wrapped_delta(prev.x, next.x, w) * t,
            y: prev.y + wrapped_delta(prev.y, next.y, h) * t,
            altitude: prev.altitude + (next.altitude - prev.altitude) * t,
            yaw: prev.yaw + wrapped_delta(prev.yaw, next.yaw, core::f32::consts::TAU) * t,
            horizon: prev.horizon + (next.horizon - prev.horizon) * t,
            ..next
        })
    }

    /// Renders locally (client mode). True when a new picture is ready in [`Session::rgba`];
    /// false when nothing can be drawn yet or the camera has not moved.
    pub fn render_local(&mut self, now: f64) -> bool {
        let (Some(map), Some(viewport), Some(camera)) =
            (&self.map, self.viewport, self.camera_at(now))
        else {
            return false;
        };
        if self.shown == Some(camera) {
            return false;
        }
        self.renderer.render(
            map,
            &camera,
            &RenderOptions::default(),
            viewport,
            &mut self.indices,
        );
        map.palette().expand_rgba(&self.indices, &mut self.rgba);
        self.shown = Some(camera);
        true
    }

    /// Switching modes; the picture stays until the other side draws a new one.
    pub fn set_mode(&mut self, mode: RenderMode) {
        self.mode = mode;
        self.shown = None;
    }
}

/// Shortest signed step from `a` to `b` on a circle of length `period`.
fn wrapped_delta(a: f32, b: f32, period: f32) -> f32 {
    let d = b - a;
    if d > period / 2.0 {
        d - period
    } else if d < -period / 2.0 {
        d + period
    } else {
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::protocol::{Frame, FrameEncoding, MapChunk, State, Welcome};

    fn encode(m: &Message) -> Vec<u8> {
        let mut v = Vec::new();
        m.encode(&mut v);
        v
    }

    fn welcome(map: &Map) -> Vec<u8> {
        encode(&Message::Welcome(Welcome {
            version: protocol::VERSION,
            player_id: 4,
            mode: RenderMode::Client,
            frame_width: 64,
            frame_height: 48,
            map_width: map.width() as u16,
            map_height: map.height() as u16,
            tick_hz: 60,
            name: "ace".into(),
            palette: Box::new(map.palette().clone()),
        }))
    }

    /// The point of the whole design: a server frame and a local render of the same
    /// camera are the same pixels.
    #[test]
    fn local_render_equals_server_frame() {
        let map = shared::mapgen::generate_sized(256, 7);
        let camera = Camera {
            x: 100.0,
            y: 100.0,
            altitude: 200.0,
            ..Camera::default()
        };
        let viewport = Viewport::new(64, 48).unwrap();
        let mut indices = vec![0; viewport.pixels()];
        Renderer::new().render(
            &map,
            &camera,
            &RenderOptions::default(),
            viewport,
            &mut indices,
        );

        let mut server = Session::new(RenderMode::Server);
        assert_eq!(server.handle(&welcome(&map), 0.0), Effect::None);
        let mut encoder = shared::codec::FrameEncoder::new();
        let mut sky = Vec::new();
        shared::render::sky_rows(&camera, viewport, &mut sky);
        for encoding in [
            FrameEncoding::Raw,
            FrameEncoding::Runs,
            FrameEncoding::RunPlanes,
        ] {
            let frame = encode(&Message::Frame(Frame {
                seq: 1,
                camera,
                last_input: 0,
                width: 64,
                height: 48,
                encoding,
                payload: encoder.encode(&indices, viewport, encoding, &sky),
            }));
            assert_eq!(server.handle(&frame, 0.0), Effect::FrameReady);
        }

        let mut client = Session::new(RenderMode::Client);
        client.handle(&welcome(&map), 0.0);
        let blob = map.to_compressed();
        for (i, chunk) in blob.chunks(1000).enumerate() {
            let msg = encode(&Message::MapChunk(MapChunk {
                offset: (i * 1000) as u32,
                total: blob.len() as u32,
                data: chunk,
            }));
            assert_eq!(client.handle(&msg, 0.0), Effect::None);
        }
        assert!(client.map_ready());
        assert!(!client.render_local(0.0), "no camera yet");
        client.handle(
            &encode(&Message::State(State {
                tick: 1,
                last_input: 0,
                camera,
            })),
            0.0,
        );
        assert!(client.render_local(100.0));
        assert!(
            !client.render_local(200.0),
            "same camera: nothing new to draw"
        );
        assert_eq!(client.rgba(), server.rgba());
        assert!(client.rgba().chunks(4).any(|p| p != [0, 0, 0, 255]));
    }

    #[test]
    fn interpolates_across_the_wrap() {
        let mut s = Session::new(RenderMode::Client);
        s.map_size = (1024, 1024);
        let a = Camera {
            x: 1020.0,
            yaw: 6.2,
            ..Camera::default()
        };
        let b = Camera {
            x: 4.0,
            yaw: 0.1,
            ..Camera::default()
        };
        s.prev = Some(a);
        s.next = Some(b);
        s.next_at = 0.0;
        let mid = s.camera_at(s.span_ms / 2.0).unwrap();
        assert!((mid.x - 1024.0).abs() < 1e-3, "{}", mid.x);
        assert!((mid.yaw - 6.2916).abs() < 1e-3, "{}", mid.yaw);
        assert_eq!(
            s.camera_at(1000.0),
            Some(b),
            "exactly the target after a tick"
        );
    }

    #[test]
    fn glides_over_the_ticks_between_states() {
        let mut s = Session::new(RenderMode::Client);
        s.map_size = (1024, 1024);
        let state = |tick, x| {
            encode(&Message::State(State {
                tick,
                last_input: 0,
                camera: Camera {
                    x,
                    ..Camera::default()
                },
            }))
        };
        s.handle(&state(10, 100.0), 0.0);
        s.handle(&state(13, 130.0), 50.0); // three ticks later: glide over 50 ms
        let x = |t: f64| s.camera_at(t).unwrap().x;
        assert_eq!(x(50.0), 100.0);
        assert!((x(75.0) - 115.0).abs() < 1e-3, "{}", x(75.0));
        assert_eq!(x(100.0), 130.0);
    }

    #[test]
    fn protocol_violations_disconnect() {
        let mut s = Session::default();
        assert!(matches!(s.handle(&[99], 0.0), Effect::Disconnect(_)));
        let frame = encode(&Message::Frame(Frame {
            seq: 1,
            camera: Camera::default(),
            last_input: 0,
            width: 64,
            height: 48,
            encoding: FrameEncoding::Raw,
            payload: &[0; 64 * 48],
        }));
        assert!(
            matches!(s.handle(&frame, 0.0), Effect::Disconnect(_)),
            "frame before welcome"
        );
        let chunk = encode(&Message::MapChunk(MapChunk {
            offset: 5,
            total: 10,
            data: &[1],
        }));
        s.mode = RenderMode::Client;
        assert!(
            matches!(s.handle(&chunk, 0.0), Effect::Disconnect(_)),
            "out of order"
        );
    }
}
