//! The WebSocket frame decoder and message assembler never panics, whatever the bytes and
//! however they are split, and never holds a message over its limit — compressed
//! (permessage-deflate, chosen by the first byte's top bit) or not. It is fed on after
//! errors too, as a connection does while it waits for the peer's Close.
#![no_main]
use bytes::{Buf, BytesMut};
use libfuzzer_sys::fuzz_target;
use server::ws::deflate::{Policy, negotiate};
use server::ws::receiver::{Event, Receiver};

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let deflate = (split & 0x80 != 0)
        .then(|| negotiate(["permessage-deflate"], Policy::Accept))
        .flatten();
    let split = split & 0x7f;
    let mut r = Receiver::new(4096).with_deflate(deflate);
    let mut buf = BytesMut::new();
    for chunk in data.chunks(split as usize + 1) {
        buf.extend_from_slice(chunk);
        loop {
            // As a connection does: whole frames split off in place first.
            let (n, res) = match r.whole_message(&mut buf) {
                Some(res) => (0, res.map(Some)),
                None => r.feed(&buf),
            };
            buf.advance(n);
            match res {
                Ok(Some(Event::Message(_, m))) => assert!(m.len() <= 4096),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => {}
            }
        }
    }
});
