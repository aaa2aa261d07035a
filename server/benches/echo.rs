//! Echo throughput of our WebSocket stack against tokio-tungstenite and fastwebsockets,
//! measured in the same run: N connections, each keeping one message in flight (the
//! method of uWebSockets' `load_test`). Each server runs on its own single-threaded
//! runtime and thread, the load generator on another, so each gets about one core.
//! Besides round trips a second, each server thread's CPU time a round trip (from
//! `/proc`), split into user and system: steadier than throughput on a shared machine,
//! and it shows where the time goes (the kernel's share is the same for everyone).
//!
//! The three servers take turns in short slices (a quarter of a second each, every server
//! first, second and last in turn), their connections open throughout: each figure sums
//! many slices spread over the same stretch of time, so the machine's drifts and spells
//! (±8 % from minute to minute on the VM this was written on) fall on all three alike.
//! Each slice also gives a ratio of its own against the faster other in the same
//! rotation; their quartiles are printed, to show how far the total can be trusted.
//!
//! `cargo bench -p server --bench echo [-- SECONDS] [SIZExCONNS...]` (SECONDS measured per
//! server and configuration, 3 by default); prints a Markdown table. `-- memory` measures
//! memory a connection instead (see `memory.rs`).

use server::http::request::{Limits, parse};
use server::ws::conn::{self, Echo, WsConfig};
use server::ws::handshake;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Impl {
    Voxelcast,
    Tungstenite,
    Fastwebsockets,
}

/// Measured time of one slice, and the unmeasured start of it (connections that waited
/// get going again).
const SLICE: Duration = Duration::from_millis(250);
const SETTLE: Duration = Duration::from_millis(40);

#[path = "echo/memory.rs"]
mod memory;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count = |at: usize| args.get(at).and_then(|a| a.parse().ok());
    match args.first().map(String::as_str) {
        Some("memory") => return memory::run(count(1).unwrap_or(4000)),
        Some("memory-one") => {
            return memory::one(&args[1], count(2).unwrap_or(4000));
        }
        _ => {}
    }
    let seconds: f64 = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(3.0);
    // `SIZExCONNS` arguments (e.g. `16x500`) pick configurations, for profiling one.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| {
            a.split_once('x')
                .is_some_and(|(s, c)| s.parse::<usize>().is_ok() && c.parse::<usize>().is_ok())
        })
        .collect();
    let impls = [Impl::Voxelcast, Impl::Tungstenite, Impl::Fastwebsockets];
    let servers: Vec<Server> = impls.iter().map(|&i| start_server(i)).collect();
    let rounds = ((seconds / SLICE.as_secs_f64()).round() as usize).max(1);
    println!(
        "| size | conns | voxelcast rt/s | tokio-tungstenite rt/s | fastwebsockets rt/s | voxelcast MB/s | ratio to the faster other | slices' ratios, quartiles | server CPU µs a round trip, user + system: voxelcast / tokio-tungstenite / fastwebsockets |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for size in [16usize, 1024, 64 * 1024] {
        for conns in [1usize, 100, 500] {
            if !only.is_empty() && !only.contains(&format!("{size}x{conns}")) {
                continue;
            }
            let (runs, mut ratios) = measure(&servers, size, conns, rounds);
            let rates: Vec<f64> = runs.iter().map(Run::rate).collect();
            let best_other = rates[1].max(rates[2]);
            let cpu: Vec<String> = runs
                .iter()
                .map(|r| {
                    let per_trip = |s: f64| s * 1e6 / r.trips.max(1) as f64;
                    format!("{:.1} + {:.1}", per_trip(r.user), per_trip(r.system))
                })
                .collect();
            ratios.sort_by(f64::total_cmp);
            let quartile = |q: usize| ratios[(ratios.len() - 1) * q / 4];
            println!(
                "| {size} | {conns} | {:.0} | {:.0} | {:.0} | {:.1} | {:.2} | {:.2}–{:.2}–{:.2} | {} |",
                rates[0],
                rates[1],
                rates[2],
                rates[0] * size as f64 * 2.0 / 1e6,
                rates[0] / best_other,
                quartile(1),
                quartile(2),
                quartile(3),
                cpu.join(" / ")
            );
        }
    }
}

struct Server {
    addr: String,
    /// The server thread's id, for its CPU time in `/proc`.
    tid: String,
}

/// User and system CPU seconds the thread `tid` of this process has used so far, from
/// `/proc` (in ticks of USER_HZ, 100 a second on Linux).
fn thread_cpu(tid: &str) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses: utime and stime are the
    // 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let field = |i: usize| -> f64 {
        rest.split_whitespace()
            .nth(i)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    (field(11) / 100.0, field(12) / 100.0)
}

/// Starts an echo server on its own thread.
fn start_server(which: Impl) -> Server {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let tid = std::fs::read_link("/proc/thread-self")
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap().to_string();
            tx.send(Server { addr, tid }).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    match which {
                        Impl::Voxelcast => voxelcast(stream).await,
                        Impl::Tungstenite => tungstenite(stream).await,
                        Impl::Fastwebsockets => fastws(stream).await,
                    }
                });
            }
        });
    });
    rx.recv().unwrap()
}

/// Reads the upgrade request and answers it with our handshake code; returns leftover bytes.
async fn handshake(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    loop {
        if let Ok(Some((req, n))) = parse(&buf, &Limits::default()) {
            // No permessage-deflate: the other two servers do not speak it.
            let response = handshake::respond(&req, &[], server::ws::deflate::Policy::Off)
                .ok()?
                .response;
            stream.write_all(&response).await.ok()?;
            return Some(buf.split_off(n));
        }
        if stream.read_buf(&mut buf).await.ok()? == 0 {
            return None;
        }
    }
}

