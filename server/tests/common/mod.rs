//! What the server's integration tests share: a server process on a free port with a
//! web root of its own, and a minimal blocking WebSocket client.
#![allow(dead_code)] // each test file uses its own part

pub mod flight;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A few kilobytes of script, to be served compressed.
pub fn big_js() -> String {
    "console.log('voxelcast'); // a line of script\n".repeat(100)
}

pub struct Server {
    pub child: Child,
    pub addr: String,
    pub dir: PathBuf,
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        Server::launch(extra, false)
    }

    /// Like [`Server::start`], with everything down to debug logged to [`Server::log`].
    pub fn start_logged(extra: &[&str]) -> Server {
        Server::launch(extra, true)
    }

    /// What the server has logged so far (a server started with `start_logged`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    fn launch(extra: &[&str], logged: bool) -> Server {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("voxelcast-http-{}-{n}", std::process::id()));
        let www = dir.join("www");
        std::fs::create_dir_all(www.join("pkg")).unwrap();
        std::fs::write(www.join("index.html"), "<!doctype html><title>t</title>").unwrap();
        std::fs::write(www.join("pkg/client_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
        std::fs::write(www.join("big.js"), big_js()).unwrap();
        std::fs::write(dir.join("secret.txt"), "secret").unwrap();
        let _ = std::os::unix::fs::symlink(dir.join("secret.txt"), www.join("leak.txt"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--addr", "127.0.0.1:0", "--www"])
            .arg(&www)
            .args(if extra.contains(&"--data") {
                vec![] // the caller's
            } else {
                vec!["--data".into(), dir.join("data")]
            })
            .args([
                "--echo",
                "--echo-max-message",
                "1024",
                "--head-timeout",
                "1",
            ])
            .args(extra)
            .env("RUST_LOG", if logged { "debug" } else { "warn" })
            .stdout(Stdio::piped())
            .stderr(match logged {
                true => Stdio::from(std::fs::File::create(dir.join("server.log")).unwrap()),
                false => Stdio::inherit(),
            })
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .trim_start_matches("voxelcast is running: open http://")
            .trim_end_matches('/')
            .to_owned();
        assert!(addr.starts_with("127.0.0.1:"), "{line}");
        Server { child, addr, dir }
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    /// Sends raw bytes and reads the whole answer until the server closes.
    pub fn exchange(&self, request: &[u8]) -> String {
        let mut s = self.connect();
        s.write_all(request).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    pub fn get(&self, target: &str) -> String {
        self.exchange(
            format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Sends `request` to `addr` and reads the whole answer until the peer closes.
pub fn exchange_at(addr: &str, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// A Hello for browser-side rendering at 64x48, raw frames, no name.
pub fn client_hello() -> Vec<u8> {
    hello("")
}

/// A Hello for browser-side rendering at 64x48, raw frames, asking for `name`.
pub fn hello(name: &str) -> Vec<u8> {
    use shared::protocol::{Hello, Message, RenderMode, VERSION};
    let mut body = Vec::new();
    Message::Hello(Hello {
        version: VERSION,
        mode: RenderMode::Client,
        width: 64,
        height: 48,
        encodings: 1,
        name: name.into(),
    })
    .encode(&mut body);
    body
}

pub fn status(response: &str) -> &str {
    response.get(9..12).unwrap_or("")
}

/// A minimal blocking WebSocket client for the tests.
pub struct Ws(pub TcpStream);

impl Ws {
    pub fn open(server: &Server, path: &str) -> Ws {
        Ws::open_with(server, path, "").0
    }

    /// Opens with `extra` header lines; returns the response head too.
    pub fn open_with(server: &Server, path: &str, extra: &str) -> (Ws, String) {
        Ws::open_sending(server, path, extra, &[])
    }

    /// Opens with `extra` header lines and `behind` written in the same write as the
    /// request; returns the response head too.
    pub fn open_sending(server: &Server, path: &str, extra: &str, behind: &[u8]) -> (Ws, String) {
        Ws::handshake(server.connect(), path, extra, behind)
    }

    /// Opens a WebSocket to `addr` (a server or a proxy) with `extra` header lines.
    pub fn open_at(addr: &str, path: &str, extra: &str) -> (Ws, String) {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        Ws::handshake(s, path, extra, &[])
    }

    fn handshake(mut s: TcpStream, path: &str, extra: &str, behind: &[u8]) -> (Ws, String) {
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n").into_bytes();
        request.extend_from_slice(behind);
        s.write_all(&request).unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8];
            s.read_exact(&mut b).unwrap();
            head.push(b[0]);
        }
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert!(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        (Ws(s), head)
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.0.write_all(bytes).unwrap();
    }

    /// Sends a masked frame (mask 0: the payload goes out as it is).
    pub fn send(&mut self, opcode: u8, payload: &[u8]) {
        self.send_raw(&Ws::frame(opcode, payload));
    }

    /// A masked frame's bytes.
    pub fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x80 | opcode];
        if payload.len() < 126 {
            f.push(0x80 | payload.len() as u8);
        } else {
            f.push(0x80 | 126);
            f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        f.extend_from_slice(&[0; 4]);
        f.extend_from_slice(payload);
        f
    }

    /// Reads one server frame: (opcode, payload).
    pub fn recv(&mut self) -> (u8, Vec<u8>) {
        let (b0, payload) = self.recv_frame();
        (b0 & 0x0f, payload)
    }

    /// Reads one server frame: (first header byte, payload).
    pub fn recv_frame(&mut self) -> (u8, Vec<u8>) {
        let mut h = [0u8; 2];
        self.0.read_exact(&mut h).unwrap();
        assert_eq!(h[1] & 0x80, 0, "server frames are unmasked");
        let len = match h[1] & 0x7f {
            126 => {
                let mut b = [0u8; 2];
                self.0.read_exact(&mut b).unwrap();
                u16::from_be_bytes(b) as usize
            }
            127 => {
                let mut b = [0u8; 8];
                self.0.read_exact(&mut b).unwrap();
                u64::from_be_bytes(b) as usize
            }
            n => n as usize,
        };
        let mut payload = vec![0; len];
        self.0.read_exact(&mut payload).unwrap();
        (h[0], payload)
    }

    /// Skips other messages until one with this protocol tag; returns it.
    pub fn message(&mut self, tag: u8) -> Vec<u8> {
        loop {
            let (op, p) = self.recv();
            assert_ne!(op, 8, "closed while waiting for message {tag}");
            if p.first() == Some(&tag) {
                return p;
            }
        }
    }

    /// Skips data frames until a close frame (its code) or the connection's end (`None`).
    pub fn close_code_or_gone(&mut self) -> Option<u16> {
        loop {
            let mut h = [0u8; 2];
            if self.0.read_exact(&mut h).is_err() {
                return None;
            }
            let len = match h[1] & 0x7f {
                126 => {
                    let mut b = [0u8; 2];
                    self.0.read_exact(&mut b).ok()?;
                    u16::from_be_bytes(b) as usize
                }
                127 => {
                    let mut b = [0u8; 8];
                    self.0.read_exact(&mut b).ok()?;
                    u64::from_be_bytes(b) as usize
                }
                n => n as usize,
            };
            let mut payload = vec![0; len];
            self.0.read_exact(&mut payload).ok()?;
            if h[0] & 0x0f == 8 {
                return payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
            }
        }
    }

    /// Skips data frames until a close frame; returns its code.
    pub fn close_code(&mut self) -> u16 {
        loop {
            let (op, p) = self.recv();
            if op == 8 {
                return u16::from_be_bytes([p[0], p[1]]);
            }
        }
    }
}
