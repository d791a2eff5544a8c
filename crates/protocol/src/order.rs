//! Orders: their details, and the record an order's conversation keeps — the spec
//! sheet's confirmation cards with every revision, stage changes, progress updates
//! and shipments.
//!
//! The record is a fold over the conversation's messages ([`OrderRecord::apply`]). The
//! server folds it to decide whether a new message is allowed ([`OrderRecord::check`]);
//! clients fold the same messages to show the order. Nothing is ever overwritten: a new
//! proposal for an item supersedes the earlier one, and both stay in the record.

use serde::{Deserialize, Serialize};

use crate::domain::{Message, MessageBody, Role, Stage};
use crate::ids::*;
use crate::UnixMillis;

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 6] = [
        Stage::Inquiry,
        Stage::Sample,
        Stage::Production,
        Stage::QcPacking,
        Stage::Shipping,
        Stage::Done,
    ];

    /// The stable name used in storage (as in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Inquiry => "inquiry",
            Stage::Sample => "sample",
            Stage::Production => "production",
            Stage::QcPacking => "qc_packing",
            Stage::Shipping => "shipping",
            Stage::Done => "done",
        }
    }

    /// Parses [`Stage::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|stage| stage.as_str() == s)
    }
}

/// Carrier and tracking numbers of an order's shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Shipping {
    pub carrier: String,
    pub tracking_numbers: Vec<String>,
}

/// What an order conversation knows beyond its number, title and customer
/// organisation (which [`crate::Conversation`] carries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OrderInfo {
    pub stage: Stage,
    /// Pieces ordered.
    pub quantity: Option<u32>,
    /// When the goods are due to ship.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub due_date: Option<UnixMillis>,
    /// The staff member responsible.
    pub assignee: Option<MemberId>,
    pub shipping: Option<Shipping>,
    /// When the customer confirmed receipt (the order is done).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub received_at: Option<UnixMillis>,
}

impl OrderInfo {
    /// A new order: an inquiry.
    pub fn new(
        quantity: Option<u32>,
        due_date: Option<UnixMillis>,
        assignee: Option<MemberId>,
    ) -> Self {
        OrderInfo {
            stage: Stage::Inquiry,
            quantity,
            due_date,
            assignee,
            shipping: None,
            received_at: None,
        }
    }

    /// Applies what an order message changes about the order (stage, shipping,
    /// details). Messages that change nothing here are ignored.
    pub fn apply(&mut self, body: &MessageBody, sent_at: UnixMillis) {
        match body {
            MessageBody::StageChange { to, .. } => {
                self.stage = *to;
                self.received_at = (*to == Stage::Done).then_some(sent_at);
            }
            MessageBody::Shipment {
                carrier,
                tracking_numbers,
            } => {
                self.shipping = Some(Shipping {
                    carrier: carrier.clone(),
                    tracking_numbers: tracking_numbers.clone(),
                });
            }
            MessageBody::OrderEdit {
                quantity,
                due_date,
                assignee,
                ..
            } => {
                if quantity.is_some() {
                    self.quantity = *quantity;
                }
                if due_date.is_some() {
                    self.due_date = *due_date;
                }
                if assignee.is_some() {
                    self.assignee = *assignee;
                }
            }
            _ => {}
        }
    }
}

/// The spec sheet's standard items. Any other item name is a free-form item.
pub const SPEC_ITEMS: [&str; 12] = [
    "material",
    "colour",
    "hardware",
    "zipper",
    "stitching",
    "lining",
    "size",
    "interior",
    "logo",
    "packaging",
    "delivery_date",
    "shipping_method",
];

/// The key two proposals share when they are about the same item: trimmed, and
/// case-insensitive for Latin letters ("Colour" and "colour " are one item).
pub fn item_key(item: &str) -> String {
    item.trim().to_lowercase()
}

