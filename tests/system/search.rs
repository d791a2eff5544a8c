//! Search that works for Chinese, checked against 100,000 generated messages whose
//! answers the test computes itself with a plain scan: one-, two- and three-character
//! Chinese queries, mixed Chinese/Latin terms, English prefixes, an order number, and
//! every filter. The index is built incrementally, batch by batch, as sync builds it.

use std::collections::BTreeSet;

use satchel_client::local::LocalDb;
use satchel_client::{SearchKind, SearchOrder, SearchQuery};
use satchel_protocol::*;
use satchel_test_support::corpus::{corpus, events, Generated, START};

const MESSAGES: usize = 100_000;

/// The plain-scan answer: Latin words match as word prefixes, anything with Chinese as a
/// contiguous substring; every whitespace-separated part must match.
fn expected(corpus: &[Generated], query: &str, keep: impl Fn(&Message) -> bool) -> Vec<MessageId> {
    let parts: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    let mut ids: Vec<(UnixMillis, MessageId)> = corpus
        .iter()
        .filter(|g| keep(&g.message))
        .filter(|g| {
            let text = g.text.to_lowercase();
            parts.iter().all(|p| {
                if p.chars().all(|c| c.is_ascii_alphanumeric()) {
                    text.split(|c: char| !c.is_alphanumeric() || !c.is_ascii())
                        .any(|w| w.starts_with(p.as_str()))
                } else {
                    text.contains(p.as_str())
                }
            })
        })
        .map(|g| (g.message.sent_at, g.message.id))
        .collect();
    ids.sort_by(|a, b| b.cmp(a));
    ids.into_iter().map(|(_, id)| id).collect()
}

/// Compares result lists, naming the first difference rather than printing thousands of ids.
fn same(found: &[MessageId], want: &[MessageId], what: &str) {
    if found != want {
        let first = found.iter().zip(want).position(|(a, b)| a != b);
        panic!(
            "{what}: found {} messages, a scan finds {}; first difference at {first:?} \
             (found {:?}, expected {:?})",
            found.len(),
            want.len(),
            first.and_then(|i| found.get(i)),
            first.and_then(|i| want.get(i)),
        );
    }
}

async fn found(db: &LocalDb, query: SearchQuery) -> Vec<MessageId> {
    first(db, query, MESSAGES).await
}

/// The first `limit` hits, as a results page asks for them.
async fn first(db: &LocalDb, query: SearchQuery, limit: usize) -> Vec<MessageId> {
    db.search(&SearchQuery {
        limit: limit as u32,
        ..query
    })
    .await
    .unwrap()
    .into_iter()
    .map(|h| h.message.id.expect("confirmed"))
    .collect()
}

