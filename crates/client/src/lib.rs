//! The Satchel sync engine: everything a client does except drawing.
//!
//! Map:
//! - [`engine`]: [`Engine`], the API a UI drives — sign in, send, read history, mark
//!   read, subscribe to changes.
//! - [`preview`]: chat and list previews of images (EXIF-oriented, never upscaled).
//! - [`sync`]: the live connection and the outbox protocol (exactly-once sends,
//!   resume from the stored stream position, classified retries).
//! - [`export`]: an order's record as a folder or ZIP of evidence, and its offline check.
//! - [`integrity`]: checking the server's hash chain as history arrives; alarms.
//! - [`local`]: the profile's SQLite database (history, outbox, receipts, position).
//! - [`api`]: a typed HTTP client for the server's routes.
//! - [`token`]: where the session token is kept.
//! - [`transfer`]: the file cache, resumable uploads and verified downloads.
//! - [`watch`]: folders whose new files are sent automatically.
//! - [`error`]: [`EngineError`] with its retry class.
//!
//! The engine never imports a UI framework; the desktop shell adapts it.

pub mod api;
pub mod engine;
pub mod error;
pub mod export;
pub mod integrity;
pub mod local;
pub mod preview;
pub mod search;
pub mod sync;
pub mod token;
pub mod transfer;
pub mod watch;

pub use engine::{Account, Change, ChangeBatch, ConnectionState, Engine};
pub use error::EngineError;
pub use integrity::{ChainAlarm, ChainProblem};
pub use local::{
    ConversationSummary, DeadlineAlert, DeadlineAlertKind, LocalMessage, ReadState, SearchHit,
    SearchQuery, SendState,
};
pub use search::{SearchKind, SearchOrder};