/// A spec item as people at the factory and the customer say it: the standard items in
/// Chinese and English ("颜色 colour"), any other item as typed. For notifications and
/// exported records, which have no UI language to follow.
pub fn item_display(item: &str) -> String {
    let key = item_key(item);
    let zh = match key.as_str() {
        "material" => "材质",
        "colour" => "颜色",
        "hardware" => "五金",
        "zipper" => "拉链",
        "stitching" => "车线",
        "lining" => "里布",
        "size" => "尺寸",
        "interior" => "内部结构",
        "logo" => "Logo 工艺",
        "packaging" => "包装",
        "delivery_date" => "交期",
        "shipping_method" => "运输方式",
        _ => return item.to_owned(),
    };
    format!("{zh} {}", key.replace('_', " "))
}

/// A tracking page for a carrier's tracking number: the carrier's own page for the
/// carriers bag factories use most, a universal tracker otherwise.
pub fn tracking_url(carrier: &str, number: &str) -> String {
    let number: String = number
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let carrier = carrier.trim().to_lowercase();
    let known = |names: &[&str]| names.iter().any(|n| carrier.contains(n));
    if known(&["sf", "顺丰"]) {
        format!("https://www.sf-express.com/chn/sc/waybill/waybill-detail/{number}")
    } else if known(&["dhl"]) {
        format!("https://www.dhl.com/global-en/home/tracking.html?tracking-id={number}")
    } else if known(&["fedex"]) {
        format!("https://www.fedex.com/fedextrack/?trknbr={number}")
    } else if known(&["ups"]) {
        format!("https://www.ups.com/track?tracknum={number}")
    } else {
        format!("https://t.17track.net/en#nums={number}")
    }
}

/// Which side of the trade a member is on. A proposal is answered by the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Side {
    Factory,
    Customer,
}

impl From<Role> for Side {
    fn from(role: Role) -> Self {
        if role.is_staff() {
            Side::Factory
        } else {
            Side::Customer
        }
    }
}

/// The answer a proposal received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CardAnswer {
    pub message_id: MessageId,
    pub by: MemberId,
    pub approved: bool,
    pub comment: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub at: UnixMillis,
}

/// An open proposal let through a stage gate without agreement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Waiver {
    /// The stage change that waived it.
    pub message_id: MessageId,
    pub by: MemberId,
    pub reason: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub at: UnixMillis,
}

/// Where a revision stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum CardState {
    /// Waiting for the other side.
    Proposed,
    Approved,
    Rejected,
    /// A later revision replaced it (whatever its answer was).
    Superseded,
    /// Let through a stage gate without agreement.
    Waived,
}

/// One proposed value of an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Revision {
    pub message_id: MessageId,
    pub seq: Seq,
    pub proposer: MemberId,
    pub side: Side,
    pub value: String,
    /// Photos and files of the conversation the proposal points at.
    pub attachments: Vec<MessageId>,
    /// The stage the order was in when it was proposed.
    pub stage: Stage,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub proposed_at: UnixMillis,
    pub answer: Option<CardAnswer>,
    pub superseded_by: Option<MessageId>,
    pub waiver: Option<Waiver>,
    /// Where it stands, from the three fields above (kept in step by the fold, so
    /// readers of the serialised record need not work it out again).
    pub state: CardState,
}

impl Revision {
    /// Where it stands.
    pub fn state(&self) -> CardState {
        self.state
    }

    fn current_state(&self) -> CardState {
        if self.superseded_by.is_some() {
            CardState::Superseded
        } else if self.waiver.is_some() {
            CardState::Waived
        } else {
            match &self.answer {
                None => CardState::Proposed,
                Some(a) if a.approved => CardState::Approved,
                Some(_) => CardState::Rejected,
            }
        }
    }
}

/// A spec item and every value proposed for it, oldest first. The last revision is
/// the current one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Card {
    /// The item as first written ("colour", "手柄长度").
    pub item: String,
    pub revisions: Vec<Revision>,
}

impl Card {
    /// The revision that counts.
    pub fn current(&self) -> Option<&Revision> {
        self.revisions.last()
    }

    /// Agreed, or let through a gate on purpose.
    pub fn is_settled(&self) -> bool {
        self.current()
            .is_some_and(|r| matches!(r.state(), CardState::Approved | CardState::Waived))
    }
}

