//! Satchel's shared language: the types that cross the wire and the rules for
//! user-supplied fields. Nothing here performs IO or needs an async runtime, so the
//! server, the sync engine and any other client agree on one definition.
//!
//! Map:
//! - [`ids`]: typed identifiers (members, conversations, messages, stream positions,
//!   devices, client transaction ids).
//! - [`chain`]: the hash chain that makes each conversation's history tamper-evident.
//! - [`domain`]: workspace, organisations, members, conversations and messages.
//! - [`order`]: order details and the record an order's conversation keeps (spec
//!   sheet cards with revisions, stage gates, progress, shipments).
//! - [`api`]: HTTP request and response bodies.
//! - [`ws`]: WebSocket frames in a versioned envelope.
//! - [`export`]: an order's exported record (manifest) and its offline check.
//! - [`error`]: error codes shared by HTTP and WebSocket, with their retry class.
//! - [`validate`]: length and character rules for every user-supplied field.

pub mod api;
pub mod chain;
pub mod domain;
pub mod error;
pub mod export;
pub mod ids;
pub mod order;
pub mod review;
pub mod validate;
pub mod ws;

pub use domain::*;
pub use error::{ErrorBody, ErrorCode, RetryClass};
pub use ids::*;

/// The protocol version spoken by this build. Frames carrying another version are
/// refused with [`ErrorCode::UnsupportedVersion`].
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest WebSocket frame either side accepts. Text messages are capped far below
/// this (see [`validate::MAX_TEXT_CHARS`]), so a frame over the limit is always abuse or
/// a bug; the server answers it with [`ErrorCode::FrameTooLarge`] and keeps the
/// connection.
pub const MAX_FRAME_BYTES: usize = 256 * 1024;

/// Largest HTTP JSON body the server reads.
pub const MAX_HTTP_BODY_BYTES: usize = 256 * 1024;

/// Milliseconds since the Unix epoch, UTC. All timestamps on the wire use this.
pub type UnixMillis = i64;
