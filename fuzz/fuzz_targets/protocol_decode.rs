//! Decoding untrusted protocol bytes never panics, and whatever decodes re-encodes to
//! the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shared::protocol::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = Message::decode(data) {
        let mut again = Vec::new();
        msg.encode(&mut again);
        assert_eq!(again, data);
    }
});
