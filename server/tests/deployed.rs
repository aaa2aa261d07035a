//! The cluster as players meet it, through nginx: `cargo xtask test` starts redis-server,
//! PostgreSQL, three server processes (p1, p2, p3, one room of two seats each) and
//! nginx with `deploy/nginx.conf`, then runs this with `--ignored`, saying where they
//! are. Rooms fill and the next join goes to another process; a session from one
//! process is honoured by the others; chat and a finished run reach every process; the
//! record is on every process's board; a process killed with -9 drops out of the lobby
//! and its player is back in a room within seconds; Redis restarted, play goes on and
//! the registry recovers.

mod common;

use common::{Ws, exchange_at};
use shared::protocol::{Channel, ChatLine, CourseInfo, Message};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the cluster is (from `cargo xtask test`).
struct Cluster {
    /// nginx.
    front: String,
    /// Each process's own address and pid.
    servers: Vec<(String, u32)>,
    redis_port: u16,
}

fn cluster() -> Cluster {
    let env = |k: &str| {
        std::env::var(k)
            .unwrap_or_else(|_| panic!("{k} is not set: run this through `cargo xtask test`"))
    };
    let servers = (env("VOXELCAST_CLUSTER_SERVERS").split(','))
        .map(|s| {
            let (addr, pid) = s.split_once('=').expect("addr=pid");
            (addr.to_owned(), pid.parse().expect("pid"))
        })
        .collect();
    Cluster {
        front: env("VOXELCAST_CLUSTER"),
        servers,
        redis_port: env("VOXELCAST_CLUSTER_REDIS_PORT").parse().expect("a port"),
    }
}

/// A request through `addr`; the status and the JSON body.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> (u16, String, serde_json::Value) {
    let raw = exchange_at(
        addr,
        format!(
            "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (
        status,
        head.to_owned(),
        serde_json::from_str(body).unwrap_or_default(),
    )
}

fn eventually(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "not within {secs} s: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Player {
    ws: Ws,
    name: String,
    room: String,
    course: CourseInfo,
    map_size: (f32, f32),
}

/// Asks the cluster for a room (`/api/join`), then connects there with the seat, as the
/// page does; `headers`: a cookie and an Origin, say.
fn join(front: &str, name: &str, headers: &str) -> Player {
    let (status, head, answer) = http(front, "GET", "/api/join", "", "");
    assert_eq!(status, 200, "{head}");
    let room = answer["room"].as_str().expect("a room").to_owned();
    let seat = answer["seat"].as_str().expect("a seat (Redis is up)");
    let (mut ws, _) = Ws::open_at(front, &format!("/ws?room={room}&seat={seat}"), headers);
    ws.send(2, &common::hello(name));
    let Ok(Message::Welcome(w)) = Message::decode(&ws.message(2)) else {
        panic!("no Welcome for {name}");
    };
    assert_eq!(w.room, room, "nginx routed {name} to the room's process");
    let Ok(Message::Course(course)) = Message::decode(&ws.message(14)) else {
        panic!("no Course");
    };
    Player {
        ws,
        name: w.name,
        room,
        course,
        map_size: (w.map_width.into(), w.map_height.into()),
    }
}

fn process(room: &str) -> &str {
    room.split_once('-').map_or(room, |(p, _)| p)
}

/// The next chat line `p` hears (skipping history and everything else).
fn next_line(p: &mut Player) -> ChatLine {
    loop {
        if let Ok(Message::Chat(line)) = Message::decode(&p.ws.message(24))
            && line.flags & shared::protocol::chat_flags::HISTORY == 0
        {
            return line;
        }
    }
}

fn say(p: &mut Player, channel: Channel, text: &str) {
    let mut body = Vec::new();
    Message::Say {
        channel,
        text: text.into(),
    }
    .encode(&mut body);
    p.ws.send(2, &body);
}

/// redis-server restarted by the test on the cluster's port, stopped at the end.
struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rooms(front: &str) -> serde_json::Value {
    http(front, "GET", "/api/rooms", "", "").2
}

