//! The voxelcast server as a library: the binary in `main.rs` is a thin shell over it, and
//! the integration tests, benchmarks and fuzz targets use the same modules.
//!
//! **Invariant:** only this crate touches sockets and files. HTTP and WebSocket parsing
//! (`http::request`, `ws::frame`, `ws::receiver`, `ws::handshake`) is sans-IO: byte
//! slices in, typed results out; `net` and `ws::conn` do the I/O.

pub mod accounts;
pub mod chat;
pub mod cli;
pub mod cluster;
pub mod game;
pub mod http;
pub mod maps;
pub mod net;
pub mod snapshot;
pub mod store;
pub mod video;
pub mod ws;
