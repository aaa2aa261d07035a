//! The voxelcast wire protocol: one message per WebSocket binary message.
//!
//! Every message starts with a one-byte tag; all integers are little-endian. The
//! `Hello`/`Welcome` exchange carries [`VERSION`], so both ends know the layout of
//! everything after it. `docs/PROTOCOL.md` has the byte tables.
//!
//! Encoding appends to a caller-owned `Vec` (reuse it across messages); decoding
//! borrows large payloads from the input and never panics: every malformed input is a
//! [`DecodeError`].

use crate::camera::Camera;
use crate::map::Palette;
use thiserror::Error;

pub const VERSION: u16 = 5;
/// Longest player name in bytes on the wire (the game allows 16 characters).
pub const MAX_NAME_BYTES: usize = 64;
/// Longest error text in bytes.
pub const MAX_TEXT_BYTES: usize = 1024;
/// Most players in one `Players` message.
pub const MAX_PLAYERS: usize = 4096;
/// Largest map chunk payload.
pub const MAX_CHUNK: usize = 1 << 16;
/// Most gates in a `Course`.
pub const MAX_GATES: usize = 64;
/// Most samples in a `Ghost`: a run of ten minutes at one sample every
/// [`GHOST_EVERY`] ticks.
pub const MAX_GHOST_SAMPLES: usize = 10 * 60 * 60 / GHOST_EVERY as usize;
/// Most name labels in a `Frame`.
pub const MAX_LABELS: usize = 64;
/// Ticks between two samples of a ghost.
pub const GHOST_EVERY: u32 = 4;
/// Longest chat message, in characters (a message is refused beyond it, never cut).
pub const MAX_CHAT_CHARS: usize = 300;
/// Longest chat message on the wire, in bytes (300 characters of four bytes).
pub const MAX_CHAT_BYTES: usize = 4 * MAX_CHAT_CHARS;
/// Longest string the encoder writes; decoders hold each field to its own limit.
const MAX_STR_BYTES: usize = 4096;

mod tag {
    pub const HELLO: u8 = 1;
    pub const WELCOME: u8 = 2;
    pub const INPUT: u8 = 3;
    pub const FRAME: u8 = 4;
    pub const MAP_CHUNK: u8 = 5;
    pub const PLAYERS: u8 = 6;
    pub const SET_MODE: u8 = 7;
    pub const PING: u8 = 8;
    pub const PONG: u8 = 9;
    pub const ERROR: u8 = 10;
    pub const STATE: u8 = 11;
    pub const PAUSE: u8 = 12;
    pub const GET_MAP: u8 = 13;
    pub const COURSE: u8 = 14;
    pub const RACE: u8 = 15;
    pub const RESULT: u8 = 16;
    pub const GHOST: u8 = 17;
    pub const ABANDON: u8 = 18;
    pub const RESIZE: u8 = 19;
    pub const RESIZED: u8 = 20;
    pub const ACK: u8 = 21;
    pub const KEY_FRAME: u8 = 22;
    pub const SAY: u8 = 23;
    pub const CHAT: u8 = 24;
    pub const CHAT_NOTICE: u8 = 25;
}

/// Who draws the frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenderMode {
    /// The server renders and streams `Frame`s.
    Server = 0,
    /// The server streams `State`; the browser renders with the map it was sent.
    Client = 1,
    /// The server renders and streams its frames as video ([`FrameEncoding::Video`]):
    /// lossy, for slow links. A client that does not list that encoding gets `Server`.
    Video = 2,
}

impl RenderMode {
    /// The server draws this player's frames (lossless or as video).
    pub fn server_renders(self) -> bool {
        self != RenderMode::Client
    }
}

