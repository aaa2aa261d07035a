//! What a connection sends: an ordered, bounded queue for messages that must arrive
//! (waiting when full, which pushes back on whoever produces them), plus "latest wins"
//! slots for messages that a newer one makes worthless (frames, camera state). A slow
//! reader therefore gets fewer frames, never a growing queue.

use super::frame::{OpCode, Outgoing};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use tokio::sync::Notify;

/// Latest-wins kinds; at most one of each waits behind the socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    Frame = 0,
    State = 1,
    Players = 2,
}
const SLOTS: usize = 3;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("connection is closed")]
pub struct Closed;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TrySendError {
    #[error("connection is closed")]
    Closed,
    #[error("the reader is too far behind")]
    Full,
}

/// Everything under one lock: the writer takes what is ready and, when nothing is,
/// leaves its waker here, all in one lock (the busiest path: once a message).
#[derive(Default)]
struct Pending {
    /// Frames from the connection's own task, ahead of `queue` (see `send_local`).
    local: VecDeque<Outgoing>,
    /// Frames that must arrive, bounded by `Shared::capacity`.
    queue: VecDeque<Outgoing>,
    latest: [Option<Outgoing>; SLOTS],
    close: Option<Outgoing>,
    /// Set once a close is queued or the writer stopped: nothing more is accepted.
    closed: bool,
    /// The connection has gone quiet: the writer should give its buffers back.
    trim: bool,
    /// The connection is gone: the writer stops without writing anything more.
    aborted: bool,
    /// Live [`Outbox`] handles; with none left, the writer stops once it has written
    /// what is there.
    handles: usize,
    /// The writer, while it waits for something to write.
    writer: Option<Waker>,
    /// The writer waits with nothing written in part (set when [`Drain::next`] finds
    /// nothing, cleared when it takes something): only then may a producer write to
    /// the socket itself ([`Outbox::send_frame`]).
    idle: bool,
    /// The socket lent to producers for those direct writes.
    sharing: Sharing,
    /// What the socket did not take of a frame written directly: the writer sends it
    /// before anything else.
    rest: Option<Outgoing>,
}

/// Whether producers may write to the socket themselves ([`Outbox::send_frame`]). A
/// lent socket is a duplicate, a descriptor more, so only connections that get frames
/// ask for one: 10,000 state-only players do not double the descriptors they hold.
#[derive(Default)]
enum Sharing {
    #[default]
    Off,
    /// Asked for: the writer is to lend it ([`Next::LendSocket`]).
    Wanted,
    /// The writer has been asked and answers with [`Drain::lend_socket`].
    Asked,
    Lent(std::net::TcpStream),
}

impl Pending {
    /// The writer has a socket to lend.
    fn lend_socket(&self) -> bool {
        matches!(self.sharing, Sharing::Wanted) && !self.closed
    }

    /// Anything for the writer.
    fn any(&self) -> bool {
        self.aborted
            || self.lend_socket()
            || self.rest.is_some()
            || !self.local.is_empty()
            || !self.queue.is_empty()
            || self.latest.iter().any(Option::is_some)
            || self.close.is_some()
            || self.trim
    }
}

struct Shared {
    pending: Mutex<Pending>,
    capacity: usize,
    /// Senders waiting for room in `queue`.
    room: Notify,
}

/// A cloneable handle to one connection's outgoing side.
pub struct Outbox {
    shared: Arc<Shared>,
}

/// The writer's side of an [`Outbox`].
pub struct Drain {
    shared: Arc<Shared>,
    /// Whether anything was left when the last frame was taken (see [`Drain::more`]).
    more: bool,
}

pub enum Next {
    Send(Outgoing),
    /// The close frame: send it, then end the connection's writing side.
    Close(Outgoing),
    /// The connection has gone quiet: write out what is gathered and free the buffers.
    Trim,
    /// Everything is gone: stop.
    Stop,
    /// Producers will write frames themselves ([`Outbox::send_frame`]): lend them a
    /// duplicate of the socket ([`Drain::lend_socket`]).
    LendSocket,
}

