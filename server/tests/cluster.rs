//! Rooms across processes through a real Redis (started here from Debian's
//! redis-server, which `cargo xtask test` installs): every lobby lists every process's
//! rooms, a process killed with -9 leaves the registry within its expiry, Redis going
//! away leaves the rooms playing and says so, and its return heals the registry; runs
//! are relayed between processes' buses.

mod common;

use common::{Server, status};
use server::cluster::Cluster;
use server::game::bus::{Announcement, Bus};
use shared::protocol::RunResult;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start(port: u16) -> Redis {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--bind", "127.0.0.1"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (Debian's redis-server package; cargo xtask test installs it)");
        // Ready once it accepts connections.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Redis { child, port }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn json(server: &Server, target: &str) -> serde_json::Value {
    let response = server.get(target);
    assert_eq!(status(&response), "200", "{target}: {response}");
    serde_json::from_str(response.split_once("\r\n\r\n").unwrap().1).unwrap()
}

fn room_ids(server: &Server) -> Vec<String> {
    let rooms = json(server, "/api/rooms");
    (rooms["rooms"].as_array().unwrap().iter())
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits up to `secs` for `what` to hold.
fn eventually(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "not within {secs} s: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn every_lobby_lists_every_process_and_survives_deaths_and_redis_restarts() {
    let port = free_port();
    let redis = Redis::start(port);
    let url = redis.url();
    let p1 = Server::start(&["--redis", &url, "--process", "p1", "--rooms", "2"]);
    let mut p2 = Server::start(&["--redis", &url, "--process", "p2"]);
    let all = ["p1-r1", "p1-r2", "p2-r1"];
    eventually(5, "both lobbies list all three rooms", || {
        room_ids(&p1) == all && room_ids(&p2) == ["p2-r1", "p1-r1", "p1-r2"]
    });
    let rooms = json(&p1, "/api/rooms");
    assert_eq!(rooms["rooms"][2]["process"], "p2");
    assert_eq!(rooms["redis"], "up");

    // kill -9: no goodbye; the entry expires.
    p2.child.kill().unwrap();
    let _ = p2.child.wait();
    eventually(10, "p2's room leaves the registry", || {
        room_ids(&p1) == ["p1-r1", "p1-r2"]
    });

    // Redis goes away: the rooms go on, and say so.
    drop(redis);
    eventually(10, "/stats says redis is down", || {
        json(&p1, "/stats")["redis"] == "down"
    });
    let alone = json(&p1, "/api/rooms");
    assert_eq!(alone["redis"], "down");
    assert_eq!(
        alone["rooms"].as_array().unwrap().len(),
        2,
        "its own rooms still listed"
    );
    // Back: the registry heals from the renewals.
    let redis = Redis::start(port);
    eventually(10, "redis back and p1's rooms advertised again", || {
        json(&p1, "/stats")["redis"] == "up" && room_ids(&p1) == ["p1-r1", "p1-r2"]
    });
    drop(redis);
}

#[test]
fn runs_are_relayed_between_the_processes_buses() {
    let redis = Redis::start(free_port());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (bus1, bus2) = (Bus::default(), Bus::default());
        let c1 = Arc::new(Cluster::new(&redis.url(), "p1").unwrap());
        let c2 = Arc::new(Cluster::new(&redis.url(), "p2").unwrap());
        c1.relay(bus1.clone(), vec!["p1-r1".into()]);
        c2.relay(bus2.clone(), vec!["p2-r1".into()]);
        let mut heard2 = bus2.subscribe();
        let mut heard1 = bus1.subscribe();
        let run = |from: &str, name: &str| Announcement {
            from: from.into(),
            result: RunResult {
                course: 7,
                name: name.into(),
                time: 300,
                rank: 1,
                record: false,
            },
            best: None,
            ghost: None,
        };
        // The subscriptions take a moment: publish until the other side hears.
        let got = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                bus1.publish(run("p1-r1", "ace"));
                if let Ok(Ok(a)) =
                    tokio::time::timeout(Duration::from_millis(300), heard2.recv()).await
                {
                    return a;
                }
            }
        })
        .await
        .expect("p2 hears p1's run");
        assert_eq!(
            (got.from.as_str(), got.result.name.as_str()),
            ("p1-r1", "ace")
        );
        // And back, once: p1 hears p2's run, and does not echo its own (no loop).
        while heard1.try_recv().is_ok() {}
        bus2.publish(run("p2-r1", "bee"));
        let back = tokio::time::timeout(Duration::from_secs(5), heard1.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(back.result.name, "bee");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut echoes = 0;
        while let Ok(a) = heard1.try_recv() {
            echoes += (a.result.name == "ace") as u32;
        }
        assert_eq!(echoes, 0, "a process's own runs do not come back to it");
    });
}
