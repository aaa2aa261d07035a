//! One player's connection: the Hello/Welcome exchange, then input, mode switches and
//! pings. Everything a client sends is checked; nothing it sends can touch another player.

use super::bucket::TokenBucket;
use super::{Game, JoinError, ws_binary};
use crate::chat::rules;
use crate::http::request::Request;
use crate::net::{GameEndpoint, log_ending};
use crate::ws::conn::{self, CloseReason, Handler, Upgraded, WsConfig};
use crate::ws::deflate::Deflate;
use crate::ws::outbox::Outbox;
use crate::ws::receiver::DataKind;
use shared::Viewport;
use shared::protocol::{Channel, ErrorCode, Message, VERSION, Welcome};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;

/// Input and other messages allowed per second, with a burst of twice that: inputs
/// (at most one an animation frame) plus a video client's acknowledgements (one a frame).
const MESSAGES_PER_SECOND: f64 = 250.0;
/// Messages over the limit tolerated before the connection is closed.
const FLOOD_STRIKES: u32 = 300;

#[derive(Clone)]
pub struct Endpoint {
    pub lobby: Arc<super::lobby::Lobby>,
    pub ws: WsConfig,
    pub accounts: Arc<crate::accounts::Accounts>,
    /// The operators' bearer token (`--admin-token-file`); none: no operator endpoints.
    pub admin_token: Option<String>,
    /// Origins besides the site's own whose pages may use a session (`--allowed-origin`).
    pub allowed_origins: Vec<String>,
}

/// A parameter of `/ws?room=<id>&seat=<token>`, if given.
fn ws_param(request: &Request, name: &str) -> Option<String> {
    let query = crate::http::query::of_target(&request.target);
    let pairs = crate::http::query::parse(query).ok()?;
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

impl GameEndpoint for Endpoint {
    fn stats(&self) -> String {
        self.lobby.stats_json()
    }

    async fn api(&self, call: &crate::net::ApiCall<'_>) -> Option<crate::net::ApiReply> {
        let cx = crate::accounts::api::Context {
            accounts: &self.accounts,
            chat: self.lobby.chat(),
            admin_token: self.admin_token.as_deref(),
            allowed_origins: &self.allowed_origins,
        };
        if let Some(reply) = crate::accounts::api::handle(&cx, call).await {
            return Some(reply);
        }
        match call.method {
            "GET" | "HEAD" => self.lobby.api(call.path, call.query).await,
            _ => None,
        }
    }

    async fn serve(&self, conn: Upgraded, request: &Request, shutdown: watch::Receiver<bool>) {
        let peer = conn
            .stream
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let wanted = ws_param(request, "room");
        // A seat reserved by `/api/join`: claimed once the player is in.
        let seat = (self.lobby.cluster().cloned()).zip(ws_param(request, "seat"));
        let picked = self.lobby.pick(wanted.as_deref());
        let Some(game) = picked.or(self.lobby.rooms().first()).cloned() else {
            return; // a lobby without rooms: nothing to join
        };
        // A session cookie counts only on an upgrade from our own pages: another site's
        // page could open a socket with the player's cookie (cross-site WebSocket
        // hijacking), and plays as a guest instead.
        let token = crate::accounts::api::cookie_token(request);
        let own_page = crate::accounts::api::same_origin(request, &self.allowed_origins);
        let account = match token {
            Some(t) if own_page => self.accounts.session(t).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "session not checked: playing as a guest");
                None
            }),
            Some(_) => {
                tracing::info!(%peer, "a session cookie from another site's page: ignored");
                None
            }
            None => None,
        };
        let (out, drain) = conn::new_outbox(&self.ws);
        let mut player = PlayerConn {
            missing_room: wanted.filter(|_| picked.is_none()),
            game,
            seat,
            deflate: conn.deflate,
            id: None,
            map_sent: false,
            bucket: TokenBucket::new(MESSAGES_PER_SECOND, 2.0 * MESSAGES_PER_SECOND),
            strikes: 0,
            lobby: self.lobby.clone(),
            claimed: account.is_some(),
            account: account.map(|a| a.name),
            accounts: self.accounts.clone(),
            limiter: rules::Limiter::new(Instant::now()),
            chat: None,
        };
        let ending = conn::serve(conn, &self.ws, &mut player, out, drain, shutdown).await;
        if let Some(id) = player.id {
            player.game.leave(id);
        }
        log_ending(&ending, &peer);
    }
}

