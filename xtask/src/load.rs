//! Load scenarios against a real server process: input-to-frame latency, how many
//! server-rendered players the machine sustains, and 10,000 state-only connections.
//! Each prints a Markdown table with the measured values and their ratio to the baseline.

use crate::server::Running;
use anyhow::{Context, bail};
use shared::protocol::{FrameEncoding, Hello, Input, Message, RenderMode, VERSION, keys};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// A game client speaking just enough WebSocket for load tests.
pub(crate) struct Client {
    pub(crate) rd: BufReader<OwnedReadHalf>,
    pub(crate) wr: OwnedWriteHalf,
    pub(crate) buf: Vec<u8>,
}

impl Client {
    pub(crate) async fn connect(
        addr: &str,
        mode: RenderMode,
        width: u16,
        height: u16,
    ) -> anyhow::Result<Client> {
        Client::connect_to(addr, "/ws", mode, width, height).await
    }

    /// Connects to `path` (a room and seat, say) at `addr`, and joins.
    pub(crate) async fn connect_to(
        addr: &str,
        path: &str,
        mode: RenderMode,
        width: u16,
        height: u16,
    ) -> anyhow::Result<Client> {
        let mut s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").as_bytes()).await?;
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(s.read_u8().await?);
        }
        if !head.starts_with(b"HTTP/1.1 101") {
            bail!("upgrade refused: {}", String::from_utf8_lossy(&head));
        }
        let (rd, wr) = s.into_split();
        let mut c = Client {
            rd: BufReader::with_capacity(64 * 1024, rd),
            wr,
            buf: Vec::new(),
        };
        c.send(&Message::Hello(Hello {
            version: VERSION,
            mode,
            width,
            height,
            encodings: FrameEncoding::Runs.bit() | FrameEncoding::Video.bit(),
            name: String::new(),
        }))
        .await?;
        loop {
            if let Message::Welcome(_) = c.recv().await? {
                return Ok(c);
            }
        }
    }

    pub(crate) async fn send(&mut self, msg: &Message<'_>) -> anyhow::Result<()> {
        send(&mut self.wr, msg).await
    }

    /// The next message, answering the server's pings on the way (as a browser does).
    pub(crate) async fn recv(&mut self) -> anyhow::Result<Message<'_>> {
        loop {
            let opcode = read_frame(&mut self.rd, &mut self.buf).await?;
            match opcode {
                9 => {
                    let mut pong = vec![0x8a, 0x80 | self.buf.len() as u8, 0, 0, 0, 0];
                    pong.extend_from_slice(&self.buf);
                    self.wr.write_all(&pong).await?;
                }
                10 => {}
                _ => return Message::decode(&self.buf).context("bad message"),
            }
        }
    }
}

/// Reads one server frame (unmasked, never fragmented by our server) into `buf`;
/// returns its opcode. A close frame is an error.
async fn read_frame(rd: &mut BufReader<OwnedReadHalf>, buf: &mut Vec<u8>) -> anyhow::Result<u8> {
    let mut h = [0u8; 2];
    rd.read_exact(&mut h).await?;
    let len = match h[1] & 0x7f {
        126 => rd.read_u16().await? as usize,
        127 => rd.read_u64().await? as usize,
        n => n as usize,
    };
    buf.resize(len, 0);
    rd.read_exact(buf).await?;
    if h[0] & 0x0f == 8 {
        let code = buf.get(..2).map_or(0, |c| u16::from_be_bytes([c[0], c[1]]));
        let reason = String::from_utf8_lossy(buf.get(2..).unwrap_or_default());
        bail!("closed by the server: {code} {reason}");
    }
    Ok(h[0] & 0x0f)
}

/// Sends a small message (under 126 bytes: Hello, Input) as one masked frame.
pub(crate) async fn send(wr: &mut OwnedWriteHalf, msg: &Message<'_>) -> anyhow::Result<()> {
    let mut body = Vec::new();
    msg.encode(&mut body);
    let mut frame = vec![0x82, 0x80 | body.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(&body);
    wr.write_all(&frame).await?;
    Ok(())
}

pub(crate) struct Reader {
    pub(crate) rd: BufReader<OwnedReadHalf>,
    pub(crate) buf: Vec<u8>,
}

impl Reader {
    pub(crate) async fn recv(&mut self) -> anyhow::Result<Message<'_>> {
        recv(&mut self.rd, &mut self.buf).await
    }
}

