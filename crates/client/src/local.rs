//! The profile's local SQLite database: the history the user sees, the outbox, and
//! the sync position. Everything the user can see survives restarts and works offline.
//!
//! Invariants:
//! - An own message is written together with its outbox row, before any attempt to
//!   send it; the outbox row leaves in the same transaction that records the server's
//!   ack (or the echoed event), so a crash at any point either resends (and the server
//!   answers the original) or finds the message confirmed.
//! - The stream position is stored in the same transaction as the events it covers:
//!   after a crash the client resumes exactly where its data ends.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use satchel_protocol::*;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqliteConnection, SqlitePool};

use crate::error::EngineError;
use crate::integrity;
use crate::search::{self, SearchKind, SearchOrder};

/// Where an own message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum SendState {
    /// In the outbox, not yet acknowledged.
    Pending,
    /// Durable on the server; has an id and a seq.
    Sent,
    /// Refused permanently; the user may retry or discard it.
    Failed,
}

impl SendState {
    fn parse(s: &str) -> Result<SendState, EngineError> {
        match s {
            "pending" => Ok(SendState::Pending),
            "sent" => Ok(SendState::Sent),
            "failed" => Ok(SendState::Failed),
            other => Err(EngineError::Corrupt(format!("message state {other}"))),
        }
    }
}

/// A message as the UI shows it: confirmed, or an own message still on its way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LocalMessage {
    /// Stable local id; also orders pending messages after confirmed ones.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub local_id: i64,
    pub id: Option<MessageId>,
    pub conversation_id: ConversationId,
    pub seq: Option<Seq>,
    pub sender_id: MemberId,
    pub txn_id: TxnId,
    pub body: MessageBody,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub created_at: UnixMillis,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub sent_at: Option<UnixMillis>,
    pub state: SendState,
    /// Why a failed message was refused.
    pub error: Option<String>,
}

impl LocalMessage {
    /// The message as an order record needs it, once the server has confirmed it.
    pub fn recorded(&self) -> Option<order::Recorded<'_>> {
        Some(order::Recorded {
            id: self.id?,
            seq: self.seq?,
            sender: self.sender_id,
            sent_at: self.sent_at?,
            body: &self.body,
        })
    }
}

/// Above this many index candidates a search that could not walk the index backwards
/// walks the history newest first; below, it fetches the candidates by id and sorts them.
const WALK_ABOVE_CANDIDATES: i64 = 2_000;

/// A typed word that begins more indexed words than this is searched as a prefix (an
/// OR of that many terms costs more than FTS5's merged prefix doclist).
const MAX_PREFIX_EXPANSION: usize = 64;

/// How many index candidates a backwards walk reads before it gives up and collects
/// every candidate instead (a filter that discards most of them, or history stored
/// far out of time order).
const MAX_WALKED_CANDIDATES: usize = 20_000;

/// Which messages a search keeps, as SQL over `messages m`: parameters ?2 conversation,
/// ?3 sender, ?4 from, ?5 until, ?6 kinds (a JSON array); ?1 is the query's own.
const SEARCH_FILTERS: &str = "(?2 IS NULL OR m.conversation_id = ?2)
               AND (?3 IS NULL OR m.sender_id = ?3)
               AND (?4 IS NULL OR m.sent_at >= ?4)
               AND (?5 IS NULL OR m.sent_at < ?5)
               AND (?6 IS NULL OR json_extract(m.body, '$.kind') IN (SELECT value FROM json_each(?6)))";

/// What to search for, and where.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SearchQuery {
    /// The words to find: Chinese of any length, Latin words (as prefixes), numbers.
    pub text: String,
    pub conversation_id: Option<ConversationId>,
    pub sender: Option<MemberId>,
    /// Sent at or after (Unix ms).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub from: Option<UnixMillis>,
    /// Sent before (Unix ms).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub until: Option<UnixMillis>,
    pub kind: Option<SearchKind>,
    #[serde(default)]
    pub order: SearchOrder,
    pub limit: u32,
}

/// A message that matches, with the text around the match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SearchHit {
    /// The message to show (for a match in an edit, the message it edited).
    pub message: LocalMessage,
    pub snippet: String,
    /// What to highlight in the snippet (lower-cased).
    pub needles: Vec<String>,
}

/// A folder whose new files are sent to a conversation automatically.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WatchedFolder {
    pub path: String,
    pub conversation_id: ConversationId,
    /// What went wrong the last time it was scanned (missing, unreadable), if anything.
    pub last_error: Option<String>,
}

/// A conversation with what a list row needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConversationSummary {
    pub conversation: Conversation,
    /// Messages from others above this profile's read position.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub unread: i64,
    pub last_message: Option<LocalMessage>,
    /// The user turned new-message notifications off for it.
    pub muted: bool,
    /// The earliest deadline, not yet passed, of a message from others that this profile
    /// has not read.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub next_deadline: Option<UnixMillis>,
    /// Breaks found in this conversation's hash chain (see [`crate::integrity`]).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub chain_alarms: i64,
}

/// Where one member stands with one message: for the sender's "who has read it" list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReadState {
    pub member_id: MemberId,
    pub delivered: bool,
    /// When the member first read it; `None` while unread.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub read_at: Option<UnixMillis>,
}

/// Who a deadline alert is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum DeadlineAlertKind {
    /// To the sender: some recipients have not read the message yet.
    Unread,
    /// To a recipient: a message with a deadline is still unread.
    Reminder,
}

impl DeadlineAlertKind {
    fn as_str(self) -> &'static str {
        match self {
            DeadlineAlertKind::Unread => "unread",
            DeadlineAlertKind::Reminder => "reminder",
        }
    }
}

/// A deadline coming up (or passed) with the message still unread by someone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DeadlineAlert {
    pub kind: DeadlineAlertKind,
    pub message: LocalMessage,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub deadline: UnixMillis,
    /// For [`DeadlineAlertKind::Unread`]: who had not read it.
    pub unread: Vec<MemberId>,
}

/// Deadlines further back than this are not alerted any more (the app was closed
/// through them; the user sees them in the conversation).
const DEADLINE_ALERTS_LOOK_BACK_MS: i64 = 24 * 60 * 60 * 1000;

/// One outbox entry waiting to be sent.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub txn_id: TxnId,
    pub conversation_id: ConversationId,
    pub body: MessageBody,
    /// False while the file it carries is not yet on the server.
    pub ready: bool,
}

/// A receipt position this profile still has to tell the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingReceipt {
    pub conversation_id: ConversationId,
    pub delivered_up_to: Option<Seq>,
    pub read_up_to: Option<Seq>,
}

/// What a local commit changed, for the UI's change stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    pub conversations: bool,
    pub messages: Vec<ConversationId>,
    pub receipts: Vec<ConversationId>,
    pub outbox: bool,
    /// Reminders arrived for these conversations.
    pub reminders: Vec<ConversationId>,
    /// Conversations this profile just learned it belongs to, with history it has
    /// not seen (their messages are older than its stream position).
    pub joined: Vec<ConversationId>,
    /// Conversations whose history failed verification in this batch.
    pub alarms: Vec<ConversationId>,
}

impl Touched {
    fn alarm(&mut self, id: ConversationId) {
        if !self.alarms.contains(&id) {
            self.alarms.push(id);
        }
    }
    fn message(&mut self, id: ConversationId) {
        if !self.messages.contains(&id) {
            self.messages.push(id);
        }
    }
    fn receipt(&mut self, id: ConversationId) {
        if !self.receipts.contains(&id) {
            self.receipts.push(id);
        }
    }
}

/// The profile database.
#[derive(Clone)]
pub struct LocalDb {
    writer: SqlitePool,
    reader: SqlitePool,
}

const MESSAGE_COLUMNS: &str =
    "local_id, id, conversation_id, seq, sender_id, txn_id, body, created_at, sent_at, state, error";

fn message_from_row(row: &SqliteRow) -> Result<LocalMessage, EngineError> {
    let body: String = row.try_get("body")?;
    let state: String = row.try_get("state")?;
    Ok(LocalMessage {
        local_id: row.try_get("local_id")?,
        id: row.try_get::<Option<i64>, _>("id")?.map(MessageId),
        conversation_id: ConversationId(row.try_get("conversation_id")?),
        seq: row.try_get::<Option<i64>, _>("seq")?.map(Seq),
        sender_id: MemberId(row.try_get("sender_id")?),
        txn_id: TxnId(row.try_get("txn_id")?),
        body: serde_json::from_str(&body).map_err(|e| EngineError::Corrupt(e.to_string()))?,
        created_at: row.try_get("created_at")?,
        sent_at: row.try_get("sent_at")?,
        state: SendState::parse(&state)?,
        error: row.try_get("error")?,
    })
}