#[test]
#[ignore = "needs the cluster that `cargo xtask test` starts"]
fn a_cluster_behind_nginx_plays_as_one() {
    let c = cluster();
    let front = c.front.as_str();
    eventually(10, "three processes' rooms in the lobby", || {
        let r = rooms(front);
        r["rooms"].as_array().is_some_and(|a| a.len() == 3) && r["redis"] == "up"
    });

    // A name claimed through any process is signed in on every process (PostgreSQL).
    let json = "Content-Type: application/json\r\nOrigin: http://t\r\n";
    let (status, head, _) = http(
        front,
        "POST",
        "/api/account/claim",
        json,
        r#"{"name":"Pilot","password":"cluster pass"}"#,
    );
    assert_eq!(status, 201, "{head}");
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("Set-Cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("a cookie")
        .to_owned();
    for (addr, _) in &c.servers {
        let (_, _, who) = http(
            addr,
            "GET",
            "/api/account",
            &format!("Cookie: {cookie}\r\n"),
            "",
        );
        assert_eq!(who["name"], "Pilot", "{addr} honours the session");
    }

    // Rooms fill; the next join goes to another process.
    let with_cookie = format!("Cookie: {cookie}\r\nOrigin: http://t\r\n");
    let mut pilot = join(front, "not this", &with_cookie);
    assert_eq!(pilot.name, "Pilot");
    let mut bee = join(front, "bee", "");
    assert_eq!(bee.room, pilot.room, "the fullest room with space");
    let mut cee = join(front, "cee", "");
    assert_ne!(
        process(&cee.room),
        process(&pilot.room),
        "that room is full: another process"
    );
    let dee = join(front, "dee", "");
    assert_eq!(dee.room, cee.room);
    let mut eee = join(front, "eee", "");
    let third = process(&eee.room).to_owned();
    assert!(![process(&pilot.room), process(&cee.room)].contains(&third.as_str()));

    // Chat crosses processes: #global to everyone, a direct message to one player.
    say(&mut pilot, Channel::Global, "hello cluster");
    for p in [&mut cee, &mut eee] {
        let line = next_line(p);
        assert_eq!(
            (line.from.as_str(), line.text.as_str()),
            ("Pilot", "hello cluster")
        );
    }
    assert_eq!(
        next_line(&mut pilot).text,
        "hello cluster",
        "the sender's copy"
    );
    say(
        &mut cee,
        Channel::Direct("Pilot".into()),
        "psst, from another process",
    );
    let line = next_line(&mut pilot);
    assert_eq!(
        (line.from.as_str(), line.text.as_str()),
        ("cee", "psst, from another process")
    );

    // A lap on one process: announced on every process, the record on every board.
    let course = bee.course.clone();
    let result = common::flight::fly_lap(&mut bee.ws, &course, bee.map_size);
    assert_eq!((result.name.as_str(), result.rank), ("bee", 1));
    for p in [&mut cee, &mut eee] {
        let heard = loop {
            if let Ok(Message::Result(r)) = Message::decode(&p.ws.message(16)) {
                break r;
            }
        };
        assert_eq!(heard, result, "{} heard it on {}", p.name, p.room);
    }
    let board_path = format!("/api/leaderboard?course={:016x}", course.id);
    for (addr, _) in &c.servers {
        let (_, _, board) = http(addr, "GET", &board_path, "", "");
        assert_eq!(board["all_time"][0]["name"], "bee", "{addr}: {board}");
        assert_eq!(board["all_time"][0]["ticks"], result.time);
    }
    drop(bee); // a seat for the one whose process dies

    // kill -9 a process: it leaves the lobby within the registry's expiry, and its
    // player is back in a room (under its name) within seconds.
    let (_, pid) = (c.servers.iter())
        .find(|(addr, _)| {
            let (_, _, stats) = http(addr, "GET", "/api/rooms", "", "");
            stats["rooms"][0]["process"] == third.as_str()
        })
        .expect("the third process");
    let killed = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(eee.ws.close_code_or_gone(), None, "the socket just drops");
    eventually(10, "the dead process's room leaves the lobby", || {
        let r = rooms(front);
        r["rooms"]
            .as_array()
            .is_some_and(|a| a.len() == 2 && a.iter().all(|x| x["process"] != third.as_str()))
    });
    let back = join(front, "eee", "");
    assert_eq!(back.name, "eee");
    assert_ne!(process(&back.room), third);
    let took = killed.elapsed();
    assert!(
        took < Duration::from_secs(12),
        "back in a room after {took:?}"
    );
    eprintln!(
        "killed {third}: its player was back in {} after {took:.1?}",
        back.room
    );
    let (_, _, board) = http(front, "GET", &board_path, "", "");
    assert_eq!(
        board["all_time"][0]["name"], "bee",
        "nothing committed is lost"
    );

    // Redis goes away: rooms play on and say so; back, the registry recovers.
    let redis_addr = format!("127.0.0.1:{}", c.redis_port);
    let _ = exchange_at(&redis_addr, b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n");
    eventually(10, "the lobby says Redis is down", || {
        rooms(front)["redis"] == "down"
    });
    let mut input = Vec::new();
    Message::Input(shared::protocol::Input {
        seq: 1,
        keys: shared::protocol::keys::FORWARD,
        look_x: 0,
        look_y: 0,
        client_time: 0,
    })
    .encode(&mut input);
    pilot.ws.send(2, &input);
    let Ok(Message::State(_)) = Message::decode(&pilot.ws.message(11)) else {
        panic!("no State while Redis is down");
    };
    say(&mut pilot, Channel::World, "still here");
    // (The #race line about bee's lap may come first.)
    let heard = (0..5)
        .map(|_| next_line(&mut pilot).text)
        .find(|t| t == "still here");
    assert!(heard.is_some(), "chat in the room goes on");
    let _redis = Redis(
        Command::new("redis-server")
            .args([
                "--port",
                &c.redis_port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server"),
    );
    eventually(15, "the registry recovers", || {
        let r = rooms(front);
        r["redis"] == "up" && r["rooms"].as_array().is_some_and(|a| a.len() == 2)
    });
    // Every seat is taken (the lobby says so); one leaves, and joins work again.
    assert_eq!(http(front, "GET", "/api/join", "", "").0, 409);
    drop(dee);
    eventually(5, "a join gets the seat just left", || {
        http(front, "GET", "/api/join", "", "").0 == 200
    });
}
