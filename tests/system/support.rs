//! Helpers shared by the system tests.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use satchel_client::api::ApiClient;
use satchel_client::Engine;
use satchel_protocol::ws::{decode_server_frame, encode, ClientFrame, ServerFrame};
use satchel_protocol::*;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A confirmed timeline rendered as `seq sender text` lines, for whole-history
/// comparisons.
pub async fn timeline(engine: &Engine, conversation: ConversationId) -> Vec<String> {
    engine
        .local()
        .confirmed(conversation)
        .await
        .expect("local history")
        .into_iter()
        .map(|m| {
            format!(
                "{} {} {}",
                m.seq.map_or(0, |s| s.0),
                m.sender_id,
                m.body.summary()
            )
        })
        .collect()
}

/// The server's history of a conversation in the same rendering.
pub async fn server_timeline(api: &ApiClient, conversation: ConversationId) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = Seq(0);
    loop {
        let page = api
            .history(conversation, None, Some(after), 1000)
            .await
            .expect("server history");
        for m in &page.messages {
            out.push(format!("{} {} {}", m.seq.0, m.sender_id, m.body.summary()));
            after = m.seq;
        }
        if !page.has_more {
            return out;
        }
    }
}

/// Sends `name-1` … `name-count` in order, pausing `pause` after every `burst` messages
/// so that faults land in the middle of the stream.
pub async fn send_numbered(
    engine: Engine,
    conversation: ConversationId,
    name: &str,
    count: usize,
    burst: usize,
    pause: Duration,
) {
    for i in 1..=count {
        engine
            .send_text(conversation, &format!("{name}-{i}"), None)
            .await
            .expect("queued");
        if i % burst == 0 {
            tokio::time::sleep(pause).await;
        }
    }
}

/// Checks a server timeline holding numbered messages (`name-n`, see [`send_numbered`])
/// among others: `seq` runs from 1 without a gap, no text is stored twice, and each
/// sender's numbers follow each other from 1. Returns each sender's last number.
pub fn check_numbered(truth: &[String]) -> std::collections::HashMap<String, usize> {
    let mut last_per_sender = std::collections::HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in truth.iter().enumerate() {
        let mut parts = line.splitn(3, ' ');
        let seq: usize = parts.next().and_then(|s| s.parse().ok()).expect("a seq");
        assert_eq!(seq, i + 1, "gapless seq");
        let text = parts.nth(1).expect("a text");
        assert!(seen.insert(text.to_owned()), "duplicate {text}");
        let Some((sender, n)) = text
            .rsplit_once('-')
            .and_then(|(sender, n)| Some((sender, n.parse::<usize>().ok()?)))
        else {
            continue;
        };
        let last = last_per_sender.insert(sender.to_owned(), n).unwrap_or(0);
        assert_eq!(
            n,
            last + 1,
            "{sender} out of order at seq {seq}: {n} after {last}"
        );
    }
    last_per_sender
}

/// The confirmed form (with id and seq) of a message this engine queued.
pub async fn confirmed(
    engine: &Engine,
    conversation: ConversationId,
    queued: &satchel_client::LocalMessage,
) -> satchel_client::LocalMessage {
    engine
        .local()
        .confirmed(conversation)
        .await
        .expect("local history")
        .into_iter()
        .find(|m| m.txn_id == queued.txn_id)
        .expect("the queued message is confirmed")
}

