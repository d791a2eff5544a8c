//! HTTP routes, one router per resource, and the pieces they share: the error type,
//! the authenticated-session extractor and a JSON extractor with protocol errors.

pub mod accounts;
pub mod conversations;
pub mod events;
pub mod files;
pub mod invites;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use satchel_protocol::validate::FieldError;
use satchel_protocol::{ErrorBody, ErrorCode};

use crate::committer::CommitError;
use crate::store::{Session, StoreError};
use crate::AppState;

/// An error as the client sees it: a code and a message safe to show. Internal failures
/// are logged here and reach the client only as `internal`.
#[derive(Debug)]
pub struct ApiError(pub ErrorBody);

impl ApiError {
    /// An error with a code and a client-visible message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError(ErrorBody::new(code, message))
    }

    pub(crate) fn internal(what: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %what, "internal error");
        ApiError::new(ErrorCode::Internal, "internal error")
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::new(ErrorCode::NotFound, "not found"),
            StoreError::Conflict(m) => ApiError::new(ErrorCode::Conflict, m),
            StoreError::Forbidden(m) => ApiError::new(ErrorCode::Forbidden, m),
            StoreError::Invalid(m) => ApiError::new(ErrorCode::InvalidField, m),
            StoreError::Quota { quota } => ApiError::new(
                ErrorCode::QuotaExceeded,
                format!("the storage quota of {quota} bytes is used up"),
            ),
            StoreError::TooSoon {
                what,
                retry_after_ms,
            } => ApiError::new(
                ErrorCode::RateLimited,
                format!("{what}; try again in {} s", (retry_after_ms + 999) / 1000),
            ),
            other => {
                // Log the whole chain; the client learns nothing of it.
                let mut text = other.to_string();
                let mut source = std::error::Error::source(&other);
                while let Some(s) = source {
                    text.push_str(": ");
                    text.push_str(&s.to_string());
                    source = s.source();
                }
                ApiError::internal(&text)
            }
        }
    }
}

impl From<CommitError> for ApiError {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::Refused(e) => e.into(),
            CommitError::Failed => {
                ApiError::new(ErrorCode::Unavailable, "could not store; try again")
            }
            CommitError::Stopped => {
                ApiError::new(ErrorCode::Unavailable, "the server is shutting down")
            }
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::new(ErrorCode::InvalidField, e.to_string())
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(e: crate::auth::AuthError) -> Self {
        ApiError::internal(&e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.0)).into_response()
    }
}

/// Result type of every handler.
pub type ApiResult<T> = Result<Json<T>, ApiError>;

/// The caller's session, from `Authorization: Bearer <token>`. Rejects with
/// `unauthenticated` when the header is missing or the token is unknown, expired or
/// revoked.
pub struct Authed {
    pub session: Session,
    pub token_hash: String,
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "missing bearer token"))?;
        let (session, token_hash) = state.authenticate(token).await?;
        Ok(Authed {
            session,
            token_hash,
        })
    }
}

/// `Json<T>` whose rejections speak the protocol: `frame_too_large` over the body
/// limit, `malformed_request` otherwise.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(
                ApiError::new(ErrorCode::FrameTooLarge, "request body too large"),
            ),
            Err(rejection) => Err(ApiError::new(
                ErrorCode::MalformedRequest,
                rejection.body_text(),
            )),
        }
    }
}

/// Fails with `forbidden` unless the caller is staff (or admin).
pub fn require_staff(authed: &Authed) -> Result<(), ApiError> {
    if authed.session.member.role.is_staff() {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::Forbidden, "staff only"))
    }
}

/// Fails with `forbidden` unless the caller is an admin.
pub fn require_admin(authed: &Authed) -> Result<(), ApiError> {
    if authed.session.member.role == satchel_protocol::Role::Admin {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::Forbidden, "admins only"))
    }
}
