//! The game: one camera per player, a fixed 60 Hz tick that is the only thing that moves
//! cameras, and per-player output: rendered frames (server mode) or camera state (client
//! mode). The network layer hands us connections through [`crate::net::GameEndpoint`].

pub(crate) mod api;
pub mod bucket;
pub mod bus;
mod chat;
mod conn;
pub mod lobby;
pub mod names;
pub mod race;
mod records;
#[cfg(test)]
mod tests;
mod tick;
#[cfg(test)]
mod video_tests;

use crate::ws::deflate::{Content, Deflate};
use crate::ws::frame::{OpCode, Outgoing};
use crate::ws::outbox::Outbox;
use shared::protocol::{FrameEncoding, Message, RenderMode};
use shared::{Camera, Map, Renderer, Viewport};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub const TICK_HZ: u32 = 60;
/// Seconds a tick simulates.
const TICK_DT: f32 = 1.0 / TICK_HZ as f32;
/// Frames input changes may bring between ticks, whatever the `--fps` cap: a little
/// over one per input the client sends (at most one every 16 ms), with a short burst.
/// Each counts against the cap (the tick's next frame waits a frame interval after it),
/// so a player changing keys every frame gets about 64 frames a second, not twice that.
const INPUT_FRAMES_PER_SECOND: f64 = 64.0;
const INPUT_FRAME_BURST: f64 = 4.0;

#[derive(Clone, Debug)]
pub struct GameConfig {
    /// Most frames per second rendered for one player.
    pub fps: u32,
    /// Largest viewport rendered; bigger requests are scaled down, aspect kept.
    pub max_viewport: Viewport,
    pub max_players: usize,
    /// Frames rendered at once (the render pool's size).
    pub render_threads: usize,
    /// Highest rate of one video stream, bits a second.
    pub video_ceiling: u32,
}

/// Lowest rate a video stream adapts down to, bits a second: below it the picture is
/// not worth having, and a queue builds instead (the pacer then skips frames).
const VIDEO_FLOOR: u32 = 250_000;

/// One room: a world (map, course, players) with its own tick, shared by the tick task
/// and every connection in it. A process holds one or more ([`lobby::Lobby`]).
pub struct Game {
    /// The room's name in links (`/?room=<id>`) and the lobby.
    room: String,
    /// What the lobby says of the map: its seed, or the file it came from.
    map_name: String,
    /// Saved runs go to every room through this; the room hears the others' here too.
    bus: bus::Bus,
    /// Where the room posts run results on `#race`.
    chat: crate::chat::Chat,
    config: GameConfig,
    map: Arc<Map>,
    course: shared::course::Course,
    /// Names the course on the boards: [`shared::course::seed_of`] in hex.
    course_id: u64,
    scenery: shared::course::Scenery,
    /// Where finished runs go to be saved, and the boards come from.
    records: records::Records,
    /// The map from above, as a PNG, for the minimap.
    overview: bytes::Bytes,
    /// `map_blob` again, for `/map/<map_id>` without a copy a request.
    map_bytes: bytes::Bytes,
    /// `Map::to_compressed`, made once, sent in chunks to client-side renderers and
    /// served at `/map/<map_id>`.
    map_blob: Arc<Vec<u8>>,
    /// FNV-1a of `map_blob`: names this exact map for caches.
    map_id: u64,
    flight: shared::flight::FlightModel,
    players: Mutex<Players>,
    render_queue: tick::RenderQueue,
    stats: Stats,
}

/// Counters for `/stats`, written by the tick and the render pool.
#[derive(Default)]
struct Stats {
    ticks: AtomicU64,
    /// Sum and maximum of tick durations, microseconds, since the last read of the max.
    tick_us_total: AtomicU64,
    tick_us_max: AtomicU64,
    frames: AtomicU64,
    frame_bytes: AtomicU64,
    /// Video frames not rendered because the player's link was full.
    video_held: AtomicU64,
    /// Chat lines queued to players here, and lines a player missed (queue full).
    chat_delivered: AtomicU64,
    chat_dropped: AtomicU64,
}