/// An outbox whose reliable queue holds up to `queue` frames.
pub fn outbox(queue: usize) -> (Outbox, Drain) {
    let shared = Arc::new(Shared {
        pending: Mutex::new(Pending {
            handles: 1,
            ..Pending::default()
        }),
        capacity: queue.max(1),
        room: Notify::new(),
    });
    (
        Outbox {
            shared: shared.clone(),
        },
        Drain {
            shared,
            more: false,
        },
    )
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding this lock cannot leave the data inconsistent: recover.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the pending frames under the lock; wakes the writer, outside the lock, if
    /// `change` says the writer has something new to look at.
    fn update<T>(&self, change: impl FnOnce(&mut Pending) -> (T, bool)) -> T {
        let mut p = self.lock();
        let (out, wake) = change(&mut p);
        let writer = if wake { p.writer.take() } else { None };
        drop(p);
        if let Some(w) = writer {
            w.wake();
        }
        out
    }
}

impl Clone for Outbox {
    fn clone(&self) -> Self {
        self.shared.lock().handles += 1;
        Outbox {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        // After the last one the writer must look again: it stops once all is written.
        self.shared.update(|p| {
            p.handles -= 1;
            ((), p.handles == 0)
        });
    }
}

impl Outbox {
    /// Queues a frame that must be delivered, waiting while the queue is full.
    pub async fn send(&self, frame: Outgoing) -> Result<(), Closed> {
        let mut frame = Some(frame);
        loop {
            // Registered before looking, so room made in between is not missed.
            let room = self.shared.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            let queued = self.shared.update(|p| {
                if p.closed {
                    return (Err(Closed), false);
                }
                let fits = p.queue.len() < self.shared.capacity;
                if fits {
                    p.queue.extend(frame.take());
                }
                (Ok(fits), fits)
            })?;
            if queued {
                return Ok(());
            }
            room.await;
        }
    }

    /// Queues a small message that must arrive (a race event, an announcement) from code
    /// that cannot wait, such as the tick. It may use the queue up to twice its capacity,
    /// beyond what [`Outbox::send`] fills, so bulk transfers cannot crowd it out; past
    /// that the reader is hopelessly behind and `Err(Full)` says the message was dropped.
    pub fn try_send(&self, frame: Outgoing) -> Result<(), TrySendError> {
        self.shared.update(|p| {
            if p.closed {
                return (Err(TrySendError::Closed), false);
            }
            if p.queue.len() >= 2 * self.shared.capacity {
                return (Err(TrySendError::Full), false);
            }
            p.queue.push_back(frame);
            (Ok(()), true)
        })
    }

    /// Queues a frame without waking the writer, which is polled right after the
    /// connection's handler in the same task (`conn::serve`): a message and its answer
    /// cost one poll, not two. Only for that handler. `Err` gives the frame back when it
    /// must go through [`Outbox::send`] instead: the connection is closed, the local
    /// queue is full, or `queue` holds frames this one must not overtake.
    pub(super) fn send_local(&self, frame: Outgoing) -> Result<(), Outgoing> {
        let mut p = self.shared.lock();
        // Bounded like `queue`.
        if p.closed || !p.queue.is_empty() || p.local.len() >= self.shared.capacity {
            return Err(frame);
        }
        p.local.push_back(frame);
        Ok(())
    }

    /// Replaces whatever frame of this kind is still waiting; never waits.
    pub fn replace(&self, slot: Slot, frame: Outgoing) -> Result<(), Closed> {
        self.shared.update(|p| {
            if p.closed {
                return (Err(Closed), false);
            }
            p.latest[slot as usize] = Some(frame);
            (Ok(()), true)
        })
    }

    /// Whether frames sent with [`Outbox::send_frame`] may be written by the producer
    /// itself: on for a player who gets server-rendered frames (the writer then lends
    /// a duplicate of the socket), off for one who does not (the duplicate is closed).
    pub fn write_frames_directly(&self, on: bool) {
        let unused = self.shared.update(|p| match (on, &p.sharing) {
            (true, Sharing::Off) => {
                p.sharing = Sharing::Wanted;
                (None, p.lend_socket())
            }
            (true, _) => (None, false),
            (false, _) => (Some(std::mem::take(&mut p.sharing)), false),
        });
        drop(unused); // a lent socket is closed outside the lock
    }

