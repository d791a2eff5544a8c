//! The live connection: one WebSocket per client.
//!
//! States: **unauthenticated** (only `auth` and `ping` are accepted; anything else is
//! answered `unauthenticated` and the connection stays open for another try, up to
//! [`MAX_AUTH_ATTEMPTS`]), **authenticated** (sends and receipts accepted), and
//! **subscribed** (events flowing).
//!
//! Subscribing works like this, so nothing is ever skipped: first subscribe to the
//! committer's broadcast, then replay from the database everything after the client's
//! position, then forward broadcast batches, dropping what the replay already sent. If
//! the broadcast lags (a slow client), the connection replays from the database again:
//! the broadcast is only a fast path, the database is the truth.
//!
//! Sends are queued to the committer in the order they are read and answered by
//! separate tasks, so a client can pipeline many sends on one connection.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use satchel_protocol::ws::{
    decode_client_frame, encode, encode_event_frame, ClientFrame, ServerFrame,
};
use satchel_protocol::*;
use tokio::sync::{broadcast, mpsc};

use crate::committer::EventBatch;
use crate::http::ApiError;
use crate::store::{Outcome, Session, Write};
use crate::AppState;

/// Connection attempts to authenticate before the server closes it.
pub const MAX_AUTH_ATTEMPTS: u32 = 5;
/// Time allowed between opening and a successful `auth`.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(20);
/// How often a connection re-checks that its session is still valid.
const SESSION_RECHECK: Duration = Duration::from_secs(5);
/// Events read from the database per replay query.
const REPLAY_PAGE: u32 = 2000;
/// Hard cap enforced by the WebSocket codec. Frames between [`MAX_FRAME_BYTES`] and this
/// are read and answered with `frame_too_large`; larger ones close the connection.
const CODEC_LIMIT: usize = 16 * 1024 * 1024;

/// `GET /api/v1/ws`.
pub async fn upgrade(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(CODEC_LIMIT)
        .max_frame_size(CODEC_LIMIT)
        .on_upgrade(move |socket| connection(state, socket))
}

fn error_frame(txn_id: Option<TxnId>, error: ApiError) -> ServerFrame {
    ServerFrame::Error {
        txn_id,
        error: error.0,
    }
}

fn protocol_error(code: ErrorCode, message: impl Into<String>) -> ServerFrame {
    ServerFrame::Error {
        txn_id: None,
        error: ErrorBody::new(code, message),
    }
}

async fn connection(state: AppState, socket: WebSocket) {
    let _counted = crate::metrics::ConnectionGuard::new(&state.metrics.connections);
    let (mut sink, mut stream) = socket.split();
    // Frames travel to the writer already encoded, so events can be forwarded as the
    // JSON the store holds.
    let (out, mut out_rx) = mpsc::channel::<String>(1024);
    let writer = tokio::spawn(async move {
        while let Some(text) = out_rx.recv().await {
            if sink
                .send(WsMessage::Text(Utf8Bytes::from(text)))
                .await
                .is_err()
            {
                break;
            }
        }
        let _ = sink
            .send(WsMessage::Close(Some(CloseFrame {
                code: 1000,
                reason: Utf8Bytes::from_static("bye"),
            })))
            .await;
    });
    let mut conn = Connection {
        state: state.clone(),
        out,
        session: None,
        token_hash: String::new(),
        checked_at: Instant::now(),
        auth_attempts: 0,
        subscription: None,
        cursor: StreamPos(0),
        conversations: HashSet::new(),
    };
    let mut shutdown = state.shutdown.clone();
    let deadline = tokio::time::sleep(AUTH_TIMEOUT);
    tokio::pin!(deadline);
    loop {
        let step = tokio::select! {
            incoming = stream.next() => match incoming {
                Some(Ok(WsMessage::Text(text))) => conn.on_text(text.as_str()).await,
                Some(Ok(WsMessage::Binary(_))) => {
                    conn.send(protocol_error(ErrorCode::InvalidEncoding, "frames must be UTF-8 JSON text")).await
                }
                Some(Ok(WsMessage::Close(_))) | None => Step::Close,
                Some(Ok(_)) => Step::Continue, // ping/pong handled by the codec
                Some(Err(error)) => {
                    tracing::debug!(%error, "websocket read failed");
                    Step::Close
                }
            },
            batch = recv_batch(&mut conn.subscription) => conn.on_batch(batch).await,
            _ = &mut deadline, if conn.session.is_none() => {
                let _ = conn.send(protocol_error(ErrorCode::Unauthenticated, "no auth frame in time")).await;
                Step::Close
            }
            _ = shutdown.changed() => Step::Close,
        };
        if matches!(step, Step::Close) {
            break;
        }
    }
    drop(conn);
    let _ = writer.await;
}

