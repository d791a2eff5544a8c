//! The workspace's nouns: organisations, members, conversations, messages.

use serde::{Deserialize, Serialize};

use crate::ids::*;
use crate::UnixMillis;

/// The workspace a server hosts: one factory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Workspace {
    pub name: String,
}

/// What a member may do. Admins manage accounts; staff run conversations; customers
/// see only conversations of their own organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Role {
    Admin,
    Staff,
    Customer,
}

impl Role {
    /// Staff and admins belong to the factory; customers do not.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Admin | Role::Staff)
    }

    /// The stable name used in storage and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
            Role::Customer => "customer",
        }
    }

    /// Parses [`Role::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "staff" => Some(Role::Staff),
            "customer" => Some(Role::Customer),
            _ => None,
        }
    }
}

/// A customer organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Organisation {
    pub id: OrgId,
    pub name: String,
}

/// A person with an account. Customers always have an `org_id`; staff never do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Member {
    pub id: MemberId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub org_id: Option<OrgId>,
}

/// What a conversation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ConversationKind {
    /// The conversation of one order, with one customer organisation.
    Order,
    /// Two members.
    Direct,
    /// Several members. Internal (staff only) unless it names an organisation.
    Group,
}

impl ConversationKind {
    /// The stable name used in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationKind::Order => "order",
            ConversationKind::Direct => "direct",
            ConversationKind::Group => "group",
        }
    }

    /// Parses [`ConversationKind::as_str`]'s output.
    pub fn parse(s: &str) -> Option<ConversationKind> {
        match s {
            "order" => Some(ConversationKind::Order),
            "direct" => Some(ConversationKind::Direct),
            "group" => Some(ConversationKind::Group),
            _ => None,
        }
    }
}

/// An order's stage. Orders move forward through these gates.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Stage {
    #[default]
    Inquiry,
    Sample,
    Production,
    QcPacking,
    Shipping,
    Done,
}

impl Stage {
    /// The stage in Chinese and English, for notifications and exported records.
    pub fn display(self) -> &'static str {
        match self {
            Stage::Inquiry => "询价 Inquiry",
            Stage::Sample => "打样 Sample",
            Stage::Production => "大货生产 Production",
            Stage::QcPacking => "验货包装 QC & packing",
            Stage::Shipping => "出货 Shipping",
            Stage::Done => "完成 Done",
        }
    }
}

/// A conversation and who is in it.
///
/// Invariant kept by the server: every customer member belongs to `org_id`, so a
/// customer can never be placed in another organisation's conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Conversation {
    pub id: ConversationId,
    pub kind: ConversationKind,
    pub title: String,
    /// The customer organisation this conversation is with; `None` for internal ones.
    pub org_id: Option<OrgId>,
    /// The order number, for order conversations.
    pub order_number: Option<String>,
    /// Stage, quantity, due date, shipping — for order conversations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub order: Option<crate::order::OrderInfo>,
    pub members: Vec<MemberId>,
    /// Sequence number of the newest message (0 when empty).
    pub last_seq: Seq,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub created_at: UnixMillis,
}

/// A file attached to a message. The bytes are stored once, addressed by `sha256`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AttachmentRef {
    /// Lower-case hex SHA-256 of the original bytes.
    pub sha256: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size: u64,
    /// MIME type sniffed from the bytes, not taken from the name.
    pub mime: String,
    /// The original file name, sanitised.
    pub name: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// A photo's preview, uploaded beside the original so a receiver shows the photo at
    /// once instead of after the whole original has arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub preview: Option<PreviewRef>,
    /// A photo's screen level: the whole photo at the size a large screen shows it
    /// (long edge ≤ [`MAX_PREVIEW_EDGE`]), sRGB, so the viewer shows it sharp at fit
    /// without decoding the original. Only photos larger than that carry one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub screen: Option<PreviewRef>,
}

/// A small sRGB JPEG of a photo (long edge ≤ [`MAX_PREVIEW_EDGE`]), stored as a blob
/// of its own and readable by everyone who may read the photo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PreviewRef {
    pub sha256: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size: u64,
    pub width: u32,
    pub height: u32,
}

