//! The client's view of the game, free of web APIs so it is testable natively: what the
//! server said (palette, frames, map, cameras, players) and what to draw next.

use crate::predict::Predictor;
use shared::protocol::{self, FrameEncoding, Input, Message, PlayerInfo, RenderMode};
use shared::sprite::Aircraft;
use shared::{Camera, Map, Palette, RenderOptions, Renderer, Viewport};

/// How often a quiet server sends Players lists: others glide over this long.
const PLAYERS_INTERVAL_MS: f64 = 50.0;

/// What `Session::handle` asks the page to do.
#[derive(Debug, PartialEq)]
pub enum Effect {
    None,
    /// A new server-rendered frame is ready in [`Session::indices`].
    FrameReady,
    /// A video frame came: [`Session::video_chunk`] holds its access unit for the
    /// decoder; `key`: a decoder can start at it.
    VideoFrame {
        seq: u32,
        key: bool,
    },
    /// The server reported an error; show it.
    ServerError(String),
    /// The room is full, or not (any more) on the server: show why and the lobby.
    Refused {
        full: bool,
        text: String,
    },
    /// The server broke the protocol; drop the connection.
    Disconnect(String),
    /// The answer to our `Ping` with this stamp.
    Pong(u32),
    /// The race changed: the course, the player's run, a result or the ghost.
    Race,
    /// The frame size changed ([`Session::viewport`]).
    Resized,
    /// A chat line, to file in the chat.
    Chat(protocol::ChatLine),
    /// A word from the chat (a message refused, chat unavailable).
    ChatNotice(String),
}