#[derive(Default)]
struct Players {
    by_id: HashMap<u16, Player>,
    next_id: u16,
    tick: u32,
    /// Tick frames go out every `stride`th frame interval: more than 1 while the render
    /// pool falls behind, so frames that answer inputs never wait behind a backlog.
    stride: u32,
    /// Ticks in a row that found frames still queued.
    backlog_ticks: u32,
    /// Everyone's aircraft as of the last tick, for server-rendered frames.
    aircraft: Vec<(u16, shared::sprite::Aircraft)>,
    /// Each name's best run on the course, for splits.
    bests: HashMap<String, race::Best>,
    /// The course record's flight, followed by everyone racing.
    ghost: Option<Arc<shared::protocol::GhostRun>>,
}

struct Player {
    name: String,
    camera: Camera,
    keys: u16,
    last_input: u32,
    mode: RenderMode,
    /// False until the Welcome is queued: nothing may overtake it.
    welcomed: bool,
    paused: bool,
    viewport: Viewport,
    wire: FrameWire,
    out: Outbox,
    /// The video encoder (its state runs from frame to frame), made on the first video
    /// frame, lent to a render thread while a frame is drawn, kept across a switch to
    /// lossless frames (a switch back starts with a key frame), dropped in client mode.
    video_encoder: Option<Box<crate::video::VideoEncoder>>,
    /// A render thread is drawing this player's frame.
    rendering: bool,
    /// Camera and input of the last frame sent, and the others it showed, to send only
    /// when the picture changes.
    last_frame: Option<(Camera, u32)>,
    others: Vec<shared::sprite::Aircraft>,
    /// Frames that inputs bring between ticks (see [`INPUT_FRAME_BURST`]).
    input_frames: bucket::TokenBucket,
    /// An input changed the view while a frame was being drawn: draw again at once.
    urgent: bool,
    last_frame_at: Instant,
    frame_seq: u32,
    /// Forces a frame even if the camera did not move (after a mode switch or unpause).
    dirty: bool,
    /// Waiting in the render queue, and in which part.
    queued: Option<tick::Queued>,
    race: race::Race,
    /// The client decodes video frames (it listed them in Hello).
    video_listed: bool,
    /// In video mode: how fast the stream may go, and whether it must restart.
    video: Option<VideoLink>,
}

/// One player's video stream, as the game sees it (the encoder itself is
/// [`Player::video_encoder`], lent to render threads).
struct VideoLink {
    pacer: crate::video::Pacer,
    /// The next frame must be a key frame: the stream (re)starts, or the decoder failed.
    key: bool,
    /// Frames of the same picture still to send once the view rests: each one sharpens
    /// what the decoder shows (the encoder spends its budget on the residual), so a
    /// still view ends up close to the lossless picture.
    refine: u8,
}

/// Frames that sharpen a still video picture (see [`VideoLink::refine`]).
const VIDEO_REFINE_FRAMES: u8 = 6;

impl Players {
    /// The players, and what their frames show of the world besides the terrain, apart:
    /// a player can change while the world is read.
    fn split(&mut self) -> (&mut HashMap<u16, Player>, tick::World<'_>) {
        let Players {
            by_id,
            aircraft,
            ghost,
            tick,
            ..
        } = self;
        let world = tick::World {
            aircraft,
            ghost: ghost.as_deref(),
            tick: *tick,
        };
        (by_id, world)
    }
}

impl Player {
    /// What this player's frames show: the camera one tick ahead with the keys held
    /// now, which is exactly where the next tick puts it unless the keys change again
    /// (then a new frame follows at once). So a key takes effect on the screen when it
    /// arrives, and the tick, the only authority on positions, never contradicts a
    /// frame: no rubber-banding.
    fn view(&self, flight: &shared::flight::FlightModel, map: &Map) -> Camera {
        if self.race.held() {
            return self.camera; // crashed: still until put back
        }
        let controls = shared::flight::Controls {
            keys: self.keys,
            ..Default::default()
        };
        flight.step(&self.camera, &controls, TICK_DT, map)
    }
}

/// What a render thread draws and encodes with. One a thread, not one a player: the
/// buffers (≈ 0.5 MiB at 640x360) stay in that core's cache from frame to frame
/// instead of sixteen players' worth cycling through it (`docs/BENCHMARKS.md`).
#[derive(Default)]
pub(super) struct Canvas {
    renderer: Renderer,
    encoder: shared::codec::FrameEncoder,
}

/// Who a room is among others: its id, what to call its map, the bus it shares, and
/// the process's chat.
pub struct Room {
    pub id: String,
    pub map_name: String,
    pub bus: bus::Bus,
    pub chat: crate::chat::Chat,
}

