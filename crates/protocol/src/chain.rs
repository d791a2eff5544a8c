//! The hash chain that makes a conversation's history tamper-evident.
//!
//! Every message commits to the message before it: its **link** is the SHA-256 of the
//! previous link and the message's own fields. The server computes links when it
//! stores a message; every client recomputes them as it syncs, and an export carries
//! them so that a third party can check a record without any server. Changing,
//! removing, reordering or inserting one message changes every later link.
//!
//! Edits and recalls are messages of their own, so they are chained like any other;
//! the original they point at is never changed.
//!
//! The preimage is plain text so that a verifier in any language can rebuild it from
//! an export (see `docs/export-format.md`):
//!
//! ```text
//! satchel-chain-v1\n
//! <previous link, 64 lower-case hex digits>\n
//! <conversation id>\n<seq>\n<message id>\n<sender id>\n<sender device>\n<txn id>\n<sent_at>\n
//! <body: the message body's JSON, byte for byte>
//! ```
//!
//! Numbers are decimal, device and transaction ids are `[A-Za-z0-9_-]` (see
//! [`crate::validate::client_id`]) and the body's JSON has no raw line breaks, so the
//! fields cannot run into each other. The first message's previous link is
//! [`GENESIS`].

use sha2::{Digest, Sha256};

use crate::domain::{Message, MessageBody};
use crate::ids::*;
use crate::UnixMillis;

/// The "previous link" of a conversation's first message.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The first line of every preimage; a future format changes it.
const DOMAIN: &str = "satchel-chain-v1";

/// The fields of a message that its link commits to, with the body as the exact JSON
/// text that was hashed.
#[derive(Debug, Clone, Copy)]
pub struct Chained<'a> {
    pub conversation_id: ConversationId,
    pub seq: Seq,
    pub id: MessageId,
    pub sender_id: MemberId,
    pub sender_device: &'a str,
    pub txn_id: &'a str,
    pub sent_at: UnixMillis,
    pub body_json: &'a str,
}

impl<'a> Chained<'a> {
    /// The chained fields of `message`, with its body as the JSON text `body_json`.
    pub fn of(message: &'a Message, body_json: &'a str) -> Chained<'a> {
        Chained {
            conversation_id: message.conversation_id,
            seq: message.seq,
            id: message.id,
            sender_id: message.sender_id,
            sender_device: message.sender_device.as_str(),
            txn_id: message.txn_id.as_str(),
            sent_at: message.sent_at,
            body_json,
        }
    }

    /// The link of this message, given the link of the one before it.
    pub fn link(&self, previous: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(DOMAIN.as_bytes());
        hasher.update(b"\n");
        hasher.update(previous.as_bytes());
        hasher.update(b"\n");
        for number in [
            self.conversation_id.0,
            self.seq.0,
            self.id.0,
            self.sender_id.0,
        ] {
            hasher.update(number.to_string().as_bytes());
            hasher.update(b"\n");
        }
        hasher.update(self.sender_device.as_bytes());
        hasher.update(b"\n");
        hasher.update(self.txn_id.as_bytes());
        hasher.update(b"\n");
        hasher.update(self.sent_at.to_string().as_bytes());
        hasher.update(b"\n");
        hasher.update(self.body_json.as_bytes());
        hex::encode(hasher.finalize())
    }
}

/// The canonical JSON text of a body: what the server hashes and stores.
pub fn body_json(body: &MessageBody) -> String {
    // Serialising a plain enum of strings, numbers and vectors cannot fail; an error
    // here would be a bug in the type, so it degrades to a text that never verifies.
    serde_json::to_string(body).unwrap_or_default()
}

/// The link `message` should carry, given the link of the message before it.
pub fn link_of(message: &Message, previous: &str) -> String {
    let body = body_json(&message.body);
    Chained::of(message, &body).link(previous)
}

/// Whether `s` looks like a link: 64 lower-case hex digits.
pub fn is_link(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(seq: i64, text: &str) -> Message {
        Message {
            id: MessageId(100 + seq),
            conversation_id: ConversationId(7),
            seq: Seq(seq),
            sender_id: MemberId(3),
            sender_device: DeviceId("device-aaaa".into()),
            txn_id: TxnId(format!("txn-{seq:04}")),
            body: MessageBody::Text {
                text: text.into(),
                reply_to: None,
                needs_confirmation: false,
                deadline: None,
            },
            sent_at: 1_700_000_000_000 + seq,
            chain: String::new(),
        }
    }

    #[test]
    fn the_preimage_is_the_documented_text() {
        let m = message(1, "YKK 拉链\n5号");
        let expected_preimage = "satchel-chain-v1\n".to_owned()
            + GENESIS
            + "\n7\n1\n101\n3\ndevice-aaaa\ntxn-0001\n1700000000001\n"
            + r#"{"kind":"text","text":"YKK 拉链\n5号"}"#;
        assert_eq!(
            link_of(&m, GENESIS),
            hex::encode(Sha256::digest(expected_preimage.as_bytes()))
        );
    }

    #[test]
    fn every_field_and_the_previous_link_change_the_link() {
        let base = message(2, "黑色");
        let previous = link_of(&message(1, "hello"), GENESIS);
        let link = link_of(&base, &previous);
        assert!(is_link(&link));
        assert_ne!(link, link_of(&base, GENESIS));
        let mut changed = base.clone();
        changed.body = MessageBody::Text {
            text: "黑 色".into(),
            reply_to: None,
            needs_confirmation: false,
            deadline: None,
        };
        assert_ne!(link, link_of(&changed, &previous));
        let mut changed = base.clone();
        changed.sent_at += 1;
        assert_ne!(link, link_of(&changed, &previous));
        let mut changed = base.clone();
        changed.sender_id = MemberId(4);
        assert_ne!(link, link_of(&changed, &previous));
        let mut changed = base;
        changed.seq = Seq(3);
        assert_ne!(link, link_of(&changed, &previous));
    }

    #[test]
    fn links_are_recognised_by_shape() {
        assert!(is_link(GENESIS));
        assert!(!is_link(""));
        assert!(!is_link(&"A".repeat(64)));
    }
}