    /// Sends a frame (latest wins, as [`Slot::Frame`]) from the caller's thread when the
    /// writer waits with nothing to do: written to the socket at once, without waking
    /// the connection's task and waiting for a worker thread to run it (a render thread
    /// hands over its frame this way; the hop cost a key every frame at 16 players
    /// ≈ 0.15 ms on average and up to 2 ms at p99 on two busy cores). What the socket
    /// does not take goes to the writer, ahead of everything else; when the writer is
    /// busy, or the socket takes nothing, the frame waits in the slot as with
    /// [`Outbox::replace`].
    pub fn send_frame(&self, frame: Outgoing) -> Result<(), Closed> {
        self.shared.update(|p| {
            if p.closed {
                return (Err(Closed), false);
            }
            if p.idle
                && !p.any()
                && let Sharing::Lent(socket) = &p.sharing
            {
                // Under the lock: neither the writer nor another producer can write
                // until the socket has what it takes of this frame.
                match write_some(socket, &frame) {
                    Ok(n) if n == frame.len() => return (Ok(()), false),
                    Ok(n) if n > 0 => {
                        p.rest = Some(frame.after(n));
                        return (Ok(()), true);
                    }
                    // Full, or failing: the writer finds out for itself.
                    _ => {}
                }
            }
            p.latest[Slot::Frame as usize] = Some(frame);
            (Ok(()), true)
        })
    }

    /// A frame of this kind waits for the writer. Frames that depend on the one before
    /// (video) must not replace it: their producer checks this first (nothing but the
    /// writer empties a slot, so the answer holds until the producer fills it). A frame
    /// the socket took only in part waits too.
    pub fn is_waiting(&self, slot: Slot) -> bool {
        let p = self.shared.lock();
        p.latest[slot as usize].is_some() || (slot == Slot::Frame && p.rest.is_some())
    }

    /// Sends a close frame after what is queued, then nothing more. Only the first
    /// close counts.
    pub fn close(&self, code: u16, reason: &str) {
        let mut payload = code.to_be_bytes().to_vec();
        // A close payload is at most 125 bytes: cut the reason at a character boundary.
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        payload.extend_from_slice(&reason.as_bytes()[..end]);
        self.shared.update(|p| {
            if p.closed {
                return ((), false);
            }
            p.closed = true;
            p.latest = Default::default();
            p.close = Some(Outgoing::new(OpCode::Close, payload));
            ((), true)
        });
        // Senders waiting for room give up.
        self.shared.room.notify_waiters();
    }

    /// Asks the writer to give back its buffers once it has written what it has: the
    /// connection has gone quiet, and thousands of quiet connections should hold little.
    pub(super) fn trim(&self) {
        self.shared.update(|p| {
            p.trim = true;
            ((), true)
        });
    }

    /// The peer is gone: stop writing at once.
    pub fn abort(&self) {
        self.shared.update(|p| {
            p.closed = true;
            p.aborted = true;
            ((), true)
        });
        self.shared.room.notify_waiters();
    }
}

impl Drain {
    /// What to write next, if anything is ready now: queued frames first, then the
    /// latest-wins slots, then the close frame.
    pub fn ready(&mut self) -> Option<Next> {
        let mut p = self.shared.lock();
        let next = Self::take(&self.shared, &mut p);
        self.more = next.is_some() && p.any();
        next
    }

    /// Whether the last frame taken left anything else to take: if not, the writer can
    /// write out what it gathered and wait, without taking the lock once more to find
    /// nothing (one lock a message less for a connection that answers one at a time).
    /// Frames queued since are found by [`Drain::next`].
    pub fn more(&self) -> bool {
        self.more
    }

    /// Lends producers `socket`, a duplicate of the connection's, to write frames to
    /// themselves while the writer waits ([`Outbox::send_frame`]), as
    /// [`Next::LendSocket`] asked. `None` (no duplicate: out of descriptors) stops
    /// the asking; frames then all go through the writer.
    pub fn lend_socket(&self, socket: Option<std::net::TcpStream>) {
        let mut p = self.shared.lock();
        p.sharing = match (socket, &p.sharing) {
            (Some(s), Sharing::Asked) => Sharing::Lent(s),
            // Switched off since it was asked for (the duplicate is closed), or none.
            _ => Sharing::Off,
        };
    }

