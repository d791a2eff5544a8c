//! The SQL store: one implementation over sqlx's `Any` driver for both databases the
//! server runs on, so every rule (membership, order rules, idempotent sends, gapless
//! `seq`) is written once.
//!
//! - **SQLite** (the default, one office PC): one file in WAL mode with
//!   `synchronous=FULL`, so a commit is on disk when it returns. All writes go through one
//!   connection (SQLite has one writer anyway); reads use a small pool of their own so
//!   they never queue behind a commit.
//! - **PostgreSQL** (several server nodes): every node's committer takes one
//!   transaction-scoped advisory lock per batch ([`COMMIT_LOCK`]). Commits that append
//!   events are therefore serialised across nodes, which is what makes `seq` gapless per
//!   conversation and stream positions follow commit order (a reader that saw position
//!   N never later finds an N-1 committed behind it). A batch amortises the lock over
//!   many writes, as SQLite's single writer amortises its fsync.
//!
//! The two dialects differ only in schema (`migrations/sqlite`, `migrations/postgres`)
//! and in how a JSON field of a stored body is read ([`Dialect`]).

use std::time::Duration;

use async_trait::async_trait;
use satchel_protocol::api::{HistoryPage, SendAck};
use satchel_protocol::*;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row, Transaction};

use super::*;

/// Which database a [`SqlStore`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The dialect of a database URL, if it is one the server supports.
    pub fn of_url(url: &str) -> Option<Dialect> {
        if url.starts_with("sqlite:") {
            Some(Dialect::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Dialect::Postgres)
        } else {
            None
        }
    }

    /// SQL reading the top-level field `key` of the JSON text in `column`, as text.
    /// Index definitions in the migrations repeat these expressions exactly.
    fn json_text(self, column: &str, key: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.{key}')"),
            Dialect::Postgres => format!("({column}::jsonb ->> '{key}')"),
        }
    }

    /// SQL reading the top-level field `key` of the JSON text in `column`, as an integer.
    fn json_integer(self, column: &str, key: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.{key}')"),
            Dialect::Postgres => format!("({column}::jsonb ->> '{key}')::bigint"),
        }
    }
}

/// The advisory lock every PostgreSQL commit batch holds until it commits (see the
/// module documentation). An arbitrary constant: "SATCHEL" in ASCII.
pub const COMMIT_LOCK: i64 = 0x0053_4154_4348_454c;

/// A database holding one workspace: SQLite or PostgreSQL.
#[derive(Clone)]
pub struct SqlStore {
    writer: AnyPool,
    reader: AnyPool,
    dialect: Dialect,
}

impl SqlStore {
    /// Opens the database at `url` (`sqlite://path/to/file.db`, created if missing, or
    /// `postgres://user@host/db`, which must exist) and applies pending migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::of_url(url).ok_or_else(|| {
            StoreError::Invalid(format!(
                "unsupported database URL `{url}` (expected sqlite://… or postgres://…)"
            ))
        })?;
        let store = match dialect {
            Dialect::Sqlite => Self::open_sqlite(url).await?,
            Dialect::Postgres => Self::open_postgres(url).await?,
        };
        Ok(store)
    }

    async fn open_sqlite(url: &str) -> Result<Self, StoreError> {
        let path = sqlite::database_path(url)
            .ok_or_else(|| StoreError::Invalid(format!("`{url}` names no database file")))?;
        let writer = AnyPoolOptions::new()
            .max_connections(1)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                         PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
                    )
                    .await
                    .map(|_| ())
                })
            })
            .connect(&sqlite::url_of(&path, sqlite::Mode::Create)?)
            .await
            .map_err(StoreError::Open)?;
        sqlx::migrate!("migrations/sqlite")
            .run(&writer)
            .await
            .map_err(StoreError::Migrate)?;
        let mut tx = writer.begin().await?;
        let linked = link_unchained(&mut tx).await?;
        tx.commit().await?;
        if linked > 0 {
            tracing::info!(
                messages = linked,
                "linked stored messages into their hash chains"
            );
        }
        let reader = AnyPoolOptions::new()
            .max_connections(4)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA busy_timeout = 10000;")
                        .await
                        .map(|_| ())
                })
            })
            .connect(&sqlite::url_of(&path, sqlite::Mode::ReadOnly)?)
            .await
            .map_err(StoreError::Open)?;
        Ok(SqlStore {
            writer,
            reader,
            dialect: Dialect::Sqlite,
        })
    }

    async fn open_postgres(url: &str) -> Result<Self, StoreError> {
        let writer = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(StoreError::Open)?;
        sqlx::migrate!("migrations/postgres")
            .run(&writer)
            .await
            .map_err(StoreError::Migrate)?;
        // Reads may go to the same server; a pool of their own keeps them from queueing
        // behind commits, as on SQLite.
        let reader = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(StoreError::Open)?;
        Ok(SqlStore {
            writer,
            reader,
            dialect: Dialect::Postgres,
        })
    }

    /// Which database this store is on.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }
}

fn member_from_row(row: &AnyRow) -> Result<Member, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(Member {
        id: MemberId(row.try_get("id")?),
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
        org_id: row.try_get::<Option<i64>, _>("org_id")?.map(OrgId),
    })
}

const MEMBER_COLUMNS: &str = "id, username, display_name, role, org_id";

fn message_from_row(row: &AnyRow) -> Result<Message, StoreError> {
    let body: String = row.try_get("body")?;
    Ok(Message {
        id: MessageId(row.try_get("id")?),
        conversation_id: ConversationId(row.try_get("conversation_id")?),
        seq: Seq(row.try_get("seq")?),
        sender_id: MemberId(row.try_get("sender_id")?),
        sender_device: DeviceId(row.try_get("device_id")?),
        txn_id: TxnId(row.try_get("txn_id")?),
        body: serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        sent_at: row.try_get("sent_at")?,
        chain: row
            .try_get::<Option<String>, _>("chain")?
            .unwrap_or_default(),
    })
}

const MESSAGE_COLUMNS: &str =
    "id, conversation_id, seq, sender_id, device_id, txn_id, body, sent_at, chain";

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

async fn load_conversation(
    conn: &mut AnyConnection,
    id: ConversationId,
) -> Result<Conversation, StoreError> {
    let row = sqlx::query(
        "SELECT id, kind, title, org_id, order_number, last_seq, created_at,
                (SELECT info FROM orders WHERE conversation_id = c.id) AS order_info
         FROM conversations c WHERE id = $1",
    )
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    let members: Vec<i64> = sqlx::query_scalar(
        "SELECT member_id FROM memberships WHERE conversation_id = $1 ORDER BY member_id",
    )
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await?;
    let kind: String = row.try_get("kind")?;
    let order = match row.try_get::<Option<String>, _>("order_info")? {
        Some(json) => {
            Some(serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?)
        }
        None => None,
    };
    Ok(Conversation {
        id,
        kind: ConversationKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("conversation kind {kind}")))?,
        title: row.try_get("title")?,
        org_id: row.try_get::<Option<i64>, _>("org_id")?.map(OrgId),
        order_number: row.try_get("order_number")?,
        order,
        members: members.into_iter().map(MemberId).collect(),
        last_seq: Seq(row.try_get("last_seq")?),
        created_at: row.try_get("created_at")?,
    })
}

type Tx = Transaction<'static, Any>;

async fn tx_is_member(
    tx: &mut Tx,
    member: MemberId,
    id: ConversationId,
) -> Result<bool, StoreError> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM memberships WHERE conversation_id = $1 AND member_id = $2",
    )
    .bind(id.0)
    .bind(member.0)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(found.is_some())
}

async fn tx_member(tx: &mut Tx, id: MemberId) -> Result<Member, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {MEMBER_COLUMNS} FROM members WHERE id = $1"
    ))
    .bind(id.0)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    member_from_row(&row)
}

