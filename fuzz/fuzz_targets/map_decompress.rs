//! A map received from the network (client-side rendering) never panics the decoder.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = shared::Map::from_compressed(data);
});
