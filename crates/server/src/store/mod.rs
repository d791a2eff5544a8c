//! Persistence behind one trait, so SQLite (the default, one office PC) and
//! PostgreSQL (several server nodes) serve the same callers.
//!
//! Two kinds of writes exist:
//! - **Event writes** ([`Write`]) change what members see in their streams. They go
//!   through [`crate::committer`], which applies a batch of them in one transaction and
//!   one fsync ([`Store::commit_batch`]). Each write is checked (membership, targets)
//!   inside that transaction, so a refused write changes nothing while the others in the
//!   batch still commit.
//! - **Account writes** (organisations, members, sessions) produce no events and are
//!   plain calls.
//!
//! Every read that takes an id from a caller also takes the caller's [`MemberId`] and
//! answers [`StoreError::NotFound`] for objects the caller may not see, exactly as for
//! objects that do not exist.

pub mod sql;
pub mod sqlite;

use async_trait::async_trait;
use satchel_protocol::*;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists: {0}")]
    Conflict(String),
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("opening the database failed")]
    Open(#[source] sqlx::Error),
    #[error("migrating the database failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("database query failed")]
    Query(#[from] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the storage quota of {quota} bytes would be exceeded")]
    Quota { quota: u64 },
    #[error("too soon: {what}; try again in {retry_after_ms} ms")]
    TooSoon { what: String, retry_after_ms: i64 },
}

/// An upload as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub id: String,
    pub member_id: MemberId,
    pub sha256: String,
    pub size: u64,
    /// Bytes written so far: where the next chunk starts.
    pub offset: u64,
    /// Bytes known to be on disk (synced). Bytes past it were written but may not have
    /// survived a power cut; the whole file's hash decides at the end.
    pub synced_offset: u64,
    pub expires_at: UnixMillis,
    pub complete: bool,
}

/// An invite to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvite {
    pub code_hash: String,
    pub role: Role,
    pub org_id: Option<OrgId>,
    pub created_by: MemberId,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
}

/// How much a store holds: what a backup, restore or migration compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoreCounts {
    pub members: u64,
    pub conversations: u64,
    pub messages: u64,
    pub events: u64,
    pub blobs: u64,
}

/// A stored blob's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    pub sha256: String,
    pub size: u64,
    pub mime: String,
}

/// A member together with what authorises them.
#[derive(Debug, Clone)]
pub struct Session {
    pub member: Member,
    pub device_id: DeviceId,
}

/// A member row including the password hash, for login only.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub member: Member,
    pub password_hash: String,
}

/// A new account.
#[derive(Debug, Clone)]
pub struct NewMember {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub org_id: Option<OrgId>,
    pub password_hash: String,
}

/// A write that produces stream events. Applied by [`Store::commit_batch`].
#[derive(Debug, Clone)]
pub enum Write {
    Send {
        sender: MemberId,
        device: DeviceId,
        conversation_id: ConversationId,
        txn_id: TxnId,
        body: MessageBody,
    },
    Receipt {
        member: MemberId,
        conversation_id: ConversationId,
        delivered_up_to: Option<Seq>,
        read_up_to: Option<Seq>,
    },
    CreateConversation {
        creator: MemberId,
        kind: ConversationKind,
        title: String,
        org_id: Option<OrgId>,
        order_number: Option<String>,
        /// Details of a new order (kind `order` only; defaults to a bare inquiry).
        order: Option<order::OrderInfo>,
        member_ids: Vec<MemberId>,
    },
    AddMembers {
        actor: MemberId,
        conversation_id: ConversationId,
        member_ids: Vec<MemberId>,
    },
    /// The sender of a message reminds the members who have not read it. At most one
    /// reminder per message per [`REMIND_INTERVAL_MS`].
    Remind {
        actor: MemberId,
        conversation_id: ConversationId,
        message_id: MessageId,
    },
}

/// Shortest time between two reminders about the same message, so "remind now" nudges
/// rather than spams.
pub const REMIND_INTERVAL_MS: i64 = 5 * 60 * 1000;