struct PlayerConn {
    game: Arc<Game>,
    /// The room the connection asked for is not here: its Hello gets an Error.
    missing_room: Option<String>,
    /// The seat `/api/join` reserved in the cluster for this connection.
    seat: Option<(Arc<crate::cluster::Cluster>, String)>,
    /// permessage-deflate, as negotiated: frames may go compressed.
    deflate: Option<Deflate>,
    id: Option<u16>,
    map_sent: bool,
    bucket: TokenBucket,
    strikes: u32,
    lobby: Arc<super::lobby::Lobby>,
    /// The player is signed in: an account holds its name.
    claimed: bool,
    /// The signed-in account's name: the player's name, whatever the Hello asks.
    account: Option<String>,
    accounts: Arc<crate::accounts::Accounts>,
    /// The player's chat allowance.
    limiter: rules::Limiter,
    /// Messages on their way to the chat, in order, by the connection's chat task (so a
    /// slow database never holds up the player's inputs).
    chat: Option<tokio::sync::mpsc::Sender<(Channel, String)>>,
}

/// Chat messages a player may have on their way at once.
const CHAT_QUEUE: usize = 4;

fn violation(reason: &str) -> CloseReason {
    CloseReason::new(1008, reason)
}

impl Handler for PlayerConn {
    async fn on_message(
        &mut self,
        kind: DataKind,
        data: bytes::Bytes,
        out: &Outbox,
    ) -> Result<(), CloseReason> {
        if kind == DataKind::Text {
            return Err(CloseReason::new(1003, "binary messages only"));
        }
        if !self.bucket.take(Instant::now()) {
            self.strikes += 1;
            if self.strikes == 1 {
                send_error(
                    out,
                    ErrorCode::RateLimited,
                    "too many messages: some are dropped",
                )
                .await;
            }
            if self.strikes > FLOOD_STRIKES {
                return Err(violation("message flood"));
            }
            return Ok(());
        }
        let msg = match Message::decode(&data) {
            Ok(m) => m,
            Err(e) => {
                send_error(out, ErrorCode::BadMessage, &e.to_string()).await;
                return Err(violation("malformed message"));
            }
        };
        let Some(id) = self.id else {
            return match msg {
                Message::Hello(hello) => self.hello(hello, out).await,
                _ => {
                    send_error(out, ErrorCode::UnexpectedMessage, "send Hello first").await;
                    Err(violation("no Hello"))
                }
            };
        };
        match msg {
            Message::Input(input) => self.game.apply_input(id, &input),
            Message::SetMode(mode) => {
                self.game.set_mode(id, mode);
            }
            Message::Ack(seq) => self.game.video_ack(id, seq),
            Message::KeyFrame => self.game.video_key(id),
            Message::GetMap => self.send_map(out).await?,
            Message::Abandon => self.game.abandon(id),
            Message::Resize(width, height) => {
                match Viewport::new(width.into(), height.into()) {
                    Ok(v) => {
                        let v = self.game.resize(id, v);
                        let resized = Message::Resized(v.width() as u16, v.height() as u16);
                        let _ = out.send(ws_binary(&resized)).await;
                    }
                    // A size the page should not ask for: said, and nothing changes.
                    Err(e) => send_error(out, ErrorCode::BadViewport, &e.to_string()).await,
                }
            }
            Message::Pause(paused) => self.game.with_player(id, |p| {
                p.paused = paused;
                p.dirty = true;
            }),
            Message::Ping(v) => {
                let _ = out.send(ws_binary(&Message::Pong(v))).await;
            }
            Message::Pong(_) => {}
            Message::Say { channel, text } => self.say(id, channel, &text, out),
            _ => {
                send_error(out, ErrorCode::UnexpectedMessage, "not a client message").await;
                return Err(violation("unexpected message"));
            }
        }
        Ok(())
    }
}

