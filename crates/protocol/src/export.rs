//! An order's exported record and the rules that check it without any server.
//!
//! An export is a folder (or the same tree in a ZIP file) holding `manifest.json`
//! ([`Manifest`]), `record.html` (a readable rendering) and `files/` (every
//! attachment's original bytes). The manifest lists every message with the exact JSON
//! its chain link was computed over, so [`check`] can recompute the whole chain
//! ([`crate::chain`]) and match every file against the hash its message recorded.
//! `docs/export-format.md` describes the same for third parties.
//!
//! What the chain proves: nothing in the listed messages was changed, removed,
//! reordered or inserted since the server chained them, and every attachment is the
//! file its message named. Removing messages from the *end* and rewriting `head` to
//! match cannot be seen from the export alone; comparing `head` with a link obtained
//! independently (the other party's app shows it) closes that gap
//! ([`CheckOptions::expected_head`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::chain::{self, Chained};
use crate::domain::{MessageBody, Role};
use crate::ids::*;
use crate::order::OrderInfo;
use crate::UnixMillis;

/// The `format` value of this version of the manifest.
pub const FORMAT: &str = "satchel-export-v1";
/// Name of the manifest inside an export.
pub const MANIFEST: &str = "manifest.json";
/// Name of the readable rendering inside an export.
pub const RENDERING: &str = "record.html";
/// Folder of the attachments inside an export.
pub const FILES_DIR: &str = "files";

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    pub exported_at: UnixMillis,
    pub exported_by: ExportedMember,
    /// The server the exporting app syncs with.
    pub server: String,
    pub conversation: ExportedConversation,
    /// Every message, ascending by `seq` from 1, as the server chained it.
    pub messages: Vec<ExportedMessage>,
    /// The last message's seq and link: the fingerprint of the whole record.
    pub head: Head,
    /// Every attachment of the messages, once per distinct file.
    pub files: Vec<ExportedFile>,
    /// Where each member had read to when the record was exported.
    pub receipts: Vec<ExportedReceipt>,
    /// Breaks in the chain the exporting app had found (normally none).
    #[serde(default)]
    pub alarms: Vec<ExportedAlarm>,
    /// The readable rendering and its SHA-256.
    pub rendering: ExportedRendering,
}

/// A member as the exporting app knew them (informational, not chained).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedMember {
    pub id: MemberId,
    pub name: String,
    pub role: Role,
}

/// The conversation the record is of, with its order details and members
/// (informational, not chained; `id` is part of every link).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedConversation {
    pub id: ConversationId,
    pub title: String,
    pub order_number: Option<String>,
    /// The customer organisation's name.
    pub organisation: Option<String>,
    pub order: Option<OrderInfo>,
    pub members: Vec<ExportedMember>,
}

/// A message exactly as chained. `body` is the JSON text the link covers (a string,
/// so that no JSON library's re-encoding can change a byte of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedMessage {
    pub seq: Seq,
    pub id: MessageId,
    pub sender_id: MemberId,
    pub sender_device: String,
    pub txn_id: String,
    pub sent_at: UnixMillis,
    pub body: String,
    pub chain: String,
}

impl ExportedMessage {
    fn link(&self, conversation_id: ConversationId, previous: &str) -> String {
        Chained {
            conversation_id,
            seq: self.seq,
            id: self.id,
            sender_id: self.sender_id,
            sender_device: &self.sender_device,
            txn_id: &self.txn_id,
            sent_at: self.sent_at,
            body_json: &self.body,
        }
        .link(previous)
    }
}

/// A point in the chain: a message's seq and its link. The record's last one is its
/// fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub seq: Seq,
    pub chain: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedFile {
    pub sha256: String,
    pub size: u64,
    /// The name the sender gave it.
    pub name: String,
    /// Path inside the export, under [`FILES_DIR`], with `/` separators.
    pub path: String,
}

/// Where one member had delivered and read to when the record was exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedReceipt {
    pub member_id: MemberId,
    pub delivered_up_to: Seq,
    pub read_up_to: Seq,
    pub updated_at: UnixMillis,
}

/// A break in the chain the exporting app found while syncing (see the client's
/// `integrity` module); `problem` is `mismatch`, `missing` or `rewritten`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedAlarm {
    pub seq: Seq,
    pub problem: String,
    pub detail: String,
    pub detected_at: UnixMillis,
}