async fn voxelcast(mut stream: TcpStream) {
    let Some(leftover) = handshake(&mut stream).await else {
        return;
    };
    let config = WsConfig {
        max_message: 1 << 20,
        ..WsConfig::default()
    };
    let (out, drain) = conn::new_outbox(&config);
    let (_keep, shutdown) = tokio::sync::watch::channel(false);
    let upgraded = conn::Upgraded {
        stream,
        leftover,
        deflate: None,
    };
    let mut echo = Echo { deflate: None };
    conn::serve(upgraded, &config, &mut echo, out, drain, shutdown).await;
}

async fn tungstenite(stream: TcpStream) {
    use futures_util::{SinkExt, StreamExt};
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    while let Some(Ok(msg)) = ws.next().await {
        if (msg.is_binary() || msg.is_text()) && ws.send(msg).await.is_err() {
            return;
        }
    }
}

async fn fastws(mut stream: TcpStream) {
    use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
    let Some(leftover) = handshake(&mut stream).await else {
        return;
    };
    assert!(leftover.is_empty(), "the load generator waits for the 101");
    let mut ws = WebSocket::after_handshake(stream, Role::Server);
    ws.set_auto_close(true);
    ws.set_auto_pong(true);
    let mut ws = FragmentCollector::new(ws);
    while let Ok(frame) = ws.read_frame().await {
        let echo = matches!(frame.opcode, OpCode::Text | OpCode::Binary);
        if frame.opcode == OpCode::Close || (echo && ws.write_frame(frame).await.is_err()) {
            return;
        }
    }
}

/// What one server did in a configuration, summed over its slices.
#[derive(Clone, Copy, Default)]
struct Run {
    trips: u64,
    seconds: f64,
    /// The server thread's CPU time, in seconds.
    user: f64,
    system: f64,
}

impl Run {
    /// Round trips a second.
    fn rate(&self) -> f64 {
        self.trips as f64 / self.seconds.max(1e-9)
    }
}

/// Lets one server's load connections run, or holds them between round trips.
#[derive(Default)]
struct Gate {
    open: AtomicBool,
    opened: tokio::sync::Notify,
}

impl Gate {
    async fn wait_open(&self) {
        while !self.open.load(Ordering::Relaxed) {
            let opened = self.opened.notified();
            tokio::pin!(opened);
            opened.as_mut().enable();
            if self.open.load(Ordering::Relaxed) {
                return;
            }
            opened.await;
        }
    }

    fn set(&self, open: bool) {
        self.open.store(open, Ordering::Relaxed);
        if open {
            self.opened.notify_waiters();
        }
    }
}

/// `conns` connections to each server, each keeping one message in flight while its
/// server's gate is open; the servers take turns for `rounds` slices each. Returns each
/// server's totals and, for every slice of ours, its rate against the faster other's in
/// the same rotation.
fn measure(servers: &[Server], size: usize, conns: usize, rounds: usize) -> (Vec<Run>, Vec<f64>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let frame = Arc::new(masked_frame(size));
        let header = match size {
            0..126 => 2,
            126..65536 => 4,
            _ => 10,
        };
        let mut gates = Vec::new();
        let mut counts = Vec::new();
        for server in servers {
            let gate = Arc::new(Gate::default());
            let count = Arc::new(AtomicU64::new(0));
            for _ in 0..conns {
                let mut s = client(&server.addr).await;
                let (frame, gate, count) = (frame.clone(), gate.clone(), count.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; header + size];
                    loop {
                        gate.wait_open().await;
                        if s.write_all(&frame).await.is_err()
                            || s.read_exact(&mut buf).await.is_err()
                        {
                            return;
                        }
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            gates.push(gate);
            counts.push(count);
        }
        // Warm-up: each server a while on its own before anything counts.
        for gate in &gates {
            gate.set(true);
            tokio::time::sleep(Duration::from_millis(300)).await;
            gate.set(false);
        }
        let mut runs = vec![Run::default(); servers.len()];
        let mut ratios = Vec::new();
        for round in 0..rounds {
            let mut rates = vec![0.0; servers.len()];
            for k in 0..servers.len() {
                let i = (round + k) % servers.len();
                gates[i].set(true);
                tokio::time::sleep(SETTLE).await;
                let (trips0, cpu0, t0) = (
                    counts[i].load(Ordering::Relaxed),
                    thread_cpu(&servers[i].tid),
                    Instant::now(),
                );
                tokio::time::sleep(SLICE).await;
                let trips = counts[i].load(Ordering::Relaxed) - trips0;
                let seconds = t0.elapsed().as_secs_f64();
                let cpu1 = thread_cpu(&servers[i].tid);
                gates[i].set(false);
                let run = &mut runs[i];
                run.trips += trips;
                run.seconds += seconds;
                run.user += cpu1.0 - cpu0.0;
                run.system += cpu1.1 - cpu0.1;
                rates[i] = trips as f64 / seconds;
            }
            ratios.push(rates[0] / rates[1].max(rates[2]));
        }
        (runs, ratios)
    })
}

async fn client(addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(format!("GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(s.read_u8().await.unwrap());
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s
}

/// A binary client frame with a zero mask, so the payload needs no masking work here.
fn masked_frame(size: usize) -> Vec<u8> {
    let mut f = vec![0x82];
    if size < 126 {
        f.push(0x80 | size as u8);
    } else if size < 65536 {
        f.push(0x80 | 126);
        f.extend_from_slice(&(size as u16).to_be_bytes());
    } else {
        f.push(0x80 | 127);
        f.extend_from_slice(&(size as u64).to_be_bytes());
    }
    f.extend_from_slice(&[0; 4]);
    f.extend(std::iter::repeat_n(b'x', size));
    f
}