/// Why a player could not join.
#[derive(Debug, PartialEq, Eq)]
pub enum JoinError {
    Full,
}

impl Game {
    /// A game over `map` whose runs are saved to `store` (without one, finished runs
    /// are judged and shown but not recorded, and players are told so).
    /// A lone room ("r1") on its own bus: what tests and one-room tools want.
    pub async fn new(
        config: GameConfig,
        map: Map,
        store: Option<crate::store::Store>,
    ) -> Result<Arc<Game>, crate::store::StoreError> {
        let bus = bus::Bus::default();
        let room = Room {
            id: "r1".into(),
            map_name: String::new(),
            chat: crate::chat::Chat::new(store.clone(), bus.clone()),
            bus,
        };
        Game::new_room(room, config, map, store).await
    }

    /// A room of a lobby: rooms on one bus announce their runs to each other.
    pub async fn new_room(
        room: Room,
        config: GameConfig,
        map: Map,
        store: Option<crate::store::Store>,
    ) -> Result<Arc<Game>, crate::store::StoreError> {
        let map_blob = Arc::new(map.to_compressed());
        tracing::info!(
            bytes = map_blob.len(),
            "map compressed for client-side rendering"
        );
        let map_id = shared::map::map_id(&map_blob);
        let course_id = shared::course::seed_of(&map);
        let course = shared::course::Course::generate(&map, course_id);
        let (records, loaded) = records::Records::open(store, course_id).await?;
        tracing::info!(
            gates = course.gates.len(),
            course = %format!("{course_id:016x}"),
            players_with_runs = loaded.bests.len(),
            record = loaded.ghost.as_ref().map(|g| g.time),
            "course laid out"
        );
        Ok(Arc::new(Game {
            room: room.id,
            map_name: room.map_name,
            bus: room.bus,
            chat: room.chat,
            render_queue: Default::default(),
            config,
            scenery: course.scenery(),
            overview: api::overview_png(&map).into(),
            map_bytes: bytes::Bytes::from(map_blob.to_vec()),
            course,
            course_id,
            records,
            map: Arc::new(map),
            map_blob,
            map_id,
            flight: Default::default(),
            players: Mutex::new(Players {
                bests: loaded.bests,
                ghost: loaded.ghost.map(Arc::new),
                ..Players::default()
            }),
            stats: Stats::default(),
        }))
    }