/// The readable page's path and SHA-256, which catches accidental damage only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedRendering {
    pub path: String,
    pub sha256: String,
}

/// A file as found in the export: its size and SHA-256, or why it could not be read.
pub type FoundFile = Result<(u64, String), String>;

/// What to check beyond the export itself.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// A head link obtained independently (for example read off the other party's
    /// app); the record must end in it.
    pub expected_head: Option<String>,
}

/// Something wrong with an export, named so a person can find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The manifest is not of this format, or names the rendering wrongly.
    Format(String),
    /// Position `index` (0-based) in `messages` holds `found` where `expected` belongs.
    OutOfSequence {
        index: usize,
        expected: Seq,
        found: Seq,
    },
    /// The message's link does not follow from its content and the link before it.
    LinkMismatch { seq: Seq, id: MessageId },
    /// The message body is not a message body.
    UnreadableBody { seq: Seq, reason: String },
    /// `head` does not name the last message.
    HeadMismatch { head: Head, last: Option<Head> },
    /// The record does not end in the independently obtained head.
    UnexpectedHead { expected: String, found: String },
    /// A message names a file the manifest does not list.
    FileNotListed { seq: Seq, sha256: String },
    /// A listed file differs from what the message recorded, or is missing.
    FileDiffers { path: String, reason: String },
    /// A path in the manifest points outside the export's `files/` folder.
    UnsafePath(String),
    /// The rendering differs from the one written at export time.
    RenderingDiffers(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Format(why) => write!(f, "manifest: {why}"),
            Problem::OutOfSequence {
                index,
                expected,
                found,
            } => {
                let what = if found.0 > expected.0 {
                    format!("message seq {expected} is missing (seq {found} follows)")
                } else {
                    "messages are out of order".to_owned()
                };
                write!(
                    f,
                    "{what}: entry {} holds seq {found} where seq {expected} belongs",
                    index + 1
                )
            }
            Problem::LinkMismatch { seq, id } => write!(
                f,
                "message seq {seq} (id {id}) was altered: its content and position do not match its chain link"
            ),
            Problem::UnreadableBody { seq, reason } => {
                write!(f, "message seq {seq} has an unreadable body: {reason}")
            }
            Problem::HeadMismatch { head, last } => match last {
                Some(last) => write!(
                    f,
                    "the record ends at seq {} (link {}) but its head names seq {} (link {}): messages were removed from the end or the head was changed",
                    last.seq, last.chain, head.seq, head.chain
                ),
                None => write!(
                    f,
                    "the record has no messages but its head names seq {}",
                    head.seq
                ),
            },
            Problem::UnexpectedHead { expected, found } => write!(
                f,
                "the record ends in link {found}, not in the expected {expected}"
            ),
            Problem::FileNotListed { seq, sha256 } => write!(
                f,
                "message seq {seq} names file {sha256}, which the export does not contain"
            ),
            Problem::FileDiffers { path, reason } => write!(f, "{path}: {reason}"),
            Problem::UnsafePath(path) => {
                write!(f, "path {path:?} points outside the export's files")
            }
            Problem::RenderingDiffers(path) => write!(
                f,
                "{path} was changed after export (it is a rendering; the messages above are the evidence)"
            ),
        }
    }
}

/// What a check found: counts, and every problem (empty when the export verifies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub messages: usize,
    pub files: usize,
    pub head: Head,
    pub problems: Vec<Problem>,
}

