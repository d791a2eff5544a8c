//! Wire helpers shared by the benchmarks: sign-in, WebSocket sessions, pipelined
//! senders and delivery timing. Included with `#[path]` by each bench that uses it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use satchel_client::api::ApiClient;
use satchel_protocol::api::*;
use satchel_protocol::ws::{decode_server_frame, encode, ClientFrame, ServerFrame};
use satchel_protocol::*;
use satchel_test_support::PASSWORD;
use tokio_tungstenite::tungstenite::Message as WsMessage;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub async fn token(url: &str, username: &str, device: &str) -> String {
    ApiClient::new(url)
        .unwrap()
        .login(&LoginRequest {
            username: username.into(),
            password: PASSWORD.into(),
            device_id: DeviceId(device.into()),
            device_name: "bench".into(),
        })
        .await
        .unwrap()
        .token
}

pub async fn socket(url: &str, token: &str, subscribe: Option<StreamPos>) -> Socket {
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("{}/api/v1/ws", url.replace("http://", "ws://")))
            .await
            .unwrap();
    ws.send(WsMessage::Text(
        encode(ClientFrame::Auth {
            token: token.into(),
        })
        .into(),
    ))
    .await
    .unwrap();
    loop {
        if let Some(Ok(WsMessage::Text(t))) = ws.next().await {
            if let Ok(ServerFrame::Ready { .. }) = decode_server_frame(t.as_str()) {
                break;
            }
        }
    }
    if let Some(after) = subscribe {
        ws.send(WsMessage::Text(
            encode(ClientFrame::Subscribe { after }).into(),
        ))
        .await
        .unwrap();
        loop {
            if let Some(Ok(WsMessage::Text(t))) = ws.next().await {
                if let Ok(ServerFrame::CaughtUp { .. }) = decode_server_frame(t.as_str()) {
                    break;
                }
            }
        }
    }
    ws
}

pub fn send_frame(conversation: ConversationId, txn: String, text: String) -> WsMessage {
    WsMessage::Text(
        encode(ClientFrame::Send {
            conversation_id: conversation,
            txn_id: TxnId(txn),
            body: MessageBody::Text {
                text,
                reply_to: None,
                needs_confirmation: false,
                deadline: None,
            },
        })
        .into(),
    )
}

/// `senders` connections each pipelining `per_sender` sends, spread over the servers at
/// `urls` in turn; durable (acknowledged) messages per second.
pub async fn throughput(
    urls: &[String],
    conversation: ConversationId,
    senders: usize,
    per_sender: usize,
) -> f64 {
    let token = token(&urls[0], "wang", "bench-throughput").await;
    let mut sockets = Vec::new();
    for s in 0..senders {
        sockets.push(socket(&urls[s % urls.len()], &token, None).await);
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (s, ws) in sockets.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let (mut sink, mut stream) = ws.split();
            let writer = tokio::spawn(async move {
                for i in 0..per_sender {
                    sink.feed(send_frame(
                        conversation,
                        format!("tp-{s:03}-{i:07}"),
                        format!("throughput {s} {i}"),
                    ))
                    .await
                    .unwrap();
                    if i % 64 == 63 {
                        sink.flush().await.unwrap();
                    }
                }
                sink.flush().await.unwrap();
                sink
            });
            let mut acks = 0;
            while acks < per_sender {
                let Some(Ok(WsMessage::Text(t))) = stream.next().await else {
                    break;
                };
                if let Ok(ServerFrame::Ack { .. }) = decode_server_frame(t.as_str()) {
                    acks += 1;
                }
            }
            let _ = writer.await;
            acks
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / start.elapsed().as_secs_f64()
}

/// `receivers` sockets subscribed on the server at `receiver_url`, one sender on the
/// server at `sender_url`, 50 messages a second into `conversation` (whose members
/// are wang and chen); p50 and p99 from the send to each socket receiving the event.
pub async fn fanout(
    sender_url: &str,
    receiver_url: &str,
    conversation: ConversationId,
    receivers: usize,
    messages: usize,
) -> (Duration, Duration) {
    let url = receiver_url;
    // Receivers are sockets of the members of the internal group (two staff), many
    // connections each, as many devices would be.
    let tokens = [
        token(url, "wang", "bench-fanout-w").await,
        token(url, "chen", "bench-fanout-c").await,
    ];
    let current = ApiClient::new(url).unwrap().with_token(tokens[0].clone());
    let mut last = StreamPos(0);
    loop {
        let page = current.events(last, 5000).await.unwrap();
        last = page.next;
        if !page.has_more {
            break;
        }
    }
    let mut sockets = Vec::new();
    for i in 0..receivers {
        sockets.push(socket(url, &tokens[i % 2], Some(last)).await);
    }
    let sent_at: Arc<std::sync::Mutex<std::collections::HashMap<String, Instant>>> =
        Default::default();
    let mut tasks = Vec::new();
    for mut s in sockets {
        let sent_at = sent_at.clone();
        tasks.push(tokio::spawn(async move {
            let mut delays = Vec::with_capacity(messages);
            while delays.len() < messages {
                let Ok(Some(Ok(WsMessage::Text(t)))) =
                    tokio::time::timeout(Duration::from_secs(30), s.next()).await
                else {
                    break;
                };
                if let Ok(ServerFrame::Event { event }) = decode_server_frame(t.as_str()) {
                    if let Event::Message { message } = event.event {
                        let now = Instant::now();
                        if let Some(start) = sent_at.lock().unwrap().get(message.txn_id.as_str()) {
                            delays.push(now - *start);
                        }
                    }
                }
            }
            delays
        }));
    }
    let sender = socket(sender_url, &tokens[0], None).await;
    let (mut sink, _stream) = sender.split();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for i in 0..messages {
        tick.tick().await;
        let txn = format!("fan-{i:08}");
        sent_at.lock().unwrap().insert(txn.clone(), Instant::now());
        sink.send(send_frame(conversation, txn, format!("全员通知 {i}")))
            .await
            .unwrap();
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    (percentile(&all, 0.5), percentile(&all, 0.99))
}
