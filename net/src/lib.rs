//! I/O for actors: the mio reactor, TCP, HTTP/2 over TLS, and the bridge that
//! lets an actor await a Rust future.
//!
//! Nothing here yet: it is built by its own issue on top of `scheduler`.
#![forbid(unsafe_code)]
