//! Chat under load: fan-out to 1,000 players in one world, and the frame latency of
//! server-rendered players while a chat burst goes on, against the same without it.

use crate::load::{Client, Reader, percentile, runtime, send, servers};
use crate::server::Running;
use shared::protocol::{Channel, Message, RenderMode};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Chat lines carry their send time: microseconds since `epoch`, as the text.
fn stamp(epoch: Instant) -> String {
    format!("t{}", epoch.elapsed().as_micros())
}

fn age_ms(text: &str, epoch: Instant) -> Option<f64> {
    let sent: u128 = text.strip_prefix('t')?.parse().ok()?;
    Some((epoch.elapsed().as_micros().saturating_sub(sent)) as f64 / 1000.0)
}

/// With `VOXELCAST_BASELINE_SERVER` set to another server binary, each row runs on that
/// one too, right before.
pub fn chat(server: &std::path::Path) -> anyhow::Result<()> {
    println!("\n### Chat fan-out: 1,000 players in one world (#world)\n");
    println!(
        "| senders (a line every 2.1 s each) | server | lines a second | deliveries a second | p50 ms | p99 ms | max ms | dropped | server CPU (of 200 %) |"
    );
    println!("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for senders in [100usize, 400] {
        for (binary, label) in servers(server) {
            fan_out(&binary, label, 1000, senders)?;
        }
    }
    println!(
        "\n### Frame latency during a chat burst (16 server-rendered players, keys every frame, 320x200)\n"
    );
    println!("| chat | server | p50 ms | p99 ms | max ms | samples |");
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    // Twice each, alternating, to see the spread.
    for burst in [0usize, 200, 0, 200] {
        for (binary, label) in servers(server) {
            latency_with_chat(&binary, label, burst)?;
        }
    }
    Ok(())
}

/// `players` listeners (paused pages: no state, only chat), of which `senders` say a
/// line every 2.1 s (the steady rate a player is allowed), for 10 s.
fn fan_out(
    server: &std::path::Path,
    label: &str,
    players: usize,
    senders: usize,
) -> anyhow::Result<()> {
    let running = Running::start(server, &["--max-players", "2000"])?;
    let addr = running.addr.clone();
    let latencies = Rc::new(RefCell::new(Vec::<f64>::new()));
    let sent = Rc::new(std::cell::Cell::new(0u64));
    let local = tokio::task::LocalSet::new();
    let run_for = Duration::from_secs(10);
    let (cpu, secs) = runtime().block_on(local.run_until(async {
        let epoch = Instant::now();
        let (mut writers, mut idle) = (Vec::new(), Vec::new());
        for i in 0..players {
            let mut c = Client::connect(&addr, RenderMode::Client, 320, 200).await?;
            c.send(&Message::Pause(true)).await?;
            let (mut reader, wr) = (
                Reader {
                    rd: c.rd,
                    buf: c.buf,
                },
                c.wr,
            );
            let latencies = latencies.clone();
            tokio::task::spawn_local(async move {
                while let Ok(msg) = reader.recv().await {
                    if let Message::Chat(line) = msg
                        && let Some(ms) = age_ms(&line.text, epoch)
                    {
                        latencies.borrow_mut().push(ms);
                    }
                }
            });
            // Every writer stays open (a dropped one would close its connection).
            match i < senders {
                true => writers.push(wr),
                false => idle.push(wr),
            }
        }
        // Everyone is in: measure from here.
        latencies.borrow_mut().clear();
        let (cpu0, t0) = (running.cpu_seconds()?, Instant::now());
        let n = writers.len();
        for (i, mut wr) in writers.into_iter().enumerate() {
            let sent = sent.clone();
            tokio::task::spawn_local(async move {
                // Spread over the 2.1 s period.
                tokio::time::sleep(Duration::from_millis((i * 2100 / n.max(1)) as u64)).await;
                while t0.elapsed() < run_for {
                    let say = Message::Say {
                        channel: Channel::World,
                        text: stamp(epoch),
                    };
                    if send(&mut wr, &say).await.is_err() {
                        break;
                    }
                    sent.set(sent.get() + 1);
                    tokio::time::sleep(Duration::from_millis(2100)).await;
                }
                std::future::pending::<()>().await;
            });
        }
        tokio::time::sleep(run_for + Duration::from_millis(500)).await;
        let secs = t0.elapsed().as_secs_f64();
        drop(idle);
        anyhow::Ok(((running.cpu_seconds()? - cpu0) / secs, secs))
    }))?;
    let dropped = running.stat("chat_dropped").unwrap_or(u64::MAX);
    let mut l = latencies.borrow_mut();
    l.sort_by(f64::total_cmp);
    println!(
        "| {senders} | {label} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {dropped} | {:.0} % |",
        sent.get() as f64 / secs,
        l.len() as f64 / secs,
        percentile(&l, 0.5),
        percentile(&l, 0.99),
        percentile(&l, 1.0),
        cpu * 100.0
    );
    Ok(())
}

/// 16 server-rendered players changing keys every frame, with `chatters` more players
/// saying lines as fast as they are allowed (a burst of 5, then one every 2.1 s) in the
/// same world, which everyone receives.
fn latency_with_chat(
    server: &std::path::Path,
    server_label: &str,
    chatters: usize,
) -> anyhow::Result<()> {
    let running = Running::start(server, &["--max-players", "400"])?;
    let addr = running.addr.clone();
    let mut samples = runtime().block_on(async move {
        let epoch = Instant::now();
        for _ in 0..chatters {
            let mut c = Client::connect(&addr, RenderMode::Client, 320, 200).await?;
            c.send(&Message::Pause(true)).await?;
            let (mut reader, mut wr) = (
                Reader {
                    rd: c.rd,
                    buf: c.buf,
                },
                c.wr,
            );
            tokio::spawn(async move { while reader.recv().await.is_ok() {} });
            tokio::spawn(async move {
                for _ in 0.. {
                    let say = Message::Say {
                        channel: Channel::World,
                        text: stamp(epoch),
                    };
                    if send(&mut wr, &say).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(400)).await;
                }
            });
        }
        let mut tasks = Vec::new();
        for i in 0..16 {
            let addr = addr.clone();
            tasks.push(tokio::spawn(async move {
                crate::load::latency_client(
                    &addr,
                    crate::load::Pattern::KeysEveryFrame,
                    320,
                    200,
                    i,
                )
                .await
            }));
        }
        crate::load::gather(tasks).await
    })?;
    samples.sort_by(f64::total_cmp);
    let label = match chatters {
        0 => "none".to_owned(),
        n => format!("{n} players chatting as fast as allowed"),
    };
    println!(
        "| {label} | {server_label} | {:.2} | {:.2} | {:.2} | {} |",
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        percentile(&samples, 1.0),
        samples.len()
    );
    Ok(())
}
