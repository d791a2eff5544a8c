//! The sync task: one live connection at a time, reconnecting forever.
//!
//! A session goes: connect → `auth` → `ready` → `subscribe{after: stored position}` →
//! replayed events → `caught_up` → live events. Alongside, the outbox is pushed as
//! pipelined `send` frames, oldest first, at most [`WINDOW`] unacknowledged at once.
//!
//! Exactly once: every outbox entry carries the transaction id it was stored with, and
//! the server answers a repeated `(device, txn_id)` with the original message. So the
//! rule here is simple — after any disconnect, send everything still in the outbox
//! again, in order — and an entry leaves the outbox only in the transaction that records
//! its ack or its echoed event.
//!
//! Failures are classified ([`RetryClass`]): network and transient ones end the
//! session and reconnect after a jittered exponential backoff; a permanent refusal of
//! one send marks that message failed (visible, with retry and discard) and the rest
//! go on; `unauthenticated` stops the task in the `SignedOut` state.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use rand::Rng;
use satchel_protocol::ws::{decode_server_frame, encode, ClientFrame, ServerFrame};
use satchel_protocol::*;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::engine::{ConnectionState, Inner};
use crate::error::{EngineError, ServerError};

/// Most sends awaiting an ack on one connection.
pub const WINDOW: usize = 256;
/// Most events applied in one local transaction.
const APPLY_BATCH: usize = 2000;
/// Keep-alive interval; a connection silent for three of these is considered dead.
const PING_EVERY: Duration = Duration::from_secs(15);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

struct Backoff {
    attempt: u32,
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let base = 250u64.saturating_mul(1 << self.attempt.min(7)).min(30_000);
        self.attempt += 1;
        // Full jitter over the upper half, so a server restart is not met by every
        // client at the same instant.
        Duration::from_millis(rand::thread_rng().gen_range(base / 2..=base))
    }
    fn reset(&mut self) {
        self.attempt = 0;
    }
}

enum End {
    Stopped,
}

pub(crate) async fn run(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    let mut backoff = Backoff { attempt: 0 };
    loop {
        if *stop.borrow() {
            break;
        }
        inner.set_status(ConnectionState::Connecting);
        let error = match session(&inner, &mut stop, &mut backoff).await {
            Ok(End::Stopped) => break,
            Err(e) => e,
        };
        if error.retry_class() == RetryClass::Reauthenticate {
            tracing::warn!(%error, "session no longer valid");
            inner.set_status(ConnectionState::SignedOut);
            return;
        }
        let delay = backoff.next();
        tracing::debug!(%error, ?delay, "disconnected; will retry");
        inner.set_status(ConnectionState::Offline {
            reason: error.to_string(),
            retry_in_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        });
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => break,
        }
    }
    inner.set_status(ConnectionState::Idle);
}

fn network(e: impl std::fmt::Display) -> EngineError {
    EngineError::Connection(e.to_string())
}

/// Per-connection bookkeeping.
struct Conn {
    in_flight: HashSet<TxnId>,
    /// Receipt positions already sent on this connection.
    receipts_sent: HashMap<ConversationId, (Seq, Seq)>,
}

