//! A generated history of mixed Chinese/English order chat, the same on every run, for
//! search tests and benchmarks: Chinese terms (often run together without spaces),
//! English words, mixed terms such as YKK拉链 and PU皮, order numbers; photos with
//! captions and confirmation cards among the texts.

use std::collections::HashMap;

use satchel_protocol::*;

/// The first message's time; each next one is a second later.
pub const START: UnixMillis = 1_790_000_000_000;
/// Conversations the messages are spread over (ids 1…).
pub const CONVERSATIONS: i64 = 20;

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

/// A small deterministic generator (xorshift).
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

/// A generated message and the text a person would search in (its text, caption and
/// file name, or card item and value).
pub struct Generated {
    pub message: Message,
    pub text: String,
}

/// `count` messages from other people, ids 1…count, ascending in time.
pub fn corpus(count: usize) -> Vec<Generated> {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    (0..count)
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
                        sha256: format!("{i:064x}"),
                        size: 1,
                        mime: "image/jpeg".into(),
                        name: format!("IMG_{i}.jpg"),
                        width: None,
                        height: None,
                        preview: None,
                        screen: None,
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
            let index = i64::try_from(i).unwrap_or(i64::MAX);
            Generated {
                message: Message {
                    id: MessageId(index + 1),
                    conversation_id: ConversationId(1 + index % CONVERSATIONS),
                    seq: Seq(1 + index / CONVERSATIONS),
                    sender_id: MemberId(1 + i64::try_from(rng.next() % 4).unwrap_or(0)),
                    sender_device: DeviceId("another-device".into()),
                    txn_id: TxnId(format!("txn-{i:08}")),
                    body,
                    sent_at: START + index * 1000,
                    chain: String::new(),
                },
                text,
            }
        })
        .collect::<Vec<_>>()
        .into_iter()
        .scan(HashMap::new(), |links, mut g| {
            // Linked as the server would link them, so clients verify the corpus.
            let previous = links
                .entry(g.message.conversation_id)
                .or_insert_with(|| chain::GENESIS.to_owned());
            g.message.chain = chain::link_of(&g.message, previous);
            previous.clone_from(&g.message.chain);
            Some(g)
        })
        .collect()
}

/// Stream events for a stretch of the corpus, positions starting after `after`.
pub fn events(messages: &[Generated], after: i64) -> Vec<StreamEvent> {
    messages
        .iter()
        .zip(after + 1..)
        .map(|(g, pos)| StreamEvent {
            pos: StreamPos(pos),
            event: Event::Message {
                message: g.message.clone(),
            },
        })
        .collect()
}
