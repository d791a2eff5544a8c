//! Conversations, their members, messages and receipts.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use satchel_protocol::api::*;
use satchel_protocol::*;
use serde::Deserialize;

use super::{require_staff, ApiError, ApiJson, ApiResult, Authed};
use crate::store::{Outcome, Write};
use crate::AppState;

/// `/conversations` and everything below it.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/conversations", get(list).post(create))
        .route("/conversations/{id}", get(show))
        .route("/conversations/{id}/members", post(add_members))
        .route("/conversations/{id}/messages", get(history).post(send))
        .route(
            "/conversations/{id}/receipts",
            get(receipts).post(post_receipt),
        )
        .route(
            "/conversations/{id}/messages/{message_id}/remind",
            post(remind),
        )
}

async fn list(State(state): State<AppState>, authed: Authed) -> ApiResult<Vec<Conversation>> {
    Ok(Json(
        state
            .store
            .conversations_of(authed.session.member.id)
            .await?,
    ))
}

async fn show(
    State(state): State<AppState>,
    authed: Authed,
    Path(id): Path<i64>,
) -> ApiResult<Conversation> {
    Ok(Json(
        state
            .store
            .conversation(authed.session.member.id, ConversationId(id))
            .await?,
    ))
}

/// A write answered with another kind of outcome than it produces: a bug.
fn unexpected(outcome: Outcome) -> ApiError {
    ApiError::new(
        ErrorCode::Internal,
        format!("unexpected outcome {outcome:?}"),
    )
}

fn expect_conversation(outcome: Outcome) -> Result<Conversation, ApiError> {
    match outcome {
        Outcome::Conversation(c) => Ok(c),
        other => Err(unexpected(other)),
    }
}

async fn create(
    State(state): State<AppState>,
    authed: Authed,
    ApiJson(req): ApiJson<CreateConversationRequest>,
) -> ApiResult<Conversation> {
    require_staff(&authed)?;
    validate::label("title", &req.title, validate::MAX_TITLE_CHARS)?;
    if let Some(number) = &req.order_number {
        validate::label("order_number", number, 64)?;
    }
    // The same rules as an order edit.
    if req.quantity.is_some() || req.due_date.is_some() {
        validate::message_body(&MessageBody::OrderEdit {
            title: None,
            quantity: req.quantity,
            due_date: req.due_date,
            assignee: None,
        })?;
    }
    let order = (req.kind == ConversationKind::Order)
        .then(|| order::OrderInfo::new(req.quantity, req.due_date, req.assignee));
    let outcome = state
        .committer
        .commit(Write::CreateConversation {
            creator: authed.session.member.id,
            kind: req.kind,
            title: req.title.trim().to_owned(),
            org_id: req.org_id,
            order_number: req.order_number.map(|n| n.trim().to_owned()),
            order,
            member_ids: req.member_ids,
        })
        .await?;
    Ok(Json(expect_conversation(outcome)?))
}

async fn add_members(
    State(state): State<AppState>,
    authed: Authed,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<AddMembersRequest>,
) -> ApiResult<Conversation> {
    let outcome = state
        .committer
        .commit(Write::AddMembers {
            actor: authed.session.member.id,
            conversation_id: ConversationId(id),
            member_ids: req.member_ids,
        })
        .await?;
    Ok(Json(expect_conversation(outcome)?))
}

#[derive(Deserialize)]
struct HistoryQuery {
    before: Option<i64>,
    after: Option<i64>,
    limit: Option<u32>,
}

async fn history(
    State(state): State<AppState>,
    authed: Authed,
    Path(id): Path<i64>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<HistoryPage> {
    Ok(Json(
        state
            .store
            .history(
                authed.session.member.id,
                ConversationId(id),
                q.before.map(Seq),
                q.after.map(Seq),
                q.limit.unwrap_or(100),
            )
            .await?,
    ))
}

async fn send(
    State(state): State<AppState>,
    authed: Authed,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<SendMessageRequest>,
) -> ApiResult<SendAck> {
    let write = crate::send_write(&authed.session, ConversationId(id), req.txn_id, req.body)?;
    match state.committer.commit(write).await? {
        Outcome::Sent(ack) => Ok(Json(ack)),
        other => Err(unexpected(other)),
    }
}

async fn receipts(
    State(state): State<AppState>,
    authed: Authed,
    Path(id): Path<i64>,
) -> ApiResult<ReceiptList> {
    let receipts = state
        .store
        .receipts(authed.session.member.id, ConversationId(id))
        .await?;
    Ok(Json(ReceiptList { receipts }))
}

async fn post_receipt(
    State(state): State<AppState>,
    authed: Authed,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<ReceiptRequest>,
) -> ApiResult<Receipt> {
    let outcome = state
        .committer
        .commit(Write::Receipt {
            member: authed.session.member.id,
            conversation_id: ConversationId(id),
            delivered_up_to: req.delivered_up_to,
            read_up_to: req.read_up_to,
        })
        .await?;
    match outcome {
        Outcome::Receipt(r) => Ok(Json(r)),
        other => Err(unexpected(other)),
    }
}

/// "Remind now": the sender nudges the members who have not read the message yet.
async fn remind(
    State(state): State<AppState>,
    authed: Authed,
    Path((id, message_id)): Path<(i64, i64)>,
) -> ApiResult<Reminder> {
    let outcome = state
        .committer
        .commit(Write::Remind {
            actor: authed.session.member.id,
            conversation_id: ConversationId(id),
            message_id: MessageId(message_id),
        })
        .await?;
    match outcome {
        Outcome::Reminder(r) => Ok(Json(r)),
        other => Err(unexpected(other)),
    }
}
