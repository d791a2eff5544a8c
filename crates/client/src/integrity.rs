//! Checking the server's hash chain as history arrives ([`satchel_protocol::chain`]).
//!
//! Each conversation has a verified prefix: messages `1..=verified_seq` whose links
//! all follow from their predecessors, ending in `link`. After every stored batch the
//! prefix is extended over the messages that arrived. A link that does not follow,
//! a missing link, or a server that later presents another version of a message this
//! device already holds is recorded as an **alarm**: stored, shown to the user, never
//! silently cleared. Verification then continues from the link the server claimed,
//! so one altered message raises one alarm, not one for every message after it.
//!
//! Own messages are checked once their echo from the server has replaced the local
//! copy (the server fills in details such as the file type), so an acknowledged but
//! not yet echoed message only pauses the walk.

use satchel_protocol::chain::{self, Chained};
use satchel_protocol::*;
use serde::{Deserialize, Serialize};
use sqlx::{Row, SqliteConnection};

use crate::error::EngineError;
use crate::local::now_millis;

/// What is wrong with a message's place in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ChainProblem {
    /// The link does not follow from the message and the link before it: the message
    /// (or one before it) was changed after it was chained.
    Mismatch,
    /// The server sent the message without a link.
    Missing,
    /// The server presented a version of a message that differs from the one this
    /// device received earlier: history was rewritten.
    Rewritten,
}

impl ChainProblem {
    /// The stable name, as stored and as written into exports.
    pub fn as_str(self) -> &'static str {
        match self {
            ChainProblem::Mismatch => "mismatch",
            ChainProblem::Missing => "missing",
            ChainProblem::Rewritten => "rewritten",
        }
    }

    fn parse(s: &str) -> Result<ChainProblem, EngineError> {
        match s {
            "mismatch" => Ok(ChainProblem::Mismatch),
            "missing" => Ok(ChainProblem::Missing),
            "rewritten" => Ok(ChainProblem::Rewritten),
            other => Err(EngineError::Corrupt(format!("chain problem {other}"))),
        }
    }
}

/// A detected break in a conversation's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChainAlarm {
    pub conversation_id: ConversationId,
    pub seq: Seq,
    pub message_id: Option<MessageId>,
    pub problem: ChainProblem,
    /// The links involved, for the record (English, technical).
    pub detail: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub detected_at: UnixMillis,
}

