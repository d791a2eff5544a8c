//! The engine's errors, each naming the step that failed and how to react.

use satchel_protocol::{ErrorBody, ErrorCode, RetryClass};

/// Why an engine call failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("creating the profile folder {path} failed")]
    CreateProfileDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("the profile at {0} is open in another process")]
    ProfileLocked(std::path::PathBuf),
    #[error("this profile belongs to {existing}; use another profile for {requested}")]
    ProfileBelongsToAnother { existing: String, requested: String },
    #[error("opening the local database failed")]
    OpenDatabase(#[source] sqlx::Error),
    #[error("migrating the local database failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("local database query failed")]
    Database(#[from] sqlx::Error),
    #[error("local data is corrupt: {0}")]
    Corrupt(String),
    #[error("not signed in")]
    NotSignedIn,
    #[error("invalid input: {0}")]
    Invalid(#[from] satchel_protocol::validate::FieldError),
    #[error("the server could not be reached")]
    Network(#[source] reqwest::Error),
    #[error("the live connection failed: {0}")]
    Connection(String),
    #[error("the server said {}: {}", .0.code_name(), .0.message)]
    Server(ServerError),
    #[error("the server's answer could not be read: {0}")]
    Decode(String),
    #[error("storing the session token failed: {0}")]
    TokenStore(String),
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("file: {0}")]
    File(String),
    /// An order's record could not be exported (incomplete history, destination taken…).
    #[error("export: {0}")]
    Export(String),
    /// The order's rules refuse this (checked locally before queueing; the server
    /// checks the same rules).
    #[error("{0}")]
    OrderRule(#[from] satchel_protocol::order::OrderRuleError),
}

/// An error the server reported, with its HTTP status if it came over HTTP.
#[derive(Debug, Clone)]
pub struct ServerError {
    pub status: Option<u16>,
    pub body: ErrorBody,
}

impl std::ops::Deref for ServerError {
    type Target = ErrorBody;
    fn deref(&self) -> &ErrorBody {
        &self.body
    }
}

impl ServerError {
    fn code_name(&self) -> String {
        serde_json::to_value(self.body.code)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("{:?}", self.body.code))
    }
}

impl EngineError {
    /// How the outbox and the UI should react.
    pub fn retry_class(&self) -> RetryClass {
        match self {
            EngineError::Network(_) | EngineError::Connection(_) => RetryClass::Network,
            EngineError::Server(e) => e.body.code.retry_class(),
            EngineError::NotSignedIn => RetryClass::Reauthenticate,
            _ => RetryClass::Permanent,
        }
    }

    /// The server's error code, if the server refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            EngineError::Server(e) => Some(e.body.code),
            _ => None,
        }
    }
}
