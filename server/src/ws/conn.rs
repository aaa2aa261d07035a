//! Drives one WebSocket connection over tokio: reads and assembles frames, answers
//! pings and closes, hands messages to a [`Handler`], and writes from the [`Outbox`].

use super::deflate::{self, Deflate};
use super::frame::{OpCode, Outgoing};
use super::outbox::{Drain, Next, Outbox, outbox};
use super::receiver::{DataKind, Event, Receiver};
use bytes::{Buf, Bytes, BytesMut};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::watch;
use tokio::time::Instant;

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
    ///
    /// `data` is often a piece of the connection's read buffer, shared, not copied: keep
    /// it no longer than needed (the buffer's space is reused once every piece is gone).
    fn on_message(
        &mut self,
        kind: DataKind,
        data: Bytes,
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

/// A connection that completed the opening handshake.
pub struct Upgraded {
    pub stream: TcpStream,
    /// Bytes read past the handshake.
    pub leftover: Vec<u8>,
    /// permessage-deflate, if negotiated.
    pub deflate: Option<Deflate>,
}

/// Runs the connection until it ends.
///
/// Reading and writing run as two futures of one task: a message and its answer need no
/// hop between tasks or threads.
pub async fn serve(
    conn: Upgraded,
    config: &WsConfig,
    handler: &mut impl Handler,
    out: Outbox,
    drain: Drain,
    shutdown: watch::Receiver<bool>,
) -> Ending {
    let _ = conn.stream.set_nodelay(true);
    let (rd, wr) = conn.stream.into_split();
    let receiver = Receiver::new(config.max_message).with_deflate(conn.deflate);
    let reading = read_side(rd, conn.leftover, receiver, config, handler, out, shutdown);
    let writing = write_loop(wr, drain);
    tokio::pin!(reading, writing);
    let mut written = false;
    let ending = tokio::select! {
        // The writer after the reader, in every poll: it finds what the handler queued
        // with `send_local` without being woken for it.
        biased;
        ending = &mut reading => ending,
        () = &mut writing => {
            // The peer stopped reading or the close frame went out: give the reader
            // its chance to see the peer's close.
            written = true;
            tokio::time::timeout(config.close_timeout, &mut reading).await.unwrap_or(Ending::Dropped)
        }
    };
    if !written {
        // Let the writer flush what is queued (the close frame, usually), within limits.
        let _ = tokio::time::timeout(config.close_timeout, writing).await;
    }
    ending
}

async fn read_side(
    mut rd: OwnedReadHalf,
    leftover: Vec<u8>,
    receiver: Receiver,
    config: &WsConfig,
    handler: &mut impl Handler,
    out: Outbox,
    shutdown: watch::Receiver<bool>,
) -> Ending {
    let mut reader = Reader {
        buf: BytesMut::from(&leftover[..]),
        receiver,
        pending: None,
    };
    // Copied, so the handshake's buffer goes now: held for the connection's life, it
    // cost every connection ~0.6 KiB of memory (10,000-connection bench).
    drop(leftover);
    let mut last_heard = Instant::now();
    let mut silent = 0u32;
    let idle = tokio::time::sleep_until(last_heard + config.idle_ping);
    // One wait on the shutdown signal for the whole connection, not one per read: every
    // new wait would register with the channel that all connections share. Once
    // registered, it is polled again only when the signal has changed: each poll of a
    // waiting `Notified` takes the channel's lock, once a message otherwise.
    let probe = shutdown.clone();
    let changed = async move {
        let mut shutdown = shutdown;
        let _ = shutdown.changed().await;
    };
    tokio::pin!(changed);
    let mut registered = false;
    let mut stop = std::future::poll_fn(move |cx| {
        if registered && matches!(probe.has_changed(), Ok(false)) {
            return std::task::Poll::Pending;
        }
        registered = true;
        changed.as_mut().poll(cx)
    });
    tokio::pin!(idle);
    // The timer is polled again only once it has fired or been re-armed: every poll
    // registers the task's waker with it again (~100 instructions a message, as the
    // `select!` below polls it each time the read waits).
    let mut armed = false;
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
                    if out
                        .send(Outgoing::new(OpCode::Pong, payload))
                        .await
                        .is_err()
                    {
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
        loop {
            tokio::select! {
                // In this order, without the macro's random start: the read is the
                // one that is ever busy.
                biased;
                r = reader.read(&mut rd) => match r {
                    Ok(true) => {
                        last_heard = Instant::now();
                        silent = 0;
                        break;
                    }
                    _ => break 'conn Ending::Dropped,
                },
                () = &mut stop => {
                    out.close(1001, "server shutting down");
                    break 'conn Ending::WeClosed(1001);
                }
                () = std::future::poll_fn(|cx| {
                    if armed && !idle.is_elapsed() {
                        return std::task::Poll::Pending;
                    }
                    armed = true;
                    idle.as_mut().poll(cx)
                }) => {
                    armed = false;
                    // One timer for the connection, re-armed lazily: reads never touch it.
                    let due = last_heard + config.idle_ping * (silent + 1);
                    if Instant::now() < due {
                        idle.as_mut().reset(due);
                        continue;
                    }
                    // Quiet for `idle_ping`: both sides give their buffers back (~5 KiB
                    // of a connection's ~9 KiB after a 1 KiB message, echo bench).
                    reader.release();
                    out.trim();
                    silent += 1;
                    if silent >= 2 {
                        out.close(1001, "no response to ping");
                        break 'conn Ending::WeClosed(1001);
                    }
                    let _ = out.send(Outgoing::new(OpCode::Ping, Vec::new())).await;
                    idle.as_mut().reset(last_heard + config.idle_ping * (silent + 1));
                }
            }
        }
    };
    match ending {
        Ending::WeClosed(_) => {
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
        Ending::Dropped => out.abort(),
        Ending::PeerClosed(_) => {}
    }
    ending
}

struct Reader {
    /// Bytes read and not yet taken; whole messages are split off it in place.
    buf: BytesMut,
    receiver: Receiver,
    /// What a payload read straight into the message produced, not yet handed out.
    pending: Option<Result<Option<Event>, super::receiver::ProtocolError>>,
}

impl Reader {
    fn next_event(&mut self) -> Result<Option<Event>, super::receiver::ProtocolError> {
        match self.pending.take() {
            None | Some(Ok(None)) => {}
            Some(other) => return other,
        }
        // Nothing completes without input: skip the call (once a message).
        if self.buf.is_empty() {
            return Ok(None);
        }
        if let Some(result) = self.receiver.whole_message(&mut self.buf) {
            return result.map(Some);
        }
        let (n, res) = self.receiver.feed(&self.buf);
        self.buf.advance(n);
        res
    }

    /// Gives the buffer back if nothing is pending in it (the connection is idle).
    fn release(&mut self) {
        if self.buf.is_empty() {
            self.buf = BytesMut::new();
        }
    }

    /// Reads more bytes; `Ok(false)` at end of stream.
    async fn read(&mut self, rd: &mut OwnedReadHalf) -> std::io::Result<bool> {
        if self.buf.is_empty() && self.buf.capacity() > 256 * 1024 {
            self.buf = BytesMut::new();
        }
        // A large payload with nothing else buffered goes straight into the message:
        // one copy less.
        if self.buf.is_empty()
            && let Some((message, remaining)) = self.receiver.payload_target()
        {
            // Room for one byte more than the frame needs: when the socket holds just
            // the rest of it, the read comes back short, and tokio knows the socket is
            // drained (otherwise it tries once more, a read that fails with `WouldBlock`).
            // A byte of the next frame that lands in the message goes to the buffer.
            message.reserve(remaining.min(1 << 20) + 1);
            let n = rd
                .read_buf(&mut bytes::BufMut::limit(&mut *message, remaining + 1))
                .await?;
            let extra = n.saturating_sub(remaining);
            if extra > 0
                && let Some(byte) = message.pop()
            {
                self.buf.extend_from_slice(&[byte]);
            }
            if n > 0 {
                self.pending = Some(self.receiver.payload_appended(n - extra));
            }
            return Ok(n > 0);
        }
        // Room for the rest of a large frame at once, within reason; topped up only when
        // low. Messages split off the buffer may still be on their way out, sharing its
        // memory, and a reservation now would abandon it for a new allocation: unless
        // its space can be had back at once, wait for the peer's next bytes first (by
        // then the answers have usually been written, and the space is reused in place).
        // A connection that gave its buffer back waits the same way: idle connections
        // stay bufferless. (Through the socket's own reader slot: `readable()` would
        // queue a waiter under a lock on every wait.)
        let want = self.receiver.pending_payload().clamp(READ_BUF, 1 << 20);
        if self.buf.capacity() - self.buf.len() < MIN_READ && !self.buf.try_reclaim(want) {
            let socket: &TcpStream = rd.as_ref();
            std::future::poll_fn(|cx| socket.poll_read_ready(cx)).await?;
            self.buf.reserve(want);
        }
        // Through `AsyncRead`, which notices that a short read drained the socket: the
        // next wait needs no read that fails with `WouldBlock` (a syscall a message less).
        Ok(rd.read_buf(&mut self.buf).await? > 0)
    }
}

async fn write_loop(mut wr: OwnedWriteHalf, mut drain: Drain) {
    // Small frames are gathered here and written together; a batch grown large is freed
    // once written, and any batch once the connection has gone quiet (`Next::Trim`).
    let mut batch = Vec::new();
    loop {
        let next = match drain.more().then(|| drain.ready()).flatten() {
            Some(next) => next,
            None => {
                if flush(&mut wr, &mut batch).await.is_err() {
                    return;
                }
                if batch.capacity() > 4096 {
                    batch = Vec::new();
                }
                drain.next().await
            }
        };
        let (frame, last) = match next {
            Next::Send(frame) => (frame, false),
            Next::Close(frame) => (frame, true),
            Next::Stop => {
                let _ = flush(&mut wr, &mut batch).await;
                let _ = wr.shutdown().await;
                return;
            }
            Next::Trim => {
                if flush(&mut wr, &mut batch).await.is_err() {
                    return;
                }
                batch = Vec::new();
                continue;
            }
            Next::LendSocket => {
                // Render threads write frames themselves while this waits; without a
                // duplicate (out of descriptors) every frame comes through here.
                let socket = std::os::fd::AsFd::as_fd(wr.as_ref()).try_clone_to_owned();
                if let Err(e) = &socket {
                    tracing::warn!(error = %e, "socket not lent for direct frames");
                }
                drain.lend_socket(socket.ok().map(std::net::TcpStream::from));
                continue;
            }
        };
        let written = if batch.is_empty() && !drain.more() && frame.len() <= ALONE {
            // A small frame with nothing to gather it with goes out at once, copied to a
            // buffer that every connection of this thread shares and so stays in cache,
            // rather than to this connection's batch, which is out of cache by its next
            // message when hundreds of connections take turns. What the socket does not
            // take waits in the batch for the flush below.
            write_now(&wr, &frame).map(|n| append_rest(&frame, n, &mut batch))
        } else if frame.payload.len() < BATCH {
            batch.extend_from_slice(frame.head());
            batch.extend_from_slice(&frame.payload);
            if batch.len() >= BATCH {
                flush(&mut wr, &mut batch).await
            } else {
                Ok(())
            }
        } else {
            match flush(&mut wr, &mut batch).await {
                Ok(()) => write_large(&mut wr, &frame).await,
                Err(e) => Err(e),
            }
        };
        if written.is_err() {
            return;
        }
        if last {
            let _ = flush(&mut wr, &mut batch).await;
            let _ = wr.shutdown().await;
            return;
        }
    }
}

/// The least room a read is given in the buffer.
const MIN_READ: usize = 1024;

/// A new read buffer's size, unless a large frame is pending.
const READ_BUF: usize = 4096;
const _: () = assert!(
    MIN_READ <= READ_BUF,
    "a reservation gives a read its least room"
);

/// Frames smaller than this are batched; larger ones are written straight from their
/// payload.
const BATCH: usize = 16 * 1024;

async fn flush(wr: &mut OwnedWriteHalf, batch: &mut Vec<u8>) -> std::io::Result<()> {
    if !batch.is_empty() {
        wr.write_all(batch).await?;
        batch.clear();
    }
    Ok(())
}

/// Frames up to this size may be written through the thread's buffer (`write_now`).
const ALONE: usize = 2048;

thread_local! {
    /// Where `write_now` puts a frame together: one buffer for all of a thread's
    /// connections, so it stays in cache.
    static SCRATCH: std::cell::RefCell<Vec<u8>> =
        std::cell::RefCell::new(Vec::with_capacity(ALONE));
}

/// Writes as much of a frame as the socket takes now, in one `send`; `Ok(0)` when it
/// takes nothing.
fn write_now(wr: &OwnedWriteHalf, frame: &Outgoing) -> std::io::Result<usize> {
    SCRATCH.with_borrow_mut(|buf| {
        buf.clear();
        buf.extend_from_slice(frame.head());
        buf.extend_from_slice(&frame.payload);
        match wr.try_write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(0),
            other => other,
        }
    })
}

/// Appends the part of `frame` after its first `n` bytes (header, then payload).
fn append_rest(frame: &Outgoing, n: usize, out: &mut Vec<u8>) {
    let rest = frame.after(n);
    out.extend_from_slice(rest.head());
    out.extend_from_slice(&rest.payload);
}

/// A large frame with its header in one vectored write, without copying the payload.
async fn write_large(wr: &mut OwnedWriteHalf, frame: &Outgoing) -> std::io::Result<()> {
    let (head, body) = (frame.head(), &frame.payload[..]);
    let total = head.len() + body.len();
    let mut done = 0;
    while done < total {
        let n = if done < head.len() {
            let parts = [
                std::io::IoSlice::new(&head[done..]),
                std::io::IoSlice::new(body),
            ];
            wr.write_vectored(&parts).await?
        } else {
            wr.write(&body[done - head.len()..]).await?
        };
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        done += n;
    }
    Ok(())
}

/// Creates the outgoing side for a new connection.
pub fn new_outbox(config: &WsConfig) -> (Outbox, Drain) {
    outbox(config.queue)
}

/// Echoes every message back: the endpoint the Autobahn suite tests.
pub struct Echo {
    /// Compress the echoes, as negotiated.
    pub deflate: Option<Deflate>,
}

impl Handler for Echo {
    async fn on_message(
        &mut self,
        kind: DataKind,
        data: Bytes,
        out: &Outbox,
    ) -> Result<(), CloseReason> {
        let opcode = match kind {
            DataKind::Text => OpCode::Text,
            DataKind::Binary => OpCode::Binary,
        };
        // Every echo is compressed once negotiated, even tiny ones that deflate cannot
        // shrink: the kosoku runner's compression cases mishandle uncompressed text.
        let frame = match self.deflate {
            Some(d) => {
                let mut compressed = Vec::new();
                deflate::compress(&data, d, deflate::Content::Any, &mut compressed);
                Outgoing::compressed(opcode, compressed)
            }
            _ => Outgoing::new(opcode, data),
        };
        match out.send_local(frame) {
            Ok(()) => Ok(()),
            // Boxed: inline, this rare wait's state made every message's future large
            // enough to be copied with `memcpy`, twice.
            Err(frame) => Box::pin(out.send(frame))
                .await
                .map_err(|_| CloseReason::new(1001, "going away")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A connection served with `config` (Echo handler), and the peer's end of it.
    async fn served(config: WsConfig) -> (TcpStream, tokio::task::JoinHandle<Ending>) {
        served_to(tokio::net::TcpSocket::new_v4().unwrap(), config).await
    }

    /// The same, with the peer's socket set up by the caller.
    async fn served_to(
        peer: tokio::net::TcpSocket,
        config: WsConfig,
    ) -> (TcpStream, tokio::task::JoinHandle<Ending>) {
        let (peer, _, server) = served_with_outbox(peer, config).await;
        (peer, server)
    }

    /// The same, and a handle to the connection's outbox, as the game holds one.
    async fn served_with_outbox(
        peer: tokio::net::TcpSocket,
        config: WsConfig,
    ) -> (TcpStream, Outbox, tokio::task::JoinHandle<Ending>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = peer.connect(listener.local_addr().unwrap()).await.unwrap();
        // Frames go out as written (Nagle would hold the second of two back-to-back).
        peer.set_nodelay(true).unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let (out, drain) = new_outbox(&config);
        let handle = out.clone();
        let server = tokio::spawn(async move {
            // Kept alive for the connection's life: a dropped sender reads as shutdown.
            let (_keep, shutdown) = watch::channel(false);
            let conn = Upgraded {
                stream,
                leftover: Vec::new(),
                deflate: None,
            };
            serve(
                conn,
                &config,
                &mut Echo { deflate: None },
                out,
                drain,
                shutdown,
            )
            .await
        });
        (peer, handle, server)
    }

    /// One unmasked server frame with a short payload: (opcode, payload).
    async fn read_frame(peer: &mut TcpStream) -> (u8, Vec<u8>) {
        let mut head = [0u8; 2];
        peer.read_exact(&mut head).await.unwrap();
        assert_eq!(head[0] & 0x80, 0x80, "a final frame");
        assert!(head[1] < 126, "short payload, unmasked");
        let mut payload = vec![0; head[1] as usize];
        peer.read_exact(&mut payload).await.unwrap();
        (head[0] & 0x0f, payload)
    }

    async fn send_masked(peer: &mut TcpStream, opcode: u8, payload: &[u8]) {
        peer.write_all(&masked(opcode, payload)).await.unwrap();
    }

    /// Real time, short: tokio's paused clock (its `test-util` feature) would also slow
    /// every `Instant::now` in the echo benchmark, which shares these dev-dependencies.
    const IDLE: Duration = Duration::from_millis(600);
    /// Slack for a loaded machine (tests run in parallel on two cores): timers never
    /// fire early, but may fire late. Less than IDLE, so that a close after three
    /// silences instead of two still fails.
    const SLACK: Duration = Duration::from_millis(500);

    fn config() -> WsConfig {
        WsConfig {
            idle_ping: IDLE,
            close_timeout: Duration::from_millis(100),
            ..WsConfig::default()
        }
    }

    fn within(elapsed: Duration, at: Duration) -> bool {
        elapsed >= at && elapsed < at + SLACK
    }

    /// Message `i` of a numbered run: `size` bytes, each `i` mod 251.
    fn numbered(i: usize, size: usize) -> Vec<u8> {
        vec![(i % 251) as u8; size]
    }

    /// Sends `count` numbered binary messages of `size` bytes from a task of its own,
    /// yielding after each if `apart`.
    fn send_numbered(
        mut wr: tokio::net::tcp::OwnedWriteHalf,
        count: usize,
        size: usize,
        apart: bool,
    ) -> tokio::task::JoinHandle<tokio::net::tcp::OwnedWriteHalf> {
        tokio::spawn(async move {
            for i in 0..count {
                wr.write_all(&masked(0x2, &numbered(i, size)))
                    .await
                    .unwrap();
                if apart {
                    tokio::task::yield_now().await;
                }
            }
            wr
        })
    }

    /// Reads the echoes of `count` numbered binary messages of `size` (126 to 65,535)
    /// bytes, each whole and in order.
    async fn expect_echoes(rd: &mut tokio::net::tcp::OwnedReadHalf, count: usize, size: usize) {
        let [len_high, len_low] = (size as u16).to_be_bytes();
        for i in 0..count {
            let mut head = [0u8; 4];
            rd.read_exact(&mut head).await.unwrap();
            assert_eq!(head, [0x82, 126, len_high, len_low], "echo {i}'s header");
            let mut payload = vec![0; size];
            rd.read_exact(&mut payload).await.unwrap();
            assert!(
                payload == numbered(i, size),
                "echo {i} of {size} B whole and in order"
            );
        }
    }

    /// A masked client frame with any payload length.
    fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        frame
    }

    /// Large payloads are read straight into the message with room for one byte more:
    /// a byte of the next frame read that way must reach the next frame.
    #[tokio::test]
    async fn frames_right_behind_a_large_one_arrive_whole() {
        let (mut peer, _server) = served(config()).await;
        let large: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        let mut bytes = Vec::new();
        for i in 0..4u8 {
            bytes.extend(masked(0x2, &large));
            bytes.extend(masked(0x2, &[i; 5]));
        }
        peer.write_all(&bytes).await.unwrap();
        for i in 0..4u8 {
            let mut head = [0u8; 4];
            peer.read_exact(&mut head).await.unwrap();
            assert_eq!(head, [0x82, 126, 0x9c, 0x40], "40,000 bytes, binary");
            let mut payload = vec![0; 40_000];
            peer.read_exact(&mut payload).await.unwrap();
            assert!(payload == large, "large message {i}");
            assert_eq!(read_frame(&mut peer).await, (0x2, vec![i; 5]));
        }
    }

    /// Echoes wait in the outbox once the peer stops reading, and then the connection
    /// stops reading too: the peer is pushed back instead of the server buffering what it
    /// sends. Once it reads, every echo arrives, in order. Large frames, and small ones
    /// (written at once when alone, and what the socket does not take then goes later).
    #[tokio::test]
    async fn a_peer_that_stops_reading_is_pushed_back_and_loses_nothing() {
        for (size, count) in [(60_000, 600), (1_000, 36_000)] {
            let (peer, _server) = served(config()).await;
            let (mut rd, wr) = peer.into_split();
            let writer = send_numbered(wr, count, size, false);
            // 36 MB sent, far beyond what the sockets and the outbox hold: the writer
            // stalls.
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert!(
                !writer.is_finished(),
                "the server stopped reading ({size} B)"
            );
            expect_echoes(&mut rd, count, size).await;
            writer.await.unwrap();
        }
    }

    /// Frames a render thread writes itself to a peer that has stopped reading: no call
    /// blocks (the lent socket does not wait, so one player never holds up a render
    /// thread), and once the peer reads, what arrives is whole frames, each intact, in
    /// order, up to the last one sent.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn frames_written_directly_to_a_stalled_peer_never_block_and_arrive_whole() {
        const SIZE: usize = 60_000;
        const COUNT: u32 = 400;
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let (mut peer, out, _server) = served_with_outbox(socket, config()).await;
        out.write_frames_directly(true);
        let frame = |i: u32| {
            let mut payload = vec![(i % 251) as u8; SIZE];
            payload[..4].copy_from_slice(&i.to_le_bytes());
            Outgoing::new(OpCode::Binary, payload)
        };
        // 24 MB, far beyond what the sockets hold, from a thread of its own.
        let sending = tokio::task::spawn_blocking(move || {
            for i in 0..COUNT {
                out.send_frame(frame(i)).unwrap();
                std::thread::sleep(Duration::from_micros(200));
            }
            out
        });
        let finished = tokio::time::timeout(Duration::from_secs(30), sending).await;
        let _out = finished.expect("no send blocks").unwrap();
        let mut last = None;
        while last != Some(COUNT - 1) {
            let mut head = [0u8; 4];
            peer.read_exact(&mut head).await.unwrap();
            assert_eq!(
                (head[0], head[1]),
                (0x82, 126),
                "a binary frame, 16-bit length"
            );
            assert_eq!(u16::from_be_bytes([head[2], head[3]]) as usize, SIZE);
            let mut payload = vec![0; SIZE];
            peer.read_exact(&mut payload).await.unwrap();
            let i = u32::from_le_bytes(payload[..4].try_into().unwrap());
            assert!(last < Some(i), "in order: {i} after {last:?}");
            assert!(
                payload[4..].iter().all(|&b| b == (i % 251) as u8),
                "frame {i} intact"
            );
            last = Some(i);
        }
    }

    #[test]
    fn the_rest_of_a_frame_after_any_number_of_bytes() {
        let frame = Outgoing::new(OpCode::Binary, (0..200u8).collect::<Vec<_>>());
        let whole = [frame.head(), &frame.payload[..]].concat();
        assert_eq!(frame.head().len(), 4);
        for n in 0..=whole.len() {
            let mut out = vec![7];
            append_rest(&frame, n, &mut out);
            assert_eq!(out[0], 7, "appended, not replaced");
            assert_eq!(out[1..], whole[n..], "after {n} bytes");
        }
    }

    /// Small echoes, one at a time, to a peer with a small receive buffer that does not
    /// read: each goes out alone and at once until the socket is full, so one is taken
    /// only in part, and the rest of it must follow from the batch before anything else.
    #[tokio::test]
    async fn an_echo_the_socket_takes_in_part_is_finished_first() {
        const SIZE: usize = 1_000;
        const COUNT: usize = 6_000;
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let (peer, _server) = served_to(socket, config()).await;
        let (mut rd, wr) = peer.into_split();
        // Each followed by the server's turn (one runtime thread): each echo is written
        // alone.
        let writer = send_numbered(wr, COUNT, SIZE, true);
        // 6 MB, beyond what the peer's socket and the server's send buffer hold.
        tokio::time::sleep(Duration::from_millis(300)).await;
        expect_echoes(&mut rd, COUNT, SIZE).await;
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn a_silent_peer_is_pinged_then_closed_with_1001() {
        let (mut peer, server) = served(config()).await;
        let start = Instant::now();
        assert_eq!(read_frame(&mut peer).await, (0x9, Vec::new()), "ping");
        assert!(within(start.elapsed(), IDLE), "after idle_ping of silence");
        let (opcode, payload) = read_frame(&mut peer).await;
        assert_eq!(opcode, 0x8, "close");
        assert_eq!(&payload[..2], &1001u16.to_be_bytes());
        assert_eq!(&payload[2..], b"no response to ping");
        assert!(within(start.elapsed(), 2 * IDLE), "after twice idle_ping");
        // The peer never answers the close: the server gives up after close_timeout.
        assert!(matches!(server.await.unwrap(), Ending::WeClosed(1001)));
    }

    #[tokio::test]
    async fn a_peer_that_talks_or_answers_pings_stays() {
        let (mut peer, server) = served(config()).await;
        // Talking more often than idle_ping, for several times idle_ping: never pinged,
        // every frame read is an echo.
        for _ in 0..8 {
            send_masked(&mut peer, 0x1, b"hi").await;
            assert_eq!(read_frame(&mut peer).await, (0x1, b"hi".to_vec()));
            tokio::time::sleep(IDLE / 3).await;
        }
        // Silent but answering pings: pinged every idle_ping, never closed.
        for _ in 0..3 {
            let start = Instant::now();
            assert_eq!(read_frame(&mut peer).await, (0x9, Vec::new()));
            assert!(start.elapsed() < IDLE + SLACK);
            send_masked(&mut peer, 0xA, b"").await;
        }
        send_masked(&mut peer, 0x8, &1000u16.to_be_bytes()).await;
        assert_eq!(
            read_frame(&mut peer).await,
            (0x8, 1000u16.to_be_bytes().to_vec())
        );
        assert!(matches!(server.await.unwrap(), Ending::PeerClosed(1000)));
    }
}