    /// Starts the tick task and the render threads; they end when `shutdown` fires.
    pub fn start(self: &Arc<Self>, shutdown: tokio::sync::watch::Receiver<bool>) {
        for i in 0..self.config.render_threads.max(1) {
            let game = self.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("render-{i}"))
                .spawn(move || tick::render_worker(game, Canvas::default()));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a render thread");
            }
        }
        tokio::spawn(tick::run(self.clone(), shutdown));
        self.records.start(self.clone());
        self.hear_others(self.bus.subscribe());
        self.listen_chat();
    }

    pub fn room(&self) -> &str {
        &self.room
    }

    pub fn map_name(&self) -> &str {
        &self.map_name
    }

    pub fn map_id(&self) -> u64 {
        self.map_id
    }

    pub fn course_id(&self) -> u64 {
        self.course_id
    }

    pub fn player_count(&self) -> usize {
        self.players().by_id.len()
    }

    pub fn capacity(&self) -> usize {
        self.config.max_players
    }

    /// The course record: who and how many ticks.
    pub fn record(&self) -> Option<(String, u32)> {
        (self.players().ghost.as_ref()).map(|g| (g.name.clone(), g.time))
    }

    fn players(&self) -> MutexGuard<'_, Players> {
        self.players.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a player; returns its id, unique name and viewport. `deflate`: the
    /// connection negotiated permessage-deflate.
    fn join(
        &self,
        hello: &shared::protocol::Hello,
        viewport: Viewport,
        out: Outbox,
        deflate: Option<Deflate>,
    ) -> Result<(u16, String, Viewport, RenderMode), JoinError> {
        let mut players = self.players();
        if players.by_id.len() >= self.config.max_players {
            return Err(JoinError::Full);
        }
        let mut id = players.next_id;
        while players.by_id.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        players.next_id = id.wrapping_add(1);
        let name = names::unique(&names::sanitize(&hello.name), id, |n| {
            players.by_id.values().any(|p| p.name == n)
        });
        let viewport = viewport.fit_within(self.config.max_viewport);
        let camera = self.spawn_camera(id);
        players.by_id.insert(
            id,
            Player {
                name: name.clone(),
                camera,
                keys: 0,
                last_input: 0,
                mode: RenderMode::Client,
                welcomed: false,
                paused: false,
                viewport,
                wire: FrameWire::choose(hello.encodings, deflate),
                out,
                video_encoder: None,
                rendering: false,
                last_frame: None,
                others: Vec::new(),
                input_frames: bucket::TokenBucket::new(INPUT_FRAMES_PER_SECOND, INPUT_FRAME_BURST),
                urgent: false,
                last_frame_at: Instant::now() - Duration::from_secs(1),
                frame_seq: 0,
                dirty: true,
                queued: None,
                race: race::Race::default(),
                video_listed: hello.encodings & FrameEncoding::Video.bit() != 0,
                video: None,
            },
        );
        let mode = players
            .by_id
            .get_mut(&id)
            .map_or(hello.mode, |p| self.switch_mode(p, hello.mode));
        Ok((id, name, viewport, mode))
    }

    /// Spread new players along a line so they do not start inside each other.
    fn spawn_camera(&self, id: u16) -> Camera {
        let mut c = Camera::default();
        c.x = shared::flight::wrap(c.x + (id as f32) * 24.0, self.map.width() as f32);
        let floor = self.map.height_at(c.x, c.y) + self.flight.clearance;
        c.altitude = c.altitude.max(floor);
        c
    }

    /// Applies an input at once. Looking around turns the camera now; held keys drive
    /// the next tick. In server mode, a changed view is rendered now (see
    /// [`Player::view`]), so neither a key nor a mouse movement waits for a tick.
    fn apply_input(self: &Arc<Self>, id: u16, input: &shared::protocol::Input) {
        let look = shared::flight::Controls::look(input.look_x, input.look_y);
        let mut players = self.players();
        let (by_id, world) = players.split();
        if let Some(p) = by_id.get_mut(&id) {
            let keys_changed = p.keys != input.keys;
            p.keys = input.keys;
            p.last_input = input.seq;
            let looked = !look.is_still();
            if looked {
                p.camera = self.flight.step(&p.camera, &look, 0.0, &self.map);
            }
            if looked || keys_changed {
                tick::maybe_render(self, id, p, Instant::now(), tick::Why::Input, &world);
            }
        }
    }

    /// Server health as one line of JSON, for `/stats`.
    pub fn stats_json(&self) -> String {
        let players = self.players().by_id.len();
        let s = &self.stats;
        let ticks = s.ticks.load(Ordering::Relaxed);
        let mean = s.tick_us_total.load(Ordering::Relaxed) / ticks.max(1);
        let frames = s.frames.load(Ordering::Relaxed);
        format!(
            "{{\"players\":{players},\"ticks\":{ticks},\"tick_us_mean\":{mean},\"tick_us_max\":{},\"frames\":{frames},\"frame_bytes\":{},\"video_frames_held\":{},\"runs_saved\":{},\"runs_not_saved\":{},\"chat_delivered\":{},\"chat_dropped\":{}}}\n",
            s.tick_us_max.swap(0, Ordering::Relaxed),
            s.frame_bytes.load(Ordering::Relaxed),
            s.video_held.load(Ordering::Relaxed),
            self.records.saved.load(Ordering::Relaxed),
            self.records.failed.load(Ordering::Relaxed),
            s.chat_delivered.load(Ordering::Relaxed),
            s.chat_dropped.load(Ordering::Relaxed),
        )
    }

    /// Sets the player's render mode: video only for a client that decodes it (else
    /// lossless server frames). Returns the mode set.
    fn set_mode(&self, id: u16, mode: RenderMode) -> RenderMode {
        let mut players = self.players();
        match players.by_id.get_mut(&id) {
            Some(p) => self.switch_mode(p, mode),
            None => mode,
        }
    }

    fn switch_mode(&self, p: &mut Player, mode: RenderMode) -> RenderMode {
        let mode = match mode {
            RenderMode::Video if !p.video_listed => RenderMode::Server,
            m => m,
        };
        if mode == RenderMode::Video && p.video.is_none() {
            let ceiling = self.config.video_ceiling.max(VIDEO_FLOOR);
            p.video = Some(VideoLink {
                // Two thirds of the ceiling to start: most links take it, and a slow
                // one is found within a second.
                pacer: crate::video::Pacer::new(
                    ceiling / 3 * 2,
                    VIDEO_FLOOR,
                    ceiling,
                    Instant::now(),
                ),
                key: true,
                refine: VIDEO_REFINE_FRAMES,
            });
        } else if mode != RenderMode::Video {
            p.video = None;
        }
        if mode == RenderMode::Client {
            p.video_encoder = None; // only server-side frames need it
        }
        // Render threads write their frames to the socket themselves.
        p.out.write_frames_directly(mode.server_renders());
        p.mode = mode;
        p.dirty = true;
        mode
    }

    /// The client decoded video frame `seq`.
    fn video_ack(&self, id: u16, seq: u32) {
        self.with_player(id, |p| {
            if let Some(v) = &mut p.video {
                v.pacer.acked(seq, Instant::now());
            }
        });
    }

    /// The client's decoder failed: restart its stream with a key frame.
    fn video_key(&self, id: u16) {
        self.with_player(id, |p| {
            if let Some(v) = &mut p.video {
                v.key = true;
                p.dirty = true;
            }
        });
    }

    /// The player's view changes size: clamped like the Hello's; frames of the new size
    /// follow the Resized message (one being drawn at the old size may still come; the
    /// client drops it).
    fn resize(&self, id: u16, viewport: Viewport) -> Viewport {
        let viewport = viewport.fit_within(self.config.max_viewport);
        self.with_player(id, |p| {
            if p.viewport != viewport {
                p.viewport = viewport;
                p.dirty = true;
            }
        });
        viewport
    }

    /// The player gives up its run.
    fn abandon(&self, id: u16) {
        self.with_player(id, |p| {
            if let Some(event) = p.race.abandon() {
                let _ = p.out.try_send(ws_binary(&Message::Race(event)));
                p.dirty = true;
            }
        });
    }

    fn leave(&self, id: u16) {
        self.players().by_id.remove(&id);
    }

    fn with_player(&self, id: u16, f: impl FnOnce(&mut Player)) {
        if let Some(p) = self.players().by_id.get_mut(&id) {
            f(p);
        }
    }
}