/// What a successful [`Write`] produced.
#[derive(Debug, Clone)]
pub enum Outcome {
    Sent(api::SendAck),
    /// The receipt after the update (unchanged if the request moved nothing forward).
    Receipt(Receipt),
    Conversation(Conversation),
    Reminder(Reminder),
}

/// The result of one batch: an outcome per write, in order, and the events the batch
/// appended (ascending by position), to be pushed to connected members.
#[derive(Debug, Default)]
pub struct BatchResult {
    pub outcomes: Vec<Result<Outcome, StoreError>>,
    pub events: Vec<LoggedEvent>,
}

/// An appended event and the conversation whose members may see it.
#[derive(Debug, Clone)]
pub struct LoggedEvent {
    pub conversation_id: ConversationId,
    pub event: StreamEvent,
    /// `event.event` as stored (JSON), so fan-out to many connections does not
    /// serialise it once per connection.
    pub payload: String,
}

/// An event as stored: its position and its JSON, not yet decoded. Replays forward the
/// JSON as it is ([`satchel_protocol::ws::encode_event_frame`]).
#[derive(Debug, Clone)]
pub struct RawEvent {
    pub pos: StreamPos,
    pub payload: String,
}

impl RawEvent {
    /// Decodes the stored JSON.
    pub fn decode(&self) -> Result<StreamEvent, StoreError> {
        Ok(StreamEvent {
            pos: self.pos,
            event: serde_json::from_str(&self.payload)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        })
    }
}