impl PlayerConn {
    async fn hello(
        &mut self,
        hello: shared::protocol::Hello,
        out: &Outbox,
    ) -> Result<(), CloseReason> {
        if hello.version != VERSION {
            send_error(
                out,
                ErrorCode::UnsupportedVersion,
                &format!("this server speaks protocol {VERSION}"),
            )
            .await;
            return Err(violation("unsupported protocol version"));
        }
        if let Some(room) = &self.missing_room {
            let text = format!("there is no room {room:?} here (any more): pick another");
            send_error(out, ErrorCode::NoSuchRoom, &text).await;
            return Err(CloseReason::new(4404, "no such room"));
        }
        let viewport = match Viewport::new(hello.width.into(), hello.height.into()) {
            Ok(v) => v,
            Err(e) => {
                send_error(out, ErrorCode::BadViewport, &e.to_string()).await;
                return Err(violation("bad viewport"));
            }
        };
        let mut hello = hello;
        hello.name = self.name_for(&hello.name).await;
        let joined = self.game.join(&hello, viewport, out.clone(), self.deflate);
        let (id, name, viewport, mode) = match joined {
            Ok(joined) => joined,
            Err(JoinError::Full) => {
                let text = format!(
                    "room {} is full ({} players): pick another",
                    self.game.room,
                    self.game.capacity()
                );
                send_error(out, ErrorCode::ServerFull, &text).await;
                return Err(CloseReason::new(1013, "room full"));
            }
        };
        self.id = Some(id);
        if let Some((cluster, token)) = self.seat.take() {
            let room = self.game.room.clone();
            tokio::spawn(async move {
                // Failing that, the seat lapses by itself.
                let _ = cluster.claim(&room, &token).await;
            });
        }
        tracing::info!(id, name = %name, ?mode, w = viewport.width(), h = viewport.height(), "player joined");
        let map = &self.game.map;
        let welcome = Message::Welcome(Welcome {
            version: VERSION,
            player_id: id,
            mode,
            frame_width: viewport.width() as u16,
            frame_height: viewport.height() as u16,
            map_width: map.width() as u16,
            map_height: map.height() as u16,
            tick_hz: super::TICK_HZ as u8,
            name,
            palette: Box::new(map.palette().clone()),
            map_id: self.game.map_id,
            room: self.game.room.clone(),
        });
        let course = Message::Course(shared::protocol::CourseInfo {
            id: self.game.course_id,
            gates: self.game.course.gates.clone(),
        });
        let ghost = self.game.players().ghost.clone();
        for msg in [
            Some(welcome),
            Some(course),
            ghost.map(|g| Message::Ghost((*g).clone())),
        ]
        .into_iter()
        .flatten()
        {
            out.send(ws_binary(&msg))
                .await
                .map_err(|_| CloseReason::new(1001, "gone"))?;
        }
        self.game.with_player(id, |p| p.welcomed = true);
        let (chat, room, out) = (
            self.lobby.chat().clone(),
            self.game.room.clone(),
            out.clone(),
        );
        tokio::spawn(async move {
            match chat.history(&room).await {
                Ok(lines) => {
                    for line in lines {
                        if out.send(ws_binary(&Message::Chat(line))).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "chat history not sent");
                    let text = "chat history is unavailable right now".to_owned();
                    let _ = out.send(ws_binary(&Message::ChatNotice(text))).await;
                }
            }
        });
        Ok(())
    }

    /// The name to join under: a signed-in player's account name; a guest's wish, unless
    /// an account holds it (then a variant: `ace#2`), so no guest passes for the owner.
    async fn name_for(&self, wanted: &str) -> String {
        if let Some(name) = &self.account {
            return name.clone();
        }
        let wanted = super::names::sanitize(wanted);
        if wanted.is_empty() {
            return wanted;
        }
        // Unknown (the store is down): the name is used as asked; nothing it does is
        // recorded then either.
        let claimed = self.accounts.claimed(&wanted).await.unwrap_or(false);
        match claimed {
            true => {
                let key = crate::accounts::key(&wanted);
                super::names::unique(&wanted, 0, |n| crate::accounts::key(n) == key)
            }
            false => wanted,
        }
    }

