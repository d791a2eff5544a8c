//! WebSocket frames. Every frame is one JSON text message of the form
//! `{"v": 1, "type": "...", ...fields}`.
//!
//! A connection starts with `auth`, then `subscribe` with the last stream position the
//! client has applied. The server replays every later event from its database, sends
//! `caught_up`, and then pushes live events as they commit. Sends are pipelined: the
//! server processes a connection's `send` frames in order and answers each with an
//! `ack` or an `error` naming its `txn_id`.

use serde::{Deserialize, Serialize};

use crate::api::SendAck;
use crate::domain::*;
use crate::error::ErrorBody;
use crate::ids::*;

/// Frames a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Must be the first frame. Answered with `ready` or an `unauthenticated` error.
    Auth {
        token: String,
    },
    /// Start (or restart) the event stream after `after`.
    Subscribe {
        after: StreamPos,
    },
    Send {
        conversation_id: ConversationId,
        txn_id: TxnId,
        body: MessageBody,
    },
    Receipt {
        conversation_id: ConversationId,
        #[serde(default)]
        delivered_up_to: Option<Seq>,
        #[serde(default)]
        read_up_to: Option<Seq>,
    },
    Ping {
        nonce: u64,
    },
}

/// Frames the server sends.
// Nearly every frame is an `Event`: boxing it would allocate for the common frame to
// shrink the rare ones.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Ready {
        member: Member,
        device_id: DeviceId,
        head: StreamPos,
    },
    Event {
        event: StreamEvent,
    },
    /// Every event up to `pos` has been sent; what follows is live.
    CaughtUp {
        pos: StreamPos,
    },
    Ack {
        txn_id: TxnId,
        ack: SendAck,
    },
    /// An error. `txn_id` is set when it answers a `send`; the connection stays open
    /// unless the code is `unauthenticated`.
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        txn_id: Option<TxnId>,
        error: ErrorBody,
    },
    Pong {
        nonce: u64,
    },
}

/// The versioned wrapper around every frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<F> {
    pub v: u32,
    #[serde(flatten)]
    pub frame: F,
}

impl<F> Envelope<F> {
    /// Wraps a frame in the current protocol version.
    pub fn current(frame: F) -> Self {
        Envelope {
            v: crate::PROTOCOL_VERSION,
            frame,
        }
    }
}

/// Why a text frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("frame is not JSON: {0}")]
    NotJson(String),
    #[error("frame has no numeric `v` field")]
    MissingVersion,
    #[error("protocol version {0} is not supported")]
    UnsupportedVersion(u64),
    #[error("unknown frame type `{0}`")]
    UnknownType(String),
    #[error("malformed `{kind}` frame: {detail}")]
    Malformed { kind: String, detail: String },
}

impl DecodeError {
    /// The error code the server answers this with.
    pub fn code(&self) -> crate::ErrorCode {
        use crate::ErrorCode;
        match self {
            DecodeError::NotJson(_)
            | DecodeError::MissingVersion
            | DecodeError::Malformed { .. } => ErrorCode::MalformedRequest,
            DecodeError::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            DecodeError::UnknownType(_) => ErrorCode::UnknownFrameType,
        }
    }
}

const CLIENT_FRAME_TYPES: &[&str] = &["auth", "subscribe", "send", "receipt", "ping"];

/// Decodes a client frame, telling apart bad JSON, a wrong version, an unknown type
/// and a known type with bad fields, so each gets its own error code.
pub fn decode_client_frame(text: &str) -> Result<ClientFrame, DecodeError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| DecodeError::NotJson(e.to_string()))?;
    let version = value
        .get("v")
        .and_then(|v| v.as_u64())
        .ok_or(DecodeError::MissingVersion)?;
    if version != u64::from(crate::PROTOCOL_VERSION) {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    let kind = value
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or_default()
        .to_owned();
    if !CLIENT_FRAME_TYPES.contains(&kind.as_str()) {
        return Err(DecodeError::UnknownType(kind));
    }
    serde_json::from_value::<Envelope<ClientFrame>>(value)
        .map(|e| e.frame)
        .map_err(|e| DecodeError::Malformed {
            kind,
            detail: e.to_string(),
        })
}