    fn take(shared: &Shared, p: &mut Pending) -> Option<Next> {
        let next = Self::take_next(shared, p);
        p.idle = false;
        next
    }

    fn take_next(shared: &Shared, p: &mut Pending) -> Option<Next> {
        if p.aborted {
            return Some(Next::Stop);
        }
        if let Some(rest) = p.rest.take() {
            return Some(Next::Send(rest));
        }
        if p.lend_socket() {
            p.sharing = Sharing::Asked;
            return Some(Next::LendSocket);
        }
        if let Some(frame) = p.local.pop_front() {
            return Some(Next::Send(frame));
        }
        if let Some(frame) = p.queue.pop_front() {
            if p.queue.len() + 1 == shared.capacity {
                // It was full: a sender may be waiting.
                shared.room.notify_waiters();
            }
            return Some(Next::Send(frame));
        }
        if let Some(frame) = p.latest.iter_mut().find_map(Option::take) {
            return Some(Next::Send(frame));
        }
        if let Some(frame) = p.close.take() {
            return Some(Next::Close(frame));
        }
        if std::mem::take(&mut p.trim) {
            return Some(Next::Trim);
        }
        // Every handle is gone and everything they left has gone out.
        (p.handles == 0).then_some(Next::Stop)
    }

    /// Waits for the next thing to write. Every poll looks at everything first, so
    /// frames queued by [`Outbox::send_local`] need no wake.
    pub async fn next(&mut self) -> Next {
        std::future::poll_fn(|cx| {
            let mut p = self.shared.lock();
            if let Some(next) = Self::take(&self.shared, &mut p) {
                self.more = p.any();
                return Poll::Ready(next);
            }
            // The writer calls this only once it has written out what it gathered.
            p.idle = true;
            match &mut p.writer {
                Some(w) if w.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
        .await
    }
}

impl Drop for Drain {
    fn drop(&mut self) {
        // The writer is gone: make every producer see a closed connection, and let the
        // socket close (the duplicate would keep it open).
        let socket = {
            let mut p = self.shared.lock();
            p.closed = true;
            std::mem::take(&mut p.sharing)
        };
        drop(socket);
        self.shared.room.notify_waiters();
    }
}

/// Writes as much of `frame` as the socket takes now, in one vectored write.
fn write_some(socket: &std::net::TcpStream, frame: &Outgoing) -> std::io::Result<usize> {
    use std::io::{IoSlice, Write};
    let parts = [IoSlice::new(frame.head()), IoSlice::new(&frame.payload)];
    (&*socket).write_vectored(&parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(next: Next) -> String {
        match next {
            Next::Send(f) => format!("send {}", String::from_utf8_lossy(&f.payload)),
            Next::Close(f) => format!("close {:?}", &f.payload[..2]),
            Next::Trim => "trim".into(),
            Next::Stop => "stop".into(),
            Next::LendSocket => "lend socket".into(),
        }
    }

    fn bin(bytes: &[u8]) -> Outgoing {
        Outgoing::new(OpCode::Binary, bytes.to_vec())
    }

    #[tokio::test]
    async fn more_says_whether_the_last_take_left_anything() {
        let (out, mut drain) = outbox(4);
        out.send(bin(b"a")).await.unwrap();
        out.replace(Slot::Frame, bin(b"frame")).unwrap();
        assert_eq!(text(drain.next().await), "send a");
        assert!(drain.more(), "the frame is still there");
        assert_eq!(text(drain.ready().unwrap()), "send frame");
        assert!(!drain.more());
        assert!(out.send_local(bin(b"b")).is_ok());
        assert_eq!(text(drain.next().await), "send b");
        assert!(!drain.more());
        out.close(1000, "");
        assert!(drain.ready().is_some());
        assert!(!drain.more());
    }

    #[tokio::test]
    async fn try_send_has_room_beyond_bulk_senders_and_then_drops() {
        let (out, mut drain) = outbox(2);
        out.send(bin(b"chunk 1")).await.unwrap();
        out.send(bin(b"chunk 2")).await.unwrap();
        // `send` would wait now; `try_send` still gets two more in, in order.
        assert_eq!(out.try_send(bin(b"event 1")), Ok(()));
        assert_eq!(out.try_send(bin(b"event 2")), Ok(()));
        assert_eq!(out.try_send(bin(b"event 3")), Err(TrySendError::Full));
        for want in ["chunk 1", "chunk 2", "event 1", "event 2"] {
            assert_eq!(text(drain.next().await), format!("send {want}"));
        }
        drop(drain);
        assert_eq!(out.try_send(bin(b"late")), Err(TrySendError::Closed));
    }

    #[tokio::test]
    async fn trim_comes_after_what_is_waiting_and_once() {
        let (out, mut drain) = outbox(4);
        out.send(bin(b"a")).await.unwrap();
        out.trim();
        assert_eq!(text(drain.next().await), "send a");
        assert!(drain.more(), "the trim is still there");
        assert_eq!(text(drain.ready().unwrap()), "trim");
        assert!(!drain.more());
        assert!(drain.ready().is_none(), "once");
        // A waiting writer is woken for it.
        let waiting = tokio::spawn(async move { text(drain.next().await) });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        out.trim();
        let woken = tokio::time::timeout(std::time::Duration::from_secs(5), waiting);
        assert_eq!(woken.await.expect("woken").unwrap(), "trim");
    }

    #[tokio::test]
    async fn latest_frame_wins_and_queue_comes_first() {
        let (out, mut drain) = outbox(4);
        out.replace(Slot::Frame, bin(b"frame 1")).unwrap();
        out.replace(Slot::Frame, bin(b"frame 2")).unwrap();
        out.send(bin(b"welcome")).await.unwrap();
        assert_eq!(text(drain.next().await), "send welcome");
        assert_eq!(text(drain.next().await), "send frame 2");
        assert!(drain.ready().is_none());
        out.close(1001, "bye");
        assert_eq!(out.replace(Slot::Frame, bin(b"late")), Err(Closed));
        assert_eq!(out.send(bin(b"late")).await, Err(Closed));
        assert_eq!(text(drain.next().await), "close [3, 233]");
    }

    #[tokio::test]
    async fn local_frames_keep_their_order_and_their_bounds() {
        let (out, mut drain) = outbox(2);
        out.send_local(bin(b"a")).unwrap();
        out.send(bin(b"pong")).await.unwrap();
        // Something waits in the queue: a local frame now would overtake it.
        assert!(out.send_local(bin(b"b")).is_err());
        out.send(bin(b"b")).await.unwrap();
        assert_eq!(text(drain.next().await), "send a");
        assert_eq!(text(drain.next().await), "send pong");
        assert_eq!(text(drain.next().await), "send b");
        // Bounded like the queue.
        out.send_local(bin(b"c")).unwrap();
        out.send_local(bin(b"d")).unwrap();
        assert!(out.send_local(bin(b"e")).is_err(), "full");
        assert_eq!(text(drain.next().await), "send c");
        assert_eq!(text(drain.next().await), "send d");
        out.close(1000, "");
        assert!(out.send_local(bin(b"late")).is_err(), "closed");
        assert_eq!(text(drain.next().await), "close [3, 232]");
    }

    #[tokio::test]
    async fn a_waiting_sender_gets_room_when_the_writer_takes_a_frame() {
        let (out, mut drain) = outbox(1);
        out.send(bin(b"first")).await.unwrap();
        let waiting = {
            let out = out.clone();
            tokio::spawn(async move { out.send(bin(b"second")).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the queue is full");
        assert_eq!(text(drain.next().await), "send first");
        let woken = tokio::time::timeout(std::time::Duration::from_secs(5), waiting);
        woken.await.expect("woken").unwrap().unwrap();
        assert_eq!(text(drain.next().await), "send second");
    }

    #[tokio::test]
    async fn the_writer_stops_once_every_handle_is_gone_and_all_is_written() {
        let (out, mut drain) = outbox(4);
        let other = out.clone();
        out.send(bin(b"queued")).await.unwrap();
        other.replace(Slot::State, bin(b"state")).unwrap();
        drop(out);
        let waiting = tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                match drain.next().await {
                    Next::Stop => return seen,
                    next => seen.push(text(next)),
                }
            }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "one handle is left");
        drop(other);
        let stopped = tokio::time::timeout(std::time::Duration::from_secs(5), waiting);
        assert_eq!(
            stopped.await.expect("stops").unwrap(),
            ["send queued", "send state"]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_producers_lose_nothing_and_keep_their_order() {
        const PRODUCERS: u8 = 4;
        const EACH: u32 = 2000;
        let (out, mut drain) = outbox(4);
        let mut producers = Vec::new();
        for p in 0..PRODUCERS {
            let out = out.clone();
            producers.push(tokio::spawn(async move {
                for i in 0..EACH {
                    let mut payload = vec![p];
                    payload.extend_from_slice(&i.to_le_bytes());
                    out.send(Outgoing::new(OpCode::Binary, payload))
                        .await
                        .unwrap();
                }
            }));
        }
        // Another thread replaces a latest-wins frame all the while.
        let replacer = {
            let out = out.clone();
            std::thread::spawn(move || {
                for i in 0..=EACH {
                    let frame = Outgoing::new(OpCode::Binary, i.to_le_bytes().to_vec());
                    out.replace(Slot::Frame, frame).unwrap();
                }
            })
        };
        drop(out);
        let writer = tokio::spawn(async move {
            let mut next_of = [0u32; PRODUCERS as usize];
            let mut last_frame = None;
            loop {
                match drain.next().await {
                    Next::Send(f) if f.payload.len() == 5 => {
                        let p = f.payload[0] as usize;
                        let i = u32::from_le_bytes(f.payload[1..].try_into().unwrap());
                        assert_eq!(i, next_of[p], "producer {p} in order, nothing lost");
                        next_of[p] += 1;
                    }
                    Next::Send(f) => {
                        let i = u32::from_le_bytes(f.payload[..].try_into().unwrap());
                        assert!(last_frame < Some(i), "latest-wins frames only move on");
                        last_frame = Some(i);
                    }
                    Next::Close(_) | Next::Trim | Next::LendSocket => {
                        panic!("nobody closed, trimmed or asked for the socket")
                    }
                    Next::Stop => return (next_of, last_frame),
                }
            }
        });
        let all = async {
            for p in producers {
                p.await.unwrap();
            }
            writer.await.unwrap()
        };
        let done = tokio::time::timeout(std::time::Duration::from_secs(10), all);
        let (next_of, last_frame) = done.await.expect("nobody stalls");
        replacer.join().unwrap();
        assert_eq!(next_of, [EACH; PRODUCERS as usize]);
        assert_eq!(last_frame, Some(EACH), "the newest frame goes out last");
    }

    #[tokio::test]
    async fn full_queue_waits_and_dead_writer_fails_senders() {
        let (out, drain) = outbox(1);
        out.send(bin(&[1])).await.unwrap();
        let blocked =
            tokio::time::timeout(std::time::Duration::from_millis(50), out.send(bin(&[2])));
        assert!(blocked.await.is_err(), "second send waits for room");
        drop(drain);
        assert_eq!(out.send(bin(&[3])).await, Err(Closed));
        assert_eq!(out.replace(Slot::State, bin(&[4])), Err(Closed));
    }

    /// A connected pair on loopback: the server's end (non-blocking, as tokio keeps
    /// it) and the peer's.
    fn socket_pair() -> (std::net::TcpStream, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        peer.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        (server, peer)
    }

    /// Asks for direct writes and lends the writer's socket, as `conn::write_loop` does.
    fn lend(out: &Outbox, drain: &mut Drain, socket: std::net::TcpStream) {
        assert!(drain.ready().is_none(), "nothing asked for yet");
        out.write_frames_directly(true);
        out.write_frames_directly(true);
        assert_eq!(drain.ready().map(text).as_deref(), Some("lend socket"));
        assert!(drain.ready().is_none(), "asked once");
        drain.lend_socket(Some(socket));
    }

    /// Lets the writer look once, find nothing and wait, as it does between frames.
    async fn writer_waits(drain: &mut Drain) {
        let wait = tokio::time::timeout(std::time::Duration::from_millis(1), drain.next());
        assert!(wait.await.is_err(), "nothing to write");
    }

    /// An outbox whose writer has lent the socket and waits; the peer's end.
    async fn lent_and_waiting() -> (Outbox, Drain, std::net::TcpStream) {
        let (server, peer) = socket_pair();
        let (out, mut drain) = outbox(4);
        lend(&out, &mut drain, server);
        writer_waits(&mut drain).await;
        (out, drain, peer)
    }

    /// The peer reads the end of the stream (and not a timeout).
    fn reads_the_end(peer: &mut std::net::TcpStream) -> bool {
        matches!(std::io::Read::read(peer, &mut [0u8]), Ok(0))
    }

    fn read_exactly(peer: &mut std::net::TcpStream, n: usize) -> Vec<u8> {
        let mut got = vec![0; n];
        std::io::Read::read_exact(peer, &mut got).unwrap();
        got
    }

    #[tokio::test]
    async fn a_frame_goes_to_the_socket_at_once_while_the_writer_waits() {
        let (server, mut peer) = socket_pair();
        let (out, mut drain) = outbox(4);
        lend(&out, &mut drain, server);
        let frame = bin(b"frame 1");
        let whole = [frame.head(), &frame.payload[..]].concat();
        // The writer is busy (it has not looked yet): the frame waits for it.
        out.send_frame(frame.clone()).unwrap();
        assert_eq!(drain.ready().map(text).as_deref(), Some("send frame 1"));
        // It waits with nothing to do: the frame is written, the writer has nothing.
        writer_waits(&mut drain).await;
        out.send_frame(frame).unwrap();
        assert!(drain.ready().is_none(), "written, not queued");
        assert!(!out.is_waiting(Slot::Frame));
        assert_eq!(read_exactly(&mut peer, whole.len()), whole);
        // A message waiting for the writer is not overtaken.
        writer_waits(&mut drain).await;
        out.try_send(bin(b"event")).unwrap();
        out.send_frame(bin(b"frame 2")).unwrap();
        assert_eq!(drain.ready().map(text).as_deref(), Some("send event"));
        assert_eq!(drain.ready().map(text).as_deref(), Some("send frame 2"));
    }

    #[tokio::test]
    async fn the_rest_of_a_frame_the_socket_took_in_part_goes_first() {
        let (out, mut drain, mut peer) = lent_and_waiting().await;
        // More than a socket's buffers hold while the peer does not read.
        let payload: Vec<u8> = (0..16 << 20).map(|i: u32| (i % 251) as u8).collect();
        let frame = bin(&payload);
        let whole = [frame.head(), &frame.payload[..]].concat();
        out.send_frame(frame).unwrap();
        assert!(
            out.is_waiting(Slot::Frame),
            "a video frame would wait for this"
        );
        out.try_send(bin(b"event")).unwrap();
        let Some(Next::Send(rest)) = drain.ready() else {
            panic!("the rest first")
        };
        let rest = [rest.head(), &rest.payload[..]].concat();
        assert!(
            !rest.is_empty() && rest.len() < whole.len(),
            "{}",
            rest.len()
        );
        assert_eq!(drain.ready().map(text).as_deref(), Some("send event"));
        let written = whole.len() - rest.len();
        assert_eq!(read_exactly(&mut peer, written), whole[..written]);
        assert_eq!(rest, whole[written..]);
    }

    #[tokio::test]
    async fn the_lent_socket_closes_when_the_writer_stops() {
        let (out, drain, mut peer) = lent_and_waiting().await;
        // The writer's own end is gone with it; the game still holds the outbox.
        drop(drain);
        assert!(reads_the_end(&mut peer), "the peer sees the end");
        assert_eq!(out.send_frame(bin(b"late")), Err(Closed));
    }

    #[tokio::test]
    async fn direct_writes_switched_off_close_the_lent_socket() {
        let (out, mut drain, mut peer) = lent_and_waiting().await;
        out.write_frames_directly(false);
        out.send_frame(bin(b"frame")).unwrap();
        assert_eq!(drain.ready().map(text).as_deref(), Some("send frame"));
        assert!(reads_the_end(&mut peer), "the duplicate is closed");
        // No duplicate to be had: asked once, then never again.
        out.write_frames_directly(true);
        assert_eq!(drain.ready().map(text).as_deref(), Some("lend socket"));
        drain.lend_socket(None);
        out.send_frame(bin(b"frame")).unwrap();
        assert_eq!(drain.ready().map(text).as_deref(), Some("send frame"));
        assert!(drain.ready().is_none());
    }
}