fn text(q: &str) -> SearchQuery {
    SearchQuery {
        text: q.into(),
        ..SearchQuery::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chinese_english_and_mixed_queries_find_exactly_what_a_scan_finds() {
    let dir = tempfile::tempdir().unwrap();
    let db = LocalDb::open(&dir.path().join("satchel.db")).await.unwrap();
    let corpus = corpus(MESSAGES);
    let device = DeviceId("this-device-0001".into());
    for (n, chunk) in corpus.chunks(2_000).enumerate() {
        let events = events(chunk, (n * 2_000) as i64);
        db.apply_events(MemberId(1), &device, &events)
            .await
            .unwrap();
        // As sync does after each batch; the last batch is left for the search to index.
        if (n + 1) * 2_000 < MESSAGES {
            db.index_pending().await.unwrap();
        }
    }
    assert_eq!(
        db.index_pending().await.unwrap(),
        2_000,
        "the last batch, indexed on demand"
    );

    let everything = |_: &Message| true;
    for query in [
        "拉",
        "皮",
        "链", // one character
        "五金",
        "色号",
        "拉链", // two
        "拉链头",
        "头层牛",
        "明天出", // three
        "YKK拉链",
        "PU皮",
        "ykk", // mixed, case-insensitive
        "zip",
        "leath",
        "stitching",   // English prefixes and words
        "TB-2026-031", // an order number
        "色号 zipper", // two parts, both required
    ] {
        let want = expected(&corpus, query, everything);
        assert!(!want.is_empty(), "{query}: the corpus has answers");
        same(&found(&db, text(query)).await, &want, query);
        // A results page: the newest 50, read from the newest end of the index.
        let page = &want[..want.len().min(50)];
        same(&first(&db, text(query), 50).await, page, query);
    }
    assert!(found(&db, text("不存在的词")).await.is_empty());
    assert!(
        found(&db, text(" ,.!? ")).await.is_empty(),
        "nothing searchable"
    );
    assert!(
        matches!(
            db.search(&text(&"拉链".repeat(101))).await,
            Err(satchel_client::EngineError::Invalid(_))
        ),
        "a pasted paragraph is refused, not searched"
    );

    // Filters: one conversation, one sender, a date range, and each kind.
    let conversation = ConversationId(7);
    assert_eq!(
        found(
            &db,
            SearchQuery {
                conversation_id: Some(conversation),
                ..text("五金")
            }
        )
        .await,
        expected(&corpus, "五金", |m| m.conversation_id == conversation)
    );
    assert_eq!(
        found(
            &db,
            SearchQuery {
                sender: Some(MemberId(3)),
                ..text("拉链")
            }
        )
        .await,
        expected(&corpus, "拉链", |m| m.sender_id == MemberId(3))
    );
    let (from, until) = (START + 20_000_000, START + 30_000_000);
    assert_eq!(
        found(
            &db,
            SearchQuery {
                from: Some(from),
                until: Some(until),
                ..text("色号")
            }
        )
        .await,
        expected(&corpus, "色号", |m| m.sent_at >= from
            && m.sent_at < until)
    );
    assert_eq!(
        found(
            &db,
            SearchQuery {
                kind: Some(SearchKind::Photos),
                ..text("img")
            }
        )
        .await,
        expected(&corpus, "img", |m| matches!(
            m.body,
            MessageBody::Image { .. }
        ))
    );
    assert_eq!(
        found(
            &db,
            SearchQuery {
                kind: Some(SearchKind::Confirmations),
                ..text("皮")
            }
        )
        .await,
        expected(&corpus, "皮", |m| matches!(
            m.body,
            MessageBody::ConfirmationRequest { .. }
        ))
    );

    // Relevance puts the messages that say it most first; the limit holds.
    let ranked = db
        .search(&SearchQuery {
            order: SearchOrder::Relevance,
            limit: 20,
            ..text("拉链")
        })
        .await
        .unwrap();
    assert_eq!(ranked.len(), 20);
    let count = |h: &satchel_client::SearchHit| h.snippet.matches("拉链").count();
    assert!(count(&ranked[0]) >= count(&ranked[19]));
    assert!(ranked.iter().all(|h| h.snippet.contains("拉链")));
    let distinct: BTreeSet<i64> = ranked.iter().map(|h| h.message.local_id).collect();
    assert_eq!(distinct.len(), 20);
}

/// Backfilled history arrives newest first, so local ids run against time; an offline
/// message confirmed late is newer than everything stored after it. Pages of results
/// still come newest first and complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_stored_out_of_time_order_is_still_found_newest_first() {
    const COUNT: usize = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let db = LocalDb::open(&dir.path().join("satchel.db")).await.unwrap();
    let mut corpus = corpus(COUNT);
    // The newest message of all is stored first, as if it had waited in the outbox.
    let latest = corpus.len() - 1;
    corpus[latest].message.sent_at = START + (COUNT as i64 + 1_000) * 1000;
    let device = DeviceId("this-device-0001".into());
    let latest_chunk = corpus.len() / 1_000 - 1;
    let mut order: Vec<usize> = vec![latest_chunk];
    order.extend((0..latest_chunk).rev());
    for n in order {
        let chunk = &corpus[n * 1_000..(n + 1) * 1_000];
        db.apply_events(MemberId(1), &device, &events(chunk, (n * 1_000) as i64))
            .await
            .unwrap();
        db.index_pending().await.unwrap();
    }
    for query in ["皮", "五金", "拉链头", "leather", "zip", "TB-2026-031"] {
        let want = expected(&corpus, query, |_| true);
        for limit in [1, 50, 3_000] {
            let page = &want[..want.len().min(limit)];
            same(&first(&db, text(query), limit).await, page, query);
        }
    }
    // The same with a filter that discards most candidates.
    let conversation = ConversationId(3);
    let want = expected(&corpus, "拉链", |m| m.conversation_id == conversation);
    let filtered = first(
        &db,
        SearchQuery {
            conversation_id: Some(conversation),
            ..text("拉链")
        },
        50,
    )
    .await;
    same(&filtered, &want[..50], "拉链 in one conversation");
}
