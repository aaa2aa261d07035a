//! permessage-deflate (RFC 7692): negotiating it in the handshake, and compressing and
//! decompressing whole messages. Sans-IO: bytes in, bytes out.
//!
//! We never keep a compression context across our own messages (we answer with
//! `server_no_context_takeover`), so a connection holds no compressor: one per thread is
//! reset for every message. The peer may keep its context unless it offered not to, so
//! the decompressor lives as long as the connection, allocated at its first compressed
//! message.

use miniz_oxide::deflate::core::{
    CompressionStrategy, CompressorOxide, TDEFLFlush, TDEFLStatus, compress_to_output,
    create_comp_flags_from_zip_params,
};
use miniz_oxide::inflate::stream::{InflateState, inflate};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};
use shared::codec::Flush;
use std::cell::RefCell;
use thiserror::Error;

/// What a sync flush ends with; RFC 7692 7.2.1 drops it from the wire, 7.2.2 puts it back.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The outcome of a successful negotiation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deflate {
    /// The largest window we may use when compressing, if the offer set one
    /// (`server_max_window_bits`; 15 otherwise). Accepting it means echoing it.
    pub server_window_bits: Option<u8>,
    /// The peer resets its context for every message: so do we when decompressing.
    pub client_no_context_takeover: bool,
}

impl Deflate {
    /// The `Sec-WebSocket-Extensions` value that accepts the offer.
    pub fn response(&self) -> String {
        let mut r = String::from("permessage-deflate; server_no_context_takeover");
        if self.client_no_context_takeover {
            r.push_str("; client_no_context_takeover");
        }
        if let Some(bits) = self.server_window_bits {
            r.push_str(&format!("; server_max_window_bits={bits}"));
        }
        r
    }
}

/// What an endpoint accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// No compression.
    Off,
    /// permessage-deflate as the peer offers it.
    Accept,
    /// permessage-deflate, but the peer must compress each message on its own
    /// (`client_no_context_takeover`, which a server may demand, RFC 7692 7.1.1.2): the
    /// connection then keeps no decompressor between messages.
    Stateless,
}

/// Picks the first acceptable permessage-deflate offer from the `Sec-WebSocket-Extensions`
/// header values; `None` declines them all (the connection goes on uncompressed).
pub fn negotiate<'a>(
    headers: impl IntoIterator<Item = &'a str>,
    policy: Policy,
) -> Option<Deflate> {
    if policy == Policy::Off {
        return None;
    }
    let mut deflate = headers
        .into_iter()
        .flat_map(|h| h.split(','))
        .find_map(parse_offer)?;
    deflate.client_no_context_takeover |= policy == Policy::Stateless;
    Some(deflate)
}

/// One offer: `permessage-deflate; param[=value]; ...`. Unknown, repeated or malformed
/// parameters make it unacceptable (RFC 7692 5.1).
fn parse_offer(offer: &str) -> Option<Deflate> {
    let mut parts = offer.split(';').map(str::trim);
    if !parts.next()?.eq_ignore_ascii_case("permessage-deflate") {
        return None;
    }
    let mut deflate = Deflate {
        server_window_bits: None,
        client_no_context_takeover: false,
    };
    let mut seen = [false; 4];
    for param in parts {
        let (name, value) = match param.split_once('=') {
            Some((n, v)) => {
                let v = v.trim();
                let v = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(v);
                (n.trim(), Some(v))
            }
            None => (param, None),
        };
        let which = [
            "server_no_context_takeover",
            "client_no_context_takeover",
            "server_max_window_bits",
            "client_max_window_bits",
        ]
        .iter()
        .position(|p| p.eq_ignore_ascii_case(name))?;
        if std::mem::replace(&mut seen[which], true) {
            return None;
        }
        match (which, value) {
            (0, None) => {}
            (1, None) => deflate.client_no_context_takeover = true,
            (2, Some(v)) => deflate.server_window_bits = Some(window_bits(v)?),
            // We read any window up to 15 bits: the client's limit needs no answer.
            (3, None) => {}
            (3, Some(v)) => {
                window_bits(v)?;
            }
            _ => return None,
        }
    }
    Some(deflate)
}

