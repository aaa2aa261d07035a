//! A frame payload received from the server (server-side rendering) never panics the
//! decoder. The first bytes pick the viewport and the encoding; with bit 7 of the first
//! byte set, the rest are the inflated planes (deflated here), so the fuzzer reaches the
//! run decoding without having to find valid deflate streams.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shared::Viewport;
use shared::codec::FrameDecoder;
use shared::protocol::FrameEncoding;

fuzz_target!(|data: &[u8]| {
    let [mode, w, h, rest @ ..] = data else {
        return;
    };
    let Ok(viewport) = Viewport::new(64 + u32::from(*w), 48 + u32::from(*h)) else {
        return;
    };
    let encoding = match mode & 3 {
        0 => FrameEncoding::Raw,
        1 => FrameEncoding::Runs,
        _ => FrameEncoding::RunPlanes,
    };
    let deflated;
    let payload = if mode & 0x80 != 0 {
        deflated = miniz_oxide::deflate::compress_to_vec(rest, 1);
        &deflated[..]
    } else {
        rest
    };
    let sky: Vec<u8> = (0..viewport.height())
        .map(|y| 224 + (y % 32) as u8)
        .collect();
    let mut out = vec![0; viewport.pixels()];
    let _ = FrameDecoder::new().decode(payload, viewport, encoding, &sky, &mut out);
});