async fn session(
    inner: &Arc<Inner>,
    stop: &mut watch::Receiver<bool>,
    backoff: &mut Backoff,
) -> Result<End, EngineError> {
    let api = inner.api()?;
    let token = inner
        .tokens
        .load()
        .map_err(EngineError::TokenStore)?
        .ok_or(EngineError::NotSignedIn)?;
    let me = inner.account().ok_or(EngineError::NotSignedIn)?.member.id;
    let (socket, _) = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio_tungstenite::connect_async(api.ws_url()),
    )
    .await
    .map_err(|_| network("connect timed out"))?
    .map_err(network)?;
    let (mut sink, mut stream) = socket.split();
    let send_frame = |frame: ClientFrame| WsMessage::Text(encode(frame).into());

    sink.send(send_frame(ClientFrame::Auth { token }))
        .await
        .map_err(network)?;
    loop {
        let next = tokio::time::timeout(CONNECT_TIMEOUT, stream.next())
            .await
            .map_err(|_| network("no answer to auth"))?;
        match next {
            Some(Ok(WsMessage::Text(text))) => {
                match decode_server_frame(text.as_str()).map_err(network)? {
                    ServerFrame::Ready { .. } => break,
                    ServerFrame::Error { error, .. } => {
                        return Err(EngineError::Server(ServerError {
                            status: None,
                            body: error,
                        }))
                    }
                    _ => {}
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(network(e)),
            None => return Err(network("closed during auth")),
        }
    }
    let after = inner.db.stream_pos().await?;
    sink.send(send_frame(ClientFrame::Subscribe { after }))
        .await
        .map_err(network)?;
    inner.set_status(ConnectionState::Syncing);

    let mut conn = Conn {
        in_flight: HashSet::new(),
        receipts_sent: HashMap::new(),
    };
    push_outbox(inner, &mut conn, &mut sink).await?;
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut silent_ticks = 0u32;
    loop {
        tokio::select! {
            incoming = stream.next() => {
                silent_ticks = 0;
                let first = match incoming {
                    Some(Ok(WsMessage::Text(text))) => text,
                    Some(Ok(WsMessage::Close(_))) | None => return Err(network("closed by server")),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(network(e)),
                };
                // Take whatever else has already arrived, so a replay is applied in
                // large transactions instead of one per event.
                let mut texts = vec![first];
                while texts.len() < APPLY_BATCH {
                    match stream.next().now_or_never() {
                        Some(Some(Ok(WsMessage::Text(text)))) => texts.push(text),
                        Some(Some(Ok(WsMessage::Close(_)))) | Some(None) => break,
                        Some(Some(Ok(_))) => {}
                        Some(Some(Err(e))) => return Err(network(e)),
                        None => break,
                    }
                }
                let frames = texts
                    .iter()
                    .map(|t| decode_server_frame(t.as_str()).map_err(network))
                    .collect::<Result<Vec<_>, _>>()?;
                handle_frames(inner, me, &mut conn, frames, backoff).await?;
                push_outbox(inner, &mut conn, &mut sink).await?;
                push_receipts(inner, &mut conn, &mut sink).await?;
            }
            _ = inner.wake.notified() => {
                push_outbox(inner, &mut conn, &mut sink).await?;
                push_receipts(inner, &mut conn, &mut sink).await?;
            }
            _ = ping.tick() => {
                silent_ticks += 1;
                if silent_ticks >= 3 {
                    return Err(network("no traffic from the server"));
                }
                sink.send(send_frame(ClientFrame::Ping { nonce: u64::from(silent_ticks) })).await.map_err(network)?;
            }
            _ = stop.changed() => {
                let _ = sink.send(WsMessage::Close(None)).await;
                return Ok(End::Stopped);
            }
        }
    }
}

async fn handle_frames(
    inner: &Arc<Inner>,
    me: MemberId,
    conn: &mut Conn,
    frames: Vec<ServerFrame>,
    backoff: &mut Backoff,
) -> Result<(), EngineError> {
    // A connection that moves data is a working one: the next failure retries quickly
    // instead of waiting out a backoff grown by earlier failures.
    if frames
        .iter()
        .any(|f| matches!(f, ServerFrame::Event { .. } | ServerFrame::Ack { .. }))
    {
        backoff.reset();
    }
    let mut events = Vec::new();
    for frame in frames {
        match frame {
            ServerFrame::Event { event } => events.push(event),
            other => {
                // Keep order: apply the events before anything that follows them.
                apply(inner, me, std::mem::take(&mut events)).await?;
                match other {
                    ServerFrame::CaughtUp { .. } => {
                        backoff.reset();
                        inner.set_status(ConnectionState::Online);
                    }
                    ServerFrame::Ack { txn_id, ack } => {
                        conn.in_flight.remove(&txn_id);
                        let touched = inner.db.confirm_send(&inner.device, &txn_id, &ack).await?;
                        inner.emit_touched(&touched);
                    }
                    ServerFrame::Error {
                        txn_id: Some(txn_id),
                        error,
                    } => {
                        conn.in_flight.remove(&txn_id);
                        match error.code.retry_class() {
                            RetryClass::Permanent => {
                                tracing::warn!(%txn_id, code = ?error.code, message = %error.message, "send refused");
                                let touched = inner.db.fail_send(&txn_id, &error.message).await?;
                                inner.emit_touched(&touched);
                            }
                            // Reconnect and resend everything in order, so a transient
                            // refusal does not let later messages overtake this one.
                            _ => {
                                return Err(EngineError::Server(ServerError {
                                    status: None,
                                    body: error,
                                }))
                            }
                        }
                    }
                    ServerFrame::Error {
                        txn_id: None,
                        error,
                    } => {
                        if error.code.retry_class() != RetryClass::Permanent {
                            return Err(EngineError::Server(ServerError {
                                status: None,
                                body: error,
                            }));
                        }
                        tracing::warn!(code = ?error.code, message = %error.message, "server reported an error");
                    }
                    ServerFrame::Ready { .. }
                    | ServerFrame::Pong { .. }
                    | ServerFrame::Event { .. } => {}
                }
            }
        }
    }
    apply(inner, me, events).await
}

/// Applies events in one transaction, advances delivery receipts for what arrived and
/// fetches the history of conversations joined after it was written.
async fn apply(
    inner: &Arc<Inner>,
    me: MemberId,
    events: Vec<StreamEvent>,
) -> Result<(), EngineError> {
    if events.is_empty() {
        return Ok(());
    }
    let touched = inner.db.apply_events(me, &inner.device, &events).await?;
    let mut delivered: HashMap<ConversationId, Seq> = HashMap::new();
    for event in &events {
        if let Event::Message { message } = &event.event {
            if message.sender_id != me {
                let entry = delivered.entry(message.conversation_id).or_insert(Seq(0));
                *entry = (*entry).max(message.seq);
            }
        }
    }
    for (conversation, seq) in delivered {
        inner
            .db
            .advance_my_receipt(conversation, Some(seq), None)
            .await?;
    }
    inner.emit_touched(&touched);
    for conversation in &touched.joined {
        backfill(inner, *conversation).await?;
    }
    // Searchable as soon as it is here. A failure leaves the messages queued for the
    // next batch or search; it must not stop the sync.
    if let Err(e) = inner.db.index_pending().await {
        tracing::warn!(error = %e, "indexing new messages for search failed");
    }
    Ok(())
}

/// Fetches a conversation's whole history over HTTP: for conversations this profile
/// joined after their first messages (those events precede its stream position), and
/// before an export, so the server's copy is compared with this device's once more.
pub(crate) async fn backfill(
    inner: &Arc<Inner>,
    conversation: ConversationId,
) -> Result<(), EngineError> {
    let api = inner.api()?;
    let mut after = Seq(0);
    loop {
        let page = api.history(conversation, None, Some(after), 500).await?;
        if let Some(last) = page.messages.last() {
            after = last.seq;
        }
        let touched = inner
            .db
            .insert_history(&inner.device, &page.messages)
            .await?;
        inner.emit_touched(&touched);
        if !page.has_more {
            return Ok(());
        }
    }
}

async fn push_outbox<S>(
    inner: &Arc<Inner>,
    conn: &mut Conn,
    sink: &mut S,
) -> Result<(), EngineError>
where
    S: futures_util::Sink<WsMessage> + Unpin,
    S::Error: std::fmt::Display,
{
    if conn.in_flight.len() >= WINDOW {
        return Ok(());
    }
    let queued = inner
        .db
        .queued((WINDOW + conn.in_flight.len()) as u32)
        .await?;
    // A message whose file is still uploading holds back the later messages of its
    // conversation, so "see the photo above" never arrives before the photo.
    let mut held: HashSet<ConversationId> = HashSet::new();
    for entry in queued {
        if conn.in_flight.len() >= WINDOW {
            break;
        }
        if conn.in_flight.contains(&entry.txn_id) {
            continue;
        }
        if !entry.ready || held.contains(&entry.conversation_id) {
            held.insert(entry.conversation_id);
            continue;
        }
        let frame = ClientFrame::Send {
            conversation_id: entry.conversation_id,
            txn_id: entry.txn_id.clone(),
            body: entry.body,
        };
        sink.feed(WsMessage::Text(encode(frame).into()))
            .await
            .map_err(network)?;
        conn.in_flight.insert(entry.txn_id);
    }
    sink.flush().await.map_err(network)?;
    Ok(())
}

async fn push_receipts<S>(
    inner: &Arc<Inner>,
    conn: &mut Conn,
    sink: &mut S,
) -> Result<(), EngineError>
where
    S: futures_util::Sink<WsMessage> + Unpin,
    S::Error: std::fmt::Display,
{
    for pending in inner.db.pending_receipts().await? {
        let sent = conn
            .receipts_sent
            .get(&pending.conversation_id)
            .copied()
            .unwrap_or((Seq(0), Seq(0)));
        let delivered = pending.delivered_up_to.filter(|d| *d > sent.0);
        let read = pending.read_up_to.filter(|r| *r > sent.1);
        if delivered.is_none() && read.is_none() {
            continue;
        }
        let frame = ClientFrame::Receipt {
            conversation_id: pending.conversation_id,
            delivered_up_to: delivered,
            read_up_to: read,
        };
        sink.feed(WsMessage::Text(encode(frame).into()))
            .await
            .map_err(network)?;
        conn.receipts_sent.insert(
            pending.conversation_id,
            (delivered.unwrap_or(sent.0), read.unwrap_or(sent.1)),
        );
    }
    sink.flush().await.map_err(network)?;
    Ok(())
}