fn conversation_from_row(row: &SqliteRow) -> Result<Conversation, EngineError> {
    let kind: String = row.try_get("kind")?;
    let members: String = row.try_get("members")?;
    Ok(Conversation {
        id: ConversationId(row.try_get("id")?),
        kind: ConversationKind::parse(&kind)
            .ok_or_else(|| EngineError::Corrupt(format!("kind {kind}")))?,
        title: row.try_get("title")?,
        org_id: row.try_get::<Option<i64>, _>("org_id")?.map(OrgId),
        order_number: row.try_get("order_number")?,
        order: match row.try_get::<Option<String>, _>("order_info")? {
            Some(info) => {
                Some(serde_json::from_str(&info).map_err(|e| EngineError::Corrupt(e.to_string()))?)
            }
            None => None,
        },
        members: serde_json::from_str(&members).map_err(|e| EngineError::Corrupt(e.to_string()))?,
        last_seq: Seq(row.try_get("last_seq")?),
        created_at: row.try_get("created_at")?,
    })
}

fn json<T: Serialize>(value: &T) -> Result<String, EngineError> {
    serde_json::to_string(value).map_err(|e| EngineError::Corrupt(e.to_string()))
}

pub(crate) fn now_millis() -> UnixMillis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl LocalDb {
    /// Opens (creating if needed) the database file and migrates it.
    pub async fn open(path: &Path) -> Result<LocalDb, EngineError> {
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(EngineError::OpenDatabase)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(EngineError::OpenDatabase)?;
        sqlx::migrate!("./migrations")
            .run(&writer)
            .await
            .map_err(EngineError::Migrate)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await
            .map_err(EngineError::OpenDatabase)?;
        Ok(LocalDb { writer, reader })
    }

    /// Closes both pools, waiting for in-flight queries.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    /// A profile setting.
    pub async fn get(&self, key: &str) -> Result<Option<String>, EngineError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM profile WHERE key = ?")
                .bind(key)
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    /// Sets a profile setting.
    pub async fn set(&self, key: &str, value: &str) -> Result<(), EngineError> {
        sqlx::query("INSERT INTO profile (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// The position after which the stream resumes.
    pub async fn stream_pos(&self) -> Result<StreamPos, EngineError> {
        Ok(StreamPos(
            self.get("stream_pos")
                .await?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        ))
    }

    /// Writes an own message and its outbox row in one transaction.
    pub async fn queue_send(
        &self,
        me: MemberId,
        device: &DeviceId,
        conversation_id: ConversationId,
        txn_id: &TxnId,
        body: &MessageBody,
        from_folder: Option<(&str, &str)>,
    ) -> Result<LocalMessage, EngineError> {
        let body_json = json(body)?;
        let now = now_millis();
        let mut tx = self.writer.begin().await?;
        let local_id: i64 = sqlx::query_scalar(
            "INSERT INTO messages (conversation_id, sender_id, sender_device, txn_id, body, created_at, state)
             VALUES (?, ?, ?, ?, ?, ?, 'pending') RETURNING local_id",
        )
        .bind(conversation_id.0)
        .bind(me.0)
        .bind(device.as_str())
        .bind(txn_id.as_str())
        .bind(&body_json)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO outbox (txn_id, local_id, conversation_id, body, state, blob, preview_blob, screen_blob) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)")
            .bind(txn_id.as_str())
            .bind(local_id)
            .bind(conversation_id.0)
            .bind(&body_json)
            .bind(body.attachment().map(|a| a.sha256.clone()))
            .bind(
                body.attachment()
                    .and_then(|a| a.preview.as_ref())
                    .map(|p| p.sha256.clone()),
            )
            .bind(
                body.attachment()
                    .and_then(|a| a.screen.as_ref())
                    .map(|p| p.sha256.clone()),
            )
            .execute(&mut *tx)
            .await?;
        // A file from a watched folder is recorded as sent in the same transaction, so a
        // crash can neither lose it nor send it twice.
        if let (Some((folder, name)), Some(attachment)) = (from_folder, body.attachment()) {
            sqlx::query("INSERT OR REPLACE INTO watched_files (folder, name, sha256, sent_at) VALUES (?, ?, ?, ?)")
                .bind(folder)
                .bind(name)
                .bind(&attachment.sha256)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(LocalMessage {
            local_id,
            id: None,
            conversation_id,
            seq: None,
            sender_id: me,
            txn_id: txn_id.clone(),
            body: body.clone(),
            created_at: now,
            sent_at: None,
            state: SendState::Pending,
            error: None,
        })
    }

    /// Binds a folder to a conversation (or rebinds it).
    pub async fn add_watched(
        &self,
        path: &str,
        conversation_id: ConversationId,
    ) -> Result<(), EngineError> {
        sqlx::query(
            "INSERT INTO watched_folders (path, conversation_id, created_at) VALUES (?, ?, ?)
             ON CONFLICT (path) DO UPDATE SET conversation_id = excluded.conversation_id, last_error = NULL",
        )
        .bind(path)
        .bind(conversation_id.0)
        .bind(now_millis())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Unbinds a folder.
    pub async fn remove_watched(&self, path: &str) -> Result<(), EngineError> {
        sqlx::query("DELETE FROM watched_files WHERE folder = ?")
            .bind(path)
            .execute(&self.writer)
            .await?;
        sqlx::query("DELETE FROM watched_folders WHERE path = ?")
            .bind(path)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Every bound folder with its last error.
    pub async fn watched(&self) -> Result<Vec<WatchedFolder>, EngineError> {
        let rows = sqlx::query(
            "SELECT path, conversation_id, last_error FROM watched_folders ORDER BY created_at",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(WatchedFolder {
                    path: r.try_get("path")?,
                    conversation_id: ConversationId(r.try_get("conversation_id")?),
                    last_error: r.try_get("last_error")?,
                })
            })
            .collect()
    }

    /// Records (or clears) the problem a watched folder has.
    pub async fn set_watch_error(
        &self,
        path: &str,
        error: Option<&str>,
    ) -> Result<bool, EngineError> {
        let done = sqlx::query(
            "UPDATE watched_folders SET last_error = ? WHERE path = ? AND last_error IS NOT ?",
        )
        .bind(error)
        .bind(path)
        .bind(error)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Whether a watched folder already sent a file of this name, or these bytes.
    pub async fn watched_sent(&self, folder: &str, name: &str) -> Result<bool, EngineError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM watched_files WHERE folder = ? AND name = ?")
                .bind(folder)
                .bind(name)
                .fetch_optional(&self.reader)
                .await?;
        Ok(found.is_some())
    }

    /// Whether a watched folder already sent these bytes (under another name).
    pub async fn watched_sent_bytes(
        &self,
        folder: &str,
        sha256: &str,
    ) -> Result<bool, EngineError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM watched_files WHERE folder = ? AND sha256 = ?")
                .bind(folder)
                .bind(sha256)
                .fetch_optional(&self.reader)
                .await?;
        Ok(found.is_some())
    }

    /// Records a renamed file of a watched folder (its bytes were already sent) so it is
    /// not looked at again.
    pub async fn record_watched_rename(
        &self,
        folder: &str,
        name: &str,
        path: &std::path::Path,
    ) -> Result<(), EngineError> {
        let (sha256, _) = crate::transfer::hash_file(path).await?;
        sqlx::query("INSERT OR REPLACE INTO watched_files (folder, name, sha256, sent_at) VALUES (?, ?, ?, ?)")
            .bind(folder)
            .bind(name)
            .bind(sha256)
            .bind(now_millis())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Queued outbox entries, oldest first.
    pub async fn queued(&self, limit: u32) -> Result<Vec<OutboxEntry>, EngineError> {
        let rows = sqlx::query(
            "SELECT txn_id, conversation_id, body,
                    (blob IS NULL OR EXISTS (SELECT 1 FROM files f WHERE f.sha256 = blob AND f.uploaded = 1))
                    AND (preview_blob IS NULL OR EXISTS (SELECT 1 FROM files f WHERE f.sha256 = preview_blob AND f.uploaded = 1))
                    AND (screen_blob IS NULL OR EXISTS (SELECT 1 FROM files f WHERE f.sha256 = screen_blob AND f.uploaded = 1)) AS ready
             FROM outbox WHERE state = 'queued' ORDER BY local_id LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let body: String = r.try_get("body")?;
                Ok(OutboxEntry {
                    txn_id: TxnId(r.try_get("txn_id")?),
                    conversation_id: ConversationId(r.try_get("conversation_id")?),
                    body: serde_json::from_str(&body)
                        .map_err(|e| EngineError::Corrupt(e.to_string()))?,
                    ready: r.try_get("ready")?,
                })
            })
            .collect()
    }

    /// Records a file in the cache. Own outgoing files are pinned (never evicted) and
    /// not yet uploaded; downloaded ones are known to the server.
    pub async fn add_file(&self, sha256: &str, size: u64, own: bool) -> Result<(), EngineError> {
        sqlx::query(
            "INSERT INTO files (sha256, size, uploaded, pinned, last_used) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (sha256) DO UPDATE SET pinned = MAX(pinned, ?4), uploaded = MAX(uploaded, ?3), last_used = ?5",
        )
        .bind(sha256)
        .bind(i64::try_from(size).unwrap_or(i64::MAX))
        .bind(!own)
        .bind(own)
        .bind(now_millis())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Marks a cached file as just used (for least-recently-used eviction).
    pub async fn touch_file(&self, sha256: &str) -> Result<(), EngineError> {
        sqlx::query("UPDATE files SET last_used = ? WHERE sha256 = ?")
            .bind(now_millis())
            .bind(sha256)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Bytes held in the cache.
    pub async fn cached_bytes(&self) -> Result<u64, EngineError> {
        let total: i64 = sqlx::query_scalar("SELECT COALESCE(SUM(size), 0) FROM files")
            .fetch_one(&self.reader)
            .await?;
        Ok(u64::try_from(total).unwrap_or(0))
    }

    /// Cached files that may be evicted, least recently used first: every file no
    /// outbox entry carries (an own file waiting to be sent is never evicted).
    pub async fn evictable_files(&self) -> Result<Vec<(String, u64)>, EngineError> {
        let rows = sqlx::query(
            "SELECT sha256, size FROM files f
             WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE f.sha256 IN (o.blob, o.preview_blob, o.screen_blob))
             ORDER BY last_used, sha256",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(hash_and_size).collect()
    }

    /// Forgets a cached file.
    pub async fn remove_file(&self, sha256: &str) -> Result<(), EngineError> {
        sqlx::query("DELETE FROM files WHERE sha256 = ?")
            .bind(sha256)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Whether the cache holds a verified copy of a file.
    pub async fn has_file(&self, sha256: &str) -> Result<bool, EngineError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM files WHERE sha256 = ?")
            .bind(sha256)
            .fetch_optional(&self.reader)
            .await?;
        Ok(found.is_some())
    }

    /// Pauses or resumes the upload of a file.
    pub async fn set_paused(&self, sha256: &str, paused: bool) -> Result<(), EngineError> {
        let done = sqlx::query("UPDATE files SET paused = ? WHERE sha256 = ? AND uploaded = 0")
            .bind(paused)
            .bind(sha256)
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(EngineError::NotFound("upload"));
        }
        Ok(())
    }

    /// Whether an upload should go on: not paused, and still carried by a queued message.
    pub async fn upload_wanted(&self, sha256: &str) -> Result<bool, EngineError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM files WHERE sha256 = ?1 AND paused = 0
               AND EXISTS (SELECT 1 FROM outbox WHERE ?1 IN (blob, preview_blob, screen_blob) AND state = 'queued')",
        )
        .bind(sha256)
        .fetch_optional(&self.reader)
        .await?;
        Ok(found.is_some())
    }

    /// Removes a queued file message whose file is not on the server yet (so its
    /// `send` frame was never written).
    pub async fn cancel_unsent_file(&self, txn_id: &TxnId) -> Result<Touched, EngineError> {
        self.remove_unsent(
            txn_id,
            "DELETE FROM outbox WHERE txn_id = ? AND blob IS NOT NULL
               AND (NOT EXISTS (SELECT 1 FROM files f WHERE f.sha256 = outbox.blob AND f.uploaded = 1)
                    OR (preview_blob IS NOT NULL AND NOT EXISTS
                          (SELECT 1 FROM files f WHERE f.sha256 = outbox.preview_blob AND f.uploaded = 1))
                    OR (screen_blob IS NOT NULL AND NOT EXISTS
                          (SELECT 1 FROM files f WHERE f.sha256 = outbox.screen_blob AND f.uploaded = 1)))
             RETURNING local_id",
            "message still uploading",
        )
        .await
    }

    /// Own files that queued messages carry and the server does not hold yet.
    pub async fn pending_uploads(&self) -> Result<Vec<(String, u64)>, EngineError> {
        let rows = sqlx::query(
            "SELECT sha256, size FROM files WHERE uploaded = 0 AND paused = 0
               AND sha256 IN (SELECT blob FROM outbox WHERE state = 'queued'
                              UNION SELECT preview_blob FROM outbox WHERE state = 'queued'
                              UNION SELECT screen_blob FROM outbox WHERE state = 'queued')
             ORDER BY last_used",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(hash_and_size).collect()
    }

    /// Records that the server holds a file, verified.
    pub async fn mark_uploaded(&self, sha256: &str) -> Result<(), EngineError> {
        sqlx::query("UPDATE files SET uploaded = 1 WHERE sha256 = ?")
            .bind(sha256)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Marks every queued message carrying a file as failed (the server refused the file).
    pub async fn fail_sends_with_blob(
        &self,
        sha256: &str,
        reason: &str,
    ) -> Result<Touched, EngineError> {
        let txns: Vec<String> = sqlx::query_scalar(
            "SELECT txn_id FROM outbox WHERE ?1 IN (blob, preview_blob, screen_blob) AND state = 'queued'",
        )
        .bind(sha256)
        .fetch_all(&self.reader)
        .await?;
        let mut touched = Touched::default();
        for txn in txns {
            let t = self.fail_send(&TxnId(txn), reason).await?;
            touched.outbox = true;
            for c in t.messages {
                touched.message(c);
            }
        }
        Ok(touched)
    }

    /// Entries of the outbox in any state, oldest first (for display and tests).
    pub async fn outbox_len(&self) -> Result<i64, EngineError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(&self.reader)
            .await?)
    }

    /// Outbox entries still waiting to be sent (not the failed ones the user must decide on).
    pub async fn queued_len(&self) -> Result<i64, EngineError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'queued'")
                .fetch_one(&self.reader)
                .await?,
        )
    }

    /// Records the server's ack: the message gets its id and seq, the outbox row goes.
    pub async fn confirm_send(
        &self,
        device: &DeviceId,
        txn_id: &TxnId,
        ack: &api::SendAck,
    ) -> Result<Touched, EngineError> {
        let mut tx = self.writer.begin().await?;
        let mut touched = Touched::default();
        confirm(
            &mut tx,
            device,
            txn_id,
            ack.message_id,
            ack.seq,
            ack.sent_at,
            None,
            &mut touched,
        )
        .await?;
        bump_last_seq(&mut tx, ack.conversation_id, ack.seq).await?;
        tx.commit().await?;
        Ok(touched)
    }

    /// Marks an outbox entry as permanently refused.
    pub async fn fail_send(&self, txn_id: &TxnId, reason: &str) -> Result<Touched, EngineError> {
        let mut tx = self.writer.begin().await?;
        let local_id: Option<i64> = sqlx::query_scalar(
            "UPDATE outbox SET state = 'failed', last_error = ? WHERE txn_id = ? RETURNING local_id",
        )
        .bind(reason)
        .bind(txn_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let mut touched = Touched {
            outbox: true,
            ..Touched::default()
        };
        if let Some(local_id) = local_id {
            let conversation: i64 = sqlx::query_scalar(
                "UPDATE messages SET state = 'failed', error = ? WHERE local_id = ? RETURNING conversation_id",
            )
            .bind(reason)
            .bind(local_id)
            .fetch_one(&mut *tx)
            .await?;
            touched.message(ConversationId(conversation));
        }
        tx.commit().await?;
        Ok(touched)
    }

    /// Puts a failed entry back in the queue (same transaction id, so a send that did
    /// reach the server is not duplicated).
    pub async fn retry_send(&self, txn_id: &TxnId) -> Result<Touched, EngineError> {
        let mut tx = self.writer.begin().await?;
        let local_id: Option<i64> = sqlx::query_scalar(
            "UPDATE outbox SET state = 'queued', last_error = NULL WHERE txn_id = ? AND state = 'failed' RETURNING local_id",
        )
        .bind(txn_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let local_id = local_id.ok_or(EngineError::NotFound("failed message"))?;
        let conversation: i64 = sqlx::query_scalar(
            "UPDATE messages SET state = 'pending', error = NULL WHERE local_id = ? RETURNING conversation_id",
        )
        .bind(local_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut touched = Touched {
            outbox: true,
            ..Touched::default()
        };
        touched.message(ConversationId(conversation));
        Ok(touched)
    }

    /// Drops a failed message and its outbox entry.
    pub async fn discard_send(&self, txn_id: &TxnId) -> Result<Touched, EngineError> {
        self.remove_unsent(
            txn_id,
            "DELETE FROM outbox WHERE txn_id = ? AND state = 'failed' RETURNING local_id",
            "failed message",
        )
        .await
    }

    /// Removes an own message and its outbox row in one transaction. `delete_outbox`
    /// deletes the row only if the message may be removed, returning its `local_id`;
    /// otherwise nothing changes and `NotFound(what)` is returned.
    async fn remove_unsent(
        &self,
        txn_id: &TxnId,
        delete_outbox: &str,
        what: &'static str,
    ) -> Result<Touched, EngineError> {
        let mut tx = self.writer.begin().await?;
        let local_id: Option<i64> = sqlx::query_scalar(delete_outbox)
            .bind(txn_id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let local_id = local_id.ok_or(EngineError::NotFound(what))?;
        let conversation: i64 =
            sqlx::query_scalar("DELETE FROM messages WHERE local_id = ? RETURNING conversation_id")
                .bind(local_id)
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        let mut touched = Touched {
            outbox: true,
            ..Touched::default()
        };
        touched.message(ConversationId(conversation));
        Ok(touched)
    }

    /// Applies stream events and stores the new stream position, in one transaction.
    pub async fn apply_events(
        &self,
        me: MemberId,
        device: &DeviceId,
        events: &[StreamEvent],
    ) -> Result<Touched, EngineError> {
        let Some(last) = events.last() else {
            return Ok(Touched::default());
        };
        let mut tx = self.writer.begin().await?;
        let mut touched = Touched::default();
        // Messages from other devices are inserted many rows per statement: a replay of
        // 100,000 events is dominated by per-statement overhead otherwise.
        let mut others: Vec<&Message> = Vec::new();
        for event in events {
            if let Event::Message { message } = &event.event {
                if &message.sender_device != device {
                    others.push(message);
                    if others.len() == INSERT_BATCH {
                        insert_others(&mut tx, &others, &mut touched).await?;
                        others.clear();
                    }
                    continue;
                }
            }
            insert_others(&mut tx, &others, &mut touched).await?;
            others.clear();
            match &event.event {
                Event::Message { message } => {
                    apply_message(&mut tx, device, message, &mut touched).await?
                }
                Event::Receipt { receipt } => {
                    sqlx::query(
                        "INSERT INTO receipts (conversation_id, member_id, delivered_up_to, read_up_to, updated_at)
                         VALUES (?, ?, ?, ?, ?)
                         ON CONFLICT (conversation_id, member_id) DO UPDATE SET
                           delivered_up_to = MAX(delivered_up_to, excluded.delivered_up_to),
                           read_up_to = MAX(read_up_to, excluded.read_up_to),
                           updated_at = excluded.updated_at",
                    )
                    .bind(receipt.conversation_id.0)
                    .bind(receipt.member_id.0)
                    .bind(receipt.delivered_up_to.0)
                    .bind(receipt.read_up_to.0)
                    .bind(receipt.updated_at)
                    .execute(&mut *tx)
                    .await?;
                    if receipt.read_up_to.0 > 0 {
                        sqlx::query(
                            "INSERT OR IGNORE INTO read_log (conversation_id, member_id, read_up_to, at) VALUES (?, ?, ?, ?)",
                        )
                        .bind(receipt.conversation_id.0)
                        .bind(receipt.member_id.0)
                        .bind(receipt.read_up_to.0)
                        .bind(receipt.updated_at)
                        .execute(&mut *tx)
                        .await?;
                    }
                    if receipt.member_id == me {
                        // Another device of mine read it: adopt the position.
                        sqlx::query(
                            "INSERT INTO my_receipts (conversation_id, delivered_up_to, read_up_to, synced_delivered, synced_read)
                             VALUES (?1, ?2, ?3, ?2, ?3)
                             ON CONFLICT (conversation_id) DO UPDATE SET
                               delivered_up_to = MAX(delivered_up_to, ?2), read_up_to = MAX(read_up_to, ?3),
                               synced_delivered = MAX(synced_delivered, ?2), synced_read = MAX(synced_read, ?3)",
                        )
                        .bind(receipt.conversation_id.0)
                        .bind(receipt.delivered_up_to.0)
                        .bind(receipt.read_up_to.0)
                        .execute(&mut *tx)
                        .await?;
                        touched.conversations = true;
                    }
                    touched.receipt(receipt.conversation_id);
                }
                Event::Conversation { conversation } => {
                    let known: Option<i64> =
                        sqlx::query_scalar("SELECT last_seq FROM conversations WHERE id = ?")
                            .bind(conversation.id.0)
                            .fetch_optional(&mut *tx)
                            .await?;
                    sqlx::query(
                        "INSERT INTO conversations (id, kind, title, org_id, order_number, members, last_seq, created_at, order_info)
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                         ON CONFLICT (id) DO UPDATE SET title = excluded.title, members = excluded.members,
                           last_seq = MAX(last_seq, excluded.last_seq), order_info = excluded.order_info",
                    )
                    .bind(conversation.id.0)
                    .bind(conversation.kind.as_str())
                    .bind(&conversation.title)
                    .bind(conversation.org_id.map(|o| o.0))
                    .bind(&conversation.order_number)
                    .bind(json(&conversation.members)?)
                    .bind(conversation.last_seq.0)
                    .bind(conversation.created_at)
                    .bind(conversation.order.as_ref().map(json).transpose()?)
                    .execute(&mut *tx)
                    .await?;
                    if known.is_none() && conversation.last_seq.0 > 0 {
                        touched.joined.push(conversation.id);
                    }
                    touched.conversations = true;
                }
                Event::Reminder { reminder } => {
                    sqlx::query(
                        "INSERT OR IGNORE INTO reminders (id, conversation_id, message_id, seq, sent_by, recipients, at)
                         VALUES (?, ?, ?, ?, ?, ?, ?)",
                    )
                    .bind(reminder.id.0)
                    .bind(reminder.conversation_id.0)
                    .bind(reminder.message_id.0)
                    .bind(reminder.seq.0)
                    .bind(reminder.from.0)
                    .bind(json(&reminder.to)?)
                    .bind(reminder.at)
                    .execute(&mut *tx)
                    .await?;
                    if !touched.reminders.contains(&reminder.conversation_id) {
                        touched.reminders.push(reminder.conversation_id);
                    }
                }
            }
        }
        insert_others(&mut tx, &others, &mut touched).await?;
        let messages = events.iter().filter_map(|e| match &e.event {
            Event::Message { message } => Some(message),
            _ => None,
        });
        bump_for(&mut tx, messages.clone()).await?;
        verify_chains(&mut tx, messages, &mut touched).await?;
        sqlx::query(
            "INSERT INTO profile (key, value) VALUES ('stream_pos', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(last.pos.0.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(touched)
    }

    /// Stores messages fetched over HTTP (history of a conversation joined late).
    pub async fn insert_history(
        &self,
        device: &DeviceId,
        messages: &[Message],
    ) -> Result<Touched, EngineError> {
        let mut tx = self.writer.begin().await?;
        let mut touched = Touched::default();
        for message in messages {
            apply_message(&mut tx, device, message, &mut touched).await?;
        }
        bump_for(&mut tx, messages.iter()).await?;
        verify_chains(&mut tx, messages.iter(), &mut touched).await?;
        tx.commit().await?;
        Ok(touched)
    }

    /// Conversations with unread counts and last messages, most recent activity first.
    pub async fn conversations(
        &self,
        me: MemberId,
    ) -> Result<Vec<ConversationSummary>, EngineError> {
        let rows = sqlx::query(
            "SELECT c.*, COALESCE(r.read_up_to, 0) AS my_read,
                    (SELECT MAX(local_id) FROM messages m WHERE m.conversation_id = c.id) AS last_local,
                    (SELECT MIN(json_extract(m.body, '$.deadline')) FROM messages m
                     WHERE json_extract(m.body, '$.deadline') IS NOT NULL
                       AND json_extract(m.body, '$.deadline') >= ?1
                       AND m.conversation_id = c.id AND m.seq > COALESCE(r.read_up_to, 0)
                       AND m.sender_id != ?2) AS next_deadline,
                    (SELECT COUNT(*) FROM chain_alarms a WHERE a.conversation_id = c.id) AS chain_alarms
             FROM conversations c LEFT JOIN my_receipts r ON r.conversation_id = c.id
             ORDER BY COALESCE(last_local, 0) DESC, c.id DESC",
        )
        .bind(now_millis())
        .bind(me.0)
        .fetch_all(&self.reader)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        let mut conn = self.reader.acquire().await?;
        for row in rows {
            let conversation = conversation_from_row(&row)?;
            let my_read: i64 = row.try_get("my_read")?;
            let unread: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM messages WHERE conversation_id = ? AND seq > ? AND sender_id != ?",
            )
            .bind(conversation.id.0)
            .bind(my_read)
            .bind(me.0)
            .fetch_one(&mut *conn)
            .await?;
            let last_message = match row.try_get::<Option<i64>, _>("last_local")? {
                Some(local_id) => Some(message_by_local_id(&mut conn, local_id).await?),
                None => None,
            };
            out.push(ConversationSummary {
                conversation,
                unread,
                last_message,
                muted: row.try_get::<i64, _>("muted")? != 0,
                next_deadline: row.try_get("next_deadline")?,
                chain_alarms: row.try_get("chain_alarms")?,
            });
        }
        Ok(out)
    }

    /// Breaks found in the hash chain of `conversation` (or of every conversation).
    pub async fn chain_alarms(
        &self,
        conversation: Option<ConversationId>,
    ) -> Result<Vec<integrity::ChainAlarm>, EngineError> {
        let mut conn = self.reader.acquire().await?;
        integrity::alarms(&mut conn, conversation).await
    }

    /// The seq and link of the last message of `conversation` whose chain this device
    /// has verified from the first message on.
    pub async fn verified_head(
        &self,
        conversation: ConversationId,
    ) -> Result<(Seq, String), EngineError> {
        let mut conn = self.reader.acquire().await?;
        integrity::verified_head(&mut conn, conversation).await
    }

    /// Confirmed messages of `conversation` exactly as chained (the stored body text
    /// and the server's link), ascending by seq: what an export lists.
    pub async fn chained_messages(
        &self,
        conversation: ConversationId,
    ) -> Result<Vec<export::ExportedMessage>, EngineError> {
        let rows = sqlx::query(
            "SELECT id, seq, sender_id, sender_device, txn_id, sent_at, body, chain FROM messages
             WHERE conversation_id = ? AND seq IS NOT NULL ORDER BY seq",
        )
        .bind(conversation.0)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(export::ExportedMessage {
                    seq: Seq(row.try_get("seq")?),
                    id: MessageId(row.try_get("id")?),
                    sender_id: MemberId(row.try_get("sender_id")?),
                    sender_device: row.try_get("sender_device")?,
                    txn_id: row.try_get("txn_id")?,
                    sent_at: row
                        .try_get::<Option<i64>, _>("sent_at")?
                        .unwrap_or_default(),
                    body: row.try_get("body")?,
                    chain: row
                        .try_get::<Option<String>, _>("chain")?
                        .unwrap_or_default(),
                })
            })
            .collect()
    }

    /// When each member's read position moved, oldest first: `(member, read_up_to, at)`.
    pub async fn read_log(
        &self,
        conversation: ConversationId,
    ) -> Result<Vec<(MemberId, Seq, UnixMillis)>, EngineError> {
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT member_id, read_up_to, at FROM read_log WHERE conversation_id = ? ORDER BY at, read_up_to",
        )
        .bind(conversation.0)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(member, seq, at)| (MemberId(member), Seq(seq), at))
            .collect())
    }

    /// One conversation, if this profile knows it.
    pub async fn conversation(
        &self,
        id: ConversationId,
    ) -> Result<Option<Conversation>, EngineError> {
        let row = sqlx::query("SELECT * FROM conversations WHERE id = ?")
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(conversation_from_row).transpose()
    }

    /// A page of a conversation's timeline, ascending: confirmed messages by seq, then
    /// own pending or failed ones. `before` is an exclusive `local_id` bound; use the
    /// first message of a page to load the previous one.
    pub async fn messages(
        &self,
        id: ConversationId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<LocalMessage>, EngineError> {
        // Confirmed messages sort by seq; unconfirmed ones after all of them. local_id
        // grows with arrival, which matches seq order except for backfilled history,
        // so the sort key is explicit.
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages
             WHERE conversation_id = ?1 AND (?2 IS NULL OR
                   (COALESCE(seq, 9223372036854775807), local_id) <
                   (SELECT COALESCE(seq, 9223372036854775807), local_id FROM messages WHERE local_id = ?2))
             ORDER BY COALESCE(seq, 9223372036854775807) DESC, local_id DESC LIMIT ?3"
        ))
        .bind(id.0)
        .bind(before)
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(&self.reader)
        .await?;
        let mut page = rows
            .iter()
            .map(message_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        page.reverse();
        Ok(page)
    }

    /// The attachment with this hash, as carried by a message this profile holds (its
    /// own or one it received). `None` means no visible message carries it, so nothing
    /// may be shown or fetched for it.
    pub async fn attachment(&self, sha256: &str) -> Result<Option<AttachmentRef>, EngineError> {
        let body: Option<String> = sqlx::query_scalar(
            "SELECT body FROM messages
             WHERE json_extract(body, '$.attachment.sha256') = ? LIMIT 1",
        )
        .bind(sha256)
        .fetch_optional(&self.reader)
        .await?;
        let Some(body) = body else { return Ok(None) };
        let body: MessageBody =
            serde_json::from_str(&body).map_err(|e| EngineError::Corrupt(e.to_string()))?;
        Ok(body.attachment().cloned())
    }

    /// The message with this server id, if this profile holds it.
    pub async fn message(&self, id: MessageId) -> Result<Option<LocalMessage>, EngineError> {
        message_by_id(&mut *self.reader.acquire().await?, id).await
    }

    /// Confirmed messages of a conversation, ascending by seq (for tests and export).
    pub async fn confirmed(&self, id: ConversationId) -> Result<Vec<LocalMessage>, EngineError> {
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq IS NOT NULL ORDER BY seq"
        ))
        .bind(id.0)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(message_from_row).collect()
    }

    /// Adds the messages confirmed since the last call to the search index (triggers
    /// queue them in the transaction that stores them). Returns how many it indexed.
    pub async fn index_pending(&self) -> Result<usize, EngineError> {
        let mut total = 0;
        loop {
            let mut tx = self.writer.begin().await?;
            let rows: Vec<(i64, String)> = sqlx::query_as(
                "SELECT q.local_id, m.body FROM search_queue q
                 JOIN messages m ON m.local_id = q.local_id
                 ORDER BY q.local_id LIMIT 5000",
            )
            .fetch_all(&mut *tx)
            .await?;
            if rows.is_empty() {
                // Only entries whose message is gone (discarded) can be left.
                sqlx::query("DELETE FROM search_queue")
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(total);
            }
            let mut words = std::collections::BTreeSet::new();
            for (local_id, body) in &rows {
                let body: MessageBody =
                    serde_json::from_str(body).map_err(|e| EngineError::Corrupt(e.to_string()))?;
                let entry = search::index_entry(&search::searchable_text(&body));
                if !entry.terms.is_empty() {
                    sqlx::query("INSERT INTO search_index (rowid, terms) VALUES (?, ?)")
                        .bind(local_id)
                        .bind(entry.terms)
                        .execute(&mut *tx)
                        .await?;
                }
                words.extend(entry.words);
                sqlx::query("DELETE FROM search_queue WHERE local_id = ?")
                    .bind(local_id)
                    .execute(&mut *tx)
                    .await?;
            }
            for word in words {
                sqlx::query("INSERT OR IGNORE INTO search_words (word) VALUES (?)")
                    .bind(word)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            total += rows.len();
        }
    }

    /// Messages matching a query, newest first or most relevant first, at most
    /// `query.limit`. The index narrows the candidates; each is then checked against its
    /// text, so every hit really contains every part of the query.
    pub async fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>, EngineError> {
        if query.text.chars().count() > search::MAX_QUERY_CHARS {
            return Err(EngineError::Invalid(validate::FieldError {
                field: "text",
                reason: format!("must be at most {} characters", search::MAX_QUERY_CHARS),
            }));
        }
        let terms = search::query_terms(&query.text);
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let needles = search::needles(&query.text);
        let kinds = query
            .kind
            .map(|k| serde_json::to_string(k.kinds()))
            .transpose()
            .map_err(|e| EngineError::Corrupt(e.to_string()))?;
        let filters = SearchFilters {
            conversation: query.conversation_id.map(|c| c.0),
            sender: query.sender.map(|m| m.0),
            from: query.from,
            until: query.until,
            kinds,
        };
        let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
        // Relevance needs a pool of candidates to rank; newest-first stops at `limit`.
        let pool = match query.order {
            SearchOrder::Newest => limit,
            SearchOrder::Relevance => limit.max(5000),
        };
        let mut conn = self.reader.acquire().await?;
        let walked = match query.order {
            SearchOrder::Newest => {
                walk_newest_first(&mut conn, &terms, &needles, &filters, pool).await?
            }
            SearchOrder::Relevance => None,
        };
        let mut found = match walked {
            Some(found) => found,
            None => {
                let prefixed: Vec<Vec<search::Term>> = terms.into_iter().map(|t| vec![t]).collect();
                let Some(expression) = search::match_expression(&prefixed) else {
                    return Ok(Vec::new());
                };
                collect_candidates(&mut conn, &expression, &needles, &filters, pool).await?
            }
        };
        if query.order == SearchOrder::Relevance {
            // Stable: equal scores stay newest first.
            found.sort_by_key(|f| std::cmp::Reverse(f.relevance));
        }
        let mut hits: Vec<SearchHit> = Vec::new();
        for Found { message, text, .. } in found {
            if hits.len() >= limit {
                break;
            }
            let shown = match &message.body {
                MessageBody::Edit { target, .. } => {
                    match message_by_id(&mut conn, *target).await? {
                        Some(original) => original,
                        None => message,
                    }
                }
                _ => message,
            };
            if hits.iter().any(|h| h.message.local_id == shown.local_id) {
                continue;
            }
            hits.push(SearchHit {
                message: shown,
                snippet: search::snippet(&text, &needles, 120),
                needles: needles.clone(),
            });
        }
        Ok(hits)
    }

    /// The confirmed messages an order's record is folded from, ascending by seq.
    pub async fn order_messages(
        &self,
        id: ConversationId,
    ) -> Result<Vec<LocalMessage>, EngineError> {
        // The WHERE clause repeats the partial index `messages_order_record` word for word.
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages
             WHERE conversation_id = ? AND json_extract(body, '$.kind') IN
                ('confirmation_request', 'confirmation_answer', 'stage_change', 'progress_update', 'shipment', 'order_edit')
               AND seq IS NOT NULL
             ORDER BY seq"
        ))
        .bind(id.0)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(message_from_row).collect()
    }

    /// The confirmed messages a conversation's album is folded from (photos, videos,
    /// stages, cards, annotations and what answers or changes them), ascending by seq.
    pub async fn review_messages(
        &self,
        id: ConversationId,
    ) -> Result<Vec<LocalMessage>, EngineError> {
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages
             WHERE conversation_id = ? AND seq IS NOT NULL
               AND (json_extract(body, '$.kind') IN
                    ('image', 'video', 'stage_change', 'confirmation_request', 'annotation',
                     'annotation_status', 'edit', 'recall')
                    OR json_extract(body, '$.reply_to') IS NOT NULL)
             ORDER BY seq"
        ))
        .bind(id.0)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(message_from_row).collect()
    }

    /// Highest seq held locally in a conversation.
    pub async fn max_seq(&self, id: ConversationId) -> Result<Seq, EngineError> {
        let max: Option<i64> =
            sqlx::query_scalar("SELECT MAX(seq) FROM messages WHERE conversation_id = ?")
                .bind(id.0)
                .fetch_one(&self.reader)
                .await?;
        Ok(Seq(max.unwrap_or(0)))
    }

    /// Receipts of every member in a conversation.
    pub async fn receipts(&self, id: ConversationId) -> Result<Vec<Receipt>, EngineError> {
        let rows = sqlx::query(
            "SELECT member_id, delivered_up_to, read_up_to, updated_at FROM receipts WHERE conversation_id = ? ORDER BY member_id",
        )
        .bind(id.0)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Receipt {
                    conversation_id: id,
                    member_id: MemberId(r.try_get("member_id")?),
                    delivered_up_to: Seq(r.try_get("delivered_up_to")?),
                    read_up_to: Seq(r.try_get("read_up_to")?),
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// Moves this profile's own receipt positions forward (never back).
    pub async fn advance_my_receipt(
        &self,
        id: ConversationId,
        delivered: Option<Seq>,
        read: Option<Seq>,
    ) -> Result<bool, EngineError> {
        let read = read.map_or(0, |s| s.0);
        let delivered = delivered.map_or(0, |s| s.0).max(read);
        let changed = sqlx::query(
            "INSERT INTO my_receipts (conversation_id, delivered_up_to, read_up_to) VALUES (?1, ?2, ?3)
             ON CONFLICT (conversation_id) DO UPDATE SET
               delivered_up_to = MAX(delivered_up_to, ?2), read_up_to = MAX(read_up_to, ?3)
             WHERE delivered_up_to < ?2 OR read_up_to < ?3",
        )
        .bind(id.0)
        .bind(delivered)
        .bind(read)
        .execute(&self.writer)
        .await?;
        Ok(changed.rows_affected() > 0)
    }

    /// Receipt positions not yet confirmed by the server.
    pub async fn pending_receipts(&self) -> Result<Vec<PendingReceipt>, EngineError> {
        let rows = sqlx::query(
            "SELECT conversation_id, delivered_up_to, read_up_to, synced_delivered, synced_read FROM my_receipts
             WHERE delivered_up_to > synced_delivered OR read_up_to > synced_read",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let (d, r2, sd, sr): (i64, i64, i64, i64) = (
                    r.try_get("delivered_up_to")?,
                    r.try_get("read_up_to")?,
                    r.try_get("synced_delivered")?,
                    r.try_get("synced_read")?,
                );
                Ok(PendingReceipt {
                    conversation_id: ConversationId(r.try_get("conversation_id")?),
                    delivered_up_to: (d > sd).then_some(Seq(d)),
                    read_up_to: (r2 > sr).then_some(Seq(r2)),
                })
            })
            .collect()
    }

    /// Where each member other than `sender` stands with the message at `seq`.
    pub async fn read_states(
        &self,
        conversation_id: ConversationId,
        seq: Seq,
        sender: MemberId,
    ) -> Result<Vec<ReadState>, EngineError> {
        let Some(conversation) = self.conversation(conversation_id).await? else {
            return Err(EngineError::NotFound("conversation"));
        };
        let mut states = Vec::with_capacity(conversation.members.len());
        let mut conn = self.reader.acquire().await?;
        for member in conversation.members.into_iter().filter(|m| *m != sender) {
            let receipt = sqlx::query(
                "SELECT delivered_up_to, read_up_to, updated_at FROM receipts WHERE conversation_id = ? AND member_id = ?",
            )
            .bind(conversation_id.0)
            .bind(member.0)
            .fetch_optional(&mut *conn)
            .await?;
            let (delivered, read, updated_at) = match receipt {
                Some(r) => (
                    r.try_get::<i64, _>("delivered_up_to")?,
                    r.try_get::<i64, _>("read_up_to")?,
                    r.try_get::<i64, _>("updated_at")?,
                ),
                None => (0, 0, 0),
            };
            let read_at = if read >= seq.0 {
                let first: Option<i64> = sqlx::query_scalar(
                    "SELECT MIN(at) FROM read_log WHERE conversation_id = ? AND member_id = ? AND read_up_to >= ?",
                )
                .bind(conversation_id.0)
                .bind(member.0)
                .bind(seq.0)
                .fetch_one(&mut *conn)
                .await?;
                // Receipts fetched over HTTP (a conversation joined late) carry only
                // their latest time.
                Some(first.unwrap_or(updated_at))
            } else {
                None
            };
            states.push(ReadState {
                member_id: member,
                delivered: delivered >= seq.0 || read >= seq.0,
                read_at,
            });
        }
        Ok(states)
    }

    /// Reminders addressed to `me` that have not been shown yet; marks every received
    /// reminder as handled, so each is returned once.
    pub async fn take_reminders(&self, me: MemberId) -> Result<Vec<Reminder>, EngineError> {
        let mut tx = self.writer.begin().await?;
        let rows = sqlx::query(
            "SELECT id, conversation_id, message_id, seq, sent_by, recipients, at FROM reminders
             WHERE announced = 0 ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query("UPDATE reminders SET announced = 1 WHERE announced = 0")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut mine = Vec::new();
        for row in rows {
            let recipients: String = row.try_get("recipients")?;
            let to: Vec<MemberId> = serde_json::from_str(&recipients)
                .map_err(|e| EngineError::Corrupt(e.to_string()))?;
            let from = MemberId(row.try_get("sent_by")?);
            if from != me && to.contains(&me) {
                mine.push(Reminder {
                    id: ReminderId(row.try_get("id")?),
                    conversation_id: ConversationId(row.try_get("conversation_id")?),
                    message_id: MessageId(row.try_get("message_id")?),
                    seq: Seq(row.try_get("seq")?),
                    from,
                    to,
                    at: row.try_get("at")?,
                });
            }
        }
        Ok(mine)
    }

    /// Deadline alerts due at `now` that have not been given yet, recorded as given in
    /// the same transaction (so each is returned once, across restarts). A sender is
    /// alerted about their own messages that someone has not read; a recipient about
    /// messages they have not read. Alerts fall due `lead_ms` before the deadline (see
    /// [`satchel_protocol::deadline_warning_at`]).
    pub async fn take_deadline_alerts(
        &self,
        me: MemberId,
        now: UnixMillis,
        lead_ms: i64,
    ) -> Result<Vec<DeadlineAlert>, EngineError> {
        let mut tx = self.writer.begin().await?;
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages
             WHERE json_extract(body, '$.deadline') IS NOT NULL
               AND json_extract(body, '$.deadline') BETWEEN ? AND ?
               AND seq IS NOT NULL
             ORDER BY json_extract(body, '$.deadline'), seq"
        ))
        .bind(now.saturating_sub(DEADLINE_ALERTS_LOOK_BACK_MS))
        .bind(now.saturating_add(lead_ms))
        .fetch_all(&mut *tx)
        .await?;
        let mut alerts = Vec::new();
        for row in &rows {
            let message = message_from_row(row)?;
            let (Some(id), Some(seq), Some(deadline)) =
                (message.id, message.seq, message.body.deadline())
            else {
                continue;
            };
            let sent_at = message.sent_at.unwrap_or(message.created_at);
            if deadline_warning_at(sent_at, deadline, lead_ms) > now {
                continue;
            }
            let kind = if message.sender_id == me {
                DeadlineAlertKind::Unread
            } else {
                DeadlineAlertKind::Reminder
            };
            let recorded = sqlx::query(
                "INSERT OR IGNORE INTO deadline_alerts (message_id, kind, at) VALUES (?, ?, ?)",
            )
            .bind(id.0)
            .bind(kind.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if recorded.rows_affected() == 0 {
                continue;
            }
            let unread = match kind {
                DeadlineAlertKind::Unread => {
                    let members: Option<String> =
                        sqlx::query_scalar("SELECT members FROM conversations WHERE id = ?")
                            .bind(message.conversation_id.0)
                            .fetch_optional(&mut *tx)
                            .await?;
                    let members: Vec<MemberId> = match members {
                        Some(m) => serde_json::from_str(&m)
                            .map_err(|e| EngineError::Corrupt(e.to_string()))?,
                        None => Vec::new(),
                    };
                    let read: Vec<i64> = sqlx::query_scalar(
                        "SELECT member_id FROM receipts WHERE conversation_id = ? AND read_up_to >= ?",
                    )
                    .bind(message.conversation_id.0)
                    .bind(seq.0)
                    .fetch_all(&mut *tx)
                    .await?;
                    members
                        .into_iter()
                        .filter(|m| *m != me && !read.contains(&m.0))
                        .collect()
                }
                DeadlineAlertKind::Reminder => {
                    let read: Option<i64> = sqlx::query_scalar(
                        "SELECT read_up_to FROM my_receipts WHERE conversation_id = ?",
                    )
                    .bind(message.conversation_id.0)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if read.unwrap_or(0) >= seq.0 {
                        continue;
                    }
                    Vec::new()
                }
            };
            if kind == DeadlineAlertKind::Unread && unread.is_empty() {
                continue;
            }
            alerts.push(DeadlineAlert {
                kind,
                message,
                deadline,
                unread,
            });
        }
        tx.commit().await?;
        Ok(alerts)
    }

    /// Turns new-message notifications for a conversation off or on.
    pub async fn set_muted(
        &self,
        conversation_id: ConversationId,
        muted: bool,
    ) -> Result<(), EngineError> {
        let done = sqlx::query("UPDATE conversations SET muted = ? WHERE id = ?")
            .bind(i64::from(muted))
            .bind(conversation_id.0)
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(EngineError::NotFound("conversation"));
        }
        Ok(())
    }

    /// Whether new-message notifications are off for a conversation.
    pub async fn is_muted(&self, conversation_id: ConversationId) -> Result<bool, EngineError> {
        let muted: Option<i64> = sqlx::query_scalar("SELECT muted FROM conversations WHERE id = ?")
            .bind(conversation_id.0)
            .fetch_optional(&self.reader)
            .await?;
        Ok(muted.unwrap_or(0) != 0)
    }

    /// This profile's read position in a conversation.
    pub async fn my_read_up_to(&self, id: ConversationId) -> Result<Seq, EngineError> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT read_up_to FROM my_receipts WHERE conversation_id = ?")
                .bind(id.0)
                .fetch_optional(&self.reader)
                .await?;
        Ok(Seq(v.unwrap_or(0)))
    }

    /// Caches the workspace's member directory.
    pub async fn store_members(&self, members: &[Member]) -> Result<(), EngineError> {
        let mut tx = self.writer.begin().await?;
        for m in members {
            sqlx::query(
                "INSERT INTO members (id, username, display_name, role, org_id) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET username = excluded.username, display_name = excluded.display_name,
                   role = excluded.role, org_id = excluded.org_id",
            )
            .bind(m.id.0)
            .bind(&m.username)
            .bind(&m.display_name)
            .bind(m.role.as_str())
            .bind(m.org_id.map(|o| o.0))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The cached member directory.
    pub async fn members(&self) -> Result<Vec<Member>, EngineError> {
        let rows =
            sqlx::query("SELECT id, username, display_name, role, org_id FROM members ORDER BY id")
                .fetch_all(&self.reader)
                .await?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get("role")?;
                Ok(Member {
                    id: MemberId(r.try_get("id")?),
                    username: r.try_get("username")?,
                    display_name: r.try_get("display_name")?,
                    role: Role::parse(&role)
                        .ok_or_else(|| EngineError::Corrupt(format!("role {role}")))?,
                    org_id: r.try_get::<Option<i64>, _>("org_id")?.map(OrgId),
                })
            })
            .collect()
    }
}