/// `8`..=`15`, digits only, no leading zero.
fn window_bits(v: &str) -> Option<u8> {
    if v.starts_with('0') || !v.bytes().all(|b| b.is_ascii_digit()) || v.len() > 2 {
        return None;
    }
    v.parse().ok().filter(|b| (8..=15).contains(b))
}

/// What a message holds, for choosing how to compress it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Content {
    /// Anything: LZ77 matches and Huffman codes, level 1.
    Any,
    /// Frames of run planes: Huffman codes only, as [`shared::codec::deflate_planes`]
    /// does (no matches, so any window allows it), a block for each of the message's
    /// `parts` (its length codes and colours start at these offsets).
    RunPlanes { parts: [usize; 2] },
}

thread_local! {
    /// Window bits it was made for, and the compressor (a few hundred KiB: one a thread).
    static COMPRESSOR: RefCell<Option<(u8, Box<CompressorOxide>)>> = const { RefCell::new(None) };
    /// The decompressor of peers that keep no context (about 43 KiB: one a thread).
    static INFLATER: RefCell<Option<Box<InflateState>>> = const { RefCell::new(None) };
}

/// Compresses one message's payload for the wire (without the sync-flush tail).
pub fn compress(payload: &[u8], deflate: Deflate, content: Content, out: &mut Vec<u8>) {
    match content {
        Content::RunPlanes { parts } => {
            let [a, b] = parts.map(|at| at.min(payload.len()));
            let (head, rest) = payload.split_at(a.min(b));
            let (lengths, colours) = rest.split_at(b - a.min(b));
            shared::codec::deflate_planes(&[head, lengths, colours], Flush::Sync, out)
        }
        Content::Any => compress_any(payload, deflate.server_window_bits.unwrap_or(15), out),
    }
    if out.ends_with(&TAIL) {
        out.truncate(out.len() - TAIL.len());
    }
}

fn compress_any(payload: &[u8], bits: u8, out: &mut Vec<u8>) {
    COMPRESSOR.with_borrow_mut(|slot| {
        let compressor = match slot {
            Some((b, c)) if *b == bits => c,
            _ => {
                // miniz cannot shrink its window; below 32 KiB only runs of one byte
                // (distance 1) are looked for, which any window allows.
                let strategy = if bits < 15 {
                    CompressionStrategy::RLE
                } else {
                    CompressionStrategy::Default
                };
                let flags = create_comp_flags_from_zip_params(1, -15, strategy as i32);
                &mut slot.insert((bits, Box::new(CompressorOxide::new(flags)))).1
            }
        };
        out.clear();
        let (status, _) = compress_to_output(compressor, payload, TDEFLFlush::Sync, |chunk| {
            out.extend_from_slice(chunk);
            true
        });
        compressor.reset();
        debug_assert_eq!(status, TDEFLStatus::Okay);
    });
}

#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum InflateError {
    #[error("compressed message inflates past {0} bytes")]
    TooBig(usize),
    #[error("compressed message is not valid deflate data")]
    Corrupt,
}

/// A connection's decompressor.
#[derive(Default)]
pub struct Inflater {
    state: Option<Box<InflateState>>,
    no_context_takeover: bool,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("allocated", &self.state.is_some())
            .finish()
    }
}

impl Inflater {
    pub fn new(deflate: Deflate) -> Inflater {
        Inflater {
            state: None,
            no_context_takeover: deflate.client_no_context_takeover,
        }
    }

    /// Decompresses one message. `message` is the payload as received; the sync-flush
    /// tail is appended to it here. At most `max` bytes come out.
    pub fn inflate(&mut self, message: &mut Vec<u8>, max: usize) -> Result<Vec<u8>, InflateError> {
        message.extend_from_slice(&TAIL);
        if self.no_context_takeover {
            // Every message starts afresh: borrow the thread's state.
            return INFLATER.with_borrow_mut(|state| {
                let state = state.get_or_insert_with(|| InflateState::new_boxed(DataFormat::Raw));
                state.reset(DataFormat::Raw);
                inflate_all(state, message, max)
            });
        }
        let state = self
            .state
            .get_or_insert_with(|| InflateState::new_boxed(DataFormat::Raw));
        let result = inflate_all(state, message, max);
        if result.is_err() {
            // A broken stream cannot go on.
            self.state = None;
        }
        result
    }
}

