//! Rooms over real sockets: the lobby lists them, a join without a room goes to the
//! fullest with space, a full or unknown room is refused with the reason, and each
//! room's endpoints answer for that room.

mod common;

use common::{Server, Ws, status};
use shared::protocol::{ErrorCode, Message};

/// Joins through `path`; the room of the Welcome, or the Error's code and text.
fn join(server: &Server, path: &str) -> (Ws, Result<String, (ErrorCode, String)>) {
    let mut ws = Ws::open(server, path);
    ws.send(2, &common::client_hello());
    loop {
        let (op, payload) = ws.recv();
        assert_ne!(op, 8, "closed before Welcome or Error");
        match Message::decode(&payload) {
            Ok(Message::Welcome(w)) => return (ws, Ok(w.room)),
            Ok(Message::Error { code, text }) => return (ws, Err((code, text))),
            _ => {}
        }
    }
}

fn json(server: &Server, target: &str) -> serde_json::Value {
    let response = server.get(target);
    assert_eq!(status(&response), "200", "{target}: {response}");
    let body = response.split_once("\r\n\r\n").unwrap().1;
    serde_json::from_str(body).unwrap()
}

#[test]
fn joins_fill_the_fullest_room_with_space_then_refuse_with_the_reason() {
    let server = Server::start(&["--rooms", "2", "--max-players", "2"]);
    let rooms = json(&server, "/api/rooms");
    assert_eq!(rooms["players"], 0);
    let ids: Vec<&str> = (rooms["rooms"].as_array().unwrap().iter())
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["r1", "r2"]);
    assert_ne!(
        rooms["rooms"][0]["course"], rooms["rooms"][1]["course"],
        "two maps"
    );
    assert_eq!(rooms["rooms"][1]["capacity"], 2);

    // An invite link into r2 first; then joins without a room go where players are.
    let (_b1, room) = join(&server, "/ws?room=r2");
    assert_eq!(room.unwrap(), "r2");
    let (_b2, room) = join(&server, "/ws");
    assert_eq!(room.unwrap(), "r2", "the fullest room with space");
    assert_eq!(
        json(&server, "/api/join")["room"],
        "r1",
        "the page asks first: r2 is full"
    );
    let (_a1, room) = join(&server, "/ws");
    assert_eq!(room.unwrap(), "r1", "r2 is full: the next one");
    let (_a2, room) = join(&server, "/ws");
    assert_eq!(room.unwrap(), "r1");
    let every = server.get("/api/join");
    assert_eq!(status(&every), "409", "{every}");
    assert!(every.contains("every room is full"), "{every}");
    assert_eq!(status(&server.get("/api/join?room=r2")), "409");
    assert_eq!(status(&server.get("/api/join?room=r7")), "404");
    let (mut full, refused) = join(&server, "/ws");
    let (code, text) = refused.unwrap_err();
    assert_eq!(code, ErrorCode::ServerFull);
    assert!(
        text.contains("full") && text.contains("pick another"),
        "{text}"
    );
    assert_eq!(full.close_code(), 1013);
    let (mut nowhere, refused) = join(&server, "/ws?room=r9");
    assert_eq!(refused.unwrap_err().0, ErrorCode::NoSuchRoom);
    assert_eq!(nowhere.close_code(), 4404);

    let rooms = json(&server, "/api/rooms");
    assert_eq!(rooms["players"], 4);
    assert_eq!(rooms["rooms"][0]["players"], 2);
    let stats = json(&server, "/stats");
    assert_eq!(stats["players"], 4);
    assert_eq!(stats["rooms"].as_array().unwrap().len(), 2);

    // Each room's own endpoints: its course, and no room that is not there.
    let course = |room: &str| json(&server, &format!("/api/course?room={room}"))["course"].clone();
    assert_eq!(course("r2"), rooms["rooms"][1]["course"]);
    assert_eq!(
        course("r1"),
        json(&server, "/api/course")["course"],
        "r1 by default"
    );
    assert_eq!(status(&server.get("/api/course?room=zz")), "404");
    assert_eq!(status(&server.get("/api/course?room=r1&room=r2")), "400");
    assert_eq!(status(&server.get("/api/rooms?x=1")), "400");
}