/// A search's filters, bound as ?2…?6 of `SEARCH_FILTERS`.
struct SearchFilters {
    conversation: Option<i64>,
    sender: Option<i64>,
    from: Option<UnixMillis>,
    until: Option<UnixMillis>,
    kinds: Option<String>,
}

impl SearchFilters {
    fn bind<'q>(
        &'q self,
        query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
        query
            .bind(self.conversation)
            .bind(self.sender)
            .bind(self.from)
            .bind(self.until)
            .bind(self.kinds.as_deref())
    }
}

/// A message that really contains the query.
struct Found {
    relevance: usize,
    message: LocalMessage,
    text: String,
}

impl Found {
    /// The index only narrows the candidates; this checks the text itself.
    fn check(message: LocalMessage, needles: &[String]) -> Option<Found> {
        let text = search::searchable_text(&message.body);
        let lower = text.to_lowercase();
        search::contains_all(&lower, needles).then(|| Found {
            relevance: search::relevance(&lower, needles),
            message,
            text,
        })
    }
}

fn search_columns() -> String {
    MESSAGE_COLUMNS
        .split(", ")
        .map(|c| format!("m.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The newest `pool` hits, read from the newest end of the index in growing pages.
///
/// Index rowids are local ids, which follow arrival, not time; so after each page the
/// walk asks `newest_by_block` whether any message below the walked ids is newer than
/// the last hit it keeps, and stops when none is. History stored in time order (the
/// usual case) stops after a page or two however common the word. Prefixes are
/// expanded into the exact words they begin, which FTS5 reads lazily. `None` when the
/// walk would cost more than collecting every candidate (a prefix of too many words,
/// too many candidates read without finishing) or a prefix begins no known word.
async fn walk_newest_first(
    conn: &mut SqliteConnection,
    terms: &[search::Term],
    needles: &[String],
    filters: &SearchFilters,
    pool: usize,
) -> Result<Option<Vec<Found>>, EngineError> {
    if pool == 0 {
        return Ok(Some(Vec::new()));
    }
    let mut groups = Vec::new();
    for term in terms {
        match term {
            search::Term::Exact(_) => groups.push(vec![term.clone()]),
            search::Term::Prefix(prefix) => {
                let words: Vec<String> = sqlx::query_scalar(
                    "SELECT word FROM search_words WHERE word >= ?1 AND word < ?2 ORDER BY word LIMIT ?3",
                )
                .bind(prefix)
                .bind(search::prefix_end(prefix))
                .bind(MAX_PREFIX_EXPANSION as i64 + 1)
                .fetch_all(&mut *conn)
                .await?;
                // Too many words to OR cheaply; none at all may be an indexed word the
                // vocabulary spells differently (FTS5 folds diacritics): the prefix
                // search decides.
                if words.is_empty() || words.len() > MAX_PREFIX_EXPANSION {
                    return Ok(None);
                }
                groups.push(words.into_iter().map(search::Term::Exact).collect());
            }
        }
    }
    let Some(expression) = search::match_expression(&groups) else {
        return Ok(Some(Vec::new()));
    };
    let fetch = format!(
        "SELECT {} FROM messages m
         WHERE m.local_id IN (SELECT value FROM json_each(?1)) AND {SEARCH_FILTERS}",
        search_columns()
    );
    let mut kept: Vec<Found> = Vec::new();
    let mut below = i64::MAX;
    let mut walked = 0;
    let mut page = (pool * 2).clamp(64, 4096);
    loop {
        let rowids: Vec<i64> = sqlx::query_scalar(
            "SELECT rowid FROM search_index WHERE search_index MATCH ?1 AND rowid < ?2
             ORDER BY rowid DESC LIMIT ?3",
        )
        .bind(&expression)
        .bind(below)
        .bind(i64::try_from(page).unwrap_or(i64::MAX))
        .fetch_all(&mut *conn)
        .await?;
        let Some(&lowest) = rowids.last() else {
            return Ok(Some(kept));
        };
        let exhausted = rowids.len() < page;
        below = lowest;
        walked += rowids.len();
        let ids =
            serde_json::to_string(&rowids).map_err(|e| EngineError::Corrupt(e.to_string()))?;
        let rows = filters
            .bind(sqlx::query(&fetch).bind(ids))
            .fetch_all(&mut *conn)
            .await?;
        for row in &rows {
            kept.extend(Found::check(message_from_row(row)?, needles));
        }
        kept.sort_by_key(|f| std::cmp::Reverse((f.message.sent_at, f.message.local_id)));
        kept.truncate(pool);
        if exhausted {
            return Ok(Some(kept));
        }
        if let Some(last) = kept.get(pool - 1) {
            let newest_below: Option<i64> = sqlx::query_scalar(
                "SELECT max(newest) FROM (
                    SELECT max(newest) AS newest FROM newest_by_block WHERE block < (?1 >> 10)
                    UNION ALL
                    SELECT max(sent_at) FROM messages
                    WHERE local_id >= ((?1 >> 10) << 10) AND local_id < ?1)",
            )
            .bind(below)
            .fetch_one(&mut *conn)
            .await?;
            // Anything below that is as old as the last kept hit ranks after it.
            let done = match (newest_below, last.message.sent_at) {
                (None, _) => true,
                (Some(newest), Some(last)) => newest <= last,
                (Some(_), None) => false,
            };
            if done {
                return Ok(Some(kept));
            }
        }
        if walked >= MAX_WALKED_CANDIDATES {
            return Ok(None);
        }
        page = (page * 2).min(4096);
    }
}

/// Every candidate of the index expression, checked, newest first, at most `pool`.
async fn collect_candidates(
    conn: &mut SqliteConnection,
    expression: &str,
    needles: &[String],
    filters: &SearchFilters,
    pool: usize,
) -> Result<Vec<Found>, EngineError> {
    use futures_util::TryStreamExt;
    // The index answers which messages hold every term; the order and the filters come
    // from `messages`. Many candidates (a common word): walk the history newest first
    // (`messages_by_time`) with the candidates in a temporary b-tree, which stops after
    // the first page of hits. Few (a rare word, an order number): fetch them by id and
    // sort them.
    let candidates: i64 =
        sqlx::query_scalar("SELECT count(*) FROM search_index WHERE search_index MATCH ?")
            .bind(expression)
            .fetch_one(&mut *conn)
            .await?;
    if candidates == 0 {
        return Ok(Vec::new());
    }
    let walk = if candidates > WALK_ABOVE_CANDIDATES {
        "INDEXED BY messages_by_time"
    } else {
        "NOT INDEXED"
    };
    let sql = format!(
        "SELECT {} FROM messages m {walk}
         WHERE m.local_id IN (SELECT rowid FROM search_index WHERE search_index MATCH ?1)
           AND {SEARCH_FILTERS}
         ORDER BY m.sent_at DESC, m.local_id DESC",
        search_columns()
    );
    let mut found = Vec::new();
    let mut rows = filters
        .bind(sqlx::query(&sql).bind(expression))
        .fetch(&mut *conn);
    while let Some(row) = rows.try_next().await? {
        found.extend(Found::check(message_from_row(&row)?, needles));
        if found.len() >= pool {
            break;
        }
    }
    Ok(found)
}

async fn message_by_id(
    conn: &mut SqliteConnection,
    id: MessageId,
) -> Result<Option<LocalMessage>, EngineError> {
    let row = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?"
    ))
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(message_from_row).transpose()
}