/// A stage change as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StageStep {
    pub message_id: MessageId,
    pub seq: Seq,
    pub from: Stage,
    pub to: Stage,
    pub by: MemberId,
    pub reason: String,
    /// Items whose open proposals this change waived.
    pub waived: Vec<String>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub at: UnixMillis,
}

/// A production progress update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProgressEntry {
    pub message_id: MessageId,
    pub seq: Seq,
    pub stage: Stage,
    pub by: MemberId,
    pub text: String,
    pub attachments: Vec<MessageId>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub at: UnixMillis,
}

/// A shipment as recorded (the latest one is the order's shipping).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ShipmentEntry {
    pub message_id: MessageId,
    pub seq: Seq,
    pub by: MemberId,
    pub shipping: Shipping,
    /// A tracking page per tracking number ([`tracking_url`]).
    pub tracking_urls: Vec<String>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub at: UnixMillis,
}

/// Why an order message is not allowed. `Display` says it in English (logs, the
/// server's answer); the UI translates it by its `rule` tag and fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "rule", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum OrderRuleError {
    #[error("`{kind}` messages belong in order conversations")]
    NotAnOrder { kind: String },
    #[error("the order is done")]
    OrderDone,
    #[error("message {request} is not a proposal of this order")]
    NotAProposal { request: MessageId },
    #[error("you cannot answer your own proposal")]
    OwnProposal,
    #[error("a proposal is answered by the other side of the order")]
    SameSide,
    #[error("this value of \"{item}\" was replaced by a newer revision; answer that one")]
    Superseded { item: String },
    #[error("\"{item}\" was waived at a stage change")]
    Waived { item: String },
    #[error("this value of \"{item}\" has already been answered")]
    AlreadyAnswered { item: String },
    #[error("the order is in stage {}, not {}", .actual.as_str(), .claimed.as_str())]
    StageMoved { actual: Stage, claimed: Stage },
    #[error("the order is already in stage {}", .stage.as_str())]
    SameStage { stage: Stage },
    #[error("an order is done when the customer confirms receipt")]
    ReceiptIsTheCustomers,
    #[error("receipt can be confirmed once the order ships")]
    NotShipped,
    #[error("only factory staff change an order's stage")]
    StaffMoveStages,
    #[error("only factory staff post progress updates")]
    StaffPostProgress,
    #[error("only factory staff post shipping details")]
    StaffPostShipping,
    #[error("only factory staff change order details")]
    StaffEditOrders,
    #[error("moving an order back needs a reason")]
    BackNeedsReason,
    #[error("message {request} is not an open proposal of this order")]
    NotOpen { request: MessageId },
    #[error("waiving open confirmations needs a reason")]
    WaiveNeedsReason,
    #[error("open confirmations must be approved or waived first: {}", .items.join(", "))]
    OpenItems { items: Vec<String> },
}

/// What kind of refusal an [`OrderRuleError`] is, for error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleClass {
    /// The sender's side may not do this.
    Forbidden,
    /// The order moved on (superseded, already answered, stage changed meanwhile).
    Conflict,
    /// The message itself is wrong for this order.
    Invalid,
}

impl OrderRuleError {
    /// Which kind of refusal it is (and so which error code it becomes).
    pub fn class(&self) -> RuleClass {
        use OrderRuleError::*;
        match self {
            OwnProposal
            | SameSide
            | ReceiptIsTheCustomers
            | StaffMoveStages
            | StaffPostProgress
            | StaffPostShipping
            | StaffEditOrders => RuleClass::Forbidden,
            Superseded { .. } | Waived { .. } | AlreadyAnswered { .. } | StageMoved { .. } => {
                RuleClass::Conflict
            }
            NotAnOrder { .. }
            | OrderDone
            | NotAProposal { .. }
            | SameStage { .. }
            | NotShipped
            | BackNeedsReason
            | NotOpen { .. }
            | WaiveNeedsReason
            | OpenItems { .. } => RuleClass::Invalid,
        }
    }
}

