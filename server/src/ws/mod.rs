//! The WebSocket stack (RFC 6455), written here: handshake, framing, message assembly and
//! the connection driver. Everything but `conn` is sans-IO.

pub mod base64;
pub mod conn;
pub mod deflate;
pub mod frame;
pub mod handshake;
pub mod outbox;
pub mod receiver;
pub mod sha1;
pub mod utf8;