async fn message_by_local_id(
    conn: &mut SqliteConnection,
    local_id: i64,
) -> Result<LocalMessage, EngineError> {
    let row = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE local_id = ?"
    ))
    .bind(local_id)
    .fetch_one(&mut *conn)
    .await?;
    message_from_row(&row)
}

/// A `(sha256, size)` row of the `files` table.
fn hash_and_size(row: &SqliteRow) -> Result<(String, u64), EngineError> {
    Ok((
        row.try_get("sha256")?,
        u64::try_from(row.try_get::<i64, _>("size")?).unwrap_or(0),
    ))
}

/// Marks the own message with `txn_id` confirmed and removes its outbox row. Returns
/// whether such a local message existed.
#[allow(clippy::too_many_arguments)] // the ack's fields, plus the server's copy when known
async fn confirm(
    conn: &mut SqliteConnection,
    device: &DeviceId,
    txn_id: &TxnId,
    id: MessageId,
    seq: Seq,
    sent_at: UnixMillis,
    server_copy: Option<&Message>,
    touched: &mut Touched,
) -> Result<bool, EngineError> {
    // The server's copy (the echo in the stream) replaces the local body once: the
    // server fills in details such as the sniffed file type, and the chain link covers
    // what the server stored.
    let (body, link) = match server_copy {
        Some(m) => (Some(json(&m.body)?), Some(m.chain.as_str())),
        None => (None, None),
    };
    let row = sqlx::query(
        "UPDATE messages SET id = ?1, seq = ?2, sent_at = ?3, state = 'sent', error = NULL,
           body = CASE WHEN chain IS NULL AND ?4 IS NOT NULL THEN ?4 ELSE body END,
           chain = COALESCE(chain, ?5)
         WHERE sender_device = ?6 AND txn_id = ?7 RETURNING conversation_id, chain",
    )
    .bind(id.0)
    .bind(seq.0)
    .bind(sent_at)
    .bind(body)
    .bind(link)
    .bind(device.as_str())
    .bind(txn_id.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let removed = sqlx::query("DELETE FROM outbox WHERE txn_id = ?")
        .bind(txn_id.as_str())
        .execute(&mut *conn)
        .await?;
    if removed.rows_affected() > 0 {
        touched.outbox = true;
    }
    let Some(row) = row else {
        return Ok(false);
    };
    let conversation = ConversationId(row.try_get("conversation_id")?);
    touched.message(conversation);
    if let Some(copy) = server_copy {
        let kept: Option<String> = row.try_get("chain")?;
        if kept.as_deref() != Some(copy.chain.as_str())
            && integrity::compare_with_stored(conn, copy).await?
        {
            touched.alarm(conversation);
        }
    }
    Ok(true)
}

/// Extends the verified chain of every conversation `messages` belong to.
async fn verify_chains<'m>(
    conn: &mut SqliteConnection,
    messages: impl Iterator<Item = &'m Message>,
    touched: &mut Touched,
) -> Result<(), EngineError> {
    let mut conversations: Vec<ConversationId> = Vec::new();
    for m in messages {
        if !conversations.contains(&m.conversation_id) {
            conversations.push(m.conversation_id);
        }
    }
    for conversation in conversations {
        if integrity::verify(conn, conversation).await? > 0 {
            touched.alarm(conversation);
        }
    }
    Ok(())
}