/// Whether a message kind belongs to an order's record (and only order conversations
/// accept it).
pub fn is_order_kind(body: &MessageBody) -> bool {
    ORDER_KINDS.contains(&body.kind_name())
}

/// The `kind` tags of [`is_order_kind`] messages, for queries that select them.
pub const ORDER_KINDS: [&str; 6] = [
    "confirmation_request",
    "confirmation_answer",
    "stage_change",
    "progress_update",
    "shipment",
    "order_edit",
];

/// A stored message as the order record needs it: where it is, who sent it, when.
#[derive(Debug, Clone, Copy)]
pub struct Recorded<'a> {
    pub id: MessageId,
    pub seq: Seq,
    pub sender: MemberId,
    pub sent_at: UnixMillis,
    pub body: &'a MessageBody,
}

impl<'a> From<&'a Message> for Recorded<'a> {
    fn from(m: &'a Message) -> Self {
        Recorded {
            id: m.id,
            seq: m.seq,
            sender: m.sender_id,
            sent_at: m.sent_at,
            body: &m.body,
        }
    }
}

/// An order's record, folded from its conversation's order messages in `seq` order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OrderRecord {
    pub stage: Stage,
    /// In the order their items were first proposed.
    pub cards: Vec<Card>,
    pub stages: Vec<StageStep>,
    pub progress: Vec<ProgressEntry>,
    pub shipments: Vec<ShipmentEntry>,
}