async fn append_event(
    tx: &mut Tx,
    conversation_id: ConversationId,
    event: Event,
    log: &mut Vec<LoggedEvent>,
) -> Result<(), StoreError> {
    let payload = to_json(&event)?;
    let pos: i64 = sqlx::query_scalar(
        "INSERT INTO events (conversation_id, payload) VALUES ($1, $2) RETURNING pos",
    )
    .bind(conversation_id.0)
    .bind(&payload)
    .fetch_one(&mut **tx)
    .await?;
    log.push(LoggedEvent {
        conversation_id,
        event: StreamEvent {
            pos: StreamPos(pos),
            event,
        },
        payload,
    });
    Ok(())
}

/// Checks the rule that keeps organisations apart: a customer may only be in a
/// conversation of their own organisation, and only staff may be in internal ones.
fn check_membership_rules(
    kind: ConversationKind,
    org_id: Option<OrgId>,
    members: &[Member],
) -> Result<(), StoreError> {
    for m in members {
        if m.role == Role::Customer && (org_id.is_none() || m.org_id != org_id) {
            return Err(StoreError::Forbidden(format!(
                "member {} belongs to another organisation",
                m.id
            )));
        }
    }
    if kind == ConversationKind::Direct && members.len() != 2 {
        return Err(StoreError::Invalid(
            "a direct conversation has exactly two members".into(),
        ));
    }
    Ok(())
}

/// Resolves the `MessageId` references a body makes: each must be a message in the
/// same conversation; edits and recalls must target the actor's own messages, an
/// annotation a photo, an annotation's status an annotation.
async fn check_references(
    tx: &mut Tx,
    dialect: Dialect,
    conversation_id: ConversationId,
    sender: MemberId,
    body: &MessageBody,
) -> Result<(), StoreError> {
    let (target, own_only, must_be) = match body {
        MessageBody::Text {
            reply_to: Some(target),
            ..
        } => (*target, false, None),
        MessageBody::Edit { target, .. } | MessageBody::Recall { target } => (*target, true, None),
        MessageBody::Annotation { image, .. } => (*image, false, Some("image")),
        MessageBody::AnnotationStatus { annotation, .. } => {
            (*annotation, false, Some("annotation"))
        }
        _ => return Ok(()),
    };
    let found: Option<(i64, String)> = sqlx::query_as(&format!(
        "SELECT sender_id, {} FROM messages WHERE id = $1 AND conversation_id = $2",
        dialect.json_text("body", "kind")
    ))
    .bind(target.0)
    .bind(conversation_id.0)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((owner, kind)) = found else {
        return Err(StoreError::Invalid(format!(
            "message {target} is not in this conversation"
        )));
    };
    if own_only && owner != sender.0 {
        return Err(StoreError::Forbidden(
            "only the sender may edit or recall a message".into(),
        ));
    }
    if own_only && order::ORDER_KINDS.contains(&kind.as_str()) {
        // An order's record is evidence: a value changes by a new revision.
        return Err(StoreError::Invalid(
            "order records cannot be edited or recalled; propose a new revision".into(),
        ));
    }
    if let Some(expected) = must_be {
        if kind != expected {
            return Err(StoreError::Invalid(format!(
                "message {target} is not {}",
                if expected == "image" {
                    "a photo"
                } else {
                    "an annotation"
                }
            )));
        }
    }
    if matches!(body, MessageBody::Annotation { .. }) {
        // The WHERE clause repeats the partial index `messages_recalled` word for word.
        let recalled: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT 1 FROM messages
             WHERE conversation_id = $1 AND {} = $2 AND {} = 'recall'",
            dialect.json_integer("body", "target"),
            dialect.json_text("body", "kind")
        ))
        .bind(conversation_id.0)
        .bind(target.0)
        .fetch_optional(&mut **tx)
        .await?;
        if recalled.is_some() {
            return Err(StoreError::Invalid(format!("photo {target} was recalled")));
        }
    }
    Ok(())
}

/// Photos and files an order message points at must be messages of the same
/// conversation that carry a file.
async fn check_attachment_references(
    tx: &mut Tx,
    dialect: Dialect,
    conversation_id: ConversationId,
    body: &MessageBody,
) -> Result<(), StoreError> {
    let attachments = match body {
        MessageBody::ConfirmationRequest { attachments, .. }
        | MessageBody::ProgressUpdate { attachments, .. } => attachments,
        _ => return Ok(()),
    };
    for target in attachments {
        let carries_file: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT 1 FROM messages WHERE id = $1 AND conversation_id = $2 AND {} IS NOT NULL",
            dialect.json_text("body", "attachment")
        ))
        .bind(target.0)
        .bind(conversation_id.0)
        .fetch_optional(&mut **tx)
        .await?;
        if carries_file.is_none() {
            return Err(StoreError::Invalid(format!(
                "message {target} is not a photo or file of this conversation"
            )));
        }
    }
    Ok(())
}

impl From<order::OrderRuleError> for StoreError {
    fn from(e: order::OrderRuleError) -> Self {
        let message = e.to_string();
        match e.class() {
            order::RuleClass::Forbidden => StoreError::Forbidden(message),
            order::RuleClass::Conflict => StoreError::Conflict(message),
            order::RuleClass::Invalid => StoreError::Invalid(message),
        }
    }
}

/// The record of an order conversation, folded from its order messages.
async fn load_order_record(
    tx: &mut Tx,
    dialect: Dialect,
    conversation_id: ConversationId,
) -> Result<order::OrderRecord, StoreError> {
    // The WHERE clause repeats the partial index `messages_order_record` word for word.
    let rows = sqlx::query(&format!(
        "SELECT m.id, m.conversation_id, m.seq, m.sender_id, m.device_id, m.txn_id, m.body,
                m.sent_at, m.chain, s.role
         FROM messages m JOIN members s ON s.id = m.sender_id
         WHERE m.conversation_id = $1 AND {} IN
            ('confirmation_request', 'confirmation_answer', 'stage_change', 'progress_update', 'shipment', 'order_edit')
         ORDER BY m.seq",
        dialect.json_text("body", "kind")
    ))
    .bind(conversation_id.0)
    .fetch_all(&mut **tx)
    .await?;
    let mut record = order::OrderRecord::default();
    for row in rows {
        let role: String = row.try_get("role")?;
        let role = Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?;
        record.apply((&message_from_row(&row)?).into(), order::Side::from(role));
    }
    Ok(record)
}

/// Checks an order message against the order's rules, and returns the order's details
/// as they are before it.
async fn check_order_message(
    tx: &mut Tx,
    dialect: Dialect,
    conversation_id: ConversationId,
    sender: MemberId,
    body: &MessageBody,
) -> Result<order::OrderInfo, StoreError> {
    let conversation = load_conversation(tx, conversation_id).await?;
    let Some(info) = conversation.order else {
        return Err(order::OrderRuleError::NotAnOrder {
            kind: body.kind_name().to_owned(),
        }
        .into());
    };
    let side = order::Side::from(tx_member(tx, sender).await?.role);
    load_order_record(tx, dialect, conversation_id)
        .await?
        .check(sender, side, body)?;
    if let MessageBody::OrderEdit {
        assignee: Some(assignee),
        ..
    } = body
    {
        check_assignee(tx, *assignee, &conversation.members).await?;
    }
    check_attachment_references(tx, dialect, conversation_id, body).await?;
    Ok(info)
}

/// An order is assigned to a staff member of its conversation.
async fn check_assignee(
    tx: &mut Tx,
    assignee: MemberId,
    members: &[MemberId],
) -> Result<(), StoreError> {
    let is_staff = match tx_member(tx, assignee).await {
        Ok(m) => m.role.is_staff(),
        Err(StoreError::NotFound) => false,
        Err(e) => return Err(e),
    };
    if !is_staff || !members.contains(&assignee) {
        return Err(StoreError::Invalid(format!(
            "member {assignee} is not staff in this order's conversation"
        )));
    }
    Ok(())
}

