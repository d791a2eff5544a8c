//! Helpers for Satchel's tests and benchmarks. Everything here is real: servers listen
//! on ephemeral loopback ports, databases are files in temporary folders, processes
//! are the real binaries.
//!
//! - [`TestServer`]: an in-process server with an initialised workspace.
//! - [`ServerProcess`]: the `satchel-server` binary, which tests can SIGKILL and restart.
//! - [`ChaosProxy`]: a byte-level TCP proxy that cuts, resets and refuses connections.
//! - [`Workspace`]: a factory with staff and two customer organisations, for tests.
//! - [`corpus`]: a generated mixed Chinese/English chat history for search.

pub mod corpus;
mod proxy;
mod server;

pub use proxy::ChaosProxy;
pub use server::*;
