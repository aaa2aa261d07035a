//! Drives one WebSocket connection over tokio: reads and assembles frames, answers
//! pings and closes, hands messages to a [`Handler`], and writes from the [`Outbox`].

use super::frame::{OpCode, frame};
use super::outbox::{Drain, Next, Outbox, outbox};
use super::receiver::{DataKind, Event, Receiver};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::watch;

#[derive(Clone, Debug)]
pub struct WsConfig {
    /// Largest message accepted (close 1009 beyond it).
    pub max_message: usize,
    /// Frames that may wait in the reliable queue before producers wait.
    pub queue: usize,
    /// Silence after which we ping; twice that and the peer is gone.
    pub idle_ping: Duration,
    /// How long to wait for the peer's half of a close handshake.
    pub close_timeout: Duration,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            max_message: 64 * 1024,
            queue: 16,
            idle_ping: Duration::from_secs(20),
            close_timeout: Duration::from_secs(3),
        }
    }
}

/// Why the application ends a connection: sent to the peer in the close frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReason {
    pub code: u16,
    pub reason: String,
}

impl CloseReason {
    pub fn new(code: u16, reason: impl Into<String>) -> CloseReason {
        CloseReason {
            code,
            reason: reason.into(),
        }
    }
}

/// The application side of a connection.
pub trait Handler: Send {
    /// A complete data message. `Err` closes the connection with that reason.
    fn on_message(
        &mut self,
        kind: DataKind,
        data: Vec<u8>,
        out: &Outbox,
    ) -> impl std::future::Future<Output = Result<(), CloseReason>> + Send;
}

/// How a connection ended, for logs.
#[derive(Debug)]
pub enum Ending {
    /// The peer sent a close frame with this code (1005: none given).
    PeerClosed(u16),
    /// We closed with this code.
    WeClosed(u16),
    /// The TCP connection went away without a close handshake (1006).
    Dropped,
}

/// Runs the connection until it ends. `leftover` holds bytes read past the handshake.
pub async fn serve(
    stream: TcpStream,
    leftover: Vec<u8>,
    config: &WsConfig,
    handler: &mut impl Handler,
    out: Outbox,
    drain: Drain,
    mut shutdown: watch::Receiver<bool>,
) -> Ending {
    let _ = stream.set_nodelay(true);
    let (mut rd, wr) = stream.into_split();
    let writer = tokio::spawn(write_loop(wr, drain));
    let mut reader = Reader {
        buf: leftover,
        start: 0,
        receiver: Receiver::new(config.max_message),
    };
    let ending = 'conn: loop {
        loop {
            match reader.next_event() {
                Ok(Some(Event::Message(kind, data))) => {
                    if let Err(c) = handler.on_message(kind, data, &out).await {
                        out.close(c.code, &c.reason);
                        break 'conn Ending::WeClosed(c.code);
                    }
                }
                Ok(Some(Event::Ping(payload))) => {
                    if out.send(frame(OpCode::Pong, &payload)).await.is_err() {
                        break 'conn Ending::Dropped;
                    }
                }
                Ok(Some(Event::Pong(_))) => {}
                Ok(Some(Event::Close(code))) => {
                    // Echo the peer's code, as RFC 6455 5.5.1 suggests.
                    let code = code.map_or(1005, |(c, _)| c);
                    out.close(if code == 1005 { 1000 } else { code }, "");
                    break 'conn Ending::PeerClosed(code);
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "websocket protocol error");
                    out.close(e.close_code(), &e.to_string());
                    break 'conn Ending::WeClosed(e.close_code());
                }
            }
        }
        let mut silent = 0;
        loop {
            tokio::select! {
                r = reader.read(&mut rd) => match r {
                    Ok(true) => break,
                    _ => break 'conn Ending::Dropped,
                },
                _ = shutdown.changed() => {
                    out.close(1001, "server shutting down");
                    break 'conn Ending::WeClosed(1001);
                }
                () = tokio::time::sleep(config.idle_ping) => {
                    silent += 1;
                    if silent >= 2 {
                        out.close(1001, "no response to ping");
                        break 'conn Ending::WeClosed(1001);
                    }
                    let _ = out.send(frame(OpCode::Ping, b"")).await;
                }
            }
        }
    };
    if let Ending::WeClosed(_) = ending {
        // Give the peer a moment to answer our close, discarding anything else it sends.
        let _ = tokio::time::timeout(config.close_timeout, async {
            while let Ok(true) = reader.read(&mut rd).await {
                while let Ok(Some(event)) = reader.next_event() {
                    if let Event::Close(_) = event {
                        return;
                    }
                }
            }
        })
        .await;
    }
    drop(out);
    let _ = tokio::time::timeout(config.close_timeout, writer).await;
    ending
}

struct Reader {
    buf: Vec<u8>,
    start: usize,
    receiver: Receiver,
}

impl Reader {
    fn next_event(&mut self) -> Result<Option<Event>, super::receiver::ProtocolError> {
        let (n, res) = self.receiver.feed(&self.buf[self.start..]);
        self.start += n;
        res
    }

    /// Reads more bytes; `Ok(false)` at end of stream. Idle connections hold no buffer.
    async fn read(&mut self, rd: &mut OwnedReadHalf) -> std::io::Result<bool> {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
            if self.buf.capacity() > 256 * 1024 {
                self.buf = Vec::new();
            }
        } else if self.start > 64 * 1024 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        loop {
            rd.readable().await?;
            self.buf.reserve(16 * 1024);
            match rd.try_read_buf(&mut self.buf) {
                Ok(n) => return Ok(n > 0),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

async fn write_loop(wr: OwnedWriteHalf, mut drain: Drain) {
    let mut w = BufWriter::with_capacity(32 * 1024, wr);
    loop {
        let next = match drain.ready() {
            Some(next) => next,
            None => {
                // Nothing else is ready: push out what is buffered before waiting.
                if w.flush().await.is_err() {
                    return;
                }
                drain.next().await
            }
        };
        match next {
            Next::Send(bytes) => {
                if w.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            Next::Close(bytes) => {
                let _ = w.write_all(&bytes).await;
                let _ = w.flush().await;
                let _ = w.shutdown().await;
                return;
            }
            Next::Stop => {
                let _ = w.flush().await;
                let _ = w.shutdown().await;
                return;
            }
        }
    }
}

/// Creates the outgoing side for a new connection.
pub fn new_outbox(config: &WsConfig) -> (Outbox, Drain) {
    outbox(config.queue)
}

/// Echoes every message back: the endpoint the Autobahn suite tests.
pub struct Echo;

impl Handler for Echo {
    async fn on_message(
        &mut self,
        kind: DataKind,
        data: Vec<u8>,
        out: &Outbox,
    ) -> Result<(), CloseReason> {
        let opcode = match kind {
            DataKind::Text => OpCode::Text,
            DataKind::Binary => OpCode::Binary,
        };
        out.send(frame(opcode, &data))
            .await
            .map_err(|_| CloseReason::new(1001, "going away"))
    }
}
