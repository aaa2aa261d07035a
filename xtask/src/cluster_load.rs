//! The cluster under load, through nginx (`cargo xtask bench cluster`): joins a second
//! (the page's `/api/join`, then its WebSocket to the room named, to the Welcome), and
//! 10,000 state-only players spread over the three processes, with the latency of their
//! States to a hundred of them that keep pressing keys.

use crate::cluster::Cluster;
use crate::load::{Client, percentile, runtime};
use anyhow::Context;
use shared::protocol::{Input, Message, RenderMode, keys};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long `players` keeps joining before it measures what it has.
const JOIN_BUDGET: Duration = Duration::from_secs(120);

/// `GET /api/join` through `front`: the room and the seat.
async fn api_join(front: &str) -> anyhow::Result<(String, String)> {
    let mut s = tokio::net::TcpStream::connect(front).await?;
    s.write_all(
        format!("GET /api/join HTTP/1.1\r\nHost: {front}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let v: serde_json::Value = serde_json::from_str(body).with_context(|| out.clone())?;
    let room = v["room"].as_str().with_context(|| out.clone())?.to_owned();
    let seat = v["seat"].as_str().unwrap_or_default().to_owned();
    Ok((room, seat))
}

/// A player's whole way in: `/api/join`, then the WebSocket to that room with the seat.
async fn join(front: &str, mode: RenderMode) -> anyhow::Result<Client> {
    let (room, seat) = api_join(front).await?;
    Client::connect_to(
        front,
        &format!("/ws?room={room}&seat={seat}"),
        mode,
        320,
        200,
    )
    .await
}

pub fn cluster(server: &std::path::Path) -> anyhow::Result<()> {
    crate::setup::redis()?;
    crate::setup::postgres()?;
    crate::setup::nginx()?;
    let args = [
        "--rooms",
        "1",
        "--max-players",
        "3400",
        "--max-connections",
        "20000",
    ];
    println!(
        "\n### Joins through nginx (3 processes, Redis, PostgreSQL, nginx, on the same 2 cores)\n"
    );
    println!("| what | concurrent | a second | p50 ms | p99 ms |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    {
        let cluster = Cluster::start(server, &args)?;
        let front = format!("127.0.0.1:{}", cluster.port);
        // Whole joins only: seats reserved and never claimed would hold every seat
        // within seconds (each is kept 10 s), which is the limit doing its job.
        for workers in [8, 32] {
            joins(&front, workers)?;
        }
    }
    let cluster = Cluster::start(server, &args)?;
    let front = format!("127.0.0.1:{}", cluster.port);
    players(&cluster, &front, 10_000, 100)
}

/// Whole joins for 10 s by `workers` at once, each through to the Welcome, then gone.
fn joins(front: &str, workers: usize) -> anyhow::Result<()> {
    let run_for = Duration::from_secs(10);
    let mut times = runtime().block_on(async {
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..workers {
            let front = front.to_owned();
            tasks.push(tokio::spawn(async move {
                let mut took = Vec::new();
                while start.elapsed() < run_for {
                    let t = Instant::now();
                    drop(join(&front, RenderMode::Client).await?);
                    took.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                anyhow::Ok(took)
            }));
        }
        crate::load::gather(tasks).await
    })?;
    times.sort_by(f64::total_cmp);
    let what = "a whole join: `/api/join`, WebSocket to the room, Hello, Welcome";
    println!(
        "| {what} | {workers} | {:.0} | {:.2} | {:.2} |",
        times.len() as f64 / run_for.as_secs_f64(),
        percentile(&times, 0.5),
        percentile(&times, 0.99)
    );
    Ok(())
}

/// `count` state-only players joined through nginx (200 at a time), then for 10 s: States
/// delivered, and input → State latency for `probes` of them, which press a key with
/// the first State 100 ms after their last (every client answers the server's pings).
fn players(cluster: &Cluster, front: &str, count: usize, probes: usize) -> anyhow::Result<()> {
    println!("\n### {count} state-only players over three processes, through nginx\n");
    let states = Rc::new(Cell::new(0u64));
    let alive = Rc::new(Cell::new(0usize));
    let measuring = Rc::new(Cell::new(false));
    let failed = Rc::new(Cell::new(0usize));
    let latencies = Rc::new(RefCell::new(Vec::<f64>::new()));
    let local = tokio::task::LocalSet::new();
    let cpu = |c: &Cluster| {
        c.servers
            .iter()
            .map(|s| s.cpu_seconds().unwrap_or(0.0))
            .sum::<f64>()
    };
    let (connected, took, secs, server_cpu, stats) =
        runtime().block_on(local.run_until(async {
            let t0 = Instant::now();
            for batch in 0..count.div_ceil(200) {
                // The machine may not hold them all: measure what joined in the budget.
                if t0.elapsed() > JOIN_BUDGET {
                    eprintln!("xtask: join budget spent at {} players", alive.get());
                    break;
                }
                let mut connecting = Vec::new();
                for i in (batch * 200)..((batch + 1) * 200).min(count) {
                    let front = front.to_owned();
                    connecting.push(tokio::task::spawn_local(async move {
                        (i, join(&front, RenderMode::Client).await)
                    }));
                }
                for c in connecting {
                    let (i, c) = c.await?;
                    let mut c = c?;
                    let (states, alive, latencies, measuring) = (
                        states.clone(),
                        alive.clone(),
                        latencies.clone(),
                        measuring.clone(),
                    );
                    tokio::task::spawn_local(async move {
                        alive.set(alive.get() + 1);
                        let (mut seq, mut sent_at) = (0u32, Instant::now());
                        let mut waiting = false;
                        while let Ok(msg) = c.recv().await {
                            let Message::State(s) = msg else { continue };
                            states.set(states.get() + 1);
                            if i >= probes || !measuring.get() {
                                continue;
                            }
                            let now = Instant::now();
                            if waiting && s.last_input >= seq {
                                latencies
                                    .borrow_mut()
                                    .push((now - sent_at).as_secs_f64() * 1000.0);
                                waiting = false;
                            }
                            if !waiting && now - sent_at >= Duration::from_millis(100) {
                                seq += 1;
                                let k = if seq % 2 == 0 {
                                    keys::FORWARD
                                } else {
                                    keys::FORWARD | keys::TURN_LEFT
                                };
                                let input = Input {
                                    seq,
                                    keys: k,
                                    look_x: 0,
                                    look_y: 0,
                                    client_time: 0,
                                };
                                (sent_at, waiting) = (Instant::now(), true);
                                if c.send(&Message::Input(input)).await.is_err() {
                                    break;
                                }
                            }
                        }
                        alive.set(alive.get() - 1);
                    });
                }
            }
            let took = t0.elapsed();
            eprintln!(
                "xtask: {} players joined through nginx in {took:.1?}",
                alive.get()
            );
            tokio::time::sleep(Duration::from_secs(2)).await;
            let (before, cpu0, t1) = (states.get(), cpu(cluster), Instant::now());
            measuring.set(true);
            tokio::time::sleep(Duration::from_secs(10)).await;
            let secs = t1.elapsed().as_secs_f64();
            let server_cpu = (cpu(cluster) - cpu0) / secs;
            states.set(states.get() - before);
            let stats: Vec<String> = (cluster.servers.iter())
                .map(|s| s.http_get("/stats").unwrap_or_default())
                .collect();
            anyhow::Ok((alive.get(), took, secs, server_cpu, stats))
        }))?;
    let mut l = latencies.borrow_mut();
    l.sort_by(f64::total_cmp);
    println!("| measure | value |");
    println!("| --- | ---: |");
    println!(
        "| players connected at the end | {connected} of {count} ({} joins refused) |",
        failed.get()
    );
    println!(
        "| time spent joining (200 at a time, {} s at most) | {took:.1?} |",
        JOIN_BUDGET.as_secs()
    );
    for s in &stats {
        let v: serde_json::Value = serde_json::from_str(s).unwrap_or_default();
        println!(
            "| a process: players, tick mean / max µs | {} · {} / {} |",
            v["players"], v["tick_us_mean"], v["tick_us_max"]
        );
    }
    println!(
        "| States delivered a second | {:.0} ({:.1} a player) |",
        states.get() as f64 / secs,
        states.get() as f64 / secs / connected.max(1) as f64
    );
    println!(
        "| input → State, {probes} players pressing keys: p50 / p99 / max | {:.1} / {:.1} / {:.1} ms ({} samples) |",
        percentile(&l, 0.5),
        percentile(&l, 0.99),
        percentile(&l, 1.0),
        l.len()
    );
    println!(
        "| servers' CPU (3 processes, of 200 %) | {:.0} % |",
        server_cpu * 100.0
    );
    Ok(())
}