/// Records what an order message changed about the order, and announces the order's
/// new state to its members.
async fn update_order(
    tx: &mut Tx,
    log: &mut Vec<LoggedEvent>,
    conversation_id: ConversationId,
    before: order::OrderInfo,
    body: &MessageBody,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let mut after = before.clone();
    after.apply(body, now);
    let retitled = match body {
        MessageBody::OrderEdit {
            title: Some(title), ..
        } => {
            sqlx::query("UPDATE conversations SET title = $1 WHERE id = $2")
                .bind(title.trim())
                .bind(conversation_id.0)
                .execute(&mut **tx)
                .await?;
            true
        }
        _ => false,
    };
    if after == before && !retitled {
        return Ok(());
    }
    sqlx::query("UPDATE orders SET info = $1 WHERE conversation_id = $2")
        .bind(to_json(&after)?)
        .bind(conversation_id.0)
        .execute(&mut **tx)
        .await?;
    announce(tx, conversation_id, log).await.map(|_| ())
}

/// For a body carrying an attachment: checks that the blob is stored, verified and
/// readable by the sender, and sets its size and MIME type from what the server
/// measured (a client's claims are not stored); the same for a photo's preview, which
/// must also be a small JPEG. Returns the hashes of the blobs the message carries.
async fn attach(
    tx: &mut Tx,
    sender: MemberId,
    body: &mut MessageBody,
) -> Result<Vec<String>, StoreError> {
    let attachment = match body {
        MessageBody::Image { attachment, .. }
        | MessageBody::Video { attachment, .. }
        | MessageBody::Voice { attachment, .. }
        | MessageBody::File { attachment, .. } => attachment,
        _ => return Ok(Vec::new()),
    };
    let (size, mime) = readable_blob(tx, sender, &attachment.sha256)
        .await?
        .ok_or_else(|| {
            StoreError::Invalid(format!(
                "attachment {} is not an uploaded, verified file of yours",
                attachment.sha256
            ))
        })?;
    attachment.size = size;
    attachment.mime = mime;
    let mut carried = vec![attachment.sha256.clone()];
    for (what, preview) in [
        ("preview", &mut attachment.preview),
        ("screen level", &mut attachment.screen),
    ] {
        if let Some(preview) = preview {
            attach_preview(tx, sender, what, preview).await?;
            carried.push(preview.sha256.clone());
        }
    }
    Ok(carried)
}

/// Checks that a preview (or screen level) is a small JPEG the sender uploaded, and
/// sets its size from what the server measured.
async fn attach_preview(
    tx: &mut Tx,
    sender: MemberId,
    what: &str,
    preview: &mut PreviewRef,
) -> Result<(), StoreError> {
    let refused = |why: &str| StoreError::Invalid(format!("{what} {}: {why}", preview.sha256));
    let (size, mime) = readable_blob(tx, sender, &preview.sha256)
        .await?
        .ok_or_else(|| refused("not an uploaded, verified file of yours"))?;
    if mime != "image/jpeg" {
        return Err(refused("a preview is a JPEG"));
    }
    if size > MAX_PREVIEW_BYTES {
        return Err(refused("larger than a preview may be"));
    }
    preview.size = size;
    Ok(())
}

/// Size and sniffed type of a complete blob `member` may read.
async fn readable_blob(
    tx: &mut Tx,
    member: MemberId,
    sha256: &str,
) -> Result<Option<(u64, String)>, StoreError> {
    let Some(blob) = sqlx::query("SELECT size, mime FROM blobs WHERE sha256 = $1")
        .bind(sha256)
        .fetch_optional(&mut **tx)
        .await?
    else {
        return Ok(None);
    };
    if !can_read(&mut *tx, member, sha256).await? {
        return Ok(None);
    }
    Ok(Some((
        u64::try_from(blob.try_get::<i64, _>("size")?).unwrap_or(0),
        blob.try_get("mime")?,
    )))
}

async fn can_read(
    conn: &mut AnyConnection,
    member: MemberId,
    sha256: &str,
) -> Result<bool, StoreError> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM uploads WHERE member_id = $1 AND sha256 = $2 AND completed_at IS NOT NULL
         UNION ALL
         SELECT 1 FROM message_blobs mb
           JOIN messages m ON m.id = mb.message_id
           JOIN memberships ms ON ms.conversation_id = m.conversation_id AND ms.member_id = $1
         WHERE mb.sha256 = $2
         LIMIT 1",
    )
    .bind(member.0)
    .bind(sha256)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

fn upload_from_row(row: &AnyRow) -> Result<Upload, StoreError> {
    Ok(Upload {
        id: row.try_get("id")?,
        member_id: MemberId(row.try_get("member_id")?),
        sha256: row.try_get("sha256")?,
        size: u64::try_from(row.try_get::<i64, _>("size")?).unwrap_or(0),
        offset: u64::try_from(row.try_get::<i64, _>("offset")?).unwrap_or(0),
        synced_offset: u64::try_from(row.try_get::<i64, _>("synced_offset")?).unwrap_or(0),
        expires_at: row.try_get("expires_at")?,
        complete: row.try_get::<Option<i64>, _>("completed_at")?.is_some(),
    })
}

const UPLOAD_COLUMNS: &str =
    r#"id, member_id, sha256, size, "offset", synced_offset, expires_at, completed_at"#;

fn db_size(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The ack of an already stored `(device, txn_id)`, if there is one. A replay answers
/// the original, whatever conversation it names now.
async fn replayed(
    tx: &mut Tx,
    sender: MemberId,
    device: &DeviceId,
    txn_id: &TxnId,
) -> Result<Option<SendAck>, StoreError> {
    let existing = sqlx::query(
        "SELECT id, conversation_id, seq, sent_at, sender_id FROM messages WHERE device_id = $1 AND txn_id = $2",
    )
    .bind(device.as_str())
    .bind(txn_id.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = existing else { return Ok(None) };
    let original_sender: i64 = row.try_get("sender_id")?;
    if original_sender != sender.0 {
        // Device ids are per profile; another member on the same id is a forged
        // replay and must learn nothing about the original.
        return Err(StoreError::Conflict("transaction id already used".into()));
    }
    Ok(Some(SendAck {
        conversation_id: ConversationId(row.try_get("conversation_id")?),
        message_id: MessageId(row.try_get("id")?),
        seq: Seq(row.try_get("seq")?),
        sent_at: row.try_get("sent_at")?,
        duplicate: true,
    }))
}

/// The chain link of the message before `seq` ([`chain::GENESIS`] for the first).
async fn previous_link(
    conn: &mut AnyConnection,
    conversation_id: ConversationId,
    seq: i64,
) -> Result<String, StoreError> {
    if seq <= 1 {
        return Ok(chain::GENESIS.to_owned());
    }
    let link: Option<Option<String>> =
        sqlx::query_scalar("SELECT chain FROM messages WHERE conversation_id = $1 AND seq = $2")
            .bind(conversation_id.0)
            .bind(seq - 1)
            .fetch_optional(&mut *conn)
            .await?;
    match link.flatten() {
        Some(link) => Ok(link),
        None => Err(StoreError::Corrupt(format!(
            "conversation {conversation_id} has no chain link at seq {}",
            seq - 1
        ))),
    }
}

/// Links messages stored before the chain existed, oldest first, and writes each link
/// into the stored stream event too, so replays and history agree. Runs once, at open,
/// on SQLite only: PostgreSQL stores were born with the chain.
async fn link_unchained(conn: &mut AnyConnection) -> Result<u64, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chain IS NULL ORDER BY conversation_id, seq"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let mut linked = 0;
    for row in &rows {
        let body: String = row.try_get("body")?;
        let message = message_from_row(row)?;
        let previous = previous_link(conn, message.conversation_id, message.seq.0).await?;
        // The stored text is what was committed; hash exactly that.
        let link = chain::Chained::of(&message, &body).link(&previous);
        sqlx::query("UPDATE messages SET chain = $1 WHERE id = $2")
            .bind(&link)
            .bind(message.id.0)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "UPDATE events SET payload = json_set(payload, '$.message.chain', $1)
             WHERE conversation_id = $2 AND json_extract(payload, '$.type') = 'message'
               AND json_extract(payload, '$.message.id') = $3",
        )
        .bind(&link)
        .bind(message.conversation_id.0)
        .bind(message.id.0)
        .execute(&mut *conn)
        .await?;
        linked += 1;
    }
    Ok(linked)
}