/// Encodes a frame in the current envelope.
pub fn encode<F: Serialize>(frame: F) -> String {
    // Serialising these plain data types cannot fail: no maps with non-string keys,
    // no custom serialisers.
    serde_json::to_string(&Envelope::current(frame)).unwrap_or_default()
}

/// Encodes an `event` frame around an event that is already JSON (as the server stores
/// it), without decoding and re-encoding it. `event_json` must be the serialisation of
/// an [`crate::Event`].
pub fn encode_event_frame(pos: StreamPos, event_json: &str) -> String {
    format!(
        r#"{{"v":{},"type":"event","event":{{"pos":{},"event":{}}}}}"#,
        crate::PROTOCOL_VERSION,
        pos.0,
        event_json
    )
}

/// The shape of `event` frames, decoded without the buffering that the flattened,
/// tagged [`Envelope<ServerFrame>`] needs: a replay is almost all event frames.
#[derive(Deserialize)]
struct EventFrame {
    v: u32,
    event: StreamEvent,
}

/// Decodes a server frame (for clients).
pub fn decode_server_frame(text: &str) -> Result<ServerFrame, DecodeError> {
    if text.starts_with(r#"{"v":1,"type":"event","#) {
        if let Ok(frame) = serde_json::from_str::<EventFrame>(text) {
            if frame.v == crate::PROTOCOL_VERSION {
                return Ok(ServerFrame::Event { event: frame.event });
            }
        }
    }
    let env: Envelope<ServerFrame> =
        serde_json::from_str(text).map_err(|e| DecodeError::NotJson(e.to_string()))?;
    if env.v != crate::PROTOCOL_VERSION {
        return Err(DecodeError::UnsupportedVersion(u64::from(env.v)));
    }
    Ok(env.frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_decode_failure_has_its_own_code() {
        use crate::ErrorCode;
        let code = |s: &str| decode_client_frame(s).map(|_| ()).map_err(|e| e.code());
        assert_eq!(code("{not json"), Err(ErrorCode::MalformedRequest));
        assert_eq!(
            code(r#"{"type":"ping","nonce":1}"#),
            Err(ErrorCode::MalformedRequest)
        );
        assert_eq!(
            code(r#"{"v":9,"type":"ping","nonce":1}"#),
            Err(ErrorCode::UnsupportedVersion)
        );
        assert_eq!(
            code(r#"{"v":1,"type":"dance"}"#),
            Err(ErrorCode::UnknownFrameType)
        );
        assert_eq!(
            code(r#"{"v":1,"type":"ping","nonce":"x"}"#),
            Err(ErrorCode::MalformedRequest)
        );
        assert_eq!(code(r#"{"v":1,"type":"ping","nonce":7}"#), Ok(()));
    }

    #[test]
    fn spliced_event_frames_equal_encoded_ones() {
        let event = crate::Event::Receipt {
            receipt: crate::Receipt {
                conversation_id: ConversationId(1),
                member_id: MemberId(2),
                delivered_up_to: Seq(3),
                read_up_to: Seq(3),
                updated_at: 99,
            },
        };
        let json = serde_json::to_string(&event).unwrap_or_default();
        let spliced = encode_event_frame(StreamPos(7), &json);
        let frame = ServerFrame::Event {
            event: StreamEvent {
                pos: StreamPos(7),
                event,
            },
        };
        assert_eq!(decode_server_frame(&spliced), Ok(frame.clone()));
        assert_eq!(spliced, encode(frame));
    }

    #[test]
    fn frames_round_trip_through_the_envelope() {
        let frame = ClientFrame::Send {
            conversation_id: ConversationId(3),
            txn_id: TxnId("abcdefgh-1".into()),
            body: MessageBody::Text {
                text: "五金用铜的".into(),
                reply_to: None,
                needs_confirmation: false,
                deadline: None,
            },
        };
        let text = encode(frame.clone());
        assert!(text.starts_with(r#"{"v":1,"type":"send""#), "{text}");
        assert_eq!(decode_client_frame(&text), Ok(frame));
    }
}