impl OrderRecord {
    /// Folds messages (any kinds, ascending `seq`); `side` tells each sender's side.
    pub fn from_messages<'a>(
        messages: impl IntoIterator<Item = Recorded<'a>>,
        side: impl Fn(MemberId) -> Side,
    ) -> OrderRecord {
        let mut record = OrderRecord::default();
        for message in messages {
            record.apply(message, side(message.sender));
        }
        record
    }

    fn card_of(&self, key: &str) -> Option<usize> {
        self.cards.iter().position(|c| item_key(&c.item) == key)
    }

    /// The revision a message proposed, wherever it is.
    pub fn revision(&self, id: MessageId) -> Option<(&Card, &Revision)> {
        self.cards.iter().find_map(|card| {
            card.revisions
                .iter()
                .find(|r| r.message_id == id)
                .map(|r| (card, r))
        })
    }

    fn revision_mut(&mut self, id: MessageId) -> Option<&mut Revision> {
        self.cards
            .iter_mut()
            .flat_map(|c| c.revisions.iter_mut())
            .find(|r| r.message_id == id)
    }

    /// Cards whose current revision is neither approved nor waived.
    pub fn open_cards(&self) -> impl Iterator<Item = &Card> {
        self.cards.iter().filter(|c| !c.is_settled())
    }

    /// Adds one stored message to the record. Messages the server accepted are applied
    /// as they are; anything else is ignored.
    pub fn apply(&mut self, message: Recorded<'_>, side: Side) {
        self.fold(message, side);
        for revision in self.cards.iter_mut().flat_map(|c| c.revisions.iter_mut()) {
            revision.state = revision.current_state();
        }
    }

    fn fold(&mut self, message: Recorded<'_>, side: Side) {
        let (id, seq, by, at) = (message.id, message.seq, message.sender, message.sent_at);
        match message.body {
            MessageBody::ConfirmationRequest {
                item,
                value,
                attachments,
                ..
            } => {
                let revision = Revision {
                    message_id: id,
                    seq,
                    proposer: by,
                    side,
                    value: value.clone(),
                    attachments: attachments.clone(),
                    stage: self.stage,
                    proposed_at: at,
                    answer: None,
                    superseded_by: None,
                    waiver: None,
                    state: CardState::Proposed,
                };
                match self.card_of(&item_key(item)) {
                    Some(i) => {
                        let card = &mut self.cards[i];
                        if let Some(previous) = card.revisions.last_mut() {
                            previous.superseded_by = Some(id);
                        }
                        card.revisions.push(revision);
                    }
                    None => self.cards.push(Card {
                        item: item.trim().to_owned(),
                        revisions: vec![revision],
                    }),
                }
            }
            MessageBody::ConfirmationAnswer {
                request,
                approved,
                comment,
            } => {
                if let Some(revision) = self.revision_mut(*request) {
                    if revision.answer.is_none() {
                        revision.answer = Some(CardAnswer {
                            message_id: id,
                            by,
                            approved: *approved,
                            comment: comment.clone(),
                            at,
                        });
                    }
                }
            }
            MessageBody::StageChange {
                from,
                to,
                reason,
                waived,
            } => {
                let mut waived_items = Vec::new();
                for request in waived {
                    if let Some(revision) = self.revision_mut(*request) {
                        revision.waiver = Some(Waiver {
                            message_id: id,
                            by,
                            reason: reason.clone(),
                            at,
                        });
                    }
                    if let Some((card, _)) = self.revision(*request) {
                        waived_items.push(card.item.clone());
                    }
                }
                self.stages.push(StageStep {
                    message_id: id,
                    seq,
                    from: *from,
                    to: *to,
                    by,
                    reason: reason.clone(),
                    waived: waived_items,
                    at,
                });
                self.stage = *to;
            }
            MessageBody::ProgressUpdate {
                stage,
                text,
                attachments,
            } => self.progress.push(ProgressEntry {
                message_id: id,
                seq,
                stage: *stage,
                by,
                text: text.clone(),
                attachments: attachments.clone(),
                at,
            }),
            MessageBody::Shipment {
                carrier,
                tracking_numbers,
            } => self.shipments.push(ShipmentEntry {
                message_id: id,
                seq,
                by,
                shipping: Shipping {
                    carrier: carrier.clone(),
                    tracking_numbers: tracking_numbers.clone(),
                },
                tracking_urls: tracking_numbers
                    .iter()
                    .map(|n| tracking_url(carrier, n))
                    .collect(),
                at,
            }),
            _ => {}
        }
    }

    /// Whether `sender` (on `side`) may add `body` to this order now. Checks the
    /// order's rules; the body's fields are checked by [`crate::validate`], and that
    /// referenced photos exist by the server.
    pub fn check(
        &self,
        sender: MemberId,
        side: Side,
        body: &MessageBody,
    ) -> Result<(), OrderRuleError> {
        use OrderRuleError::*;
        let done = self.stage == Stage::Done;
        match body {
            MessageBody::ConfirmationRequest { .. } if done => Err(OrderDone),
            MessageBody::ConfirmationRequest { .. } => Ok(()),
            MessageBody::ConfirmationAnswer { request, .. } => {
                let Some((card, revision)) = self.revision(*request) else {
                    return Err(NotAProposal { request: *request });
                };
                if revision.proposer == sender {
                    return Err(OwnProposal);
                }
                if revision.side == side {
                    return Err(SameSide);
                }
                let item = card.item.clone();
                match revision.state() {
                    CardState::Proposed => Ok(()),
                    CardState::Superseded => Err(Superseded { item }),
                    CardState::Waived => Err(Waived { item }),
                    CardState::Approved | CardState::Rejected => Err(AlreadyAnswered { item }),
                }
            }
            MessageBody::StageChange {
                from,
                to,
                reason,
                waived,
            } => self.check_stage_change(side, *from, *to, reason, waived),
            MessageBody::ProgressUpdate { .. }
            | MessageBody::Shipment { .. }
            | MessageBody::OrderEdit { .. } => {
                if side != Side::Factory {
                    return Err(match body {
                        MessageBody::ProgressUpdate { .. } => StaffPostProgress,
                        MessageBody::Shipment { .. } => StaffPostShipping,
                        _ => StaffEditOrders,
                    });
                }
                if done {
                    return Err(OrderDone);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn check_stage_change(
        &self,
        side: Side,
        from: Stage,
        to: Stage,
        reason: &str,
        waived: &[MessageId],
    ) -> Result<(), OrderRuleError> {
        use OrderRuleError::*;
        if from != self.stage {
            return Err(StageMoved {
                actual: self.stage,
                claimed: from,
            });
        }
        if to == from {
            return Err(SameStage { stage: to });
        }
        if to == Stage::Done {
            if side != Side::Customer {
                return Err(ReceiptIsTheCustomers);
            }
            if from != Stage::Shipping {
                return Err(NotShipped);
            }
            return Ok(());
        }
        if side != Side::Factory {
            return Err(StaffMoveStages);
        }
        if to < from {
            if reason.trim().is_empty() {
                return Err(BackNeedsReason);
            }
            return Ok(());
        }
        for request in waived {
            match self.revision(*request) {
                Some((card, revision))
                    if card.current() == Some(revision) && !card.is_settled() => {}
                _ => return Err(NotOpen { request: *request }),
            }
        }
        if !waived.is_empty() && reason.trim().is_empty() {
            return Err(WaiveNeedsReason);
        }
        let items: Vec<String> = self
            .open_cards()
            .filter(|c| c.current().is_some_and(|r| !waived.contains(&r.message_id)))
            .map(|c| c.item.clone())
            .collect();
        if !items.is_empty() {
            return Err(OpenItems { items });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FACTORY: MemberId = MemberId(1);
    const CUSTOMER: MemberId = MemberId(2);

    fn side(id: MemberId) -> Side {
        if id == FACTORY {
            Side::Factory
        } else {
            Side::Customer
        }
    }

    fn record(messages: &[(i64, MemberId, MessageBody)]) -> OrderRecord {
        let mut record = OrderRecord::default();
        for (id, sender, body) in messages {
            record.apply(
                Recorded {
                    id: MessageId(*id),
                    seq: Seq(*id),
                    sender: *sender,
                    sent_at: *id,
                    body,
                },
                side(*sender),
            );
        }
        record
    }

    fn propose(item: &str, value: &str) -> MessageBody {
        MessageBody::ConfirmationRequest {
            item: item.into(),
            value: value.into(),
            attachments: vec![],
            needs_confirmation: false,
            deadline: None,
        }
    }

    #[test]
    fn a_new_value_supersedes_the_old_one_and_keeps_it() {
        let r = record(&[
            (1, FACTORY, propose("colour", "brown")),
            (
                2,
                CUSTOMER,
                MessageBody::ConfirmationAnswer {
                    request: MessageId(1),
                    approved: true,
                    comment: String::new(),
                },
            ),
            (3, FACTORY, propose(" Colour", "tan")),
        ]);
        assert_eq!(r.cards.len(), 1, "one item, however it is capitalised");
        let revisions = &r.cards[0].revisions;
        assert_eq!(revisions[0].state(), CardState::Superseded);
        assert!(
            revisions[0].answer.as_ref().is_some_and(|a| a.approved),
            "the old approval is kept"
        );
        assert_eq!(revisions[1].state(), CardState::Proposed);
        assert!(
            !r.cards[0].is_settled(),
            "a changed value needs agreeing again"
        );
    }

    #[test]
    fn a_gate_opens_when_every_card_is_approved_or_waived() {
        let r = record(&[
            (1, FACTORY, propose("zipper", "YKK")),
            (2, CUSTOMER, propose("lining", "cotton")),
        ]);
        let forward = |waived: Vec<MessageId>, reason: &str| MessageBody::StageChange {
            from: Stage::Inquiry,
            to: Stage::Sample,
            reason: reason.into(),
            waived,
        };
        assert_eq!(
            r.check(FACTORY, Side::Factory, &forward(vec![], "")),
            Err(OrderRuleError::OpenItems {
                items: vec!["zipper".into(), "lining".into()]
            })
        );
        assert!(r
            .check(
                FACTORY,
                Side::Factory,
                &forward(vec![MessageId(1), MessageId(2)], "later")
            )
            .is_ok());
        assert!(r
            .check(
                CUSTOMER,
                Side::Customer,
                &forward(vec![MessageId(1), MessageId(2)], "later")
            )
            .is_err());
    }

    #[test]
    fn tracking_links_go_to_the_carrier() {
        assert!(tracking_url("顺丰 SF Express", "SF 1234").ends_with("/SF1234"));
        assert!(tracking_url("DHL", "123").contains("dhl.com"));
        assert!(tracking_url("中通", "75").contains("17track"));
    }
}