/// How a `Frame` payload is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameEncoding {
    /// One palette index per pixel, row-major.
    Raw = 0,
    /// Runs down each column, see [`crate::codec`].
    Runs = 1,
    /// The runs without their deflate step, for a connection whose transport compresses
    /// (permessage-deflate): the browser then inflates natively, faster than wasm.
    RunPlanes = 2,
    /// One H.264 access unit (Annex B, Main profile) after a flags byte
    /// ([`VIDEO_KEY`]): a picture of the frame's size rounded up to even, showing the
    /// frame in its top-left corner. Lossy; only in [`RenderMode::Video`].
    Video = 3,
}

/// Flags byte of a [`FrameEncoding::Video`] payload: the access unit is a key frame
/// (a decoder can start here).
pub const VIDEO_KEY: u8 = 1;

impl FrameEncoding {
    /// Bit of this encoding in `Hello::encodings`.
    pub fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// Input keys as a bitmask, so one `Input` describes everything held down.
pub mod keys {
    pub const FORWARD: u16 = 1 << 0;
    pub const BACK: u16 = 1 << 1;
    pub const TURN_LEFT: u16 = 1 << 2;
    pub const TURN_RIGHT: u16 = 1 << 3;
    pub const STRAFE_LEFT: u16 = 1 << 4;
    pub const STRAFE_RIGHT: u16 = 1 << 5;
    pub const UP: u16 = 1 << 6;
    pub const DOWN: u16 = 1 << 7;
    pub const FAST: u16 = 1 << 8;
    pub const ALL: u16 = (1 << 9) - 1;
}

/// Error codes in `Error` messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    BadMessage = 1,
    UnsupportedVersion = 2,
    BadViewport = 3,
    RateLimited = 4,
    UnexpectedMessage = 5,
    ServerFull = 6,
    BadName = 7,
    /// The room the connection asked for (`/ws?room=<id>`) is not on this server.
    NoSuchRoom = 8,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Hello {
    pub version: u16,
    pub mode: RenderMode,
    pub width: u16,
    pub height: u16,
    /// Frame encodings the client decodes, as [`FrameEncoding::bit`]s (raw always works).
    pub encodings: u8,
    /// Wanted name; empty asks the server to pick one.
    pub name: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Welcome {
    pub version: u16,
    pub player_id: u16,
    pub mode: RenderMode,
    /// The frame size the server will render (the asked viewport, maybe clamped).
    pub frame_width: u16,
    pub frame_height: u16,
    pub map_width: u16,
    pub map_height: u16,
    pub tick_hz: u8,
    /// The name the server gave the player (unique).
    pub name: String,
    pub palette: Box<Palette>,
    /// Names the map: `GET /map/<16 hex digits>` serves it (`Map::to_compressed`),
    /// cacheable for good.
    pub map_id: u64,
    /// The room the player is in (`/?room=<id>` brings others into it).
    pub room: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Input {
    pub seq: u32,
    /// Bits from [`keys`].
    pub keys: u16,
    /// Look deltas since the last input: yaw and horizon, in 1/1000 radian and 1/1000 of
    /// the viewport height.
    pub look_x: i16,
    pub look_y: i16,
    /// Client clock in milliseconds, echoed nowhere; for logs and latency measurements.
    pub client_time: u32,
}

/// Where a frame shows another player: its name label goes at `(x, y)`, frame pixels,
/// the middle of the top of its aircraft.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label {
    pub id: u16,
    pub x: i16,
    pub y: i16,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Frame<'a> {
    pub seq: u32,
    pub camera: Camera,
    /// The last `Input::seq` applied to `camera`.
    pub last_input: u32,
    pub width: u16,
    pub height: u16,
    /// The other players this frame shows (a pixel of them at least), for name labels.
    pub labels: Vec<Label>,
    pub encoding: FrameEncoding,
    pub payload: &'a [u8],
}

/// A piece of the compressed map (`Map::to_compressed`), sent before client-side rendering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapChunk<'a> {
    pub offset: u32,
    pub total: u32,
    pub data: &'a [u8],
}

#[derive(Clone, Debug, PartialEq)]
pub struct PlayerInfo {
    pub id: u16,
    pub name: String,
    pub camera: Camera,
}

/// The player's own camera, every tick in client-side mode.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct State {
    pub tick: u32,
    pub last_input: u32,
    pub camera: Camera,
}

