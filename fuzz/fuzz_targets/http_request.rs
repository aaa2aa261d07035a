//! The HTTP request-head parser and the static-file path mapping never panic, and no
//! path that comes out can leave the web root.
#![no_main]
use libfuzzer_sys::fuzz_target;
use server::http::files::relative_path;
use server::http::request::{Limits, parse};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((req, n))) = parse(data, &Limits::default()) {
        assert!(n <= data.len());
        if let Ok(path) = relative_path(&req.target) {
            assert!(
                path.components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)))
            );
        }
    }
});