impl Report {
    /// True when nothing is wrong: the export verifies.
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Whether `path` is a plain relative path under [`FILES_DIR`]: no `..`, no absolute
/// or drive prefix, no backslashes, nothing empty.
pub fn is_safe_file_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("files/") else {
        return false;
    };
    !rest.is_empty()
        && !path.contains('\\')
        && !path.contains('\0')
        && !path.contains(':')
        && rest
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// Checks a manifest. `find` gives the size and SHA-256 of a file in the export by its
/// path (only ever called with paths [`is_safe_file_path`] accepts, or the rendering's).
pub fn check(
    manifest: &Manifest,
    options: &CheckOptions,
    mut find: impl FnMut(&str) -> FoundFile,
) -> Report {
    let mut problems = Vec::new();
    if manifest.format != FORMAT {
        problems.push(Problem::Format(format!(
            "format is {:?}, this verifier reads {FORMAT:?}",
            manifest.format
        )));
    }
    let conversation = manifest.conversation.id;

    // The chain: seq 1, 2, 3… each linked to the one before.
    let mut previous = chain::GENESIS.to_owned();
    let mut attachments: Vec<(Seq, String, u64)> = Vec::new();
    for (index, message) in manifest.messages.iter().enumerate() {
        let expected = Seq(i64::try_from(index).unwrap_or(i64::MAX) + 1);
        if message.seq != expected {
            problems.push(Problem::OutOfSequence {
                index,
                expected,
                found: message.seq,
            });
        }
        if message.link(conversation, &previous) != message.chain {
            problems.push(Problem::LinkMismatch {
                seq: message.seq,
                id: message.id,
            });
        }
        match serde_json::from_str::<MessageBody>(&message.body) {
            Ok(body) => {
                if let Some(a) = body.attachment() {
                    attachments.push((message.seq, a.sha256.clone(), a.size));
                }
            }
            Err(e) => problems.push(Problem::UnreadableBody {
                seq: message.seq,
                reason: e.to_string(),
            }),
        }
        // Continue from the claimed link, so one altered message is one problem.
        previous.clone_from(&message.chain);
    }
    let last = manifest.messages.last().map(|m| Head {
        seq: m.seq,
        chain: m.chain.clone(),
    });
    let head_matches = match &last {
        Some(last) => *last == manifest.head,
        None => manifest.head.seq == Seq(0) && manifest.head.chain == chain::GENESIS,
    };
    if !head_matches {
        problems.push(Problem::HeadMismatch {
            head: manifest.head.clone(),
            last,
        });
    }
    if let Some(expected) = &options.expected_head {
        if *expected != manifest.head.chain {
            problems.push(Problem::UnexpectedHead {
                expected: expected.clone(),
                found: manifest.head.chain.clone(),
            });
        }
    }

    // The files: each one a message recorded, with the bytes it recorded.
    let listed: BTreeMap<&str, &ExportedFile> = manifest
        .files
        .iter()
        .map(|f| (f.sha256.as_str(), f))
        .collect();
    let mut checked: BTreeMap<&str, ()> = BTreeMap::new();
    for (seq, sha256, size) in &attachments {
        let Some(file) = listed.get(sha256.as_str()) else {
            problems.push(Problem::FileNotListed {
                seq: *seq,
                sha256: sha256.clone(),
            });
            continue;
        };
        if checked.insert(sha256.as_str(), ()).is_some() {
            continue;
        }
        if !is_safe_file_path(&file.path) {
            problems.push(Problem::UnsafePath(file.path.clone()));
            continue;
        }
        match find(&file.path) {
            Err(reason) => problems.push(Problem::FileDiffers {
                path: file.path.clone(),
                reason,
            }),
            Ok((found_size, found_hash)) => {
                if found_hash != *sha256 || found_size != *size {
                    problems.push(Problem::FileDiffers {
                        path: file.path.clone(),
                        reason: format!(
                            "holds {found_size} bytes with SHA-256 {found_hash}; message seq {seq} recorded {size} bytes with SHA-256 {sha256}"
                        ),
                    });
                }
            }
        }
    }

    if manifest.rendering.path != RENDERING {
        problems.push(Problem::Format(format!(
            "the rendering is {:?}, expected {RENDERING:?}",
            manifest.rendering.path
        )));
    } else {
        match find(RENDERING) {
            Ok((_, hash)) if hash == manifest.rendering.sha256 => {}
            _ => problems.push(Problem::RenderingDiffers(RENDERING.to_owned())),
        }
    }

    Report {
        messages: manifest.messages.len(),
        files: checked.len(),
        head: manifest.head.clone(),
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_under_files_are_safe() {
        assert!(is_safe_file_path("files/ab12-样品 照片.jpg"));
        assert!(is_safe_file_path("files/ab/cd.pdf"));
        for bad in [
            "files/",
            "files/../manifest.json",
            "files/./x",
            "../files/x",
            "/etc/passwd",
            "files/a\\..\\..\\x",
            "files/C:x",
            "files//x",
            "record.html",
            "files/a\0b",
        ] {
            assert!(!is_safe_file_path(bad), "{bad:?} should be refused");
        }
    }
}
