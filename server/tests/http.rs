//! The server binary over real sockets: HTTP statuses and limits, traversal, slow heads,
//! WebSocket failures Autobahn does not cover, game-protocol abuse, shutdown.

mod common;

use common::{Server, Ws, big_js, status};
use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

#[test]
fn static_files_statuses_and_keep_alive() {
    let server = Server::start(&[]);
    let r = server.get("/");
    assert_eq!(status(&r), "200", "{r}");
    assert!(r.contains("Content-Type: text/html; charset=utf-8\r\n"));
    assert!(r.contains("Content-Length: 31\r\n"));
    assert!(r.ends_with("<!doctype html><title>t</title>"));
    let r = server.get("/pkg/client_bg.wasm");
    assert!(r.contains("Content-Type: application/wasm\r\n"), "{r}");
    // The absolute-form, which servers must accept (RFC 9112 3.2.2), and a query.
    let r = server.exchange(
        b"GET http://elsewhere.example/index.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(r.ends_with("<!doctype html><title>t</title>"), "{r}");
    assert_eq!(status(&server.get("/stats?now")), "200");

    // Two pipelined requests on one keep-alive connection, the first a HEAD.
    let r = server.exchange(b"HEAD /index.html HTTP/1.1\r\nHost: t\r\n\r\nGET /nothing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let (head, rest) = r.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.1 200 OK") && head.contains("Content-Length: 31"),
        "{r}"
    );
    assert!(
        rest.starts_with("HTTP/1.1 404 Not Found"),
        "HEAD sent no body: {rest}"
    );

    // ETag revalidation.
    let etag = server
        .get("/")
        .lines()
        .find_map(|l| l.strip_prefix("ETag: ").map(str::to_owned))
        .unwrap();
    let r = server.exchange(
        format!("GET / HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(status(&r), "304", "{r}");

    // Compressed when asked: text and wasm over 1 KiB, each coding with its own ETag.
    let get_encoded = |accept: &str| {
        let mut s = server.connect();
        let request = format!(
            "GET /big.js HTTP/1.1\r\nHost: t\r\nAccept-Encoding: {accept}\r\nConnection: close\r\n\r\n"
        );
        s.write_all(request.as_bytes()).unwrap();
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let body = raw.split_off(split);
        (String::from_utf8_lossy(&raw).into_owned(), body)
    };
    let (head, body) = get_encoded("gzip, deflate, br");
    assert!(head.contains("Content-Encoding: gzip\r\n"), "{head}");
    assert!(head.contains("-gz\"\r\n"), "{head}");
    assert!(
        head.contains(&format!("Content-Length: {}\r\n", body.len())),
        "{head}"
    );
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, big_js().as_bytes());
    assert!(body.len() < big_js().len() / 4);
    let gzip_etag = head
        .lines()
        .find_map(|l| l.strip_prefix("ETag: ").map(str::to_owned))
        .unwrap();
    for accept in ["deflate", "gzip;q=0, deflate", "deflate;q=0.5, gzip;q=0.4"] {
        let (head, body) = get_encoded(accept);
        assert!(
            head.contains("Content-Encoding: deflate\r\n"),
            "{accept}: {head}"
        );
        assert!(head.contains("-z\"\r\n"), "{head}");
        let inflated = miniz_oxide::inflate::decompress_to_vec_zlib(&body).unwrap();
        assert_eq!(inflated, big_js().as_bytes());
    }
    for accept in ["*", "br, *;q=0.1", "deflate;q=0.4, gzip;q=0.4"] {
        let (head, _) = get_encoded(accept);
        assert!(
            head.contains("Content-Encoding: gzip\r\n"),
            "{accept}: {head}"
        );
    }
    for accept in [
        "br",
        "gzip;q=0, deflate;q=0",
        "*;q=0",
        "identity",
        "gzip;q=2",
    ] {
        let (head, body) = get_encoded(accept);
        assert!(!head.contains("Content-Encoding"), "{accept}: {head}");
        assert_eq!(body, big_js().as_bytes());
    }
    assert!(
        !server.get("/big.js").contains("Content-Encoding"),
        "not without Accept-Encoding"
    );
    // The gzip variant's ETag revalidates the gzip variant only.
    let revalidate = |accept: &str| {
        let request = format!(
            "GET /big.js HTTP/1.1\r\nHost: t\r\nAccept-Encoding: {accept}\r\nIf-None-Match: {gzip_etag}\r\nConnection: close\r\n\r\n"
        );
        status(&server.exchange(request.as_bytes())).to_owned()
    };
    assert_eq!(revalidate("gzip"), "304");
    let weak = format!(
        "GET /big.js HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\nIf-None-Match: \"other\", W/{gzip_etag}\r\nConnection: close\r\n\r\n"
    );
    let r = server.exchange(weak.as_bytes());
    assert_eq!(status(&r), "304", "weak comparison: {r}");
    for header in [
        "ETag: ",
        "Date: ",
        "Cache-Control: no-cache",
        "Vary: Accept-Encoding",
    ] {
        assert!(r.contains(header), "a 304 carries {header}: {r}");
    }
    assert_eq!(revalidate("deflate"), "200");
    assert_eq!(revalidate("br"), "200");

    assert_eq!(
        status(&server.exchange(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi")),
        "405"
    );
    assert!(
        server
            .exchange(b"DELETE / HTTP/1.1\r\nHost: t\r\n\r\n")
            .contains("Allow: GET, HEAD\r\n")
    );
    assert_eq!(
        status(&server.exchange(b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")),
        "413"
    );
    assert_eq!(
        status(&server.exchange(b"GET / HTTP/1.1\r\n\r\n")),
        "400",
        "no Host"
    );
    assert_eq!(status(&server.exchange(b"GARBAGE\r\n\r\n")), "400");
    assert_eq!(status(&server.exchange(b"GET / HTTP/3.0\r\n\r\n")), "505");
}

#[test]
fn traversal_is_refused() {
    let server = Server::start(&[]);
    for (target, code) in [
        ("/../secret.txt", "400"),
        ("/%2e%2e/secret.txt", "400"),
        ("/pkg/..%2f..%2fsecret.txt", "400"),
        ("/a%00b", "400"),
        ("/leak.txt", "404"),
        ("/missing.js", "404"),
    ] {
        let r = server.get(target);
        assert_eq!(status(&r), code, "{target}: {r}");
        assert!(!r.contains("secret"), "{target}");
    }
}

#[test]
fn head_limits_and_slow_heads() {
    let server = Server::start(&[]);
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n",
        "a".repeat(9000)
    );
    assert_eq!(status(&server.exchange(huge.as_bytes())), "431");
    let many: String = (0..100).map(|i| format!("X-{i}: y\r\n")).collect();
    assert_eq!(
        status(&server.exchange(format!("GET / HTTP/1.1\r\nHost: t\r\n{many}\r\n").as_bytes())),
        "431"
    );

    // Slowloris: half a head, then nothing. The 1 s head deadline answers 408 and closes.
    let mut s = server.connect();
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n").unwrap();
    let start = std::time::Instant::now();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert_eq!(status(&out), "408", "{out}");
    assert!(start.elapsed() < Duration::from_secs(4));
    // Meanwhile the server still serves others.
    assert_eq!(status(&server.get("/")), "200");
}

#[test]
fn connection_cap_answers_503() {
    let server = Server::start(&["--max-connections", "2"]);
    let _a = server.connect();
    let _b = server.connect();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(status(&server.get("/")), "503");
}

#[test]
fn websocket_failures_close_with_the_right_code() {
    let server = Server::start(&[]);
    let mut ws = Ws::open(&server, "/echo");
    ws.send(2, b"hi");
    assert_eq!(ws.recv(), (2, b"hi".to_vec()));
    ws.send_raw(&[0x81, 0x02, b'h', b'i']); // unmasked
    assert_eq!(ws.close_code(), 1002);

    let mut ws = Ws::open(&server, "/echo");
    ws.send(2, &[0; 2000]); // over --echo-max-message 1024
    assert_eq!(ws.close_code(), 1009);

    let mut ws = Ws::open(&server, "/echo");
    ws.send(1, &[b'a', 0xff]);
    assert_eq!(ws.close_code(), 1007);

    let mut ws = Ws::open(&server, "/echo");
    ws.send(8, &4001u16.to_be_bytes());
    assert_eq!(ws.close_code(), 4001, "close code echoed");

    let r = server.exchange(b"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
    assert_eq!(status(&r), "426");
    assert!(r.contains("Sec-WebSocket-Version: 13\r\n"));
}

#[test]
fn frames_in_the_same_write_as_the_upgrade_request_are_answered() {
    let server = Server::start(&[]);
    // They arrive in the handshake's buffer, and must go on to the WebSocket's.
    let behind = [
        Ws::frame(2, b"first"),
        Ws::frame(9, b"ping"),
        Ws::frame(1, b"second"),
    ];
    let (mut ws, _) = Ws::open_sending(&server, "/echo", "", &behind.concat());
    assert_eq!(ws.recv(), (2, b"first".to_vec()));
    assert_eq!(ws.recv(), (10, b"ping".to_vec()));
    assert_eq!(ws.recv(), (1, b"second".to_vec()));
}

fn hello(width: u16, height: u16) -> Vec<u8> {
    hello_with(width, height, 0) // raw frames only
}

/// Hello in server mode, with the frame encodings listed in `encodings`, no name.
fn hello_with(width: u16, height: u16, encodings: u8) -> Vec<u8> {
    let mut m = vec![1];
    m.extend_from_slice(&shared::protocol::VERSION.to_le_bytes());
    m.push(0);
    m.extend_from_slice(&width.to_le_bytes());
    m.extend_from_slice(&height.to_le_bytes());
    m.extend_from_slice(&[encodings, 0, 0]);
    m
}

/// A player whose WebSocket compresses gets run planes in compressed messages (RSV1),
/// which inflate and decode to exactly the frame rendered here from the same camera.
#[test]
fn compressing_players_get_run_planes() {
    use shared::protocol::{FrameEncoding, Message};
    let server = Server::start(&[]);
    let offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
    let (mut ws, head) = Ws::open_with(&server, "/ws", offer);
    assert!(
        head.contains("\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"),
        "{head}"
    );
    let encodings = FrameEncoding::Runs.bit() | FrameEncoding::RunPlanes.bit();
    ws.send(2, &hello_with(160, 100, encodings));
    let (b0, welcome) = ws.recv_frame();
    assert_eq!((b0, welcome[0]), (0x82, 2), "Welcome, uncompressed");
    let (b0, compressed) = loop {
        let (b0, payload) = ws.recv_frame();
        if b0 & 0x40 != 0 {
            break (b0, payload);
        }
    };
    assert_eq!(b0, 0xC2, "a compressed binary message");
    // RFC 7692 7.2.2: put the sync-flush tail back; then end the stream with an empty
    // final block so a one-shot inflate accepts it.
    let mut input = compressed.clone();
    input.extend_from_slice(&[0, 0, 0xff, 0xff, 0x03, 0x00]);
    let body = miniz_oxide::inflate::decompress_to_vec(&input).unwrap();
    let Ok(Message::Frame(frame)) = Message::decode(&body) else {
        panic!("not a frame: {:?}", &body[..8]);
    };
    assert_eq!(frame.encoding, FrameEncoding::RunPlanes);
    assert!(
        compressed.len() * 3 < body.len() * 2,
        "{} of {}",
        compressed.len(),
        body.len()
    );

    let viewport = shared::Viewport::new(160, 100).unwrap();
    let map = shared::mapgen::generate(shared::mapgen::DEFAULT_SEED);
    let mut renderer = shared::Renderer::new();
    // With the course's gates in reach, gate 0 marked.
    let mut gates = Vec::new();
    let size = (map.width() as f32, map.height() as f32);
    let scenery = shared::course::Course::of(&map).scenery();
    scenery.beads_near(0, &frame.camera, size, &mut gates);
    let mut expected = vec![0; viewport.pixels()];
    renderer.render_scene(
        &map,
        &frame.camera,
        &Default::default(),
        viewport,
        &gates,
        &mut expected,
    );
    let mut decoded = vec![0; viewport.pixels()];
    shared::codec::FrameDecoder::new()
        .decode(
            frame.payload,
            viewport,
            frame.encoding,
            renderer.sky(),
            &mut decoded,
        )
        .unwrap();
    assert!(decoded == expected, "the frame as rendered here");
}

#[test]
fn game_rejects_bad_clients_without_harming_others() {
    let server = Server::start(&[]);
    let mut good = Ws::open(&server, "/ws");
    good.send(2, &hello(320, 200));
    let (_, welcome) = good.recv();
    assert_eq!(welcome[0], 2, "Welcome comes first");
    let frame = good.message(4);
    // No labels (no one else yet), the encoding, raw pixels.
    assert_eq!(frame.len(), 1 + 4 + 28 + 4 + 2 + 2 + 1 + 1 + 320 * 200);

    // Input before Hello.
    let mut bad = Ws::open(&server, "/ws");
    bad.send(2, &[3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let (op, err) = bad.recv();
    assert_eq!((op, err[0]), (2, 10), "an Error message first");
    assert_eq!(bad.close_code(), 1008);

    // A viewport out of bounds.
    let mut bad = Ws::open(&server, "/ws");
    bad.send(2, &hello(10_000, 5));
    assert_eq!(bad.recv().1[..3], [10, 3, 0], "Error BadViewport");
    assert_eq!(bad.close_code(), 1008);

    // Garbage.
    let mut bad = Ws::open(&server, "/ws");
    bad.send(2, &[0xee; 40]);
    assert_eq!(bad.recv().1[..3], [10, 1, 0], "Error BadMessage");
    assert_eq!(bad.close_code(), 1008);

    // A flood of pings: rate limited, then closed.
    let mut bad = Ws::open(&server, "/ws");
    bad.send(2, &hello(64, 48));
    for _ in 0..1000 {
        bad.send(2, &[8, 0, 0, 0, 0]);
    }
    assert_eq!(bad.close_code(), 1008);

    // The good player is still served: it turns and gets a new frame.
    good.send(2, &[3, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let before = good.message(4);
    let after = good.message(4);
    assert_ne!(before[5..33], after[5..33], "the camera moved");
}

#[test]
fn sigterm_closes_websockets_with_1001() {
    let server = Server::start(&[]);
    let mut ws = Ws::open(&server, "/echo");
    ws.send(2, b"x");
    assert_eq!(ws.recv().0, 2);
    Command::new("kill")
        .arg(server.child.id().to_string())
        .status()
        .unwrap();
    assert_eq!(ws.close_code(), 1001);
}

fn rss_kib(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Latest frame wins: a client that stops reading gets fewer frames, and neither the
/// server's memory nor the age of the frames it then receives grows with the stall.
#[test]
fn stalled_reader_gets_fewer_frames_not_more_memory() {
    let server = Server::start(&[]);
    let mut ws = Ws::open(&server, "/ws");
    ws.send(2, &hello(800, 450)); // raw frames: 360 KB each
    ws.message(2);
    ws.send(2, &[3, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // hold "turn right"
    let seq = |m: &[u8]| u32::from_le_bytes([m[1], m[2], m[3], m[4]]);
    let first = seq(&ws.message(4));
    let before = rss_kib(&server);
    // Stall for 3 s: frames keep being rendered meanwhile (up to 180).
    std::thread::sleep(Duration::from_secs(3));
    let grown = rss_kib(&server).saturating_sub(before);
    assert!(
        grown < 20 * 1024,
        "server memory grew by {grown} KiB during the stall"
    );
    // What was queued is at most what the socket buffers held plus one frame.
    let mut seqs = Vec::new();
    let resumed = std::time::Instant::now();
    while resumed.elapsed() < Duration::from_millis(300) {
        seqs.push(seq(&ws.message(4)));
    }
    let produced = *seqs.last().unwrap() - first;
    assert!(
        produced >= 30,
        "frames kept coming during the stall: {produced}"
    );
    assert!(
        (seqs.len() as u32) * 2 < produced,
        "{} of {produced} frames delivered: a backlog was queued",
        seqs.len()
    );
    assert!(
        seqs.windows(2).any(|w| w[1] - w[0] > 5),
        "frames were dropped, not queued: {seqs:?}"
    );
}

/// Resize: the frame size follows the page (clamped like the Hello's); a size out of
/// bounds is refused with an Error and changes nothing, the connection stays.
#[test]
fn resize_changes_the_frame_size() {
    let server = Server::start(&[]);
    let mut ws = Ws::open(&server, "/ws");
    ws.send(2, &hello(320, 200));
    let frame_size = |f: &[u8]| {
        (
            u16::from_le_bytes([f[37], f[38]]),
            u16::from_le_bytes([f[39], f[40]]),
        )
    };
    assert_eq!(frame_size(&ws.message(4)), (320, 200));
    ws.send(2, &[19, 0x80, 0x07, 0x38, 0x04]); // Resize 1920x1080
    let resized = ws.message(20);
    assert_eq!(resized, [20, 0x20, 0x03, 0xc2, 0x01], "Resized 800x450");
    // Frames drawn before may still come; then only the new size.
    let mut sizes = Vec::new();
    while sizes.last() != Some(&(800, 450)) {
        ws.send(2, &[3, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        sizes.push(frame_size(&ws.message(4)));
        assert!(sizes.len() < 10, "{sizes:?}");
    }
    ws.send(2, &[19, 10, 0, 5, 0]); // 10x5: too small
    assert_eq!(ws.message(10)[..3], [10, 3, 0], "Error BadViewport");
    ws.send(2, &[8, 9, 0, 0, 0]);
    assert_eq!(ws.message(9), [9, 9, 0, 0, 0], "still connected: Pong");
}

/// The map for browser-side rendering over HTTP, named in the Welcome: the compressed
/// map, cacheable for good, 304 when the cache has it, 404 for another name.
#[test]
fn the_map_is_served_by_its_name_and_cached() {
    let server = Server::start(&[]);
    let mut ws = Ws::open(&server, "/ws");
    ws.send(2, &hello(64, 48));
    let welcome = ws.message(2);
    // The map's name, then the room ("r1", the only one).
    let end = welcome.len() - 4;
    assert_eq!(welcome[end..], [2, 0, b'r', b'1']);
    let id = u64::from_le_bytes(welcome[end - 8..end].try_into().unwrap());
    let target = format!("/map/{id:016x}");
    let response = server.get(&target);
    assert_eq!(
        status(&response),
        "200",
        "{}",
        &response[..200.min(response.len())]
    );
    let (head, _) = response.split_once("\r\n\r\n").unwrap();
    assert!(
        head.contains("Cache-Control: public, max-age=31536000, immutable"),
        "{head}"
    );
    let etag = format!("\"{id:016x}\"");
    assert!(head.contains(&format!("ETag: {etag}")), "{head}");
    // The body, read as bytes this time: the map as the WebSocket would send it.
    let mut s = server.connect();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let map = shared::Map::from_compressed(&raw[at..]).unwrap();
    let default = shared::mapgen::generate(shared::mapgen::DEFAULT_SEED);
    assert_eq!(map.cells(), default.cells());
    let cached = server.exchange(
        format!(
            "GET {target} HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(status(&cached), "304");
    assert_eq!(status(&server.get("/map/0000000000000001")), "404");
    assert_eq!(status(&server.get("/map/../etc/passwd")), "404");
}