    /// A chat message from the player: checked here (text, rate, repeats), then handed
    /// to the connection's chat task; whatever is refused is said to the player alone.
    fn say(&mut self, id: u16, channel: Channel, text: &str, out: &Outbox) {
        let notice = |why: String| {
            let _ = out.try_send(ws_binary(&Message::ChatNotice(why)));
        };
        let now = Instant::now();
        let text = match rules::clean(text).and_then(|t| self.limiter.check(&t, now).map(|()| t)) {
            Ok(t) => t,
            Err(why) => return notice(why.to_string()),
        };
        let tx = self.chat.get_or_insert_with(|| {
            let (tx, rx) = tokio::sync::mpsc::channel(CHAT_QUEUE);
            let from = Speaker {
                lobby: self.lobby.clone(),
                room: self.game.room.clone(),
                name: self.game.player_name(id),
                claimed: self.claimed,
                out: out.clone(),
            };
            tokio::spawn(from.run(rx));
            tx
        });
        if tx.try_send((channel, text)).is_err() {
            notice(rules::Refused::TooFast.to_string());
        }
    }

    /// Sends the compressed map, once per connection and only when asked (a client that
    /// renders on the server's side, or has the map already, never pays for it), in
    /// chunks through the reliable queue (a slow link slows this down, memory stays flat).
    async fn send_map(&mut self, out: &Outbox) -> Result<(), CloseReason> {
        if self.map_sent {
            return Ok(());
        }
        self.map_sent = true;
        let blob = self.game.map_blob.clone();
        let total = blob.len() as u32;
        for (i, chunk) in blob.chunks(shared::protocol::MAX_CHUNK).enumerate() {
            let msg = Message::MapChunk(shared::protocol::MapChunk {
                offset: (i * shared::protocol::MAX_CHUNK) as u32,
                total,
                data: chunk,
            });
            out.send(ws_binary(&msg))
                .await
                .map_err(|_| CloseReason::new(1001, "gone"))?;
        }
        Ok(())
    }
}

/// A player's chat task: sends its messages one at a time, in order.
struct Speaker {
    lobby: Arc<super::lobby::Lobby>,
    room: String,
    name: String,
    claimed: bool,
    out: Outbox,
}

impl Speaker {
    async fn run(self, mut rx: tokio::sync::mpsc::Receiver<(Channel, String)>) {
        use crate::chat::ChatError;
        while let Some((channel, text)) = rx.recv().await {
            let sent = match &channel {
                Channel::Direct(to) if *to == self.name => Err(ChatError::ToSelf),
                // With Redis up, the addressee may be on another process: the message
                // goes out, and reaches them wherever they are.
                Channel::Direct(to)
                    if !self.lobby.has_player(to)
                        && !self.lobby.cluster().is_some_and(|c| c.is_up()) =>
                {
                    Err(ChatError::NoSuchPlayer(to.clone()))
                }
                _ => {
                    let chat = self.lobby.chat();
                    chat.say(&self.room, &self.name, self.claimed, channel, text)
                        .await
                }
            };
            let reply = match sent {
                // A direct message's copy for the sender (channel lines come back on the bus).
                Ok(line) if matches!(line.channel, Channel::Direct(_)) => Message::Chat(line),
                Ok(_) => continue,
                Err(e) => Message::ChatNotice(e.to_string()),
            };
            if self.out.send(ws_binary(&reply)).await.is_err() {
                return;
            }
        }
    }
}

async fn send_error(out: &Outbox, code: ErrorCode, text: &str) {
    let _ = out
        .send(ws_binary(&Message::Error {
            code,
            text: text.to_owned(),
        }))
        .await;
}
