//! The member's event stream over plain HTTP (long-poll free: a client calls it in a
//! loop or after a wake-up). The WebSocket in [`crate::ws`] is the live path.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use satchel_protocol::api::EventPage;
use satchel_protocol::StreamPos;
use serde::Deserialize;

use super::{ApiResult, Authed};
use crate::AppState;

/// `/events`.
pub fn router() -> Router<AppState> {
    Router::new().route("/events", get(events))
}

#[derive(Deserialize)]
struct EventsQuery {
    #[serde(default)]
    after: i64,
    limit: Option<u32>,
}

async fn events(
    State(state): State<AppState>,
    authed: Authed,
    Query(q): Query<EventsQuery>,
) -> ApiResult<EventPage> {
    let limit = q.limit.unwrap_or(500).clamp(1, 5000);
    let mut events = state
        .store
        .events_after(authed.session.member.id, StreamPos(q.after), limit + 1)
        .await?
        .iter()
        .map(|raw| raw.decode())
        .collect::<Result<Vec<_>, _>>()?;
    let has_more = events.len() > limit as usize;
    events.truncate(limit as usize);
    let next = events.last().map_or(StreamPos(q.after), |e| e.pos);
    Ok(Json(EventPage {
        events,
        next,
        has_more,
    }))
}
