//! Search latency over a large local history. Prints p50/p95 for one-, two- and
//! three-character Chinese queries and an English word, beside a full-scan `LIKE` over
//! the same rows measured in the same run, and the index's size beside the text's.
//! Asserts nothing. Targets (issue "History"): p95 ≤ 10 ms; index ≤ the text's size.
//!
//! Run: `cargo bench -p satchel-tests --bench search` (1,000,000 messages; add
//! `-- --quick` for 100,000).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use satchel_client::local::LocalDb;
use satchel_client::{SearchOrder, SearchQuery};
use satchel_protocol::*;
use satchel_test_support::corpus::{corpus, events};
use sqlx::{Connection, Row};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let count = if quick { 100_000 } else { 1_000_000 };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("satchel.db");
    let db = LocalDb::open(&path).await.unwrap();
    let messages = corpus(count);
    let text_bytes: usize = messages.iter().map(|g| g.text.len()).sum();
    let device = DeviceId("bench-device-0001".into());
    let started = Instant::now();
    for (n, chunk) in messages.chunks(2_000).enumerate() {
        db.apply_events(MemberId(1), &device, &events(chunk, (n * 2_000) as i64))
            .await
            .unwrap();
    }
    let stored = started.elapsed();
    let started = Instant::now();
    db.index_pending().await.unwrap();
    let indexed = started.elapsed();
    // A rare term: one photo's file name, from the middle of the history.
    let rare = messages[count / 2..]
        .iter()
        .find_map(|g| match &g.message.body {
            MessageBody::Image { attachment, .. } => Some(attachment.name.replace(".jpg", "")),
            _ => None,
        })
        .expect("photos in the corpus");
    drop(messages);

    // A separate read connection for the baseline and the size.
    let mut raw = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let index_bytes: i64 = sqlx::query(
        "SELECT COALESCE(SUM(pgsize), 0) AS bytes FROM dbstat WHERE name LIKE 'search_index%'",
    )
    .fetch_one(&mut raw)
    .await
    .unwrap()
    .get("bytes");

    println!("search over {count} messages (stored in {stored:.1?}, indexed in {indexed:.1?})");
    println!(
        "index {:.1} MB for {:.1} MB of text: {:.2}× (target ≤ 1.0×)",
        index_bytes as f64 / 1e6,
        text_bytes as f64 / 1e6,
        index_bytes as f64 / text_bytes as f64
    );
    let runs = if quick { 20 } else { 50 };
    for (label, query) in [
        ("1 character", "皮"),
        ("2 characters", "五金"),
        ("3 characters", "拉链头"),
        ("English word", "leather"),
        ("rare name", rare.as_str()),
    ] {
        let mut search = Vec::new();
        let mut scan = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let hits = db
                .search(&SearchQuery {
                    text: query.into(),
                    order: SearchOrder::Newest,
                    limit: 50,
                    ..SearchQuery::default()
                })
                .await
                .unwrap();
            search.push(t.elapsed());
            assert!(!hits.is_empty(), "{query}: found");
            let t = Instant::now();
            let rows = sqlx::query(
                // NOT INDEXED: a full scan, as without a search index.
                "SELECT local_id FROM messages NOT INDEXED WHERE body LIKE ?1 ORDER BY sent_at DESC LIMIT 50",
            )
            .bind(format!("%{query}%"))
            .fetch_all(&mut raw)
            .await
            .unwrap();
            scan.push(t.elapsed());
            assert!(!rows.is_empty());
        }
        search.sort();
        scan.sort();
        let (p50, p95) = (percentile(&search, 0.5), percentile(&search, 0.95));
        let (b50, b95) = (percentile(&scan, 0.5), percentile(&scan, 0.95));
        println!(
            "{label:>13} {query:<8} search p50 {:.2} ms p95 {:.2} ms | LIKE scan p50 {:.2} ms p95 {:.2} ms | p95 {:.1}× faster (target p95 ≤ 10 ms)",
            ms(p50),
            ms(p95),
            ms(b50),
            ms(b95),
            ms(b95) / ms(p95).max(1e-9)
        );
    }
}