/// The course of this world: its gates, flown in order, then gate 0 again.
#[derive(Clone, Debug, PartialEq)]
pub struct CourseInfo {
    /// Names the course in the leaderboard (`/api/leaderboard?course=` in hex).
    pub id: u64,
    pub gates: Vec<crate::course::Gate>,
}

/// What happened to the player's own run; the server is the only judge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RaceEvent {
    /// Flew through gate 0: the clock started at `tick`. Gate 1 is next.
    Start { tick: u32 },
    /// Flew through gate `gate` `split` ticks after the start; `best`: the split there in
    /// the player's best run (0: none). Gate `gate + 1` is next (gate 0 after the last).
    Gate { gate: u8, split: u32, best: u32 },
    /// Flew through gate 0 after all the others: the run took `time` ticks; `best` was
    /// the player's best before it (0: none). A new run starts at once (`Start` follows).
    Finish { time: u32, best: u32 },
    /// Flew into the terrain: held until `until` (a tick), then put back at gate `gate`.
    Crash { gate: u8, until: u32 },
    /// The run was abandoned (the player asked): fly through gate 0 to start again.
    Abandon,
    /// The finished run could not be saved (the database failed); it is not recorded.
    NotSaved,
}

/// A finished run, announced to everyone once it is saved.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    pub course: u64,
    pub name: String,
    /// Ticks from gate 0 to gate 0.
    pub time: u32,
    /// Place of the player's best on the all-time board (1 = the record).
    pub rank: u32,
    /// This run is the course record now.
    pub record: bool,
}

/// One sample of a ghost's flight.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GhostSample {
    pub x: f32,
    pub y: f32,
    pub altitude: f32,
    pub yaw: f32,
}

/// The course record's flight, one sample every [`GHOST_EVERY`] ticks from the start.
#[derive(Clone, Debug, PartialEq)]
pub struct GhostRun {
    pub name: String,
    pub time: u32,
    pub samples: Vec<GhostSample>,
}

/// Where a chat message goes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// Everyone in the sender's room.
    World,
    /// Run results (the server posts them) and talk about racing, every room.
    Race,
    /// Everyone on every room and process.
    Global,
    /// One player, by name (in a [`ChatLine`]: the addressee).
    Direct(String),
}

impl Channel {
    /// The channel's name as players write it: `#world`, `#race`, `#global`, `@name`.
    pub fn label(&self) -> String {
        match self {
            Channel::World => "#world".into(),
            Channel::Race => "#race".into(),
            Channel::Global => "#global".into(),
            Channel::Direct(name) => format!("@{name}"),
        }
    }
}

/// Bits of [`ChatLine::flags`].
pub mod chat_flags {
    /// Sent before the player joined: part of the history, not news.
    pub const HISTORY: u8 = 1;
    /// The sender's name is claimed (an account holds it).
    pub const CLAIMED: u8 = 2;
    /// Said by the server itself (a run result, a moderation notice).
    pub const SERVER: u8 = 4;
    pub const ALL: u8 = HISTORY | CLAIMED | SERVER;
}