/// The next message; control frames (pings in a short test) are skipped.
async fn recv<'a>(
    rd: &mut BufReader<OwnedReadHalf>,
    buf: &'a mut Vec<u8>,
) -> anyhow::Result<Message<'a>> {
    while read_frame(rd, buf).await? >= 8 {}
    Message::decode(buf).context("bad message")
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Waits for every client task and joins their samples; the first failure fails all.
pub(crate) async fn gather<T>(
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<Vec<T>>>>,
) -> anyhow::Result<Vec<T>> {
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(all)
}

/// What a latency client sends.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Pattern {
    /// A mouse-look input every 50 ms.
    Look,
    /// Key changes as a person makes them: press, hold 120–250 ms, press another,
    /// release.
    KeysHuman,
    /// A key change with every input, one an animation frame (16 ms).
    KeysEveryFrame,
}

impl Pattern {
    fn name(self) -> &'static str {
        match self {
            Pattern::Look => "look, every 50 ms",
            Pattern::KeysHuman => "keys, human rate",
            Pattern::KeysEveryFrame => "keys, every frame",
        }
    }

    /// The row's short name, for `VOXELCAST_LATENCY_ROWS`.
    fn key(self) -> &'static str {
        match self {
            Pattern::Look => "look",
            Pattern::KeysHuman => "keys-human",
            Pattern::KeysEveryFrame => "keys-every-frame",
        }
    }

    /// How long each client sends: key changes at a human rate are rare (about five a
    /// second), so they run longer, for a p99 out of a thousand samples at 16 players
    /// rather than the third-largest of three hundred.
    fn run_for(self) -> Duration {
        match self {
            Pattern::KeysHuman => Duration::from_secs(12),
            Pattern::Look | Pattern::KeysEveryFrame => Duration::from_secs(4),
        }
    }

    /// The `n`th input (from 1) and how long to wait after it.
    fn input(self, n: u32, player: usize) -> (Input, Duration) {
        // Held keys a person might go through: fly, fly and turn, climb, let go.
        const KEYS: [u16; 4] = [
            keys::FORWARD,
            keys::FORWARD | keys::TURN_RIGHT,
            keys::FORWARD | keys::UP,
            0,
        ];
        let (keys, look_x, wait_ms) = match self {
            Pattern::Look => (0, if n % 2 == 0 { 5 } else { -5 }, 50),
            Pattern::KeysHuman => {
                let wait = 120 + (n as usize * 37 + player * 53) % 131;
                (KEYS[n as usize % 4], 0, wait as u64)
            }
            Pattern::KeysEveryFrame => {
                let k = if n % 2 == 0 {
                    keys::FORWARD
                } else {
                    keys::FORWARD | keys::TURN_LEFT
                };
                (k, 0, 16)
            }
        };
        let input = Input {
            seq: n,
            keys,
            look_x,
            look_y: 0,
            client_time: 0,
        };
        (input, Duration::from_millis(wait_ms))
    }
}

/// The servers a row runs on: `VOXELCAST_BASELINE_SERVER`'s binary first when it is
/// set ("baseline"), then this build's ("this"), so a change is compared in one run.
pub fn servers(server: &std::path::Path) -> Vec<(std::path::PathBuf, &'static str)> {
    let baseline = std::env::var_os("VOXELCAST_BASELINE_SERVER").map(|b| (b.into(), "baseline"));
    baseline
        .into_iter()
        .chain([(server.to_path_buf(), "this")])
        .collect()
}

