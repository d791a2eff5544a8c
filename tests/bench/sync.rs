//! Sync benchmarks against a real server on loopback with SQLite. Prints numbers and
//! ratios against a baseline measured in the same run (one fsync'd SQLite commit on
//! this disk); asserts nothing.
//!
//! Run: `cargo bench -p satchel-tests --bench sync` (add `-- --quick` for a short run).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use satchel_protocol::ws::{decode_server_frame, ServerFrame};
use satchel_protocol::*;
use satchel_test_support::{engine, TestServer, Workspace};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[path = "wire.rs"]
mod wire;

use wire::*;

/// Baseline: one small transaction committed with fsync (WAL, synchronous=FULL).
async fn fsync_commit_baseline(samples: usize) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = SqliteConnectOptions::new()
        .filename(dir.path().join("baseline.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .connect()
        .await
        .unwrap();
    sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        .execute(&mut conn)
        .await
        .unwrap();
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples {
        let start = Instant::now();
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("INSERT INTO t (body) VALUES (?)")
            .bind(format!("row {i}"))
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        times.push(start.elapsed());
    }
    times.sort();
    percentile(&times, 0.5)
}

/// One sender at a fixed rate; latency from writing the frame to reading its ack.
async fn ack_latency(
    url: &str,
    conversation: ConversationId,
    rate: u32,
    seconds: u32,
) -> (Duration, Duration) {
    let token = token(url, "wang", "bench-latency").await;
    let ws = socket(url, &token, None).await;
    let (mut sink, mut stream) = ws.split();
    let total = (rate * seconds) as usize;
    let sent_at: Arc<Mutex<std::collections::HashMap<String, Instant>>> = Default::default();
    let reader = {
        let sent_at = sent_at.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(total);
            while latencies.len() < total {
                let Some(Ok(WsMessage::Text(t))) = stream.next().await else {
                    break;
                };
                if let Ok(ServerFrame::Ack { txn_id, .. }) = decode_server_frame(t.as_str()) {
                    let now = Instant::now();
                    if let Some(start) = sent_at.lock().await.remove(txn_id.as_str()) {
                        latencies.push(now - start);
                    }
                }
            }
            latencies
        })
    };
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    for i in 0..total {
        tick.tick().await;
        let txn = format!("lat-{i:08}");
        sent_at.lock().await.insert(txn.clone(), Instant::now());
        sink.send(send_frame(
            conversation,
            txn,
            format!("报价确认 latency {i}"),
        ))
        .await
        .unwrap();
    }
    let mut latencies = reader.await.unwrap();
    latencies.sort();
    (percentile(&latencies, 0.5), percentile(&latencies, 0.99))
}

/// Fills a conversation with `count` messages, then times a fresh client's catch-up
/// (engine with its own SQLite file) until everything is applied locally.
async fn catch_up(url: &str, ws: &Workspace, count: usize) -> Duration {
    let token = token(url, "wang", "bench-fill").await;
    let filler = socket(url, &token, None).await;
    let (mut sink, mut stream) = filler.split();
    let writer = tokio::spawn(async move {
        for i in 0..count {
            sink.feed(send_frame(
                ws_order(),
                format!("fill-{i:08}"),
                format!("历史消息 history message number {i} 拉链 YKK"),
            ))
            .await
            .unwrap();
            if i % 256 == 255 {
                sink.flush().await.unwrap();
            }
        }
        sink.flush().await.unwrap();
        sink
    });
    let mut acks = 0;
    while acks < count {
        let Some(Ok(WsMessage::Text(t))) = stream.next().await else {
            break;
        };
        if let Ok(ServerFrame::Ack { .. }) = decode_server_frame(t.as_str()) {
            acks += 1;
        }
    }
    let _ = writer.await;
    let dir = tempfile::tempdir().unwrap();
    let client = engine(dir.path(), url, "alice").await.unwrap();
    let start = Instant::now();
    client.start().await.unwrap();
    let target = client
        .api()
        .unwrap()
        .conversation(ws.order_a.id)
        .await
        .unwrap()
        .last_seq;
    loop {
        if client.local().max_seq(ws.order_a.id).await.unwrap() >= target {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = start.elapsed();
    // A fast catch-up that lost rows would be no catch-up at all.
    let held = client.local().confirmed(ws.order_a.id).await.unwrap();
    assert_eq!(
        held.len() as i64,
        target.0,
        "the client holds every message"
    );
    assert!(
        held.iter()
            .enumerate()
            .all(|(i, m)| m.seq == Some(Seq(i as i64 + 1))),
        "in order, without gaps"
    );
    client.close().await;
    elapsed
}

// The order conversation of the seeded workspace is always the first one created.
fn ws_order() -> ConversationId {
    ConversationId(1)
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick { 10 } else { 1 };
    println!(
        "Satchel sync benchmark (SQLite, loopback){}",
        if quick { " — quick run" } else { "" }
    );

    let fsync = fsync_commit_baseline(200).await;
    println!(
        "baseline: one fsync'd SQLite commit p50          {:>9.3} ms",
        ms(fsync)
    );

    let server = TestServer::start().await.unwrap();
    let url = server.url();
    let ws = Workspace::seed(&url).await.unwrap();
    assert_eq!(ws.order_a.id, ws_order());

    let (p50, p99) = ack_latency(&url, ws.order_b.id, 200, 10 / scale.min(5) as u32).await;
    println!(
        "send→ack at 200 msg/s           p50 {:>8.3} ms ({:.2}× fsync)  p99 {:>8.3} ms ({:.2}× fsync)   target p50 ≤ 3 ms, p99 ≤ 15 ms",
        ms(p50),
        ms(p50) / ms(fsync),
        ms(p99),
        ms(p99) / ms(fsync)
    );

    let rate = throughput(std::slice::from_ref(&url), ws.order_b.id, 50, 2000 / scale).await;
    println!(
        "durable msg/s, 50 senders       {:>10.0} msg/s ({:.1}× the 1/fsync rate of {:.0}/s)   target ≥ 5,000",
        rate,
        rate * fsync.as_secs_f64(),
        1.0 / fsync.as_secs_f64()
    );

    let (f50, f99) = fanout(&url, &url, ws.internal.id, 1000 / scale, 200 / scale).await;
    println!(
        "send→deliver, {} receivers    p50 {:>8.3} ms  p99 {:>8.3} ms ({:.2}× fsync)",
        1000 / scale,
        ms(f50),
        ms(f99),
        ms(f99) / ms(fsync)
    );

    let behind = 100_000 / scale;
    let took = catch_up(&url, &ws, behind).await;
    println!(
        "catch-up of {behind} messages      {:>9.3} s ({:.0} msg/s)   target ≤ 3 s for 100,000",
        took.as_secs_f64(),
        behind as f64 / took.as_secs_f64()
    );
}