/// Longest edge a preview blob may have: a screen level fills a 2560×1440 screen.
pub const MAX_PREVIEW_EDGE: u32 = 2560;
/// Largest preview blob the server accepts.
pub const MAX_PREVIEW_BYTES: u64 = 4 << 20;

/// A region of an image in normalised coordinates (0.0–1.0 of width and height), so an
/// annotation survives any display size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Region {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

/// A point of an image in normalised coordinates, like [`Region`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

/// What an annotation draws on a photo.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "shape", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Mark {
    /// A rectangle around a detail.
    Box { region: Region },
    /// A pin on one spot.
    Pin { at: Point },
    /// An arrow whose head points at the detail.
    Arrow { from: Point, to: Point },
}

impl Mark {
    /// The smallest region holding the mark (a pin's is empty), where a viewer opened
    /// from the annotation centres.
    pub fn bounds(&self) -> Region {
        match *self {
            Mark::Box { region } => region,
            Mark::Pin { at } => Region {
                x: at.x,
                y: at.y,
                w: 0.0,
                h: 0.0,
            },
            Mark::Arrow { from, to } => Region {
                x: from.x.min(to.x),
                y: from.y.min(to.y),
                w: (from.x - to.x).abs(),
                h: (from.y - to.y).abs(),
            },
        }
    }

    /// Every coordinate of the mark, for checking they lie within the image.
    pub fn points(&self) -> Vec<Point> {
        match *self {
            Mark::Box { region } => vec![
                Point {
                    x: region.x,
                    y: region.y,
                },
                Point {
                    x: region.x + region.w,
                    y: region.y + region.h,
                },
            ],
            Mark::Pin { at } => vec![at],
            Mark::Arrow { from, to } => vec![from, to],
        }
    }
}

/// What a message says. Edits and recalls are messages of their own that point at
/// the original; the original is never changed or removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum MessageBody {
    Text {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(optional))]
        reply_to: Option<MessageId>,
        /// The sender wants to know when each recipient has read it.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
        needs_confirmation: bool,
        /// Read by this time: recipients see it highlighted until then, and the sender is
        /// warned ahead of it about who has not read it yet.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(type = "number", optional))]
        deadline: Option<UnixMillis>,
    },
    Edit {
        target: MessageId,
        text: String,
    },
    Recall {
        target: MessageId,
    },
    Image {
        attachment: AttachmentRef,
        #[serde(default)]
        caption: String,
    },
    Video {
        attachment: AttachmentRef,
        #[serde(default)]
        caption: String,
    },
    Voice {
        attachment: AttachmentRef,
        duration_ms: u32,
    },
    File {
        attachment: AttachmentRef,
        #[serde(default)]
        caption: String,
    },
    ConfirmationRequest {
        item: String,
        value: String,
        #[serde(default)]
        attachments: Vec<MessageId>,
        #[serde(default)]
        needs_confirmation: bool,
        /// Confirm by this time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(type = "number", optional))]
        deadline: Option<UnixMillis>,
    },
    ConfirmationAnswer {
        request: MessageId,
        approved: bool,
        #[serde(default)]
        comment: String,
    },
    /// Moves an order to another stage. Forward, every open proposal must be approved
    /// or listed in `waived`; backward needs a reason; to `done` is the customer's
    /// confirmation of receipt.
    StageChange {
        from: Stage,
        to: Stage,
        #[serde(default)]
        reason: String,
        /// Open proposals let through this gate without agreement.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[cfg_attr(feature = "ts", ts(as = "Option<Vec<MessageId>>", optional))]
        waived: Vec<MessageId>,
    },
    ProgressUpdate {
        stage: Stage,
        text: String,
        #[serde(default)]
        attachments: Vec<MessageId>,
    },
    /// The order's carrier and tracking numbers (the latest one counts).
    Shipment {
        carrier: String,
        tracking_numbers: Vec<String>,
    },
    /// Staff changed an order's details; only the fields set changed.
    OrderEdit {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(optional))]
        title: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(optional))]
        quantity: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(type = "number", optional))]
        due_date: Option<UnixMillis>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(optional))]
        assignee: Option<MemberId>,
    },
    /// A comment on a region of a photo of the same conversation. Replies are text
    /// messages replying to it; whether it is resolved is the latest `AnnotationStatus`.
    Annotation {
        image: MessageId,
        mark: Mark,
        comment: String,
    },
    /// Marks an annotation resolved, or open again.
    AnnotationStatus {
        annotation: MessageId,
        resolved: bool,
    },
    /// Written by the server (member added, conversation renamed, …).
    System {
        text: String,
    },
}

