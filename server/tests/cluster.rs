//! Rooms across processes through a real Redis (started here from Debian's
//! redis-server, which `cargo xtask test` installs): every lobby lists every process's
//! rooms, a process killed with -9 leaves the registry within its expiry, Redis going
//! away leaves the rooms playing and says so, and its return heals the registry; runs
//! are relayed between processes' buses.

mod common;

use common::{Server, status};
use server::cluster::{Cluster, RoomEntry, Seat};
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

#[test]
fn seats_are_reserved_atomically_and_lapse() {
    let redis = Redis::start(free_port());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let cluster = Arc::new(Cluster::new(&redis.url(), "x").unwrap());
        let room = RoomEntry {
            id: "x-r1".into(),
            process: "x".into(),
            map: "seed 1".into(),
            course: "0".into(),
            players: 1,
            capacity: 4,
            record: None,
        };
        cluster
            .advertise(std::slice::from_ref(&room))
            .await
            .unwrap();
        // Ten pages at once for three free seats: three get one.
        let tries = (0..10).map(|i| {
            let c = cluster.clone();
            tokio::spawn(async move {
                c.reserve("x-r1", &format!("t{i}"), Duration::from_secs(10))
                    .await
            })
        });
        let mut reserved = Vec::new();
        for (i, t) in tries.enumerate() {
            if t.await.unwrap().unwrap() == Seat::Reserved {
                reserved.push(i);
            }
        }
        assert_eq!(reserved.len(), 3, "{reserved:?}");
        let hold = Duration::from_secs(10);
        assert_eq!(
            cluster.reserve("x-r1", "late", hold).await.unwrap(),
            Seat::Full
        );
        // A seat claimed (its player arrived) counts as a player at once: no gap in
        // which someone else could take it before the next renewal.
        cluster
            .claim("x-r1", &format!("t{}", reserved[0]))
            .await
            .unwrap();
        assert_eq!(
            cluster.reserve("x-r1", "next", hold).await.unwrap(),
            Seat::Full
        );
        // The next renewal says how many really play: that one left again.
        cluster
            .advertise(std::slice::from_ref(&room))
            .await
            .unwrap();
        assert_eq!(
            cluster.reserve("x-r1", "next", hold).await.unwrap(),
            Seat::Reserved
        );
        // Seats nobody claims lapse.
        cluster
            .advertise(&[RoomEntry {
                id: "x-r2".into(),
                capacity: 1,
                players: 0,
                ..room
            }])
            .await
            .unwrap();
        let short = Duration::from_millis(200);
        assert_eq!(
            cluster.reserve("x-r2", "a", short).await.unwrap(),
            Seat::Reserved
        );
        assert_eq!(
            cluster.reserve("x-r2", "b", short).await.unwrap(),
            Seat::Full
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            cluster.reserve("x-r2", "c", short).await.unwrap(),
            Seat::Reserved
        );
        assert_eq!(
            cluster.reserve("x-r9", "d", short).await.unwrap(),
            Seat::NoSuchRoom
        );
    });
}

/// Joins through `/ws` with this query; the room of the Welcome.
fn welcome_room(server: &Server, query: &str) -> (common::Ws, String) {
    use shared::protocol::Message;
    let mut ws = common::Ws::open(server, &format!("/ws{query}"));
    ws.send(2, &common::client_hello());
    let welcome = ws.message(2);
    match Message::decode(&welcome) {
        Ok(Message::Welcome(w)) => (ws, w.room),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_join_goes_to_the_clusters_room_with_space_and_holds_its_seat() {
    let redis = Redis::start(free_port());
    let url = redis.url();
    let p1 = Server::start(&["--redis", &url, "--process", "p1", "--max-players", "1"]);
    let p2 = Server::start(&["--redis", &url, "--process", "p2", "--max-players", "1"]);
    let (_first, room) = welcome_room(&p1, "?room=p1-r1");
    assert_eq!(room, "p1-r1");
    eventually(5, "the registry counts p1-r1's player", || {
        let rooms = json(&p2, "/api/rooms");
        rooms["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == "p1-r1" && r["players"] == 1)
    });
    // Asked of p1, whose only room is full: p2's room, with a seat held for the page.
    let join = json(&p1, "/api/join");
    assert_eq!(join["room"], "p2-r1");
    let seat = join["seat"].as_str().unwrap().to_owned();
    // The seat is held: nobody else gets it meanwhile.
    let again = p1.get("/api/join");
    assert_eq!(status(&again), "409", "{again}");
    assert!(again.contains("every room is full"), "{again}");
    // The page presents the seat to p2 (nginx would route it there by the prefix).
    let (_second, room) = welcome_room(&p2, &format!("?room=p2-r1&seat={seat}"));
    assert_eq!(room, "p2-r1");
    assert_eq!(status(&p1.get("/api/join?room=p9-r1")), "404");
}