/// Waits until `engine` holds the confirmed form of a message someone queued (by its
/// transaction id) and returns it. Being idle says nothing of another member's message
/// still on its way.
pub async fn arrived(
    engine: &Engine,
    conversation: ConversationId,
    queued: &satchel_client::LocalMessage,
    timeout: Duration,
) -> satchel_client::LocalMessage {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let found = engine
            .local()
            .confirmed(conversation)
            .await
            .expect("local history")
            .into_iter()
            .find(|m| m.txn_id == queued.txn_id);
        match found {
            Some(message) => return message,
            None if tokio::time::Instant::now() >= deadline => {
                panic!("message {:?} did not arrive", queued.txn_id)
            }
            None => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Waits until every engine is idle (caught up, outbox empty).
pub async fn settle(engines: &[&Engine], timeout: Duration) {
    for engine in engines {
        assert!(
            engine.wait_until_idle(timeout).await,
            "engine {:?} did not settle: {:?}, outbox {}",
            engine.account().map(|a| a.member.username),
            engine.status().borrow().clone(),
            engine.local().outbox_len().await.unwrap_or(-1)
        );
    }
}

/// A raw WebSocket, for tests that speak the protocol frame by frame.
pub struct RawSocket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl RawSocket {
    pub async fn connect(server_url: &str) -> RawSocket {
        let url = format!("{}/api/v1/ws", server_url.replace("http://", "ws://"));
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connects");
        RawSocket { ws }
    }

    /// Connects and authenticates; panics unless the server answers `ready`.
    pub async fn authed(server_url: &str, token: &str) -> RawSocket {
        let mut socket = RawSocket::connect(server_url).await;
        socket
            .send(ClientFrame::Auth {
                token: token.into(),
            })
            .await;
        match socket.next().await {
            Some(ServerFrame::Ready { .. }) => socket,
            other => panic!("expected ready, got {other:?}"),
        }
    }

    pub async fn send(&mut self, frame: ClientFrame) {
        self.ws
            .send(WsMessage::Text(encode(frame).into()))
            .await
            .expect("send frame");
    }

    pub async fn send_raw(&mut self, message: WsMessage) {
        self.ws.send(message).await.expect("send raw");
    }

    /// The next protocol frame within 10 s; `None` if the socket closed.
    pub async fn next(&mut self) -> Option<ServerFrame> {
        self.next_within(Duration::from_secs(10))
            .await
            .expect("a frame within 10 s")
    }

    /// `Err` on timeout, `Ok(None)` when closed.
    pub async fn next_within(&mut self, wait: Duration) -> Result<Option<ServerFrame>, ()> {
        loop {
            match tokio::time::timeout(wait, self.ws.next()).await {
                Err(_) => return Err(()),
                Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(WsMessage::Close(_)))) => return Ok(None),
                Ok(Some(Ok(WsMessage::Text(t)))) => {
                    return Ok(Some(
                        decode_server_frame(t.as_str()).expect("server frames decode"),
                    ))
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// Every frame that arrives within `wait`.
    pub async fn drain(&mut self, wait: Duration) -> Vec<ServerFrame> {
        let mut frames = Vec::new();
        while let Ok(Some(frame)) = self.next_within(wait).await {
            frames.push(frame);
        }
        frames
    }

    /// Sends a ping and expects the pong: the connection still works.
    pub async fn assert_alive(&mut self) {
        let nonce = rand::random::<u64>();
        self.send(ClientFrame::Ping { nonce }).await;
        loop {
            match self.next().await {
                Some(ServerFrame::Pong { nonce: n }) if n == nonce => return,
                Some(_) => continue,
                None => panic!("connection closed"),
            }
        }
    }
}

/// The error code of a failed engine/API call.
pub fn code<T: std::fmt::Debug>(result: Result<T, satchel_client::EngineError>) -> ErrorCode {
    match result {
        Err(e) => e
            .code()
            .unwrap_or_else(|| panic!("not a server error: {e}")),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

/// Waits until an engine's confirmed timeline equals `truth`, then returns it. Engines
/// converge eventually; a test asserts what they converge to.
pub async fn converged(
    engine: &Engine,
    conversation: ConversationId,
    truth: &[String],
    timeout: Duration,
) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let current = timeline(engine, conversation).await;
        if current == truth || tokio::time::Instant::now() >= deadline {
            return current;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// CRC-32 (IEEE), written out so tests do not trust the code under test for it.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Every file under `dir` (none if it does not exist).
pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            let path = e.path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}