/// Input sent → first Frame that reflects it (by input sequence), for mouse look and for
/// key changes, at several player counts and frame sizes. With
/// `VOXELCAST_BASELINE_SERVER` set to another server binary, each row runs on that one
/// too, right before, so a change is compared in the same run.
pub fn latency(server: &std::path::Path) -> anyhow::Result<()> {
    println!("\n### Input-to-frame latency (loopback, server-side rendering)\n");
    println!(
        "| input | players | frame | server | p50 ms | p95 ms | p99 ms | max ms | samples | frames drawn a second | server CPU (of 200 %) | load generator CPU | p99 ÷ assembly server's single-client p99 (3.2 ms) |"
    );
    println!(
        "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    // `VOXELCAST_LATENCY_ROWS=keys-human/64/640x360,look/16/320x200` runs only those rows.
    let only = std::env::var("VOXELCAST_LATENCY_ROWS").ok();
    for pattern in [Pattern::Look, Pattern::KeysHuman, Pattern::KeysEveryFrame] {
        for (w, h) in [(320u16, 200u16), (640, 360)] {
            for players in [1usize, 16, 64] {
                let row = format!("{}/{players}/{w}x{h}", pattern.key());
                if only
                    .as_ref()
                    .is_some_and(|o| !o.split(',').any(|r| r.trim() == row))
                {
                    continue;
                }
                for (binary, label) in servers(server) {
                    latency_run(&binary, label, pattern, w, h, players)?;
                }
            }
        }
    }
    Ok(())
}

fn latency_run(
    server: &std::path::Path,
    label: &str,
    pattern: Pattern,
    w: u16,
    h: u16,
    players: usize,
) -> anyhow::Result<()> {
    let running = Running::start(server, &["--max-players", "200"])?;
    let addr = running.addr.clone();
    let me = std::process::id();
    let (cpu0, t0) = (running.cpu_seconds()?, Instant::now());
    let load0 = crate::server::cpu_seconds(me)?;
    let mut samples = runtime().block_on(async move {
        let mut tasks = Vec::new();
        for i in 0..players {
            let addr = addr.clone();
            tasks.push(tokio::spawn(async move {
                latency_client(&addr, pattern, w, h, i).await
            }));
        }
        gather(tasks).await
    })?;
    let secs = t0.elapsed().as_secs_f64();
    let cpu = (running.cpu_seconds()? - cpu0) / secs;
    let load = (crate::server::cpu_seconds(me)? - load0) / secs;
    // What the server drew in all: with a key every frame, whether it keeps up.
    let frames = running.stat("frames")?;
    samples.sort_by(f64::total_cmp);
    let p99 = percentile(&samples, 0.99);
    println!(
        "| {} | {players} | {w}x{h} | {label} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {:.0} | {:.0} % | {:.0} % | {:.2} |",
        pattern.name(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.95),
        p99,
        percentile(&samples, 1.0),
        samples.len(),
        frames as f64 / secs,
        cpu * 100.0,
        load * 100.0,
        p99 / 3.2
    );
    Ok(())
}

/// Player `i`'s first input's delay (0–50 ms) and its clock's rate (0.99–1.01), from a
/// hash of `i`: arbitrary but the same in every run.
fn player_clock(i: usize) -> (Duration, f64) {
    // splitmix64's finaliser.
    let mut z = (i as u64)
        .wrapping_add(1)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let phase = Duration::from_micros(z % 50_000);
    let skew = 1.0 + ((z >> 32) % 2_001) as f64 / 100_000.0 - 0.01;
    (phase, skew)
}

pub(crate) async fn latency_client(
    addr: &str,
    pattern: Pattern,
    w: u16,
    h: u16,
    i: usize,
) -> anyhow::Result<Vec<f64>> {
    let c = Client::connect(addr, RenderMode::Server, w, h).await?;
    let (mut reader, mut wr) = (
        Reader {
            rd: c.rd,
            buf: c.buf,
        },
        c.wr,
    );
    let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(u32, Instant)>::new()));
    let start = Instant::now();
    let run_for = pattern.run_for();
    // The writer, its first input staggered across players.
    let writer = {
        let sent = sent.clone();
        tokio::spawn(async move {
            // On a schedule, as a page's animation frames are: a wait counts from when
            // the last input was due, not from when it went (tokio's timers round up to
            // the millisecond, which made "every 16 ms" every 17.2). Players are
            // independent: each starts at a phase of its own and runs up to 1 % fast or
            // slow (clocks differ), so who sends at the same moment as whom keeps
            // changing, as with real players.
            let (phase, skew) = player_clock(i);
            let mut due = tokio::time::Instant::now() + phase;
            for seq in 1u32.. {
                tokio::time::sleep_until(due).await;
                if start.elapsed() > run_for {
                    break;
                }
                let (input, wait) = pattern.input(seq, i);
                sent.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((seq, Instant::now()));
                if send(&mut wr, &Message::Input(input)).await.is_err() {
                    break;
                }
                // Late (the generator waited for a core): the next one a wait from now,
                // not a burst to catch up.
                due = (due + wait.mul_f64(skew)).max(tokio::time::Instant::now());
            }
            // Keep the socket open until the reader is done.
            std::future::pending::<()>().await;
        })
    };
    let mut samples = Vec::new();
    while start.elapsed() < run_for {
        let Ok(msg) = tokio::time::timeout(run_for, reader.recv()).await else {
            break;
        };
        if let Message::Frame(f) = msg? {
            let now = Instant::now();
            sent.lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|&(s, at)| {
                    if s > f.last_input {
                        return true;
                    }
                    if start.elapsed() > Duration::from_millis(500) {
                        samples.push((now - at).as_secs_f64() * 1000.0);
                    }
                    false
                });
        }
    }
    writer.abort();
    Ok(samples)
}

