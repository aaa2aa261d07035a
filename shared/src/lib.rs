//! Everything the server and the browser share: the Voxel Space renderer, maps (the
//! embedded default and PNG loading), and the wire protocol.
//!
//! **Invariant:** this crate does no I/O: no files, no sockets, no clocks. It takes bytes
//! and gives bytes, so it builds and behaves the same on native and `wasm32`.

pub mod camera;
pub mod codec;
pub mod course;
pub mod flight;
#[cfg(feature = "png")]
pub mod loader;
pub mod map;
pub mod mapgen;
pub mod protocol;
pub mod render;
pub mod sprite;
mod transpose;

pub use camera::{Camera, Viewport};
pub use map::{Map, Palette};
pub use render::{RenderOptions, Renderer};