/// A chat message as delivered: to everyone in its channel, the sender included (that
/// copy is the sender's receipt: the message is saved and on its way).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatLine {
    /// Increasing within a channel (the database's id; 0 for direct messages, which are
    /// not kept).
    pub id: u64,
    pub channel: Channel,
    pub from: String,
    /// Bits from [`chat_flags`].
    pub flags: u8,
    /// Milliseconds since the Unix epoch, by the server's clock.
    pub time: u64,
    /// Plain text, at most [`MAX_CHAT_CHARS`] characters; never markup.
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Message<'a> {
    Hello(Hello),
    Welcome(Welcome),
    Input(Input),
    Frame(Frame<'a>),
    MapChunk(MapChunk<'a>),
    Players(Vec<PlayerInfo>),
    SetMode(RenderMode),
    Ping(u32),
    Pong(u32),
    Error {
        code: ErrorCode,
        text: String,
    },
    State(State),
    /// The page is hidden (`true`) or visible again: no frames or state while hidden.
    Pause(bool),
    /// Asks for the map (as `MapChunk`s), for client-side rendering.
    GetMap,
    Course(CourseInfo),
    Race(RaceEvent),
    Result(RunResult),
    /// The course record's flight (no samples: no record yet).
    Ghost(GhostRun),
    /// The player gives up the current run.
    Abandon,
    /// The page's view changed size (a window resized, a phone turned): frames of about
    /// this size from now on, `(width, height)`.
    Resize(u16, u16),
    /// The frame size from now on, after a Resize (scaled down like Hello's).
    Resized(u16, u16),
    /// The client shows (video: has decoded) the frame with this `seq`: the server paces
    /// video streams by these.
    Ack(u32),
    /// The client's video decoder failed: the next video frame must be a key frame.
    KeyFrame,
    /// The player says something (client to server).
    Say {
        channel: Channel,
        text: String,
    },
    /// A chat message (server to client).
    Chat(ChatLine),
    /// Why the player's last chat message was not sent, or another word from the chat
    /// (rate limits, an unknown addressee, chat unavailable).
    ChatNotice(String),
}

#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("message is empty")]
    Empty,
    #[error("unknown message tag {0}")]
    UnknownTag(u8),
    #[error("message is truncated")]
    Truncated,
    #[error("{0} bytes after the end of the message")]
    TrailingBytes(usize),
    #[error("invalid {field}: {value}")]
    BadValue { field: &'static str, value: u32 },
    #[error("{field} is {len} bytes, at most {max} allowed")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{0} is not valid UTF-8")]
    BadUtf8(&'static str),
    #[error("camera value is not finite")]
    NonFinite,
    #[error("frame payload is {got} bytes, {expected} expected")]
    PayloadSize { expected: usize, got: usize },
}

impl Message<'_> {
    /// Appends the encoded message to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer(out);
        match self {
            Message::Hello(m) => {
                w.u8(tag::HELLO);
                w.u16(m.version);
                w.u8(m.mode as u8);
                w.u16(m.width);
                w.u16(m.height);
                w.u8(m.encodings);
                w.str(&m.name);
            }
            Message::Welcome(m) => {
                w.u8(tag::WELCOME);
                w.u16(m.version);
                w.u16(m.player_id);
                w.u8(m.mode as u8);
                w.u16(m.frame_width);
                w.u16(m.frame_height);
                w.u16(m.map_width);
                w.u16(m.map_height);
                w.u8(m.tick_hz);
                w.str(&m.name);
                w.bytes(&m.palette.to_bytes());
                w.bytes(&m.map_id.to_le_bytes());
                w.str(&m.room);
            }
            Message::Input(m) => {
                w.u8(tag::INPUT);
                w.u32(m.seq);
                w.u16(m.keys);
                w.u16(m.look_x as u16);
                w.u16(m.look_y as u16);
                w.u32(m.client_time);
            }
            Message::Frame(m) => {
                w.u8(tag::FRAME);
                w.u32(m.seq);
                w.camera(&m.camera);
                w.u32(m.last_input);
                w.u16(m.width);
                w.u16(m.height);
                let labels = &m.labels[..m.labels.len().min(MAX_LABELS)];
                w.u8(labels.len() as u8);
                for l in labels {
                    w.u16(l.id);
                    w.u16(l.x as u16);
                    w.u16(l.y as u16);
                }
                w.u8(m.encoding as u8);
                w.bytes(m.payload);
            }
            Message::MapChunk(m) => {
                w.u8(tag::MAP_CHUNK);
                w.u32(m.offset);
                w.u32(m.total);
                w.bytes(m.data);
            }
            Message::Players(list) => {
                w.u8(tag::PLAYERS);
                w.u16(list.len() as u16);
                for p in list {
                    w.u16(p.id);
                    w.str(&p.name);
                    w.camera(&p.camera);
                }
            }
            Message::SetMode(mode) => {
                w.u8(tag::SET_MODE);
                w.u8(*mode as u8);
            }
            Message::Ping(v) => {
                w.u8(tag::PING);
                w.u32(*v);
            }
            Message::Pong(v) => {
                w.u8(tag::PONG);
                w.u32(*v);
            }
            Message::Error { code, text } => {
                w.u8(tag::ERROR);
                w.u16(*code as u16);
                w.str(text);
            }
            Message::GetMap => w.u8(tag::GET_MAP),
            Message::Pause(p) => {
                w.u8(tag::PAUSE);
                w.u8(*p as u8);
            }
            Message::State(s) => {
                w.u8(tag::STATE);
                w.u32(s.tick);
                w.u32(s.last_input);
                w.camera(&s.camera);
            }
            Message::Course(c) => {
                w.u8(tag::COURSE);
                w.bytes(&c.id.to_le_bytes());
                let gates = &c.gates[..c.gates.len().min(MAX_GATES)];
                w.u8(gates.len() as u8);
                for g in gates {
                    for v in [g.x, g.y, g.altitude, g.yaw, g.radius] {
                        w.f32(v);
                    }
                }
            }
            Message::Race(e) => {
                w.u8(tag::RACE);
                match *e {
                    RaceEvent::Start { tick } => {
                        w.u8(0);
                        w.u32(tick);
                    }
                    RaceEvent::Gate { gate, split, best } => {
                        w.u8(1);
                        w.u8(gate);
                        w.u32(split);
                        w.u32(best);
                    }
                    RaceEvent::Finish { time, best } => {
                        w.u8(2);
                        w.u32(time);
                        w.u32(best);
                    }
                    RaceEvent::Crash { gate, until } => {
                        w.u8(3);
                        w.u8(gate);
                        w.u32(until);
                    }
                    RaceEvent::Abandon => w.u8(4),
                    RaceEvent::NotSaved => w.u8(5),
                }
            }
            Message::Result(r) => {
                w.u8(tag::RESULT);
                w.bytes(&r.course.to_le_bytes());
                w.str(&r.name);
                w.u32(r.time);
                w.u32(r.rank);
                w.u8(r.record as u8);
            }
            Message::Ghost(g) => {
                w.u8(tag::GHOST);
                w.str(&g.name);
                w.u32(g.time);
                let samples = &g.samples[..g.samples.len().min(MAX_GHOST_SAMPLES)];
                w.u16(samples.len() as u16);
                for s in samples {
                    for v in [s.x, s.y, s.altitude, s.yaw] {
                        w.f32(v);
                    }
                }
            }
            Message::Abandon => w.u8(tag::ABANDON),
            Message::Resize(width, height) => {
                w.u8(tag::RESIZE);
                w.u16(*width);
                w.u16(*height);
            }
            Message::Resized(width, height) => {
                w.u8(tag::RESIZED);
                w.u16(*width);
                w.u16(*height);
            }
            Message::Ack(seq) => {
                w.u8(tag::ACK);
                w.u32(*seq);
            }
            Message::KeyFrame => w.u8(tag::KEY_FRAME),
            Message::Say { channel, text } => {
                w.u8(tag::SAY);
                w.channel(channel);
                w.str(text);
            }
            Message::Chat(c) => {
                w.u8(tag::CHAT);
                w.bytes(&c.id.to_le_bytes());
                w.channel(&c.channel);
                w.str(&c.from);
                w.u8(c.flags);
                w.bytes(&c.time.to_le_bytes());
                w.str(&c.text);
            }
            Message::ChatNotice(text) => {
                w.u8(tag::CHAT_NOTICE);
                w.str(text);
            }
        }
    }

    /// Decodes one whole message; `bytes` must hold exactly one.
    pub fn decode(bytes: &[u8]) -> Result<Message<'_>, DecodeError> {
        let mut r = Reader(bytes);
        let msg = match r.u8().map_err(|_| DecodeError::Empty)? {
            tag::HELLO => Message::Hello(Hello {
                version: r.u16()?,
                mode: r.mode()?,
                width: r.u16()?,
                height: r.u16()?,
                encodings: r.u8()?,
                name: r.str("name", MAX_NAME_BYTES)?,
            }),
            tag::WELCOME => Message::Welcome(Welcome {
                version: r.u16()?,
                player_id: r.u16()?,
                mode: r.mode()?,
                frame_width: r.u16()?,
                frame_height: r.u16()?,
                map_width: r.u16()?,
                map_height: r.u16()?,
                tick_hz: r.u8()?,
                name: r.str("name", MAX_NAME_BYTES)?,
                palette: Box::new(Palette::from_bytes(r.array()?)),
                map_id: u64::from_le_bytes(*r.array()?),
                room: r.str("room", MAX_NAME_BYTES)?,
            }),
            tag::INPUT => {
                let input = Input {
                    seq: r.u32()?,
                    keys: r.u16()?,
                    look_x: r.u16()? as i16,
                    look_y: r.u16()? as i16,
                    client_time: r.u32()?,
                };
                if input.keys & !keys::ALL != 0 {
                    return Err(DecodeError::BadValue {
                        field: "keys",
                        value: input.keys.into(),
                    });
                }
                Message::Input(input)
            }
            tag::FRAME => {
                let (seq, camera, last_input) = (r.u32()?, r.camera()?, r.u32()?);
                let (width, height) = (r.u16()?, r.u16()?);
                let count = r.u8()? as usize;
                let mut labels = Vec::with_capacity(r.list(count, "labels", MAX_LABELS, 6)?);
                for _ in 0..count {
                    labels.push(Label {
                        id: r.u16()?,
                        x: r.u16()? as i16,
                        y: r.u16()? as i16,
                    });
                }
                let encoding = match r.u8()? {
                    0 => FrameEncoding::Raw,
                    1 => FrameEncoding::Runs,
                    2 => FrameEncoding::RunPlanes,
                    3 => FrameEncoding::Video,
                    v => return Err(bad("encoding", v)),
                };
                let payload = r.rest();
                let expected = width as usize * height as usize;
                if encoding == FrameEncoding::Raw && payload.len() != expected {
                    return Err(DecodeError::PayloadSize {
                        expected,
                        got: payload.len(),
                    });
                }
                if encoding == FrameEncoding::Video && payload.len() < 2 {
                    return Err(DecodeError::Truncated);
                }
                Message::Frame(Frame {
                    seq,
                    camera,
                    last_input,
                    width,
                    height,
                    labels,
                    encoding,
                    payload,
                })
            }
            tag::MAP_CHUNK => {
                let (offset, total) = (r.u32()?, r.u32()?);
                let data = r.rest();
                if data.len() > MAX_CHUNK {
                    return Err(DecodeError::TooLong {
                        field: "map chunk",
                        len: data.len(),
                        max: MAX_CHUNK,
                    });
                }
                if offset as u64 + data.len() as u64 > total as u64 {
                    return Err(bad("map chunk offset", offset));
                }
                Message::MapChunk(MapChunk {
                    offset,
                    total,
                    data,
                })
            }
            tag::PLAYERS => {
                let n = r.u16()? as usize;
                // Each entry is at least 31 bytes.
                let mut list = Vec::with_capacity(r.list(n, "player list", MAX_PLAYERS, 31)?);
                for _ in 0..n {
                    list.push(PlayerInfo {
                        id: r.u16()?,
                        name: r.str("name", MAX_NAME_BYTES)?,
                        camera: r.camera()?,
                    });
                }
                Message::Players(list)
            }
            tag::SET_MODE => Message::SetMode(r.mode()?),
            tag::PING => Message::Ping(r.u32()?),
            tag::PONG => Message::Pong(r.u32()?),
            tag::ERROR => {
                let code = match r.u16()? {
                    1 => ErrorCode::BadMessage,
                    2 => ErrorCode::UnsupportedVersion,
                    3 => ErrorCode::BadViewport,
                    4 => ErrorCode::RateLimited,
                    5 => ErrorCode::UnexpectedMessage,
                    6 => ErrorCode::ServerFull,
                    7 => ErrorCode::BadName,
                    8 => ErrorCode::NoSuchRoom,
                    v => return Err(bad("error code", v)),
                };
                let text = r.str("error text", MAX_TEXT_BYTES)?;
                Message::Error { code, text }
            }
            tag::STATE => Message::State(State {
                tick: r.u32()?,
                last_input: r.u32()?,
                camera: r.camera()?,
            }),
            tag::PAUSE => Message::Pause(match r.u8()? {
                0 => false,
                1 => true,
                v => return Err(bad("pause", v)),
            }),
            tag::GET_MAP => Message::GetMap,
            tag::COURSE => {
                let id = u64::from_le_bytes(*r.array()?);
                let n = r.u8()? as usize;
                let mut gates = Vec::with_capacity(r.list(n, "gate list", MAX_GATES, 20)?);
                for _ in 0..n {
                    gates.push(crate::course::Gate {
                        x: r.f32()?,
                        y: r.f32()?,
                        altitude: r.f32()?,
                        yaw: r.f32()?,
                        radius: r.f32()?,
                    });
                }
                Message::Course(CourseInfo { id, gates })
            }
            tag::RACE => Message::Race(match r.u8()? {
                0 => RaceEvent::Start { tick: r.u32()? },
                1 => RaceEvent::Gate {
                    gate: r.u8()?,
                    split: r.u32()?,
                    best: r.u32()?,
                },
                2 => RaceEvent::Finish {
                    time: r.u32()?,
                    best: r.u32()?,
                },
                3 => RaceEvent::Crash {
                    gate: r.u8()?,
                    until: r.u32()?,
                },
                4 => RaceEvent::Abandon,
                5 => RaceEvent::NotSaved,
                v => return Err(bad("race event", v)),
            }),
            tag::RESULT => Message::Result(RunResult {
                course: u64::from_le_bytes(*r.array()?),
                name: r.str("name", MAX_NAME_BYTES)?,
                time: r.u32()?,
                rank: r.u32()?,
                record: match r.u8()? {
                    0 => false,
                    1 => true,
                    v => return Err(bad("record", v)),
                },
            }),
            tag::GHOST => {
                let name = r.str("name", MAX_NAME_BYTES)?;
                let time = r.u32()?;
                let n = r.u16()? as usize;
                let mut samples = Vec::with_capacity(r.list(n, "ghost", MAX_GHOST_SAMPLES, 16)?);
                for _ in 0..n {
                    samples.push(GhostSample {
                        x: r.f32()?,
                        y: r.f32()?,
                        altitude: r.f32()?,
                        yaw: r.f32()?,
                    });
                }
                Message::Ghost(GhostRun {
                    name,
                    time,
                    samples,
                })
            }
            tag::ABANDON => Message::Abandon,
            tag::RESIZE => Message::Resize(r.u16()?, r.u16()?),
            tag::RESIZED => Message::Resized(r.u16()?, r.u16()?),
            tag::ACK => Message::Ack(r.u32()?),
            tag::KEY_FRAME => Message::KeyFrame,
            tag::SAY => Message::Say {
                channel: r.channel()?,
                text: r.str("chat text", MAX_CHAT_BYTES)?,
            },
            tag::CHAT => Message::Chat(ChatLine {
                id: u64::from_le_bytes(*r.array()?),
                channel: r.channel()?,
                from: r.str("name", MAX_NAME_BYTES)?,
                flags: match r.u8()? {
                    f if f & !chat_flags::ALL == 0 => f,
                    f => return Err(bad("chat flags", f)),
                },
                time: u64::from_le_bytes(*r.array()?),
                text: r.str("chat text", MAX_CHAT_BYTES)?,
            }),
            tag::CHAT_NOTICE => Message::ChatNotice(r.str("notice", MAX_TEXT_BYTES)?),
            other => return Err(DecodeError::UnknownTag(other)),
        };
        match r.0.len() {
            0 => Ok(msg),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

fn bad(field: &'static str, value: impl Into<u32>) -> DecodeError {
    DecodeError::BadValue {
        field,
        value: value.into(),
    }
}

struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f32(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, v: &[u8]) {
        self.0.extend_from_slice(v);
    }
    /// A string as a length byte and UTF-8; callers keep names and texts within limits,
    /// and anything longer is cut at a character boundary.
    fn str(&mut self, s: &str) {
        let mut end = s.len().min(MAX_STR_BYTES);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.u16(end as u16);
        self.bytes(&s.as_bytes()[..end]);
    }
    fn channel(&mut self, c: &Channel) {
        match c {
            Channel::World => self.u8(0),
            Channel::Race => self.u8(1),
            Channel::Global => self.u8(2),
            Channel::Direct(name) => {
                self.u8(3);
                self.str(name);
            }
        }
    }
    fn camera(&mut self, c: &Camera) {
        for v in [c.x, c.y, c.altitude, c.yaw, c.horizon, c.distance, c.fov] {
            self.f32(v);
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let (head, rest) = self.0.split_at_checked(n).ok_or(DecodeError::Truncated)?;
        self.0 = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<&'a [u8; N], DecodeError> {
        self.take(N)?.try_into().map_err(|_| DecodeError::Truncated)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(*self.array()?))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(*self.array()?))
    }
    fn f32(&mut self) -> Result<f32, DecodeError> {
        let v = f32::from_le_bytes(*self.array()?);
        if v.is_finite() {
            Ok(v)
        } else {
            Err(DecodeError::NonFinite)
        }
    }
    /// A list's length `n`, checked against `max`; returns the capacity to reserve, never
    /// more entries than the rest of the input holds at `entry` bytes each.
    fn list(
        &self,
        n: usize,
        field: &'static str,
        max: usize,
        entry: usize,
    ) -> Result<usize, DecodeError> {
        if n > max {
            return Err(DecodeError::TooLong { field, len: n, max });
        }
        Ok(n.min(self.0.len() / entry))
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
    fn str(&mut self, field: &'static str, max: usize) -> Result<String, DecodeError> {
        let len = self.u16()? as usize;
        if len > max {
            return Err(DecodeError::TooLong { field, len, max });
        }
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::BadUtf8(field))
    }
    fn mode(&mut self) -> Result<RenderMode, DecodeError> {
        match self.u8()? {
            0 => Ok(RenderMode::Server),
            1 => Ok(RenderMode::Client),
            2 => Ok(RenderMode::Video),
            v => Err(bad("render mode", v)),
        }
    }
    fn channel(&mut self) -> Result<Channel, DecodeError> {
        match self.u8()? {
            0 => Ok(Channel::World),
            1 => Ok(Channel::Race),
            2 => Ok(Channel::Global),
            3 => Ok(Channel::Direct(self.str("addressee", MAX_NAME_BYTES)?)),
            v => Err(bad("channel", v)),
        }
    }
    fn camera(&mut self) -> Result<Camera, DecodeError> {
        Ok(Camera {
            x: self.f32()?,
            y: self.f32()?,
            altitude: self.f32()?,
            yaw: self.f32()?,
            horizon: self.f32()?,
            distance: self.f32()?,
            fov: self.f32()?,
        })
    }
}

#[cfg(test)]
mod tests;