#[allow(clippy::too_many_arguments)] // one per field of `Write::Send`, plus the batch context
async fn apply_send(
    tx: &mut Tx,
    dialect: Dialect,
    now: UnixMillis,
    log: &mut Vec<LoggedEvent>,
    sender: MemberId,
    device: DeviceId,
    conversation_id: ConversationId,
    txn_id: TxnId,
    body: MessageBody,
) -> Result<Outcome, StoreError> {
    // The common case costs one statement: store the message if the sender is a member
    // and the (device, txn) pair is new. Bodies that reference other messages are
    // checked first; a replay or a non-member falls through to the slow path below.
    let mut body = body;
    let carried = attach(tx, sender, &mut body).await?;
    let references = !matches!(body, MessageBody::Text { reply_to: None, .. });
    if references {
        if let Some(ack) = replayed(tx, sender, &device, &txn_id).await? {
            return Ok(Outcome::Sent(ack));
        }
        if !tx_is_member(tx, sender, conversation_id).await? {
            return Err(StoreError::NotFound);
        }
        check_references(tx, dialect, conversation_id, sender, &body).await?;
    }
    let order_before = if order::is_order_kind(&body) {
        Some(check_order_message(tx, dialect, conversation_id, sender, &body).await?)
    } else {
        None
    };
    let inserted = sqlx::query(
        "INSERT INTO messages (conversation_id, seq, sender_id, device_id, txn_id, body, sent_at)
         SELECT c.id, c.last_seq + 1, $1, $2, $3, $4, $5 FROM conversations c
         WHERE c.id = $6 AND EXISTS
           (SELECT 1 FROM memberships m WHERE m.conversation_id = c.id AND m.member_id = $1)
         ON CONFLICT (device_id, txn_id) DO NOTHING
         RETURNING id, seq",
    )
    .bind(sender.0)
    .bind(device.as_str())
    .bind(txn_id.as_str())
    .bind(chain::body_json(&body))
    .bind(now)
    .bind(conversation_id.0)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = inserted else {
        return match replayed(tx, sender, &device, &txn_id).await? {
            Some(ack) => Ok(Outcome::Sent(ack)),
            None => Err(StoreError::NotFound),
        };
    };
    let (id, seq): (i64, i64) = (row.try_get("id")?, row.try_get("seq")?);
    sqlx::query("UPDATE conversations SET last_seq = $1 WHERE id = $2")
        .bind(seq)
        .bind(conversation_id.0)
        .execute(&mut **tx)
        .await?;
    for sha256 in carried {
        sqlx::query(
            "INSERT INTO message_blobs (message_id, sha256) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(sha256)
        .execute(&mut **tx)
        .await?;
    }
    let mut message = Message {
        id: MessageId(id),
        conversation_id,
        seq: Seq(seq),
        sender_id: sender,
        sender_device: device,
        txn_id,
        body,
        sent_at: now,
        chain: String::new(),
    };
    message.chain = chain::link_of(&message, &previous_link(tx, conversation_id, seq).await?);
    sqlx::query("UPDATE messages SET chain = $1 WHERE id = $2")
        .bind(&message.chain)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let order_change = order_before.map(|before| (before, message.body.clone()));
    append_event(tx, conversation_id, Event::Message { message }, log).await?;
    if let Some((before, body)) = order_change {
        update_order(tx, log, conversation_id, before, &body, now).await?;
    }
    Ok(Outcome::Sent(SendAck {
        conversation_id,
        message_id: MessageId(id),
        seq: Seq(seq),
        sent_at: now,
        duplicate: false,
    }))
}

async fn apply_receipt(
    tx: &mut Tx,
    now: UnixMillis,
    log: &mut Vec<LoggedEvent>,
    member: MemberId,
    conversation_id: ConversationId,
    delivered_up_to: Option<Seq>,
    read_up_to: Option<Seq>,
) -> Result<Outcome, StoreError> {
    if !tx_is_member(tx, member, conversation_id).await? {
        return Err(StoreError::NotFound);
    }
    let last_seq: i64 = sqlx::query_scalar("SELECT last_seq FROM conversations WHERE id = $1")
        .bind(conversation_id.0)
        .fetch_one(&mut **tx)
        .await?;
    let current = sqlx::query(
        "SELECT delivered_up_to, read_up_to FROM receipts WHERE conversation_id = $1 AND member_id = $2",
    )
    .bind(conversation_id.0)
    .bind(member.0)
    .fetch_optional(&mut **tx)
    .await?;
    let (old_delivered, old_read) = match &current {
        Some(row) => (
            row.try_get::<i64, _>("delivered_up_to")?,
            row.try_get::<i64, _>("read_up_to")?,
        ),
        None => (0, 0),
    };
    // Positions only grow and never pass the newest message.
    let clamp = |asked: Option<Seq>, old: i64| asked.map_or(old, |s| s.0.min(last_seq).max(old));
    let read = clamp(read_up_to, old_read);
    // Reading implies delivery.
    let delivered = clamp(delivered_up_to, old_delivered).max(read);
    let receipt = Receipt {
        conversation_id,
        member_id: member,
        delivered_up_to: Seq(delivered),
        read_up_to: Seq(read),
        updated_at: now,
    };
    if current.is_some() && delivered == old_delivered && read == old_read {
        return Ok(Outcome::Receipt(receipt));
    }
    sqlx::query(
        "INSERT INTO receipts (conversation_id, member_id, delivered_up_to, read_up_to, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (conversation_id, member_id) DO UPDATE SET
           delivered_up_to = excluded.delivered_up_to, read_up_to = excluded.read_up_to,
           updated_at = excluded.updated_at",
    )
    .bind(conversation_id.0)
    .bind(member.0)
    .bind(delivered)
    .bind(read)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    append_event(tx, conversation_id, Event::Receipt { receipt }, log).await?;
    Ok(Outcome::Receipt(receipt))
}

async fn apply_remind(
    tx: &mut Tx,
    now: UnixMillis,
    log: &mut Vec<LoggedEvent>,
    actor: MemberId,
    conversation_id: ConversationId,
    message_id: MessageId,
) -> Result<Outcome, StoreError> {
    if !tx_is_member(tx, actor, conversation_id).await? {
        return Err(StoreError::NotFound);
    }
    let message =
        sqlx::query("SELECT seq, sender_id FROM messages WHERE id = $1 AND conversation_id = $2")
            .bind(message_id.0)
            .bind(conversation_id.0)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(StoreError::NotFound)?;
    let (seq, sender): (i64, i64) = (message.try_get("seq")?, message.try_get("sender_id")?);
    if sender != actor.0 {
        return Err(StoreError::Forbidden(
            "only the sender may send a reminder about a message".into(),
        ));
    }
    let last: Option<i64> =
        sqlx::query_scalar("SELECT MAX(at) FROM reminders WHERE message_id = $1")
            .bind(message_id.0)
            .fetch_one(&mut **tx)
            .await?;
    if let Some(last) = last {
        let wait = last + REMIND_INTERVAL_MS - now;
        if wait > 0 {
            return Err(StoreError::TooSoon {
                what: "a reminder about this message was sent a moment ago".into(),
                retry_after_ms: wait,
            });
        }
    }
    let unread: Vec<i64> = sqlx::query_scalar(
        "SELECT m.member_id FROM memberships m
         LEFT JOIN receipts r ON r.conversation_id = m.conversation_id AND r.member_id = m.member_id
         WHERE m.conversation_id = $1 AND m.member_id != $2 AND COALESCE(r.read_up_to, 0) < $3
         ORDER BY m.member_id",
    )
    .bind(conversation_id.0)
    .bind(actor.0)
    .bind(seq)
    .fetch_all(&mut **tx)
    .await?;
    if unread.is_empty() {
        return Err(StoreError::Conflict(
            "everyone has read this message; nobody to remind".into(),
        ));
    }
    let to: Vec<MemberId> = unread.into_iter().map(MemberId).collect();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO reminders (conversation_id, message_id, sent_by, recipients, at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(conversation_id.0)
    .bind(message_id.0)
    .bind(actor.0)
    .bind(to_json(&to)?)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let reminder = Reminder {
        id: ReminderId(id),
        conversation_id,
        message_id,
        seq: Seq(seq),
        from: actor,
        to,
        at: now,
    };
    let event = Event::Reminder {
        reminder: reminder.clone(),
    };
    append_event(tx, conversation_id, event, log).await?;
    Ok(Outcome::Reminder(reminder))
}

async fn load_members(tx: &mut Tx, ids: &[MemberId]) -> Result<Vec<Member>, StoreError> {
    let mut members = Vec::with_capacity(ids.len());
    for id in ids {
        match tx_member(tx, *id).await {
            Ok(m) => members.push(m),
            Err(StoreError::NotFound) => {
                return Err(StoreError::Invalid(format!("member {id} does not exist")))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(members)
}

#[allow(clippy::too_many_arguments)]
async fn apply_create_conversation(
    tx: &mut Tx,
    now: UnixMillis,
    log: &mut Vec<LoggedEvent>,
    creator: MemberId,
    kind: ConversationKind,
    title: String,
    org_id: Option<OrgId>,
    order_number: Option<String>,
    order: Option<order::OrderInfo>,
    member_ids: Vec<MemberId>,
) -> Result<Outcome, StoreError> {
    let creator_member = tx_member(tx, creator).await?;
    if !creator_member.role.is_staff() {
        return Err(StoreError::Forbidden(
            "only staff create conversations".into(),
        ));
    }
    if kind == ConversationKind::Order && (org_id.is_none() || order_number.is_none()) {
        return Err(StoreError::Invalid(
            "an order conversation needs an organisation and an order number".into(),
        ));
    }
    if kind != ConversationKind::Order && (order_number.is_some() || order.is_some()) {
        return Err(StoreError::Invalid(
            "only order conversations have an order number and order details".into(),
        ));
    }
    ensure_org_exists(tx, org_id).await?;
    let mut ids = member_ids;
    ids.push(creator);
    ids.sort();
    ids.dedup();
    let members = load_members(tx, &ids).await?;
    check_membership_rules(kind, org_id, &members)?;
    if let Some(number) = &order_number {
        let taken: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM conversations WHERE order_number = $1")
                .bind(number)
                .fetch_optional(&mut **tx)
                .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "order number {number} exists"
            )));
        }
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO conversations (kind, title, org_id, order_number, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(kind.as_str())
    .bind(&title)
    .bind(org_id.map(|o| o.0))
    .bind(&order_number)
    .bind(creator.0)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    insert_memberships(tx, ConversationId(id), ids.iter(), now).await?;
    if kind == ConversationKind::Order {
        let info = order.unwrap_or_else(|| order::OrderInfo::new(None, None, None));
        if let Some(assignee) = info.assignee {
            check_assignee(tx, assignee, &ids).await?;
        }
        sqlx::query("INSERT INTO orders (conversation_id, info) VALUES ($1, $2)")
            .bind(id)
            .bind(to_json(&info)?)
            .execute(&mut **tx)
            .await?;
    }
    announce(tx, ConversationId(id), log).await
}

async fn apply_add_members(
    tx: &mut Tx,
    now: UnixMillis,
    log: &mut Vec<LoggedEvent>,
    actor: MemberId,
    conversation_id: ConversationId,
    member_ids: Vec<MemberId>,
) -> Result<Outcome, StoreError> {
    if !tx_is_member(tx, actor, conversation_id).await? {
        return Err(StoreError::NotFound);
    }
    if !tx_member(tx, actor).await?.role.is_staff() {
        return Err(StoreError::Forbidden("only staff add members".into()));
    }
    let before = load_conversation(tx, conversation_id).await?;
    let mut ids = before.members.clone();
    ids.extend(member_ids);
    ids.sort();
    ids.dedup();
    let members = load_members(tx, &ids).await?;
    check_membership_rules(before.kind, before.org_id, &members)?;
    if ids == before.members {
        return Ok(Outcome::Conversation(before));
    }
    let added = ids.iter().filter(|m| !before.members.contains(m));
    insert_memberships(tx, conversation_id, added, now).await?;
    announce(tx, conversation_id, log).await
}

/// Logs a conversation's current state (after it was created or its members changed)
/// as an event, and returns it.
async fn announce(
    tx: &mut Tx,
    conversation_id: ConversationId,
    log: &mut Vec<LoggedEvent>,
) -> Result<Outcome, StoreError> {
    let conversation = load_conversation(tx, conversation_id).await?;
    let event = Event::Conversation {
        conversation: conversation.clone(),
    };
    append_event(tx, conversation_id, event, log).await?;
    Ok(Outcome::Conversation(conversation))
}

async fn insert_memberships(
    tx: &mut Tx,
    conversation_id: ConversationId,
    members: impl Iterator<Item = &MemberId>,
    now: UnixMillis,
) -> Result<(), StoreError> {
    for member in members {
        sqlx::query(
            "INSERT INTO memberships (conversation_id, member_id, joined_at) VALUES ($1, $2, $3)",
        )
        .bind(conversation_id.0)
        .bind(member.0)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn apply(
    tx: &mut Tx,
    dialect: Dialect,
    now: UnixMillis,
    log: &mut Vec<LoggedEvent>,
    write: Write,
) -> Result<Outcome, StoreError> {
    match write {
        Write::Send {
            sender,
            device,
            conversation_id,
            txn_id,
            body,
        } => {
            apply_send(
                tx,
                dialect,
                now,
                log,
                sender,
                device,
                conversation_id,
                txn_id,
                body,
            )
            .await
        }
        Write::Receipt {
            member,
            conversation_id,
            delivered_up_to,
            read_up_to,
        } => {
            apply_receipt(
                tx,
                now,
                log,
                member,
                conversation_id,
                delivered_up_to,
                read_up_to,
            )
            .await
        }
        Write::CreateConversation {
            creator,
            kind,
            title,
            org_id,
            order_number,
            order,
            member_ids,
        } => {
            apply_create_conversation(
                tx,
                now,
                log,
                creator,
                kind,
                title,
                org_id,
                order_number,
                order,
                member_ids,
            )
            .await
        }
        Write::AddMembers {
            actor,
            conversation_id,
            member_ids,
        } => apply_add_members(tx, now, log, actor, conversation_id, member_ids).await,
        Write::Remind {
            actor,
            conversation_id,
            message_id,
        } => apply_remind(tx, now, log, actor, conversation_id, message_id).await,
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn workspace(&self) -> Result<Option<Workspace>, StoreError> {
        let name: Option<String> = sqlx::query_scalar("SELECT name FROM workspace WHERE id = 1")
            .fetch_optional(&self.reader)
            .await?;
        Ok(name.map(|name| Workspace { name }))
    }

    async fn init_workspace(&self, name: &str, admin: NewMember) -> Result<Member, StoreError> {
        let mut tx = self.writer.begin().await?;
        let now = crate::clock::now_millis();
        let inserted =
            sqlx::query("INSERT INTO workspace (id, name, created_at) VALUES (1, $1, $2)")
                .bind(name)
                .bind(now)
                .execute(&mut *tx)
                .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(
                    "the workspace is already initialised".into(),
                ))
            }
            other => {
                other?;
            }
        }
        let id = insert_member(&mut tx, &admin, now).await?;
        tx.commit().await?;
        Ok(Member {
            id: MemberId(id),
            username: admin.username,
            display_name: admin.display_name,
            role: admin.role,
            org_id: admin.org_id,
        })
    }

    async fn create_org(&self, name: &str) -> Result<Organisation, StoreError> {
        let inserted =
            sqlx::query_scalar("INSERT INTO orgs (name, created_at) VALUES ($1, $2) RETURNING id")
                .bind(name)
                .bind(crate::clock::now_millis())
                .fetch_one(&self.writer)
                .await;
        match inserted {
            Ok(id) => Ok(Organisation {
                id: OrgId(id),
                name: name.to_owned(),
            }),
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::Conflict(format!("organisation {name} exists")))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn list_orgs(&self) -> Result<Vec<Organisation>, StoreError> {
        let rows = sqlx::query("SELECT id, name FROM orgs ORDER BY id")
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Organisation {
                    id: OrgId(r.try_get("id")?),
                    name: r.try_get("name")?,
                })
            })
            .collect()
    }

    async fn create_member(&self, member: NewMember) -> Result<Member, StoreError> {
        let mut tx = self.writer.begin().await?;
        ensure_org_exists(&mut tx, member.org_id).await?;
        let id = insert_member(&mut tx, &member, crate::clock::now_millis()).await?;
        tx.commit().await?;
        Ok(Member {
            id: MemberId(id),
            username: member.username,
            display_name: member.display_name,
            role: member.role,
            org_id: member.org_id,
        })
    }

    async fn create_invite(&self, invite: NewInvite) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        ensure_org_exists(&mut tx, invite.org_id).await?;
        sqlx::query(
            "INSERT INTO invites (code_hash, role, org_id, created_by, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&invite.code_hash)
        .bind(invite.role.as_str())
        .bind(invite.org_id.map(|o| o.0))
        .bind(invite.created_by.0)
        .bind(invite.created_at)
        .bind(invite.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn redeem_invite(
        &self,
        code_hash: &str,
        now: UnixMillis,
        username: &str,
        display_name: &str,
        password_hash: &str,
    ) -> Result<Member, StoreError> {
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(
            "SELECT role, org_id FROM invites
             WHERE code_hash = $1 AND used_by IS NULL AND expires_at > $2",
        )
        .bind(code_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let role: String = row.try_get("role")?;
        let member = NewMember {
            username: username.to_owned(),
            display_name: display_name.to_owned(),
            role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(role.clone()))?,
            org_id: row.try_get::<Option<i64>, _>("org_id")?.map(OrgId),
            password_hash: password_hash.to_owned(),
        };
        let id = insert_member(&mut tx, &member, now).await?;
        sqlx::query("UPDATE invites SET used_by = $1, used_at = $2 WHERE code_hash = $3")
            .bind(id)
            .bind(now)
            .bind(code_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Member {
            id: MemberId(id),
            username: member.username,
            display_name: member.display_name,
            role: member.role,
            org_id: member.org_id,
        })
    }

    async fn list_members(&self, viewer: &Member) -> Result<Vec<Member>, StoreError> {
        let rows = if viewer.role.is_staff() {
            sqlx::query(&format!("SELECT {MEMBER_COLUMNS} FROM members ORDER BY id"))
                .fetch_all(&self.reader)
                .await?
        } else {
            sqlx::query(&format!(
                "SELECT {MEMBER_COLUMNS} FROM members WHERE role != 'customer' OR org_id = $1 ORDER BY id"
            ))
            .bind(viewer.org_id.map(|o| o.0))
            .fetch_all(&self.reader)
            .await?
        };
        rows.iter().map(member_from_row).collect()
    }

    async fn credentials(&self, username: &str) -> Result<Option<Credentials>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS}, password_hash FROM members WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| {
            Ok(Credentials {
                member: member_from_row(&r)?,
                password_hash: r.try_get("password_hash")?,
            })
        })
        .transpose()
    }

    async fn set_password(&self, member: MemberId, password_hash: &str) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE members SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(member.0)
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn create_session(
        &self,
        token_hash: &str,
        member: MemberId,
        device: &DeviceId,
        device_name: &str,
        expires_at: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, member_id, device_id, device_name, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash)
        .bind(member.0)
        .bind(device.as_str())
        .bind(device_name)
        .bind(crate::clock::now_millis())
        .bind(expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn session(
        &self,
        token_hash: &str,
        now: UnixMillis,
    ) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT m.id, m.username, m.display_name, m.role, m.org_id, s.device_id
             FROM sessions s JOIN members m ON m.id = s.member_id
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| {
            Ok(Session {
                member: member_from_row(&r)?,
                device_id: DeviceId(r.try_get("device_id")?),
            })
        })
        .transpose()
    }

    async fn revoke_session(&self, token_hash: &str, now: UnixMillis) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(token_hash)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn commit_batch(
        &self,
        writes: Vec<Write>,
        now: UnixMillis,
    ) -> Result<BatchResult, StoreError> {
        let mut tx = self.writer.begin().await?;
        if self.dialect == Dialect::Postgres {
            sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)")
                .bind(COMMIT_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        let mut result = BatchResult::default();
        for write in writes {
            match apply(&mut tx, self.dialect, now, &mut result.events, write).await {
                // A database failure poisons the transaction: give up on the whole batch.
                Err(e @ (StoreError::Query(_) | StoreError::Corrupt(_))) => return Err(e),
                other => result.outcomes.push(other),
            }
        }
        tx.commit().await?;
        Ok(result)
    }

    async fn conversations_of(&self, member: MemberId) -> Result<Vec<Conversation>, StoreError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT conversation_id FROM memberships WHERE member_id = $1 ORDER BY conversation_id",
        )
        .bind(member.0)
        .fetch_all(&self.reader)
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        let mut conn = self.reader.acquire().await?;
        for id in ids {
            out.push(load_conversation(&mut conn, ConversationId(id)).await?);
        }
        Ok(out)
    }

    async fn conversation(
        &self,
        viewer: MemberId,
        id: ConversationId,
    ) -> Result<Conversation, StoreError> {
        if !self.is_member(viewer, id).await? {
            return Err(StoreError::NotFound);
        }
        load_conversation(&mut *self.reader.acquire().await?, id).await
    }

    async fn history(
        &self,
        viewer: MemberId,
        id: ConversationId,
        before: Option<Seq>,
        after: Option<Seq>,
        limit: u32,
    ) -> Result<HistoryPage, StoreError> {
        if !self.is_member(viewer, id).await? {
            return Err(StoreError::NotFound);
        }
        let limit = i64::from(limit.clamp(1, 1000));
        // Fetch one extra row to learn whether more exist.
        let mut messages = if let Some(after) = after {
            let rows = sqlx::query(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND seq > $2 AND seq < $3
                 ORDER BY seq ASC LIMIT $4"
            ))
            .bind(id.0)
            .bind(after.0)
            .bind(before.map_or(i64::MAX, |b| b.0))
            .bind(limit + 1)
            .fetch_all(&self.reader)
            .await?;
            rows.iter()
                .map(message_from_row)
                .collect::<Result<Vec<_>, _>>()?
        } else {
            let rows = sqlx::query(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND seq < $2
                 ORDER BY seq DESC LIMIT $3"
            ))
            .bind(id.0)
            .bind(before.map_or(i64::MAX, |b| b.0))
            .bind(limit + 1)
            .fetch_all(&self.reader)
            .await?;
            rows.iter()
                .map(message_from_row)
                .collect::<Result<Vec<_>, _>>()?
        };
        let has_more = messages.len() as i64 > limit;
        messages.truncate(limit as usize);
        messages.sort_by_key(|m| m.seq);
        Ok(HistoryPage { messages, has_more })
    }

    async fn receipts(
        &self,
        viewer: MemberId,
        id: ConversationId,
    ) -> Result<Vec<Receipt>, StoreError> {
        if !self.is_member(viewer, id).await? {
            return Err(StoreError::NotFound);
        }
        let rows = sqlx::query(
            "SELECT member_id, delivered_up_to, read_up_to, updated_at FROM receipts
             WHERE conversation_id = $1 ORDER BY member_id",
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

    async fn events_after(
        &self,
        member: MemberId,
        after: StreamPos,
        limit: u32,
    ) -> Result<Vec<RawEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT pos, payload FROM events
             WHERE pos > $1 AND conversation_id IN (SELECT conversation_id FROM memberships WHERE member_id = $2)
             ORDER BY pos LIMIT $3",
        )
        .bind(after.0)
        .bind(member.0)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RawEvent {
                    pos: StreamPos(r.try_get("pos")?),
                    payload: r.try_get("payload")?,
                })
            })
            .collect()
    }

    async fn events_since(
        &self,
        after: StreamPos,
        limit: u32,
    ) -> Result<Vec<LoggedEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT pos, conversation_id, payload FROM events WHERE pos > $1 ORDER BY pos LIMIT $2",
        )
        .bind(after.0)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let raw = RawEvent {
                    pos: StreamPos(r.try_get("pos")?),
                    payload: r.try_get("payload")?,
                };
                Ok(LoggedEvent {
                    conversation_id: ConversationId(r.try_get("conversation_id")?),
                    event: raw.decode()?,
                    payload: raw.payload,
                })
            })
            .collect()
    }

    async fn head(&self) -> Result<StreamPos, StoreError> {
        let pos: Option<i64> = sqlx::query_scalar("SELECT MAX(pos) FROM events")
            .fetch_one(&self.reader)
            .await?;
        Ok(StreamPos(pos.unwrap_or(0)))
    }

    async fn is_member(&self, member: MemberId, id: ConversationId) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM memberships WHERE conversation_id = $1 AND member_id = $2",
        )
        .bind(id.0)
        .bind(member.0)
        .fetch_optional(&self.reader)
        .await?;
        Ok(found.is_some())
    }

    async fn create_upload(&self, new: Upload, quota: u64) -> Result<Upload, StoreError> {
        let mut tx = self.writer.begin().await?;
        let existing = sqlx::query(&format!(
            "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE member_id = $1 AND sha256 = $2 AND size = $3
             ORDER BY completed_at IS NULL DESC LIMIT 1"
        ))
        .bind(new.member_id.0)
        .bind(&new.sha256)
        .bind(db_size(new.size))
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = existing {
            return upload_from_row(&row);
        }
        let used: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM uploads WHERE member_id = $1",
        )
        .bind(new.member_id.0)
        .fetch_one(&mut *tx)
        .await?;
        if u64::try_from(used).unwrap_or(0).saturating_add(new.size) > quota {
            return Err(StoreError::Quota { quota });
        }
        // A file the member can already see needs no bytes: the upload is complete at once.
        let known: Option<i64> = sqlx::query_scalar("SELECT size FROM blobs WHERE sha256 = $1")
            .bind(&new.sha256)
            .fetch_optional(&mut *tx)
            .await?;
        let complete = known == Some(db_size(new.size))
            && can_read(&mut tx, new.member_id, &new.sha256).await?;
        let now = crate::clock::now_millis();
        sqlx::query(
            r#"INSERT INTO uploads (id, member_id, sha256, size, "offset", synced_offset, created_at, expires_at, completed_at)
               VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8)"#,
        )
        .bind(&new.id)
        .bind(new.member_id.0)
        .bind(&new.sha256)
        .bind(db_size(new.size))
        .bind(if complete { db_size(new.size) } else { 0 })
        .bind(now)
        .bind(new.expires_at)
        .bind(complete.then_some(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let offset = if complete { new.size } else { 0 };
        Ok(Upload {
            offset,
            synced_offset: offset,
            complete,
            ..new
        })
    }

    async fn upload(&self, member: MemberId, id: &str) -> Result<Option<Upload>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE id = $1 AND member_id = $2"
        ))
        .bind(id)
        .bind(member.0)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(upload_from_row).transpose()
    }

    async fn set_upload_offset(
        &self,
        id: &str,
        offset: u64,
        expires_at: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query(r#"UPDATE uploads SET "offset" = $1, expires_at = $2 WHERE id = $3"#)
            .bind(db_size(offset))
            .bind(expires_at)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn set_upload_synced(&self, id: &str, synced: u64) -> Result<(), StoreError> {
        sqlx::query(
            r#"UPDATE uploads SET synced_offset = $1
               WHERE id = $2 AND synced_offset < $1 AND "offset" >= $1"#,
        )
        .bind(db_size(synced))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn rewind_upload(&self, id: &str, offset: u64) -> Result<(), StoreError> {
        sqlx::query(
            r#"UPDATE uploads SET "offset" = $1, synced_offset = $1
               WHERE id = $2 AND completed_at IS NULL"#,
        )
        .bind(db_size(offset))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn complete_upload(
        &self,
        id: &str,
        blob: &BlobInfo,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("INSERT INTO blobs (sha256, size, mime, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(&blob.sha256)
            .bind(db_size(blob.size))
            .bind(&blob.mime)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(r#"UPDATE uploads SET "offset" = size, synced_offset = size, completed_at = $1 WHERE id = $2"#)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_upload(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn expired_uploads(&self, now: UnixMillis) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM uploads WHERE completed_at IS NULL AND expires_at < $1",
        )
        .bind(now)
        .fetch_all(&self.reader)
        .await?)
    }

    async fn blob(&self, sha256: &str) -> Result<Option<BlobInfo>, StoreError> {
        let row = sqlx::query("SELECT size, mime FROM blobs WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| {
            Ok(BlobInfo {
                sha256: sha256.to_owned(),
                size: u64::try_from(r.try_get::<i64, _>("size")?).unwrap_or(0),
                mime: r.try_get("mime")?,
            })
        })
        .transpose()
    }

    async fn can_read_blob(&self, member: MemberId, sha256: &str) -> Result<bool, StoreError> {
        can_read(&mut *self.reader.acquire().await?, member, sha256).await
    }

    async fn snapshot_into(&self, dest: &std::path::Path) -> Result<(), StoreError> {
        if self.dialect == Dialect::Postgres {
            return Err(StoreError::Invalid(
                "a PostgreSQL store is backed up with pg_dump (see the README)".into(),
            ));
        }
        let dest = dest
            .to_str()
            .ok_or_else(|| StoreError::Invalid(format!("{} is not UTF-8", dest.display())))?;
        // On a reader connection: WAL readers never block the writer, so the server
        // keeps committing while the copy is made from one read transaction.
        sqlx::query("VACUUM INTO $1")
            .bind(dest)
            .execute(&self.reader)
            .await?;
        Ok(())
    }
}

/// `Invalid` unless the organisation (if any) exists.
async fn ensure_org_exists(tx: &mut Tx, org: Option<OrgId>) -> Result<(), StoreError> {
    let Some(org) = org else { return Ok(()) };
    let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM orgs WHERE id = $1")
        .bind(org.0)
        .fetch_optional(&mut **tx)
        .await?;
    if exists.is_none() {
        return Err(StoreError::Invalid(format!(
            "organisation {org} does not exist"
        )));
    }
    Ok(())
}

async fn insert_member(
    tx: &mut Tx,
    member: &NewMember,
    now: UnixMillis,
) -> Result<i64, StoreError> {
    let inserted = sqlx::query_scalar(
        "INSERT INTO members (username, display_name, role, org_id, password_hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(&member.username)
    .bind(&member.display_name)
    .bind(member.role.as_str())
    .bind(member.org_id.map(|o| o.0))
    .bind(&member.password_hash)
    .bind(now)
    .fetch_one(&mut **tx)
    .await;
    match inserted {
        Ok(id) => Ok(id),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
            "username {} is taken",
            member.username
        ))),
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn count_rows(conn: &mut AnyConnection) -> Result<StoreCounts, StoreError> {
    let row = sqlx::query(
        "SELECT (SELECT count(*) FROM members) AS members, \
                (SELECT count(*) FROM conversations) AS conversations, \
                (SELECT count(*) FROM messages) AS messages, \
                (SELECT count(*) FROM events) AS events, \
                (SELECT count(*) FROM blobs) AS blobs",
    )
    .fetch_one(&mut *conn)
    .await?;
    let count = |name: &str| -> Result<u64, StoreError> {
        Ok(u64::try_from(row.try_get::<i64, _>(name)?).unwrap_or(0))
    };
    Ok(StoreCounts {
        members: count("members")?,
        conversations: count("conversations")?,
        messages: count("messages")?,
        events: count("events")?,
        blobs: count("blobs")?,
    })
}

/// How a copied column is read and written.
#[derive(Clone, Copy)]
enum Column {
    Integer(&'static str),
    Text(&'static str),
}

/// Every table, parents before children, with every column: what
/// [`SqlStore::copy_into`] moves. A test compares it with the schema, so a column added
/// by a migration cannot be forgotten here.
const TABLES: &[(&str, &[Column])] = {
    use Column::{Integer as I, Text as T};
    &[
        ("workspace", &[I("id"), T("name"), I("created_at")]),
        ("orgs", &[I("id"), T("name"), I("created_at")]),
        (
            "members",
            &[
                I("id"),
                T("username"),
                T("display_name"),
                T("role"),
                I("org_id"),
                T("password_hash"),
                I("created_at"),
            ],
        ),
        (
            "sessions",
            &[
                T("token_hash"),
                I("member_id"),
                T("device_id"),
                T("device_name"),
                I("created_at"),
                I("expires_at"),
                I("revoked_at"),
            ],
        ),
        (
            "conversations",
            &[
                I("id"),
                T("kind"),
                T("title"),
                I("org_id"),
                T("order_number"),
                I("last_seq"),
                I("created_by"),
                I("created_at"),
            ],
        ),
        (
            "memberships",
            &[I("conversation_id"), I("member_id"), I("joined_at")],
        ),
        (
            "messages",
            &[
                I("id"),
                I("conversation_id"),
                I("seq"),
                I("sender_id"),
                T("device_id"),
                T("txn_id"),
                T("body"),
                I("sent_at"),
                T("chain"),
            ],
        ),
        (
            "receipts",
            &[
                I("conversation_id"),
                I("member_id"),
                I("delivered_up_to"),
                I("read_up_to"),
                I("updated_at"),
            ],
        ),
        ("events", &[I("pos"), I("conversation_id"), T("payload")]),
        (
            "blobs",
            &[T("sha256"), I("size"), T("mime"), I("created_at")],
        ),
        (
            "uploads",
            &[
                T("id"),
                I("member_id"),
                T("sha256"),
                I("size"),
                I("\"offset\""),
                I("synced_offset"),
                I("created_at"),
                I("expires_at"),
                I("completed_at"),
            ],
        ),
        ("message_blobs", &[I("message_id"), T("sha256")]),
        (
            "invites",
            &[
                T("code_hash"),
                T("role"),
                I("org_id"),
                I("created_by"),
                I("created_at"),
                I("expires_at"),
                I("used_by"),
                I("used_at"),
            ],
        ),
        (
            "reminders",
            &[
                I("id"),
                I("conversation_id"),
                I("message_id"),
                I("sent_by"),
                T("recipients"),
                I("at"),
            ],
        ),
        ("orders", &[I("conversation_id"), T("info")]),
    ]
};

/// Tables whose ids a database assigns, and the id column: after a copy PostgreSQL's
/// sequences must continue after the copied ids.
const GENERATED_IDS: &[(&str, &str)] = &[
    ("orgs", "id"),
    ("members", "id"),
    ("conversations", "id"),
    ("messages", "id"),
    ("events", "pos"),
    ("reminders", "id"),
];

/// The newest link of one conversation's hash chain, recomputed from the stored bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub conversation_id: ConversationId,
    pub last_seq: Seq,
    pub link: String,
}

impl SqlStore {
    /// How much the store holds.
    pub async fn counts(&self) -> Result<StoreCounts, StoreError> {
        count_rows(&mut *self.reader.acquire().await?).await
    }

    /// Copies every row of this store into `target`, which must be empty (migrated, no
    /// workspace), in one target transaction: either all of it arrives or nothing does.
    /// Reads from one snapshot of this store. Returns what was copied.
    pub async fn copy_into(&self, target: &SqlStore) -> Result<StoreCounts, StoreError> {
        if target.workspace().await?.is_some() || target.counts().await?.members > 0 {
            return Err(StoreError::Conflict(
                "the target database already holds a workspace".into(),
            ));
        }
        let mut source = self.reader.begin().await?;
        if self.dialect == Dialect::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *source)
                .await?;
        }
        let mut tx = target.writer.begin().await?;
        for (table, columns) in TABLES {
            let names = columns
                .iter()
                .map(|c| match c {
                    Column::Integer(n) | Column::Text(n) => *n,
                })
                .collect::<Vec<_>>()
                .join(", ");
            let placeholders = (1..=columns.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let insert = format!("INSERT INTO {table} ({names}) VALUES ({placeholders})");
            let select = format!("SELECT {names} FROM {table}");
            for row in sqlx::query(&select).fetch_all(&mut *source).await? {
                let mut query = sqlx::query(&insert);
                for (i, column) in columns.iter().enumerate() {
                    query = match column {
                        Column::Integer(_) => query.bind(row.try_get::<Option<i64>, _>(i)?),
                        Column::Text(_) => query.bind(row.try_get::<Option<String>, _>(i)?),
                    };
                }
                query.execute(&mut *tx).await?;
            }
        }
        if target.dialect == Dialect::Postgres {
            for (table, id) in GENERATED_IDS {
                sqlx::query(&format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', '{id}'),
                                   (SELECT COALESCE(MAX({id}), 0) + 1 FROM {table}), false)"
                ))
                .execute(&mut *tx)
                .await?;
            }
        }
        let copied = count_rows(&mut tx).await?;
        tx.commit().await?;
        source.commit().await?;
        Ok(copied)
    }

    /// Recomputes every conversation's hash chain from the stored message bodies and
    /// returns each chain's head. A stored link that does not match is `Corrupt`.
    pub async fn chain_heads(&self) -> Result<Vec<ChainHead>, StoreError> {
        let mut conn = self.reader.acquire().await?;
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages ORDER BY conversation_id, seq"
        ))
        .fetch_all(&mut *conn)
        .await?;
        let mut heads: Vec<ChainHead> = Vec::new();
        for row in &rows {
            let body: String = row.try_get("body")?;
            let message = message_from_row(row)?;
            let previous = match heads.last() {
                Some(head) if head.conversation_id == message.conversation_id => head.link.clone(),
                _ => chain::GENESIS.to_owned(),
            };
            let link = chain::Chained::of(&message, &body).link(&previous);
            if link != message.chain {
                return Err(StoreError::Corrupt(format!(
                    "conversation {} breaks its hash chain at seq {}",
                    message.conversation_id, message.seq
                )));
            }
            let head = ChainHead {
                conversation_id: message.conversation_id,
                last_seq: message.seq,
                link,
            };
            match heads.last_mut() {
                Some(last) if last.conversation_id == message.conversation_id => *last = head,
                _ => heads.push(head),
            }
        }
        Ok(heads)
    }

    /// Every stored blob's metadata, by hash.
    pub async fn blobs(&self) -> Result<Vec<BlobInfo>, StoreError> {
        list_blobs(&mut *self.reader.acquire().await?).await
    }
}