impl MessageBody {
    /// The stable name of the kind, as in the `kind` tag.
    pub fn kind_name(&self) -> &'static str {
        match self {
            MessageBody::Text { .. } => "text",
            MessageBody::Edit { .. } => "edit",
            MessageBody::Recall { .. } => "recall",
            MessageBody::Image { .. } => "image",
            MessageBody::Video { .. } => "video",
            MessageBody::Voice { .. } => "voice",
            MessageBody::File { .. } => "file",
            MessageBody::ConfirmationRequest { .. } => "confirmation_request",
            MessageBody::ConfirmationAnswer { .. } => "confirmation_answer",
            MessageBody::StageChange { .. } => "stage_change",
            MessageBody::ProgressUpdate { .. } => "progress_update",
            MessageBody::Shipment { .. } => "shipment",
            MessageBody::OrderEdit { .. } => "order_edit",
            MessageBody::Annotation { .. } => "annotation",
            MessageBody::AnnotationStatus { .. } => "annotation_status",
            MessageBody::System { .. } => "system",
        }
    }

    /// The file this message carries, if any.
    pub fn attachment(&self) -> Option<&AttachmentRef> {
        match self {
            MessageBody::Image { attachment, .. }
            | MessageBody::Video { attachment, .. }
            | MessageBody::Voice { attachment, .. }
            | MessageBody::File { attachment, .. } => Some(attachment),
            _ => None,
        }
    }

    /// The time by which the sender wants this read (or, for a card, confirmed).
    pub fn deadline(&self) -> Option<UnixMillis> {
        match self {
            MessageBody::Text { deadline, .. }
            | MessageBody::ConfirmationRequest { deadline, .. } => *deadline,
            _ => None,
        }
    }

    /// Whether the sender asked to be told when each recipient has read it.
    pub fn needs_confirmation(&self) -> bool {
        match self {
            MessageBody::Text {
                needs_confirmation, ..
            }
            | MessageBody::ConfirmationRequest {
                needs_confirmation, ..
            } => *needs_confirmation,
            _ => false,
        }
    }

    /// A one-line plain-text rendering for lists, notifications and the CLI.
    pub fn summary(&self) -> String {
        match self {
            MessageBody::Text { text, .. } => text.clone(),
            MessageBody::Edit { text, .. } => format!("(edited) {text}"),
            MessageBody::Recall { .. } => "(recalled a message)".to_owned(),
            MessageBody::Image { attachment, .. } => format!("[image] {}", attachment.name),
            MessageBody::Video { attachment, .. } => format!("[video] {}", attachment.name),
            MessageBody::Voice { duration_ms, .. } => format!("[voice] {}s", duration_ms / 1000),
            MessageBody::File { attachment, .. } => format!("[file] {}", attachment.name),
            MessageBody::ConfirmationRequest { item, value, .. } => {
                format!("[confirm] {item}: {value}")
            }
            MessageBody::ConfirmationAnswer {
                approved, comment, ..
            } => {
                format!(
                    "[{}] {comment}",
                    if *approved { "approved" } else { "rejected" }
                )
            }
            MessageBody::StageChange { from, to, .. } => {
                format!("[stage] {} → {}", from.as_str(), to.as_str())
            }
            MessageBody::ProgressUpdate { text, .. } => format!("[progress] {text}"),
            MessageBody::Shipment {
                carrier,
                tracking_numbers,
            } => format!("[shipped] {carrier} {}", tracking_numbers.join(", ")),
            MessageBody::OrderEdit { .. } => "[order details changed]".to_owned(),
            MessageBody::Annotation { comment, .. } => format!("[annotation] {comment}"),
            MessageBody::AnnotationStatus { resolved, .. } => if *resolved {
                "[annotation resolved]"
            } else {
                "[annotation reopened]"
            }
            .to_owned(),
            MessageBody::System { text } => text.clone(),
        }
    }
}

