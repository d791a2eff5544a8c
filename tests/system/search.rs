//! Search that works for Chinese, checked against 100,000 generated messages whose
//! answers the test computes itself with a plain scan: one-, two- and three-character
//! Chinese queries, mixed Chinese/Latin terms, English prefixes, an order number, and
//! every filter. The index is built incrementally, batch by batch, as sync builds it.

use std::collections::BTreeSet;

use satchel_client::local::LocalDb;
use satchel_client::{SearchKind, SearchOrder, SearchQuery};
use satchel_protocol::*;

const MESSAGES: usize = 100_000;
const CONVERSATIONS: i64 = 20;
const START: UnixMillis = 1_790_000_000_000;

const CHINESE: [&str; 18] = [
    "拉链",
    "五金",
    "色号",
    "头层牛皮",
    "帆布",
    "车线",
    "里布",
    "包装",
    "纸箱",
    "样品",
    "大货",
    "验货",
    "手柄",
    "拉链头",
    "色卡",
    "请确认",
    "明天出货",
    "辛苦了",
];
const LATIN: [&str; 10] = [
    "zipper",
    "zipped",
    "leather",
    "handle",
    "sample",
    "carton",
    "quote",
    "stitching",
    "lining",
    "hardware",
];
const MIXED: [&str; 3] = ["YKK拉链", "PU皮", "TB-2026-031"];

/// A small deterministic generator (xorshift), so every run searches the same corpus.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

struct Generated {
    message: Message,
    /// What a person would search in: the text, caption or card value.
    text: String,
}

fn corpus() -> Vec<Generated> {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    (0..MESSAGES)
        .map(|i| {
            let words = 3 + rng.next() % 6;
            let mut text = String::new();
            for _ in 0..words {
                let word = match rng.next() % 10 {
                    0..=5 => rng.pick(&CHINESE),
                    6..=8 => rng.pick(&LATIN),
                    _ => rng.pick(&MIXED),
                };
                // Chinese often runs into Chinese without spaces; Latin words are
                // separated from Latin words.
                let latin_edge = text.ends_with(|c: char| c.is_ascii())
                    || word.starts_with(|c: char| c.is_ascii());
                if !text.is_empty() && (rng.next().is_multiple_of(2) || latin_edge) {
                    text.push(' ');
                }
                text.push_str(word);
            }
            let body = match rng.next() % 20 {
                0 => MessageBody::Image {
                    attachment: AttachmentRef {
                        sha256: format!("{:064x}", i),
                        size: 1,
                        mime: "image/jpeg".into(),
                        name: format!("IMG_{i}.jpg"),
                        width: None,
                        height: None,
                    },
                    caption: text.clone(),
                },
                1 => MessageBody::ConfirmationRequest {
                    item: "colour".into(),
                    value: text.clone(),
                    attachments: vec![],
                    needs_confirmation: false,
                    deadline: None,
                },
                _ => MessageBody::Text {
                    text: text.clone(),
                    reply_to: None,
                    needs_confirmation: false,
                    deadline: None,
                },
            };
            let text = match &body {
                MessageBody::Image {
                    caption,
                    attachment,
                } => format!("{caption}\n{}", attachment.name),
                MessageBody::ConfirmationRequest { item, value, .. } => format!("{item}\n{value}"),
                _ => text,
            };
            let conversation = ConversationId(1 + (i as i64 % CONVERSATIONS));
            Generated {
                message: Message {
                    id: MessageId(i as i64 + 1),
                    conversation_id: conversation,
                    seq: Seq(1 + i as i64 / CONVERSATIONS),
                    sender_id: MemberId(1 + (rng.next() % 4) as i64),
                    sender_device: DeviceId("another-device".into()),
                    txn_id: TxnId(format!("txn-{i:08}")),
                    body,
                    sent_at: START + i as i64 * 1000,
                },
                text,
            }
        })
        .collect()
}

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
    db.search(&SearchQuery {
        limit: MESSAGES as u32,
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
    let corpus = corpus();
    let device = DeviceId("this-device-0001".into());
    for (n, chunk) in corpus.chunks(2_000).enumerate() {
        let events: Vec<StreamEvent> = chunk
            .iter()
            .enumerate()
            .map(|(i, g)| StreamEvent {
                pos: StreamPos((n * 2_000 + i + 1) as i64),
                event: Event::Message {
                    message: g.message.clone(),
                },
            })
            .collect();
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
    }
    assert!(found(&db, text("不存在的词")).await.is_empty());

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