/// Every stored blob's metadata, by hash.
pub(crate) async fn list_blobs(conn: &mut AnyConnection) -> Result<Vec<BlobInfo>, StoreError> {
    let rows = sqlx::query("SELECT sha256, size, mime FROM blobs ORDER BY sha256")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(BlobInfo {
                sha256: row.try_get("sha256")?,
                size: u64::try_from(row.try_get::<i64, _>("size")?)
                    .map_err(|_| StoreError::Corrupt("negative blob size".into()))?,
                mime: row.try_get("mime")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_copy_list_names_every_table_and_column_of_the_schema() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let url =
            sqlite::url_of(&dir.path().join("schema.db"), sqlite::Mode::Create).expect("a URL");
        let store = SqlStore::open(&url).await.expect("the store opens");
        let mut conn = store.reader.acquire().await.expect("a connection");
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table'
               AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx_%' ORDER BY name",
        )
        .fetch_all(&mut *conn)
        .await
        .expect("tables");
        let mut listed: Vec<String> = TABLES.iter().map(|(t, _)| (*t).to_owned()).collect();
        listed.sort();
        assert_eq!(listed, tables);
        for (table, columns) in TABLES {
            let mut schema: Vec<String> =
                sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{table}')"))
                    .fetch_all(&mut *conn)
                    .await
                    .expect("columns");
            let mut copied: Vec<String> = columns
                .iter()
                .map(|c| match c {
                    Column::Integer(n) | Column::Text(n) => n.trim_matches('"').to_owned(),
                })
                .collect();
            schema.sort();
            copied.sort();
            assert_eq!(copied, schema, "table {table}");
        }
    }
}