/// The server's persistence. Implementations must be durable on return of
/// `commit_batch` (the transaction is synced to disk) and must assign stream positions
/// in commit order.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The workspace, or `None` before `init`.
    async fn workspace(&self) -> Result<Option<Workspace>, StoreError>;
    /// Creates the workspace and its first admin. Fails with `Conflict` if it exists.
    async fn init_workspace(&self, name: &str, admin: NewMember) -> Result<Member, StoreError>;

    async fn create_org(&self, name: &str) -> Result<Organisation, StoreError>;
    async fn list_orgs(&self) -> Result<Vec<Organisation>, StoreError>;
    async fn create_member(&self, member: NewMember) -> Result<Member, StoreError>;
    /// Records an invite (its code's hash) for one person to join.
    async fn create_invite(&self, invite: NewInvite) -> Result<(), StoreError>;
    /// Creates the account an invite is for — with the invite's role and organisation —
    /// and marks the invite used, in one transaction. `NotFound` for an unknown, used or
    /// expired code; `Conflict` if the username is taken (the invite stays usable).
    async fn redeem_invite(
        &self,
        code_hash: &str,
        now: UnixMillis,
        username: &str,
        display_name: &str,
        password_hash: &str,
    ) -> Result<Member, StoreError>;
    /// Members `viewer` may see: staff see everyone; customers see staff and their own
    /// organisation.
    async fn list_members(&self, viewer: &Member) -> Result<Vec<Member>, StoreError>;
    async fn credentials(&self, username: &str) -> Result<Option<Credentials>, StoreError>;
    async fn set_password(&self, member: MemberId, password_hash: &str) -> Result<(), StoreError>;

    async fn create_session(
        &self,
        token_hash: &str,
        member: MemberId,
        device: &DeviceId,
        device_name: &str,
        expires_at: UnixMillis,
    ) -> Result<(), StoreError>;
    /// The session for a token hash, if it exists, is not revoked and has not expired
    /// at `now`.
    async fn session(
        &self,
        token_hash: &str,
        now: UnixMillis,
    ) -> Result<Option<Session>, StoreError>;
    async fn revoke_session(&self, token_hash: &str, now: UnixMillis) -> Result<(), StoreError>;

    /// Applies writes in one durable transaction. A write the caller may not make fails
    /// alone; a database failure fails the whole batch (nothing is written).
    async fn commit_batch(
        &self,
        writes: Vec<Write>,
        now: UnixMillis,
    ) -> Result<BatchResult, StoreError>;

    async fn conversations_of(&self, member: MemberId) -> Result<Vec<Conversation>, StoreError>;
    async fn conversation(
        &self,
        viewer: MemberId,
        id: ConversationId,
    ) -> Result<Conversation, StoreError>;
    /// A page of history, ascending. `before`/`after` are exclusive bounds on `seq`;
    /// with `before` the page is the newest `limit` messages below it, with `after` the
    /// oldest above it.
    async fn history(
        &self,
        viewer: MemberId,
        id: ConversationId,
        before: Option<Seq>,
        after: Option<Seq>,
        limit: u32,
    ) -> Result<api::HistoryPage, StoreError>;
    async fn receipts(
        &self,
        viewer: MemberId,
        id: ConversationId,
    ) -> Result<Vec<Receipt>, StoreError>;
    /// Events after `after` in conversations `member` belongs to, ascending, at most
    /// `limit`.
    async fn events_after(
        &self,
        member: MemberId,
        after: StreamPos,
        limit: u32,
    ) -> Result<Vec<RawEvent>, StoreError>;
    /// Events after `after` in every conversation, ascending, at most `limit`: what a
    /// node of several forwards to its connections (see [`crate::cluster`]).
    async fn events_since(
        &self,
        after: StreamPos,
        limit: u32,
    ) -> Result<Vec<LoggedEvent>, StoreError>;
    /// The newest stream position in the whole log (0 when empty).
    async fn head(&self) -> Result<StreamPos, StoreError>;
    /// Whether `member` belongs to the conversation.
    async fn is_member(&self, member: MemberId, id: ConversationId) -> Result<bool, StoreError>;

    /// Starts an upload, or returns the member's unfinished upload of the same file so
    /// an upload resumes even when the client lost its id. Fails with `Quota` when the
    /// member's uploads would exceed `quota` bytes.
    async fn create_upload(&self, new: Upload, quota: u64) -> Result<Upload, StoreError>;
    /// The member's upload with this id.
    async fn upload(&self, member: MemberId, id: &str) -> Result<Option<Upload>, StoreError>;
    /// Records that bytes up to `offset` are staged (written, perhaps not yet synced).
    async fn set_upload_offset(
        &self,
        id: &str,
        offset: u64,
        expires_at: UnixMillis,
    ) -> Result<(), StoreError>;
    /// Records that staged bytes up to `synced` are on disk. Never moves it back, nor
    /// past the upload's offset.
    async fn set_upload_synced(&self, id: &str, synced: u64) -> Result<(), StoreError>;
    /// Moves an upload back to `offset` (its synced offset), dropping what it had
    /// recorded past it: those bytes are to be sent again.
    async fn rewind_upload(&self, id: &str, offset: u64) -> Result<(), StoreError>;
    /// Marks an upload complete and records its (verified) blob.
    async fn complete_upload(
        &self,
        id: &str,
        blob: &BlobInfo,
        now: UnixMillis,
    ) -> Result<(), StoreError>;
    /// Forgets an upload.
    async fn delete_upload(&self, id: &str) -> Result<(), StoreError>;
    /// Unfinished uploads whose expiry has passed.
    async fn expired_uploads(&self, now: UnixMillis) -> Result<Vec<String>, StoreError>;
    /// A stored blob's metadata.
    async fn blob(&self, sha256: &str) -> Result<Option<BlobInfo>, StoreError>;
    /// Whether `member` may read a blob: it is attached to a message in one of their
    /// conversations, or they uploaded it themselves. Knowing a hash is not enough.
    async fn can_read_blob(&self, member: MemberId, sha256: &str) -> Result<bool, StoreError>;

    // --- operations

    /// Writes a transactionally consistent copy of the whole store into the new file
    /// `dest` without stopping writers (see [`crate::backup`]).
    async fn snapshot_into(&self, dest: &std::path::Path) -> Result<(), StoreError>;
}
