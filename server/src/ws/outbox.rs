//! What a connection sends: an ordered, bounded queue for messages that must arrive
//! (waiting when full, which pushes back on whoever produces them), plus "latest wins"
//! slots for messages that a newer one makes worthless (frames, camera state). A slow
//! reader therefore gets fewer frames, never a growing queue.

use super::frame::{OpCode, Outgoing};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use tokio::sync::futures::OwnedNotified;
use tokio::sync::{Notify, mpsc};

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

#[derive(Default)]
struct Pending {
    /// Frames from the connection's own task, ahead of `queue` (see `send_local`).
    local: VecDeque<Outgoing>,
    latest: [Option<Outgoing>; SLOTS],
    close: Option<Outgoing>,
    /// Set once a close is queued or the writer stopped: nothing more is accepted.
    closed: bool,
    /// The connection is gone: the writer stops without writing anything more.
    aborted: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Arc<Notify>,
}

/// A cloneable handle to one connection's outgoing side.
#[derive(Clone)]
pub struct Outbox {
    queue: mpsc::Sender<Outgoing>,
    shared: Arc<Shared>,
}

/// The writer's side of an [`Outbox`].
pub struct Drain {
    queue: mpsc::Receiver<Outgoing>,
    shared: Arc<Shared>,
    /// Kept across polls, so a notification between two polls is not lost.
    woken: Pin<Box<OwnedNotified>>,
}

pub enum Next {
    Send(Outgoing),
    /// The close frame: send it, then end the connection's writing side.
    Close(Outgoing),
    /// Everything is gone: stop.
    Stop,
}

pub fn outbox(queue: usize) -> (Outbox, Drain) {
    let (tx, rx) = mpsc::channel(queue.max(1));
    let wake = Arc::new(Notify::new());
    let shared = Arc::new(Shared {
        pending: Mutex::new(Pending::default()),
        wake: wake.clone(),
    });
    (
        Outbox {
            queue: tx,
            shared: shared.clone(),
        },
        Drain {
            queue: rx,
            shared,
            woken: Box::pin(wake.notified_owned()),
        },
    )
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding this lock cannot leave the data inconsistent: recover.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Outbox {
    /// Queues a frame that must be delivered, waiting while the queue is full.
    pub async fn send(&self, frame: Outgoing) -> Result<(), Closed> {
        if self.shared.lock().closed {
            return Err(Closed);
        }
        self.queue.send(frame).await.map_err(|_| Closed)
    }

    /// Queues a frame without waking the writer, which is polled right after the
    /// connection's handler in the same task (`conn::serve`): a message and its answer
    /// cost one poll, not two. Only for that handler. `Err` gives the frame back when it
    /// must go through [`Outbox::send`] instead: the connection is closed, the local
    /// queue is full, or `queue` holds frames this one must not overtake.
    pub(super) fn send_local(&self, frame: Outgoing) -> Result<(), Outgoing> {
        let mut p = self.shared.lock();
        let queued = self.queue.capacity() < self.queue.max_capacity();
        // Bounded like `queue`.
        if p.closed || queued || p.local.len() >= self.queue.max_capacity() {
            return Err(frame);
        }
        p.local.push_back(frame);
        Ok(())
    }

    /// Replaces whatever frame of this kind is still waiting; never waits.
    pub fn replace(&self, slot: Slot, frame: Outgoing) -> Result<(), Closed> {
        let mut p = self.shared.lock();
        if p.closed {
            return Err(Closed);
        }
        p.latest[slot as usize] = Some(frame);
        drop(p);
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Sends a close frame after what is queued, then nothing more. Only the first
    /// close counts.
    pub fn close(&self, code: u16, reason: &str) {
        let mut p = self.shared.lock();
        if p.closed {
            return;
        }
        p.closed = true;
        p.latest = Default::default();
        let mut payload = code.to_be_bytes().to_vec();
        // A close payload is at most 125 bytes: cut the reason at a character boundary.
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        payload.extend_from_slice(&reason.as_bytes()[..end]);
        p.close = Some(Outgoing::new(OpCode::Close, payload));
        drop(p);
        self.shared.wake.notify_one();
    }
}

impl Outbox {
    /// The peer is gone: stop writing at once.
    pub fn abort(&self) {
        let mut p = self.shared.lock();
        p.closed = true;
        p.aborted = true;
        drop(p);
        self.shared.wake.notify_one();
    }
}

impl Drain {
    /// What to write next, if anything is ready now: queued frames first, then the
    /// latest-wins slots, then the close frame.
    pub fn ready(&mut self) -> Option<Next> {
        {
            let mut p = self.shared.lock();
            if p.aborted {
                return Some(Next::Stop);
            }
            if let Some(frame) = p.local.pop_front() {
                return Some(Next::Send(frame));
            }
        }
        if let Ok(frame) = self.queue.try_recv() {
            return Some(Next::Send(frame));
        }
        let mut p = self.shared.lock();
        if let Some(frame) = p.latest.iter_mut().find_map(Option::take) {
            return Some(Next::Send(frame));
        }
        p.close.take().map(Next::Close)
    }

    /// Waits for the next thing to write. Every poll looks at everything first, so
    /// frames queued by [`Outbox::send_local`] need no wake.
    pub async fn next(&mut self) -> Next {
        std::future::poll_fn(|cx| {
            loop {
                if let Some(next) = self.ready() {
                    return Poll::Ready(next);
                }
                match self.queue.poll_recv(cx) {
                    Poll::Ready(Some(frame)) => return Poll::Ready(Next::Send(frame)),
                    // Every handle is gone; anything left in the slots still goes out.
                    Poll::Ready(None) => return Poll::Ready(self.ready().unwrap_or(Next::Stop)),
                    Poll::Pending => {}
                }
                if self.woken.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                // A slot or the close changed: wait for the next notification, look again.
                self.woken.set(self.shared.wake.clone().notified_owned());
            }
        })
        .await
    }
}

impl Drop for Drain {
    fn drop(&mut self) {
        // The writer is gone: make every producer see a closed connection.
        self.shared.lock().closed = true;
        self.queue.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(next: Next) -> String {
        match next {
            Next::Send(f) => format!("send {}", String::from_utf8_lossy(&f.payload)),
            Next::Close(f) => format!("close {:?}", &f.payload[..2]),
            Next::Stop => "stop".into(),
        }
    }

    fn bin(bytes: &[u8]) -> Outgoing {
        Outgoing::new(OpCode::Binary, bytes.to_vec())
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
}
