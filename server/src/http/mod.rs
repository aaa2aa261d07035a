//! HTTP/1.1, written here: a sans-IO request parser, response heads and static files.

pub mod files;
pub mod query;
pub mod request;
pub mod response;