pub(crate) async fn raise(
    conn: &mut SqliteConnection,
    conversation_id: ConversationId,
    seq: Seq,
    message_id: Option<MessageId>,
    problem: ChainProblem,
    detail: &str,
) -> Result<(), EngineError> {
    tracing::error!(
        conversation = conversation_id.0,
        seq = seq.0,
        problem = problem.as_str(),
        detail,
        "conversation history failed verification"
    );
    sqlx::query(
        "INSERT OR IGNORE INTO chain_alarms (conversation_id, seq, message_id, problem, detail, detected_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(conversation_id.0)
    .bind(seq.0)
    .bind(message_id.map(|m| m.0))
    .bind(problem.as_str())
    .bind(detail)
    .bind(now_millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Compares an incoming copy of a message with the one stored under its id (if any).
/// A stored message without a link (an own message not yet echoed, or one received
/// before links existed) adopts the server's; one whose link or content differs raises
/// [`ChainProblem::Rewritten`]. Returns whether an alarm was raised.
pub(crate) async fn compare_with_stored(
    conn: &mut SqliteConnection,
    message: &Message,
) -> Result<bool, EngineError> {
    let stored = sqlx::query("SELECT chain, body FROM messages WHERE id = ?")
        .bind(message.id.0)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(stored) = stored else {
        return Ok(false);
    };
    let Some(link) = stored.try_get::<Option<String>, _>("chain")? else {
        sqlx::query("UPDATE messages SET chain = ? WHERE id = ? AND chain IS NULL")
            .bind(&message.chain)
            .bind(message.id.0)
            .execute(&mut *conn)
            .await?;
        return Ok(false);
    };
    let body: String = stored.try_get("body")?;
    let same_content = body == chain::body_json(&message.body);
    if link == message.chain && same_content {
        return Ok(false);
    }
    let detail = if link == message.chain {
        format!(
            "the server now presents other content for message {} under the same link {link}",
            message.id
        )
    } else {
        format!(
            "this device holds message {} with link {link}; the server now presents link {}",
            message.id, message.chain
        )
    };
    raise(
        conn,
        message.conversation_id,
        message.seq,
        Some(message.id),
        ChainProblem::Rewritten,
        &detail,
    )
    .await?;
    Ok(true)
}

/// Extends the verified prefix of `conversation` over the messages stored since.
/// Returns how many alarms it raised.
pub(crate) async fn verify(
    conn: &mut SqliteConnection,
    conversation: ConversationId,
) -> Result<usize, EngineError> {
    let (Seq(mut verified), mut previous) = verified_head(conn, conversation).await?;
    let rows = sqlx::query(
        "SELECT id, seq, sender_id, sender_device, txn_id, sent_at, body, chain FROM messages
         WHERE conversation_id = ? AND seq > ? ORDER BY seq",
    )
    .bind(conversation.0)
    .bind(verified)
    .fetch_all(&mut *conn)
    .await?;
    let start = verified;
    let mut alarms = 0;
    for row in &rows {
        let seq: i64 = row.try_get("seq")?;
        if seq != verified + 1 {
            break; // a gap: the missing messages are on their way
        }
        let Some(claimed) = row.try_get::<Option<String>, _>("chain")? else {
            break; // an own message not yet echoed by the server
        };
        let id = MessageId(row.try_get("id")?);
        if claimed.is_empty() {
            raise(
                conn,
                conversation,
                Seq(seq),
                Some(id),
                ChainProblem::Missing,
                "the server sent this message without a chain link",
            )
            .await?;
            alarms += 1;
            // Nothing to continue from: the rest of this conversation stays unverified.
            break;
        }
        let sender_device: String = row.try_get("sender_device")?;
        let txn_id: String = row.try_get("txn_id")?;
        let body: String = row.try_get("body")?;
        let expected = Chained {
            conversation_id: conversation,
            seq: Seq(seq),
            id,
            sender_id: MemberId(row.try_get("sender_id")?),
            sender_device: &sender_device,
            txn_id: &txn_id,
            sent_at: row
                .try_get::<Option<i64>, _>("sent_at")?
                .unwrap_or_default(),
            body_json: &body,
        }
        .link(&previous);
        if expected != claimed {
            let detail = format!(
                "the server's link is {claimed}, but the message and the link before it ({previous}) give {expected}"
            );
            raise(
                conn,
                conversation,
                Seq(seq),
                Some(id),
                ChainProblem::Mismatch,
                &detail,
            )
            .await?;
            alarms += 1;
        }
        previous = claimed;
        verified = seq;
    }
    if verified != start {
        sqlx::query(
            "INSERT INTO chain_state (conversation_id, verified_seq, link) VALUES (?, ?, ?)
             ON CONFLICT (conversation_id) DO UPDATE SET verified_seq = excluded.verified_seq, link = excluded.link",
        )
        .bind(conversation.0)
        .bind(verified)
        .bind(&previous)
        .execute(&mut *conn)
        .await?;
    }
    Ok(alarms)
}

/// The alarms raised for `conversation` (or for all conversations), oldest first.
pub(crate) async fn alarms(
    conn: &mut SqliteConnection,
    conversation: Option<ConversationId>,
) -> Result<Vec<ChainAlarm>, EngineError> {
    let rows = sqlx::query(
        "SELECT conversation_id, seq, message_id, problem, detail, detected_at FROM chain_alarms
         WHERE ?1 IS NULL OR conversation_id = ?1 ORDER BY conversation_id, seq",
    )
    .bind(conversation.map(|c| c.0))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ChainAlarm {
                conversation_id: ConversationId(row.try_get("conversation_id")?),
                seq: Seq(row.try_get("seq")?),
                message_id: row.try_get::<Option<i64>, _>("message_id")?.map(MessageId),
                problem: ChainProblem::parse(&row.try_get::<String, _>("problem")?)?,
                detail: row.try_get("detail")?,
                detected_at: row.try_get("detected_at")?,
            })
        })
        .collect()
}

/// How far `conversation` is verified: the seq and link of the last verified message.
pub(crate) async fn verified_head(
    conn: &mut SqliteConnection,
    conversation: ConversationId,
) -> Result<(Seq, String), EngineError> {
    let row = sqlx::query("SELECT verified_seq, link FROM chain_state WHERE conversation_id = ?")
        .bind(conversation.0)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(row) => Ok((Seq(row.try_get("verified_seq")?), row.try_get("link")?)),
        None => Ok((Seq(0), chain::GENESIS.to_owned())),
    }
}