/// Server-side rendering at 640x360 and 30 fps: frames each player receives while all
/// of them keep turning (the picture changes every tick).
/// With `VOXELCAST_BASELINE_SERVER` set to another server binary, each mode runs on that
/// one too, right before.
pub fn scale(server: &std::path::Path) -> anyhow::Result<()> {
    for mode in [RenderMode::Server, RenderMode::Video] {
        for (binary, label) in servers(server) {
            if label == "baseline" {
                println!("\nBaseline: {}", binary.display());
            }
            scale_mode(&binary, mode)?;
        }
    }
    Ok(())
}

/// Players turning at 640x360 with `--fps 30` in one server-rendered mode, adding players
/// until the median falls under 29 fps. Video clients acknowledge every frame, as the
/// browser does (the server paces video streams by those).
fn scale_mode(server: &std::path::Path, mode: RenderMode) -> anyhow::Result<()> {
    let name = if mode == RenderMode::Video {
        "video"
    } else {
        "lossless (runs)"
    };
    println!("\n### Server-side rendering, {name}, at 640x360, `--fps 30`, everyone turning\n");
    println!(
        "| players | median fps a player | slowest player fps | frames/s in all | kbit/s a player | server CPU (of 2 cores) | frames held for the link |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    // `VOXELCAST_SCALE_PLAYERS=2,4` measures those counts instead.
    let counts: Vec<usize> = match std::env::var("VOXELCAST_SCALE_PLAYERS") {
        Ok(list) => list
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect(),
        Err(_) => vec![8, 16, 32, 48, 64, 96],
    };
    for players in counts {
        let running = Running::start(server, &["--max-players", "200", "--fps", "30"])?;
        let addr = running.addr.clone();
        let cpu0 = running.cpu_seconds()?;
        let t0 = Instant::now();
        let results = runtime().block_on(async move {
            let mut tasks = Vec::new();
            for _ in 0..players {
                let addr = addr.clone();
                tasks.push(tokio::spawn(async move {
                    let mut c = Client::connect(&addr, mode, 640, 360).await?;
                    c.send(&Message::Input(Input {
                        seq: 1,
                        keys: keys::TURN_RIGHT,
                        look_x: 0,
                        look_y: 0,
                        client_time: 0,
                    }))
                    .await?;
                    let start = Instant::now();
                    let (mut frames, mut bytes) = (0u32, 0usize);
                    while start.elapsed() < Duration::from_secs(5) {
                        let (seq, len) = match c.recv().await? {
                            Message::Frame(f) => (f.seq, f.payload.len()),
                            _ => continue,
                        };
                        if start.elapsed() > Duration::from_secs(1) {
                            frames += 1;
                            bytes += len;
                        }
                        if mode == RenderMode::Video {
                            c.send(&Message::Ack(seq)).await?;
                        }
                    }
                    anyhow::Ok((frames as f64 / 4.0, bytes as f64 * 8.0 / 4.0 / 1000.0))
                }));
            }
            let mut all = Vec::new();
            for t in tasks {
                all.push(t.await??);
            }
            anyhow::Ok(all)
        })?;
        let cpu = (running.cpu_seconds()? - cpu0) / t0.elapsed().as_secs_f64();
        let held = running
            .stat("video_frames_held")
            .map_or("?".to_owned(), |n| n.to_string());
        let mut fps: Vec<f64> = results.iter().map(|r| r.0).collect();
        fps.sort_by(f64::total_cmp);
        let total: f64 = fps.iter().sum();
        let kbps = results.iter().map(|r| r.1).sum::<f64>() / players as f64;
        println!(
            "| {players} | {:.1} | {:.1} | {total:.0} | {kbps:.0} | {:.0} % | {held} |",
            percentile(&fps, 0.5),
            fps[0],
            cpu * 100.0
        );
        if percentile(&fps, 0.5) < 29.0 {
            break;
        }
    }
    Ok(())
}

/// 10,000 client-side-rendering connections receiving state every tick.
pub fn connections(server: &std::path::Path, count: usize) -> anyhow::Result<()> {
    println!("\n### {count} state-only connections (client-side rendering)\n");
    let running = Running::start(
        server,
        &["--max-players", "20000", "--max-connections", "20000"],
    )?;
    let rss0 = running.rss_kib()?;
    let addr = &running.addr;
    let received = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let alive = std::rc::Rc::new(std::cell::Cell::new(0usize));
    let local = tokio::task::LocalSet::new();
    let (connected, elapsed, rss1, stats) = runtime().block_on(local.run_until(async {
        let connect_start = Instant::now();
        // 200 at a time, so the listen backlog stays short; each client starts reading
        // (and answering pings) at once, as a browser would.
        for batch in 0..count.div_ceil(200) {
            let mut connecting = Vec::new();
            for _ in (batch * 200)..((batch + 1) * 200).min(count) {
                let (received, alive, addr) = (received.clone(), alive.clone(), addr.clone());
                connecting.push(tokio::task::spawn_local(async move {
                    let mut c = Client::connect(&addr, RenderMode::Client, 320, 200).await?;
                    tokio::task::spawn_local(async move {
                        alive.set(alive.get() + 1);
                        while let Ok(msg) = c.recv().await {
                            if let Message::State(_) = msg {
                                received.set(received.get() + 1);
                            }
                        }
                        alive.set(alive.get() - 1);
                    });
                    anyhow::Ok(())
                }));
            }
            for c in connecting {
                c.await??;
            }
        }
        eprintln!(
            "xtask: {count} clients connected in {:.1?}",
            connect_start.elapsed()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        let before = received.get();
        let start = Instant::now();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let elapsed = start.elapsed().as_secs_f64();
        received.set(received.get() - before);
        // Measured while every client is still connected.
        let rss1 = running.rss_kib()?;
        let stats = running.http_get("/stats")?;
        anyhow::Ok((alive.get(), elapsed, rss1, stats))
    }))?;
    let received = received.get();
    let per_conn = (rss1 - rss0) as f64 * 1024.0 / connected as f64;
    println!("| measure | value |");
    println!("| --- | ---: |");
    println!("| connections open at the end | {connected} of {count} |");
    println!(
        "| server memory growth per connection | {:.1} KiB |",
        per_conn / 1024.0
    );
    println!(
        "| server RSS with all connected | {:.0} MiB |",
        rss1 as f64 / 1024.0
    );
    println!(
        "| State messages delivered per second | {:.0} ({:.1} a client; the server sends 20 Hz above 4,000 players) |",
        received as f64 / elapsed,
        received as f64 / elapsed / connected.max(1) as f64
    );
    println!("| server /stats | `{}` |", stats.trim());
    Ok(())
}
