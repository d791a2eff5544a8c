//! HTTP request and response bodies (JSON). Routes are listed in `docs/protocol.md`.

use serde::{Deserialize, Serialize};

use crate::domain::*;
use crate::ids::*;
use crate::UnixMillis;

/// `POST /api/v1/login`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    pub device_id: DeviceId,
    /// A label shown in the member's session list ("Office PC", "MacBook").
    #[serde(default)]
    pub device_name: String,
}

/// Answer to a successful login.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginResponse {
    /// Bearer token for HTTP (`Authorization: Bearer …`) and the WebSocket `auth` frame.
    pub token: String,
    pub member: Member,
    pub workspace: Workspace,
}

/// `GET /api/v1/me`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeResponse {
    pub member: Member,
    pub workspace: Workspace,
    pub device_id: DeviceId,
}

/// `POST /api/v1/orgs` (admin).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateOrgRequest {
    pub name: String,
}

/// `POST /api/v1/members` (admin).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateMemberRequest {
    pub username: String,
    pub display_name: String,
    pub password: String,
    pub role: Role,
    /// Required for customers, forbidden for staff and admins.
    #[serde(default)]
    pub org_id: Option<OrgId>,
}

/// `POST /api/v1/conversations` (staff).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateConversationRequest {
    pub kind: ConversationKind,
    pub title: String,
    #[serde(default)]
    pub org_id: Option<OrgId>,
    #[serde(default)]
    pub order_number: Option<String>,
    /// For orders: pieces ordered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
    /// For orders: when the goods are due to ship.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<UnixMillis>,
    /// For orders: the responsible staff member (must be a member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<MemberId>,
    /// Members besides the creator, who always joins.
    #[serde(default)]
    pub member_ids: Vec<MemberId>,
}

/// `POST /api/v1/conversations/{id}/members` (staff member of the conversation).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddMembersRequest {
    pub member_ids: Vec<MemberId>,
}

/// `POST /api/v1/conversations/{id}/messages`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendMessageRequest {
    pub txn_id: TxnId,
    pub body: MessageBody,
}

/// The outcome of a send: the same for the first attempt and every replay of the
/// same `(device, txn_id)`, except `duplicate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendAck {
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub seq: Seq,
    pub sent_at: UnixMillis,
    /// True when this answers a replay of an already stored send.
    pub duplicate: bool,
}

/// `GET /api/v1/conversations/{id}/messages?before=SEQ&after=SEQ&limit=N`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistoryPage {
    /// Ascending by `seq`.
    pub messages: Vec<Message>,
    /// More messages exist beyond this page in the direction asked.
    pub has_more: bool,
}

/// `POST /api/v1/conversations/{id}/receipts`. Positions only move forward; a
/// lower value than the stored one is accepted and changes nothing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReceiptRequest {
    #[serde(default)]
    pub delivered_up_to: Option<Seq>,
    #[serde(default)]
    pub read_up_to: Option<Seq>,
}

/// `GET /api/v1/conversations/{id}/receipts`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReceiptList {
    pub receipts: Vec<Receipt>,
}

/// `GET /api/v1/events?after=POS&limit=N`: the member's stream over HTTP, for
/// clients that cannot hold a WebSocket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventPage {
    pub events: Vec<StreamEvent>,
    /// Position to pass as `after` next time.
    pub next: StreamPos,
    pub has_more: bool,
}

/// `GET /healthz`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub version: String,
}

/// `POST /api/v1/uploads`: announce a file before sending its bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateUploadRequest {
    /// Lower-case hex SHA-256 of the whole file.
    pub sha256: String,
    pub size: u64,
}

/// Where an upload stands. `complete` means the blob is stored and verified and may be
/// attached to a message; a create answered with `complete: true` needs no bytes at all
/// (the caller can already see a message with this file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadStatus {
    pub upload_id: String,
    pub sha256: String,
    pub size: u64,
    /// Bytes received and stored so far; the next chunk must start here.
    pub offset: u64,
    pub complete: bool,
    /// When an incomplete upload is discarded (no chunk for 24 hours).
    pub expires_at: UnixMillis,
}

/// `POST /api/v1/invites`: an invite for one person to join the workspace. Admins may
/// invite anyone; staff may invite customers of an organisation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateInviteRequest {
    pub role: Role,
    /// Required for customers, absent for staff.
    #[serde(default)]
    pub org_id: Option<OrgId>,
    /// How long the code stays valid (default 72, at most 720 hours).
    #[serde(default)]
    pub valid_hours: Option<u32>,
}

/// A created invite. The code is shown once; the server keeps only its hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Invite {
    /// Twelve letters and digits in groups of four (`K7QM-2XPA-9RDW`); case, spaces and
    /// dashes do not matter when redeeming.
    pub code: String,
    pub role: Role,
    pub org_id: Option<OrgId>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub expires_at: UnixMillis,
}

/// `POST /api/v1/invites/redeem`: creates the invited account and signs it in (answer:
/// [`LoginResponse`]). An unknown, used or expired code is `not_found`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RedeemInviteRequest {
    pub code: String,
    pub username: String,
    pub display_name: String,
    pub password: String,
    pub device_id: DeviceId,
    #[serde(default)]
    pub device_name: String,
}
