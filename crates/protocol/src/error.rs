//! Error codes shared by every HTTP route and WebSocket frame.

use serde::{Deserialize, Serialize};

/// A machine-readable error. The server sends it with a human-readable message that
/// never contains internal details (SQL, paths, stack traces).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request body or frame is not valid JSON of the expected shape.
    MalformedRequest,
    /// A WebSocket frame whose `type` is not known to this protocol version.
    UnknownFrameType,
    /// A WebSocket frame over [`crate::MAX_FRAME_BYTES`], or an HTTP body over
    /// [`crate::MAX_HTTP_BODY_BYTES`].
    FrameTooLarge,
    /// A binary WebSocket frame, or text that is not UTF-8.
    InvalidEncoding,
    /// The envelope names a protocol version this server does not speak.
    UnsupportedVersion,
    /// A field failed validation; the message names the field.
    InvalidField,
    /// No token, or a token that is unknown, expired or revoked.
    Unauthenticated,
    /// Wrong username or password.
    InvalidCredentials,
    /// Too many attempts; retry after the time given in the message.
    RateLimited,
    /// Authenticated, but not allowed to do this.
    Forbidden,
    /// The object does not exist or is not visible to the caller. The server answers
    /// both cases alike so ids of other organisations cannot be probed.
    NotFound,
    /// The object already exists (a username, an organisation name).
    Conflict,
    /// The message kind is valid but not accepted by this server yet.
    UnsupportedKind,
    /// A server-side failure. Safe to retry.
    Internal,
    /// The server is shutting down or overloaded. Safe to retry.
    Unavailable,
    /// An upload chunk was sent at another offset than the upload's current one; the
    /// message gives the current offset, and `GET` on the upload returns it too.
    OffsetMismatch,
    /// A chunk's bytes do not match its `Upload-Checksum`; nothing of it was stored.
    ChecksumMismatch,
    /// The finished upload's bytes do not hash to the declared SHA-256; the upload is
    /// discarded and must start again.
    HashMismatch,
    /// The member's storage quota would be exceeded.
    QuotaExceeded,
}

/// How a client should react to an error. The outbox retries the first two and shows
/// the third to the user as "not sent".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryClass {
    /// The connection broke; retry when it is back.
    Network,
    /// The server could not do it now; retry with backoff.
    Transient,
    /// Retrying the same request can never succeed.
    Permanent,
    /// The session is no longer valid; sign in again, then retry.
    Reauthenticate,
}

impl ErrorCode {
    /// What a client should do after receiving this code.
    pub fn retry_class(self) -> RetryClass {
        match self {
            ErrorCode::Internal | ErrorCode::Unavailable | ErrorCode::RateLimited => {
                RetryClass::Transient
            }
            ErrorCode::Unauthenticated => RetryClass::Reauthenticate,
            ErrorCode::MalformedRequest
            | ErrorCode::UnknownFrameType
            | ErrorCode::FrameTooLarge
            | ErrorCode::InvalidEncoding
            | ErrorCode::UnsupportedVersion
            | ErrorCode::InvalidField
            | ErrorCode::InvalidCredentials
            | ErrorCode::Forbidden
            | ErrorCode::NotFound
            | ErrorCode::Conflict
            | ErrorCode::UnsupportedKind
            | ErrorCode::HashMismatch
            | ErrorCode::QuotaExceeded => RetryClass::Permanent,
            // The client re-reads the offset (or resends the chunk) and goes on.
            ErrorCode::OffsetMismatch | ErrorCode::ChecksumMismatch => RetryClass::Transient,
        }
    }

    /// The HTTP status the server uses for this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::MalformedRequest
            | ErrorCode::UnknownFrameType
            | ErrorCode::InvalidEncoding
            | ErrorCode::UnsupportedVersion => 400,
            ErrorCode::InvalidField => 422,
            ErrorCode::FrameTooLarge => 413,
            ErrorCode::Unauthenticated | ErrorCode::InvalidCredentials => 401,
            ErrorCode::RateLimited => 429,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict => 409,
            ErrorCode::UnsupportedKind => 422,
            ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 503,
            ErrorCode::OffsetMismatch => 409,
            ErrorCode::ChecksumMismatch | ErrorCode::HashMismatch => 460,
            ErrorCode::QuotaExceeded => 507,
        }
    }
}

/// The body of every error response, and the payload of the WebSocket `error` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

impl ErrorBody {
    /// An error with the given code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            code,
            message: message.into(),
        }
    }
}