/// A protocol message as one WebSocket binary frame.
pub fn ws_binary(msg: &Message) -> Outgoing {
    let mut body = Vec::new();
    msg.encode(&mut body);
    Outgoing::new(OpCode::Binary, body)
}

/// How a player's frames go on the wire.
#[derive(Clone, Copy, Debug, PartialEq)]
struct FrameWire {
    encoding: FrameEncoding,
    /// Compress whole Frame messages with permessage-deflate (run planes only).
    deflate: Option<Deflate>,
}

impl FrameWire {
    /// The best the client decodes: run planes compressed by the WebSocket (the browser
    /// inflates natively), else runs deflated by us, else raw.
    fn choose(encodings: u8, deflate: Option<Deflate>) -> FrameWire {
        let listed = |e: FrameEncoding| encodings & e.bit() != 0;
        let (encoding, deflate) = match deflate {
            Some(d) if listed(FrameEncoding::RunPlanes) => (FrameEncoding::RunPlanes, Some(d)),
            _ if listed(FrameEncoding::Runs) => (FrameEncoding::Runs, None),
            _ => (FrameEncoding::Raw, None),
        };
        FrameWire { encoding, deflate }
    }

    /// Video frames: never compressed again (they are compressed already).
    const VIDEO: FrameWire = FrameWire {
        encoding: FrameEncoding::Video,
        deflate: None,
    };

    /// The frame message for the wire. Its run planes (which end it) are deflated a
    /// block a plane ([`shared::codec::plane_parts`]).
    fn message(&self, msg: &Message) -> Outgoing {
        let frame = ws_binary(msg);
        let (Some(d), Message::Frame(f)) = (self.deflate, msg) else {
            return frame;
        };
        let planes = shared::codec::plane_parts(f.payload, usize::from(f.width));
        let [_, lengths, colours] = planes.map(<[u8]>::len);
        let end = frame.payload.len();
        let parts = [
            end.saturating_sub(lengths + colours),
            end.saturating_sub(colours),
        ];
        let mut compressed = Vec::new();
        let content = Content::RunPlanes { parts };
        crate::ws::deflate::compress(&frame.payload, d, content, &mut compressed);
        Outgoing::compressed(OpCode::Binary, compressed)
    }
}

pub use conn::Endpoint;