pub struct Session {
    pub mode: RenderMode,
    pub player_id: Option<u16>,
    pub name: String,
    pub viewport: Option<Viewport>,
    palette: Option<Palette>,
    /// Palette indices of the latest picture, row by row.
    indices: Vec<u8>,
    decoder: shared::codec::FrameDecoder,
    sky: Vec<u8>,
    renderer: Renderer,
    map: Option<Map>,
    map_bytes: Vec<u8>,
    map_requested: bool,
    map_size: (u16, u16),
    /// The map's name from the Welcome: `GET /map/<id>` serves it.
    pub map_id: Option<u64>,
    /// Fetch the map even in server mode (Auto measures the device with it).
    pub prefetch_map: bool,
    /// Scratch for probe renders (Auto, in server mode).
    probe: Vec<u8>,
    pub players: Vec<PlayerInfo>,
    /// The list before `players`, and when `players` came (ms): others glide between.
    players_before: Vec<PlayerInfo>,
    players_at: f64,
    /// The others drawn in the picture in `indices` (browser-side rendering).
    shown_aircraft: Vec<Aircraft>,
    /// The player's own camera, predicted from its inputs and the server's states.
    predict: Predictor,
    /// Camera of the picture currently in `indices`.
    pub shown: Option<Camera>,
    pub last_frame_input: u32,
    /// How the last server-rendered frame came.
    pub last_encoding: Option<FrameEncoding>,
    pub race: crate::race::RaceView,
    /// Other players the picture in `indices` shows, and where their name labels go
    /// (frame pixels): from the server's frame, or from the local render.
    labels: Vec<protocol::Label>,
    /// The last State's tick and when it came (ms): the server's clock, for the ghost.
    last_state: Option<(u32, f64)>,
    tick_hz: u8,
    /// The access unit of the last video frame.
    video_chunk: Vec<u8>,
    /// The room the Welcome put the player in.
    pub room: String,
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
            indices: Vec::new(),
            decoder: shared::codec::FrameDecoder::new(),
            sky: Vec::new(),
            renderer: Renderer::new(),
            map: None,
            map_bytes: Vec::new(),
            map_requested: false,
            map_size: (0, 0),
            map_id: None,
            prefetch_map: false,
            probe: Vec::new(),
            players: Vec::new(),
            players_before: Vec::new(),
            players_at: 0.0,
            shown_aircraft: Vec::new(),
            predict: Predictor::new(60, (1, 1)),
            shown: None,
            last_frame_input: 0,
            last_encoding: None,
            race: crate::race::RaceView::new(60),
            labels: Vec::new(),
            last_state: None,
            tick_hz: 60,
            video_chunk: Vec::new(),
            room: String::new(),
        }
    }

    /// The latest picture, palette indices row by row.
    pub fn indices(&self) -> &[u8] {
        &self.indices
    }

    /// The access unit of the last [`Effect::VideoFrame`].
    pub fn video_chunk(&self) -> &[u8] {
        &self.video_chunk
    }

    pub fn palette(&self) -> Option<&Palette> {
        self.palette.as_ref()
    }

    pub fn map_ready(&self) -> bool {
        self.map.is_some()
    }

    /// Whether to ask for the map now: client-side rendering needs it, and it is neither
    /// here nor on its way.
    pub fn should_request_map(&mut self) -> bool {
        let want = (self.mode == RenderMode::Client || self.prefetch_map)
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
                // The server's word: video asked of it without support comes back as
                // lossless server mode.
                self.mode = w.mode;
                self.name = w.name;
                self.room = w.room;
                self.viewport = Some(viewport);
                self.palette = Some(*w.palette);
                self.map_size = (w.map_width, w.map_height);
                self.map_id = Some(w.map_id);
                self.predict = Predictor::new(w.tick_hz, self.map_size);
                self.tick_hz = w.tick_hz.max(1);
                self.race = crate::race::RaceView::new(w.tick_hz.into());
                self.indices = vec![0; viewport.pixels()];
                Effect::None
            }
            Message::Frame(f) => {
                let (Some(viewport), Some(_)) = (self.viewport, &self.palette) else {
                    return Effect::Disconnect("frame before welcome".into());
                };
                if (f.width as usize, f.height as usize) != (viewport.width(), viewport.height()) {
                    return Effect::None; // drawn before a resize: the next one fits
                }
                // A frame still in flight from before a switch: client mode has no use
                // for any, lossless mode none for video.
                let video = f.encoding == FrameEncoding::Video;
                if !self.mode.server_renders() || (video && self.mode != RenderMode::Video) {
                    return Effect::None;
                }
                if video {
                    let (flags, chunk) = f.payload.split_first().unwrap_or((&0, &[]));
                    self.video_chunk.clear();
                    self.video_chunk.extend_from_slice(chunk);
                    self.predict.acknowledge(f.last_input);
                    self.labels = f.labels;
                    self.shown = Some(f.camera);
                    self.last_frame_input = f.last_input;
                    self.last_encoding = Some(f.encoding);
                    return Effect::VideoFrame {
                        seq: f.seq,
                        key: flags & protocol::VIDEO_KEY != 0,
                    };
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
                self.predict.acknowledge(f.last_input);
                self.labels = f.labels;
                self.shown = Some(f.camera);
                self.last_frame_input = f.last_input;
                self.last_encoding = Some(f.encoding);
                Effect::FrameReady
            }
            Message::MapChunk(c) => self.map_chunk(c),
            Message::State(s) => {
                self.predict.state(&s, now, self.map.as_ref());
                self.last_state = Some((s.tick, now));
                Effect::None
            }
            Message::Resized(w, h) => {
                let viewport = match Viewport::new(w.into(), h.into()) {
                    Ok(v) => v,
                    Err(e) => return Effect::Disconnect(e.to_string()),
                };
                self.viewport = Some(viewport);
                self.indices = vec![0; viewport.pixels()];
                self.shown = None; // draw again at the new size
                self.labels.clear();
                Effect::Resized
            }
            Message::Course(c) => {
                self.race.course(c.id, c.gates);
                Effect::Race
            }
            Message::Race(e) => {
                self.race.event(e, now);
                Effect::Race
            }
            Message::Result(r) => {
                self.race.result(r);
                Effect::Race
            }
            Message::Ghost(g) => {
                self.race.set_ghost(g);
                Effect::Race
            }
            Message::Players(list) => {
                self.players_before = std::mem::replace(&mut self.players, list);
                self.players_at = now;
                Effect::None
            }
            Message::Error {
                code: protocol::ErrorCode::ServerFull,
                text,
            } => Effect::Refused { full: true, text },
            Message::Error {
                code: protocol::ErrorCode::NoSuchRoom,
                text,
            } => Effect::Refused { full: false, text },
            Message::Error { code, text } => Effect::ServerError(format!("{code:?}: {text}")),
            Message::Pong(stamp) => Effect::Pong(stamp),
            Message::Chat(line) => Effect::Chat(line),
            Message::ChatNotice(text) => Effect::ChatNotice(text),
            _ => Effect::Disconnect("unexpected message from server".into()),
        }
    }

    /// The map fetched over HTTP: taken if its bytes are the map the Welcome named (a
    /// fetch from before a reconnect may answer late), and it decodes.
    pub fn load_map(&mut self, bytes: &[u8]) -> Result<(), String> {
        if self.map.is_some() {
            return Ok(());
        }
        let id = shared::map::map_id(bytes);
        if Some(id) != self.map_id {
            return Err(format!("map {id:016x} is not the one this server named"));
        }
        let map = Map::from_compressed(bytes).map_err(|e| format!("bad map: {e}"))?;
        self.map = Some(map);
        Ok(())
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

    /// The prediction has nothing left to move: every input applied by the server and
    /// no correction fading.
    pub fn settled(&self) -> bool {
        self.predict.settled()
    }

    /// Records an input as it is sent, for prediction and late warp.
    pub fn sent_input(&mut self, input: &Input, now: f64) {
        self.predict.sent(input, now);
    }

    /// The player's camera at `now` as predicted (client mode, once the map is here).
    pub fn camera_at(&mut self, now: f64) -> Option<Camera> {
        self.predict.camera(now, self.map.as_ref()?)
    }

    /// Late warp for the server-rendered frame on screen: how many pixels to shift it
    /// (right, down) so that the looks sent since show before the frame answering them
    /// arrives. In Voxel Space a yaw change moves the picture sideways and a horizon
    /// change moves it up or down; the exact frame replaces the warped one. Whole
    /// pixels, as the display shifts.
    pub fn warp(&self) -> (i32, i32) {
        let (Some(cam), Some(v)) = (self.shown, self.viewport) else {
            return (0, 0);
        };
        if self.mode != RenderMode::Server {
            return (0, 0);
        }
        let look = self.predict.pending_look(self.last_frame_input);
        let (w, h) = (v.width() as f32, v.height() as f32);
        let focal = w * 0.5 / (cam.fov * 0.5).tan();
        let yaw = look.look_yaw.clamp(-cam.fov * 0.5, cam.fov * 0.5);
        let max_pitch = shared::flight::FlightModel::default().max_pitch;
        let horizon = (cam.horizon + look.look_pitch).clamp(-max_pitch, max_pitch);
        let dx = (focal * yaw.tan()).clamp(-w, w);
        let dy = ((horizon - cam.horizon) * h).clamp(-h, h);
        (dx.round() as i32, dy.round() as i32)
    }

    /// The name labels of the picture on screen: each shown player's name and where it
    /// goes, frame pixels.
    pub fn labels(&self) -> Vec<(&str, f32, f32)> {
        (self.labels.iter())
            .filter_map(|l| {
                let p = self.players.iter().find(|p| p.id == l.id)?;
                Some((p.name.as_str(), l.x as f32, l.y as f32))
            })
            .collect()
    }

    /// The other players' aircraft at `now`, each moved from where the list before last
    /// put it towards where the last one does, over one list interval.
    pub fn aircraft_at(&self, now: f64) -> Vec<Aircraft> {
        self.others_at(now).map(|(_, a)| a).collect()
    }

    /// [`Session::aircraft_at`] with each player's id.
    fn others_at(&self, now: f64) -> impl Iterator<Item = (u16, Aircraft)> + '_ {
        let t = ((now - self.players_at) / PLAYERS_INTERVAL_MS).clamp(0.0, 1.0) as f32;
        let (w, h) = (self.map_size.0.max(1) as f32, self.map_size.1.max(1) as f32);
        self.players
            .iter()
            .filter(|p| Some(p.id) != self.player_id)
            .map(move |p| {
                let c = match self.players_before.iter().find(|b| b.id == p.id) {
                    Some(before) if t < 1.0 => {
                        crate::predict::lerp(before.camera, p.camera, t, (w, h))
                    }
                    _ => p.camera,
                };
                (p.id, Aircraft::of(p.id, &c))
            })
    }

    /// The server's tick at `now`, from the last State (its frames show one ahead).
    fn tick_at(&self, now: f64) -> u32 {
        self.last_state.map_or(0, |(tick, at)| {
            let since = ((now - at).max(0.0) * self.tick_hz as f64 / 1000.0) as u32;
            tick.wrapping_add(since)
        })
    }

    /// Every sprite of a local picture of `camera` at `now`: the others, then the ghost
    /// and the gates, as the server's frames list them.
    fn scene_at(&self, camera: &Camera, now: f64) -> Vec<Aircraft> {
        let mut scene = self.aircraft_at(now);
        let size = (self.map_size.0 as f32, self.map_size.1 as f32);
        let tick = self.tick_at(now).wrapping_add(1);
        self.race.sprites(camera, tick, size, &mut scene);
        scene
    }

    /// Whether a local render at `now` would draw something new: the camera, the others
    /// or the ghost moved (client mode, once the map is here).
    pub fn stale(&mut self, now: f64) -> bool {
        if self.mode != RenderMode::Client {
            return false;
        }
        let camera = self.camera_at(now);
        camera != self.shown
            || camera.is_some_and(|c| self.scene_at(&c, now) != self.shown_aircraft)
    }

    /// Renders locally (client mode). True when a new picture is ready in [`Session::indices`];
    /// false when nothing can be drawn yet or the camera has not moved.
    pub fn render_local(&mut self, now: f64) -> bool {
        let camera = self.camera_at(now);
        let (Some(map), Some(viewport), Some(camera)) = (&self.map, self.viewport, camera) else {
            return false;
        };
        let aircraft = self.scene_at(&camera, now);
        if self.shown == Some(camera) && self.shown_aircraft == aircraft {
            return false;
        }
        self.renderer.render_scene(
            map,
            &camera,
            &RenderOptions::default(),
            viewport,
            &aircraft,
            &mut self.indices,
        );
        // The scene lists the others first, in `others_at`'s order.
        let ids: Vec<u16> = self.others_at(now).map(|(id, _)| id).collect();
        self.labels = (self.renderer.shown().iter())
            .filter_map(|s| {
                Some(protocol::Label {
                    id: *ids.get(s.index)?,
                    x: s.x.clamp(-9999.0, 9999.0) as i16,
                    y: s.y.clamp(-9999.0, 9999.0) as i16,
                })
            })
            .collect();
        self.shown = Some(camera);
        self.shown_aircraft = aircraft;
        true
    }

    /// Renders the server frame's camera here, into scratch, to time it (Auto, in server
    /// mode): false until the map and a frame are here.
    pub fn probe(&mut self) -> bool {
        let (Some(map), Some(viewport), Some(camera)) = (&self.map, self.viewport, self.shown)
        else {
            return false;
        };
        self.probe.resize(viewport.pixels(), 0);
        let options = RenderOptions::default();
        let scene = &self.shown_aircraft;
        (self.renderer).render_scene(map, &camera, &options, viewport, scene, &mut self.probe);
        true
    }

    /// Switching modes; the picture stays until the other side draws a new one.
    pub fn set_mode(&mut self, mode: RenderMode) {
        self.mode = mode;
        self.shown = None;
        self.labels.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::protocol::{Frame, FrameEncoding, MapChunk, State, Welcome};
    use shared::sprite::Aircraft;

    fn encode(m: &Message) -> Vec<u8> {
        let mut v = Vec::new();
        m.encode(&mut v);
        v
    }

    fn welcome(map: &Map, mode: RenderMode) -> Vec<u8> {
        encode(&Message::Welcome(Welcome {
            version: protocol::VERSION,
            player_id: 4,
            mode,
            frame_width: 64,
            frame_height: 48,
            map_width: map.width() as u16,
            map_height: map.height() as u16,
            tick_hz: 60,
            name: "ace".into(),
            palette: Box::new(map.palette().clone()),
            map_id: 1,
            room: "r1".into(),
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
        assert_eq!(
            server.handle(&welcome(&map, RenderMode::Server), 0.0),
            Effect::None
        );
        let mut encoder = shared::codec::FrameEncoder::new();
        let mut sky = Vec::new();
        shared::render::sky_rows(&camera, viewport, &mut sky);
        for encoding in [
            FrameEncoding::Raw,
            FrameEncoding::Runs,
            FrameEncoding::RunPlanes,
        ] {
            let frame = encode(&Message::Frame(Frame {
                labels: Vec::new(),
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
        client.handle(&welcome(&map, RenderMode::Client), 0.0);
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
        assert_eq!(client.indices(), server.indices());
        assert_eq!(server.indices(), &indices[..]);
        assert_eq!(client.palette(), Some(map.palette()));
    }

    #[test]
    fn others_from_the_players_lists_are_drawn_and_glide() {
        let map = shared::mapgen::generate_sized(256, 7);
        let mut s = Session::new(RenderMode::Client);
        s.handle(&welcome(&map, RenderMode::Client), 0.0);
        let blob = map.to_compressed();
        for (i, chunk) in blob.chunks(1000).enumerate() {
            let chunk = MapChunk {
                offset: (i * 1000) as u32,
                total: blob.len() as u32,
                data: chunk,
            };
            s.handle(&encode(&Message::MapChunk(chunk)), 0.0);
        }
        assert!(s.map_ready());
        let me = Camera {
            x: 100.0,
            y: 100.0,
            altitude: 320.0,
            ..Camera::default()
        };
        let state = State {
            tick: 1,
            last_input: 0,
            camera: me,
        };
        s.handle(&encode(&Message::State(state)), 0.0);
        let list = |y: f32| {
            let other = Camera {
                y,
                altitude: 324.0,
                ..me
            };
            encode(&Message::Players(vec![
                PlayerInfo {
                    id: 4,
                    name: "ace".into(),
                    camera: me,
                },
                PlayerInfo {
                    id: 9,
                    name: "bo".into(),
                    camera: other,
                },
            ]))
        };
        s.handle(&list(70.0), 0.0);
        assert!(s.stale(10.0));
        assert!(s.render_local(10.0));
        let viewport = Viewport::new(64, 48).unwrap();
        let draw = |y: f32| {
            let other = Aircraft {
                x: 100.0,
                y,
                altitude: 324.0,
                yaw: me.yaw,
                tint: 9 % 8,
                look: Default::default(),
            };
            let mut out = vec![0; viewport.pixels()];
            Renderer::new().render_scene(
                &map,
                &me,
                &RenderOptions::default(),
                viewport,
                &[other],
                &mut out,
            );
            out
        };
        assert_eq!(
            s.indices(),
            &draw(70.0)[..],
            "the other player, not the player itself"
        );
        // Its name label, over the middle of the picture (it is straight ahead).
        let labels = s.labels();
        assert_eq!(labels.len(), 1, "{labels:?}");
        assert_eq!(labels[0].0, "bo");
        assert!((28.0..=36.0).contains(&labels[0].1), "{labels:?}");
        assert!(!s.stale(20.0), "nothing moved");
        // The next list has it 10 units further: halfway through the interval, halfway.
        s.handle(&list(60.0), 100.0);
        assert!(s.render_local(100.0 + PLAYERS_INTERVAL_MS / 2.0));
        assert_eq!(s.indices(), &draw(65.0)[..]);
        assert!(s.render_local(200.0));
        assert_eq!(s.indices(), &draw(60.0)[..]);
    }

    #[test]
    fn a_map_over_http_is_taken_only_if_it_is_the_named_one() {
        let map = shared::mapgen::generate_sized(64, 1);
        let blob = map.to_compressed();
        let id = shared::map::map_id(&blob);
        let mut s = Session::new(RenderMode::Client);
        s.handle(&welcome(&map, RenderMode::Client), 0.0);
        assert_eq!(s.map_id, Some(1));
        assert!(s.load_map(&blob).is_err(), "not the map the Welcome named");
        assert!(!s.map_ready());
        s.map_id = Some(id);
        assert!(s.load_map(&blob[..100]).is_err(), "a torn download");
        assert!(s.load_map(&blob).is_ok());
        assert!(s.map_ready());
    }

    #[test]
    fn resized_frames_replace_the_old_size_and_late_ones_are_dropped() {
        let map = shared::mapgen::generate_sized(64, 1);
        let mut s = Session::new(RenderMode::Server);
        s.handle(&welcome(&map, RenderMode::Server), 0.0);
        let frame = |w: u16, h: u16| {
            let payload = vec![3u8; w as usize * h as usize];
            encode(&Message::Frame(Frame {
                labels: Vec::new(),
                seq: 1,
                camera: Camera::default(),
                last_input: 0,
                width: w,
                height: h,
                encoding: FrameEncoding::Raw,
                payload: &payload,
            }))
        };
        assert_eq!(s.handle(&frame(64, 48), 0.0), Effect::FrameReady);
        assert_eq!(
            s.handle(&encode(&Message::Resized(96, 48)), 0.0),
            Effect::Resized
        );
        assert_eq!(s.viewport, Some(Viewport::new(96, 48).unwrap()));
        assert_eq!(s.handle(&frame(64, 48), 0.0), Effect::None, "drawn before");
        assert_eq!(s.handle(&frame(96, 48), 0.0), Effect::FrameReady);
        assert_eq!(s.indices().len(), 96 * 48);
        assert!(matches!(
            s.handle(&encode(&Message::Resized(1, 1)), 0.0),
            Effect::Disconnect(_)
        ));
    }

    #[test]
    fn protocol_violations_disconnect() {
        let mut s = Session::default();
        assert!(matches!(s.handle(&[99], 0.0), Effect::Disconnect(_)));
        let frame = encode(&Message::Frame(Frame {
            labels: Vec::new(),
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

    #[test]
    fn video_frames_go_to_the_decoder_only_in_video_mode() {
        let map = shared::mapgen::generate_sized(64, 1);
        let video = |seq: u32, flags: u8| {
            encode(&Message::Frame(Frame {
                labels: Vec::new(),
                seq,
                camera: Camera::default(),
                last_input: 7,
                width: 64,
                height: 48,
                encoding: FrameEncoding::Video,
                payload: &[flags, 0, 0, 0, 1, 0x65],
            }))
        };
        let mut s = Session::new(RenderMode::Video);
        s.handle(&welcome(&map, RenderMode::Video), 0.0);
        assert_eq!(
            s.handle(&video(3, protocol::VIDEO_KEY), 0.0),
            Effect::VideoFrame { seq: 3, key: true }
        );
        assert_eq!(s.video_chunk(), [0, 0, 0, 1, 0x65]);
        assert_eq!(s.last_frame_input, 7);
        assert_eq!(
            s.handle(&video(4, 0), 0.0),
            Effect::VideoFrame { seq: 4, key: false }
        );
        // Still in flight after a switch to lossless frames or to the browser: dropped.
        s.set_mode(RenderMode::Server);
        assert_eq!(s.handle(&video(5, 0), 0.0), Effect::None);
        s.set_mode(RenderMode::Client);
        assert_eq!(s.handle(&video(6, 0), 0.0), Effect::None);
        // A server without video for this client answers Hello's video with lossless.
        let mut s = Session::new(RenderMode::Video);
        s.handle(&welcome(&map, RenderMode::Server), 0.0);
        assert_eq!(s.mode, RenderMode::Server);
    }
}
