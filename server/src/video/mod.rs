//! Server-rendered frames as video: for links too slow for the lossless encodings.
//!
//! `yuv` turns palette frames into the encoder's pictures (and measures what a viewer
//! sees), `encoder` wraps OpenH264, `pacer` decides how fast each stream may go from the
//! client's acknowledgements.

pub mod encoder;
pub mod pacer;
pub mod yuv;

pub use encoder::{Encoded, Settings, VideoEncoder, VideoError};
pub use pacer::Pacer;