enum Step {
    Continue,
    Close,
}

async fn recv_batch(
    sub: &mut Option<broadcast::Receiver<EventBatch>>,
) -> Result<EventBatch, broadcast::error::RecvError> {
    match sub {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

struct Connection {
    state: AppState,
    out: mpsc::Sender<String>,
    session: Option<Session>,
    token_hash: String,
    checked_at: Instant,
    auth_attempts: u32,
    subscription: Option<broadcast::Receiver<EventBatch>>,
    cursor: StreamPos,
    conversations: HashSet<ConversationId>,
}

impl Connection {
    async fn send(&self, frame: ServerFrame) -> Step {
        self.send_text(encode(&frame)).await
    }

    async fn send_text(&self, text: String) -> Step {
        if self.out.send(text).await.is_err() {
            Step::Close
        } else {
            Step::Continue
        }
    }

    async fn on_text(&mut self, text: &str) -> Step {
        if text.len() > MAX_FRAME_BYTES {
            return self
                .send(protocol_error(
                    ErrorCode::FrameTooLarge,
                    format!("frames are limited to {MAX_FRAME_BYTES} bytes"),
                ))
                .await;
        }
        let frame = match decode_client_frame(text) {
            Ok(frame) => frame,
            Err(e) => return self.send(protocol_error(e.code(), e.to_string())).await,
        };
        if let ClientFrame::Ping { nonce } = frame {
            return self.send(ServerFrame::Pong { nonce }).await;
        }
        if let ClientFrame::Auth { token } = frame {
            return self.on_auth(&token).await;
        }
        let session = match self.current_session().await {
            Ok(s) => s,
            Err(step) => return step,
        };
        match frame {
            ClientFrame::Subscribe { after } => self.on_subscribe(&session, after).await,
            ClientFrame::Send {
                conversation_id,
                txn_id,
                body,
            } => self.on_send(&session, conversation_id, txn_id, body).await,
            ClientFrame::Receipt {
                conversation_id,
                delivered_up_to,
                read_up_to,
            } => {
                let pending = self
                    .state
                    .committer
                    .enqueue(Write::Receipt {
                        member: session.member.id,
                        conversation_id,
                        delivered_up_to,
                        read_up_to,
                    })
                    .await;
                let out = self.out.clone();
                tokio::spawn(async move {
                    if let Err(e) = pending.outcome().await {
                        let _ = out.send(encode(error_frame(None, e.into()))).await;
                    }
                });
                Step::Continue
            }
            ClientFrame::Auth { .. } | ClientFrame::Ping { .. } => Step::Continue,
        }
    }

    /// The session, re-validated every few seconds so a revoked token stops working on
    /// open connections too.
    async fn current_session(&mut self) -> Result<Session, Step> {
        let Some(session) = self.session.clone() else {
            return Err(self
                .send(protocol_error(
                    ErrorCode::Unauthenticated,
                    "send an auth frame first",
                ))
                .await);
        };
        if self.checked_at.elapsed() < SESSION_RECHECK {
            return Ok(session);
        }
        match self
            .state
            .store
            .session(&self.token_hash, crate::clock::now_millis())
            .await
        {
            Ok(Some(fresh)) => {
                self.checked_at = Instant::now();
                self.session = Some(fresh.clone());
                Ok(fresh)
            }
            Ok(None) => {
                let _ = self
                    .send(protocol_error(
                        ErrorCode::Unauthenticated,
                        "the session has ended",
                    ))
                    .await;
                Err(Step::Close)
            }
            Err(e) => Err(self.send(error_frame(None, e.into())).await),
        }
    }

    async fn on_auth(&mut self, token: &str) -> Step {
        if self.session.is_some() {
            return self
                .send(protocol_error(
                    ErrorCode::MalformedRequest,
                    "already authenticated",
                ))
                .await;
        }
        self.auth_attempts += 1;
        match self.state.authenticate(token).await {
            Ok((session, token_hash)) => {
                self.token_hash = token_hash;
                self.checked_at = Instant::now();
                let head = match self.state.store.head().await {
                    Ok(h) => h,
                    Err(e) => return self.send(error_frame(None, e.into())).await,
                };
                let ready = ServerFrame::Ready {
                    member: session.member.clone(),
                    device_id: session.device_id.clone(),
                    head,
                };
                self.session = Some(session);
                self.send(ready).await
            }
            Err(error) => {
                let step = self.send(error_frame(None, error)).await;
                if self.auth_attempts >= MAX_AUTH_ATTEMPTS {
                    Step::Close
                } else {
                    step
                }
            }
        }
    }

    async fn on_subscribe(&mut self, session: &Session, after: StreamPos) -> Step {
        // Subscribe before replaying so nothing committed in between is missed.
        self.subscription = Some(self.state.events.subscribe());
        self.cursor = after;
        self.replay(session).await
    }

    /// Sends everything after the cursor from the database, then `caught_up`.
    async fn replay(&mut self, session: &Session) -> Step {
        match self.state.store.conversations_of(session.member.id).await {
            Ok(list) => self.conversations = list.into_iter().map(|c| c.id).collect(),
            Err(e) => return self.send(error_frame(None, e.into())).await,
        }
        loop {
            let page = match self
                .state
                .store
                .events_after(session.member.id, self.cursor, REPLAY_PAGE)
                .await
            {
                Ok(page) => page,
                Err(e) => return self.send(error_frame(None, e.into())).await,
            };
            let done = page.len() < REPLAY_PAGE as usize;
            for event in page {
                self.cursor = event.pos;
                if let Step::Close = self
                    .send_text(encode_event_frame(event.pos, &event.payload))
                    .await
                {
                    return Step::Close;
                }
            }
            if done {
                break;
            }
        }
        self.send(ServerFrame::CaughtUp { pos: self.cursor }).await
    }

    async fn on_batch(&mut self, batch: Result<EventBatch, broadcast::error::RecvError>) -> Step {
        let Some(session) = self.session.clone() else {
            return Step::Continue;
        };
        let batch = match batch {
            Ok(batch) => batch,
            Err(broadcast::error::RecvError::Lagged(skipped)) => {
                tracing::debug!(skipped, member = %session.member.id, "subscriber lagged; replaying from the database");
                return self.replay(&session).await;
            }
            Err(broadcast::error::RecvError::Closed) => return Step::Close,
        };
        for logged in batch.iter() {
            if logged.event.pos <= self.cursor {
                continue;
            }
            let visible = match &logged.event.event {
                Event::Conversation { conversation } => {
                    let member = conversation.members.contains(&session.member.id);
                    if member {
                        self.conversations.insert(conversation.id);
                    }
                    member
                }
                _ => self.conversations.contains(&logged.conversation_id),
            };
            if visible {
                self.cursor = logged.event.pos;
                let text = encode_event_frame(logged.event.pos, &logged.payload);
                if let Step::Close = self.send_text(text).await {
                    return Step::Close;
                }
            }
        }
        Step::Continue
    }

    async fn on_send(
        &mut self,
        session: &Session,
        conversation_id: ConversationId,
        txn_id: TxnId,
        body: MessageBody,
    ) -> Step {
        let write = match crate::send_write(session, conversation_id, txn_id.clone(), body) {
            Ok(w) => w,
            Err(e) => return self.send(error_frame(Some(txn_id), e)).await,
        };
        let pending = self.state.committer.enqueue(write).await;
        let out = self.out.clone();
        tokio::spawn(async move {
            let frame = match pending.outcome().await {
                Ok(Outcome::Sent(ack)) => ServerFrame::Ack { txn_id, ack },
                Ok(_) => error_frame(
                    Some(txn_id),
                    ApiError::new(ErrorCode::Internal, "unexpected outcome"),
                ),
                Err(e) => error_frame(Some(txn_id), e.into()),
            };
            let _ = out.send(encode(frame)).await;
        });
        Step::Continue
    }
}