/// Raises each conversation's `last_seq` to the newest of `messages`, once per
/// conversation rather than once per message.
async fn bump_for<'m>(
    conn: &mut SqliteConnection,
    messages: impl Iterator<Item = &'m Message>,
) -> Result<(), EngineError> {
    let mut newest: std::collections::HashMap<ConversationId, Seq> =
        std::collections::HashMap::new();
    for m in messages {
        let entry = newest.entry(m.conversation_id).or_insert(m.seq);
        *entry = (*entry).max(m.seq);
    }
    for (conversation, seq) in newest {
        bump_last_seq(conn, conversation, seq).await?;
    }
    Ok(())
}

async fn bump_last_seq(
    conn: &mut SqliteConnection,
    id: ConversationId,
    seq: Seq,
) -> Result<(), EngineError> {
    sqlx::query("UPDATE conversations SET last_seq = MAX(last_seq, ?) WHERE id = ?")
        .bind(seq.0)
        .bind(id.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Rows per multi-row insert (11 bound values each, far below SQLite's limit).
const INSERT_BATCH: usize = 200;

/// Inserts messages sent from other devices, ignoring ones already stored.
async fn insert_others(
    conn: &mut SqliteConnection,
    messages: &[&Message],
    touched: &mut Touched,
) -> Result<(), EngineError> {
    if messages.is_empty() {
        return Ok(());
    }
    let mut bodies = Vec::with_capacity(messages.len());
    for m in messages {
        bodies.push(json(&m.body)?);
    }
    let mut builder = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
        "INSERT INTO messages (id, conversation_id, seq, sender_id, sender_device, txn_id, body, created_at, sent_at, state, chain) ",
    );
    builder.push_values(messages.iter().zip(bodies), |mut row, (m, body)| {
        row.push_bind(m.id.0)
            .push_bind(m.conversation_id.0)
            .push_bind(m.seq.0)
            .push_bind(m.sender_id.0)
            .push_bind(m.sender_device.as_str().to_owned())
            .push_bind(m.txn_id.as_str().to_owned())
            .push_bind(body)
            .push_bind(m.sent_at)
            .push_bind(m.sent_at)
            .push_bind("sent")
            .push_bind(m.chain.as_str());
    });
    builder.push(" ON CONFLICT DO NOTHING");
    let done = builder.build().execute(&mut *conn).await?;
    if done.rows_affected() > 0 {
        for m in messages {
            touched.message(m.conversation_id);
        }
    }
    if done.rows_affected() < messages.len() as u64 {
        // Some were here already: the server must present them as they were.
        for m in messages {
            if integrity::compare_with_stored(conn, m).await? {
                touched.alarm(m.conversation_id);
            }
        }
    }
    Ok(())
}

async fn apply_message(
    conn: &mut SqliteConnection,
    device: &DeviceId,
    message: &Message,
    touched: &mut Touched,
) -> Result<(), EngineError> {
    if &message.sender_device == device
        && confirm(
            conn,
            device,
            &message.txn_id,
            message.id,
            message.seq,
            message.sent_at,
            Some(message),
            touched,
        )
        .await?
    {
        return Ok(());
    }
    let inserted = sqlx::query(
        "INSERT INTO messages (id, conversation_id, seq, sender_id, sender_device, txn_id, body, created_at, sent_at, state, chain)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'sent', ?) ON CONFLICT DO NOTHING",
    )
    .bind(message.id.0)
    .bind(message.conversation_id.0)
    .bind(message.seq.0)
    .bind(message.sender_id.0)
    .bind(message.sender_device.as_str())
    .bind(message.txn_id.as_str())
    .bind(json(&message.body)?)
    .bind(message.sent_at)
    .bind(message.sent_at)
    .bind(&message.chain)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() > 0 {
        touched.message(message.conversation_id);
    } else if integrity::compare_with_stored(conn, message).await? {
        touched.alarm(message.conversation_id);
    }
    Ok(())
}