fn inflate_all(
    state: &mut InflateState,
    input: &[u8],
    max: usize,
) -> Result<Vec<u8>, InflateError> {
    let mut out = Vec::with_capacity((input.len() * 4).min(max).max(64));
    let mut pos = 0;
    loop {
        if out.len() >= max {
            // Full: is there more to come? One byte more says so.
            let mut probe = [0u8; 1];
            let r = inflate(state, &input[pos..], &mut probe, MZFlush::Sync);
            if r.bytes_written > 0 {
                return Err(InflateError::TooBig(max));
            }
            return Ok(out);
        }
        if out.len() == out.capacity() {
            out.reserve(out.len().clamp(64, max - out.len()));
        }
        let len = out.len();
        let room = (out.capacity() - len).min(max - len);
        out.resize(len + room, 0);
        let r = inflate(state, &input[pos..], &mut out[len..], MZFlush::Sync);
        out.truncate(len + r.bytes_written);
        pos += r.bytes_consumed;
        match r.status {
            Ok(MZStatus::StreamEnd) => {
                // The peer ended its stream (BFINAL): whatever follows starts a new one.
                state.reset(DataFormat::Raw);
                return Ok(out);
            }
            Ok(_) if pos == input.len() && r.bytes_written < room => return Ok(out),
            Ok(_) => {}
            Err(MZError::Buf) if pos == input.len() => return Ok(out),
            Err(_) => return Err(InflateError::Corrupt),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(h: &str) -> Option<Deflate> {
        negotiate([h], Policy::Accept)
    }

    #[test]
    fn negotiation() {
        let plain = Deflate {
            server_window_bits: None,
            client_no_context_takeover: false,
        };
        assert_eq!(offer("permessage-deflate"), Some(plain));
        // What Chromium offers.
        assert_eq!(
            offer("permessage-deflate; client_max_window_bits"),
            Some(plain)
        );
        assert_eq!(
            offer("permessage-deflate; server_max_window_bits=10; client_no_context_takeover"),
            Some(Deflate {
                server_window_bits: Some(10),
                client_no_context_takeover: true
            })
        );
        assert_eq!(
            offer("permessage-deflate; server_max_window_bits=\"9\"").map(|d| d.server_window_bits),
            Some(Some(9))
        );
        // Bad offers are declined, and the next one is taken.
        for bad in [
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; client_max_window_bits=x",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; mystery",
            "x-webkit-deflate-frame",
            "",
        ] {
            assert_eq!(offer(bad), None, "{bad}");
        }
        assert_eq!(
            negotiate(
                ["foo, permessage-deflate; bogus", "permessage-deflate"],
                Policy::Accept
            ),
            Some(plain)
        );
        assert_eq!(negotiate(["permessage-deflate"], Policy::Off), None);
        assert_eq!(
            negotiate(["permessage-deflate"], Policy::Stateless),
            Some(Deflate {
                server_window_bits: None,
                client_no_context_takeover: true
            })
        );
        assert_eq!(
            plain.response(),
            "permessage-deflate; server_no_context_takeover"
        );
        // An offered window, even the largest, is accepted by echoing it.
        assert_eq!(
            offer("permessage-deflate; server_max_window_bits=15")
                .unwrap()
                .response(),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=15"
        );
        assert_eq!(
            Deflate {
                server_window_bits: Some(9),
                client_no_context_takeover: true
            }
            .response(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9"
        );
    }

    /// RFC 7692 7.2.3.1 and 7.2.3.2: "Hello", then "Hello" again with the context kept.
    #[test]
    fn rfc7692_examples() {
        let mut inflater = Inflater::new(offer("permessage-deflate").unwrap());
        let mut first = vec![0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(inflater.inflate(&mut first, 1000).unwrap(), b"Hello");
        let mut second = vec![0xf2, 0x00, 0x11, 0x00, 0x00];
        assert_eq!(inflater.inflate(&mut second, 1000).unwrap(), b"Hello");
        // 7.2.3.3: no compression (a stored block).
        let mut stored = vec![
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        assert_eq!(inflater.inflate(&mut stored, 1000).unwrap(), b"Hello");
        // 7.2.3.4: BFINAL set.
        let mut last = vec![0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        assert_eq!(inflater.inflate(&mut last, 1000).unwrap(), b"Hello");
        let mut after = vec![0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(inflater.inflate(&mut after, 1000).unwrap(), b"Hello");
    }

    #[test]
    fn round_trips_and_limits() {
        let text: Vec<u8> = (0..100_000u32)
            .flat_map(|i| format!("{} ", i % 977).into_bytes())
            .collect();
        for bits in [15, 12, 8] {
            let d = Deflate {
                server_window_bits: Some(bits),
                client_no_context_takeover: true,
            };
            let mut wire = Vec::new();
            compress(&text, d, Content::Any, &mut wire);
            assert!(wire.len() < text.len() / 2, "{bits}: {}", wire.len());
            let mut inflater = Inflater::new(d);
            let mut again = wire.clone();
            assert_eq!(inflater.inflate(&mut again, text.len()).unwrap(), text);
            let mut again = wire.clone();
            assert_eq!(
                inflater.inflate(&mut again, text.len() - 1),
                Err(InflateError::TooBig(text.len() - 1))
            );
            compress(b"", d, Content::Any, &mut wire);
            assert_eq!(inflater.inflate(&mut wire, 10).unwrap(), b"");
        }
        let mut junk = vec![0xff; 20];
        let mut inflater = Inflater::default();
        assert_eq!(inflater.inflate(&mut junk, 100), Err(InflateError::Corrupt));
    }

    /// Literals only (frames of run planes) at every window a client may ask for. (How it
    /// compares with matches is measured by the flight benchmark, over many frames.)
    #[test]
    fn run_planes_compress_with_literals_only() {
        use shared::codec::FrameEncoder;
        use shared::protocol::FrameEncoding;
        let map = shared::mapgen::generate_sized(256, 5);
        let v = shared::Viewport::new(320, 200).unwrap();
        let mut renderer = shared::Renderer::new();
        let mut frame = vec![0; v.pixels()];
        renderer.render(
            &map,
            &shared::Camera::default(),
            &Default::default(),
            v,
            &mut frame,
        );
        let mut encoder = FrameEncoder::new();
        let planes = encoder.encode(&frame, v, FrameEncoding::RunPlanes, renderer.sky());
        let [head, lengths, _] = shared::codec::plane_parts(planes, 320);
        let parts = [head.len(), head.len() + lengths.len()];
        let mut literals = Vec::new();
        for bits in [8, 12, 15] {
            let d = Deflate {
                server_window_bits: Some(bits),
                client_no_context_takeover: true,
            };
            // One block, then a block a plane: smaller (each plane's own codes).
            let whole = Content::RunPlanes { parts: [0, 0] };
            compress(planes, d, whole, &mut literals);
            let one_block = literals.len();
            compress(planes, d, Content::RunPlanes { parts }, &mut literals);
            assert!(
                literals.len() < one_block,
                "{} against {one_block}",
                literals.len()
            );
            // Less to squeeze than before protocol 2 packed two short run lengths in a
            // byte (then under 3/4): the planes are denser, the frame about as small.
            assert!(
                literals.len() < planes.len() * 9 / 10,
                "{bits}: {} of {}",
                literals.len(),
                planes.len()
            );
            let mut again = literals.clone();
            assert_eq!(
                Inflater::new(d).inflate(&mut again, 1 << 20).unwrap(),
                planes
            );
        }
    }

    /// Below 15 window bits only runs of one byte are matched (distance 1), which any
    /// window allows; the Autobahn 13.x cases check it with zlib at those windows.
    #[test]
    fn small_windows_still_compress_runs() {
        let text = b"abcabcabcabcabcabcaaaaaaaaaaaaaaaaaaaaaaaaaabcabc".repeat(50);
        let d = Deflate {
            server_window_bits: Some(8),
            client_no_context_takeover: false,
        };
        let mut wire = Vec::new();
        compress(&text, d, Content::Any, &mut wire);
        let mut inflater = Inflater::new(d);
        assert_eq!(inflater.inflate(&mut wire.clone(), 1 << 20).unwrap(), text);
        assert!(wire.len() < text.len());
    }
}