/// A message as stored by the server: immutable once acknowledged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub seq: Seq,
    pub sender_id: MemberId,
    /// The sending device and its transaction id, so the sender's other clients and
    /// the sending client itself can match the message to their outbox entry.
    pub sender_device: DeviceId,
    pub txn_id: TxnId,
    pub body: MessageBody,
    /// Server time at which the message became durable.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub sent_at: UnixMillis,
    /// This message's link in the conversation's hash chain ([`crate::chain`]): it
    /// commits to every message before it. Empty only in messages of servers that
    /// predate the chain.
    #[serde(default)]
    pub chain: String,
}

/// One member's receipt position in one conversation. Both values only grow, and
/// `read_up_to <= delivered_up_to` is not assumed: a client may report reading
/// without having separately reported delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Receipt {
    pub conversation_id: ConversationId,
    pub member_id: MemberId,
    pub delivered_up_to: Seq,
    pub read_up_to: Seq,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub updated_at: UnixMillis,
}

/// When to warn about a deadline: `lead_ms` before it, but not before half the time
/// from sending to the deadline has passed — a message due in ten minutes should not
/// warn the moment it is sent, and one sent after its deadline warns at once.
pub fn deadline_warning_at(sent_at: UnixMillis, deadline: UnixMillis, lead_ms: i64) -> UnixMillis {
    let halfway = sent_at.saturating_add(deadline.saturating_sub(sent_at).max(0) / 2);
    deadline
        .saturating_sub(lead_ms)
        .max(halfway)
        .min(deadline.max(sent_at))
}

/// A sender's "remind now": a nudge, sent to the members who had not read a message
/// when it was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Reminder {
    pub id: ReminderId,
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub seq: Seq,
    /// Who asked (the message's sender).
    pub from: MemberId,
    /// Who had not read the message at that moment.
    pub to: Vec<MemberId>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub at: UnixMillis,
}

/// Something that happened, as seen in a member's event stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A new message, durable on the server.
    Message { message: Message },
    /// A member's receipt moved forward.
    Receipt { receipt: Receipt },
    /// A conversation was created, renamed or changed membership. Carries the whole
    /// conversation so a client needs no second request.
    Conversation { conversation: Conversation },
    /// A sender reminded the members who have not read a message.
    Reminder { reminder: Reminder },
}

impl Event {
    /// The conversation the event happened in; its members are who may see it.
    pub fn conversation_id(&self) -> ConversationId {
        match self {
            Event::Message { message } => message.conversation_id,
            Event::Receipt { receipt } => receipt.conversation_id,
            Event::Conversation { conversation } => conversation.id,
            Event::Reminder { reminder } => reminder.conversation_id,
        }
    }
}

/// An event with its position in the member's stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamEvent {
    pub pos: StreamPos,
    pub event: Event,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;

    #[test]
    fn deadline_warnings_come_lead_time_ahead_but_never_right_after_sending() {
        let sent = 1_000 * MINUTE;
        // Due tomorrow, one hour's lead: warned an hour before.
        assert_eq!(
            deadline_warning_at(sent, sent + 24 * 60 * MINUTE, 60 * MINUTE),
            sent + 23 * 60 * MINUTE
        );
        // Due in ten minutes: warned halfway, not at once.
        assert_eq!(
            deadline_warning_at(sent, sent + 10 * MINUTE, 60 * MINUTE),
            sent + 5 * MINUTE
        );
        // Sent (from an outbox) after its deadline: warned at once.
        assert_eq!(deadline_warning_at(sent, sent - MINUTE, 60 * MINUTE), sent);
    }
}
