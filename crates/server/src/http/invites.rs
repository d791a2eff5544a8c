//! Invite codes: how colleagues and customers join without an admin typing their
//! password for them. A code is shown once to its creator and stored only as a hash; it
//! creates exactly one account, with the role and organisation it was made for.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use rand::Rng;
use satchel_protocol::api::{CreateInviteRequest, Invite, LoginResponse, RedeemInviteRequest};
use satchel_protocol::{validate, ErrorCode, Role};
use sha2::{Digest, Sha256};

use super::accounts::{check_device, check_role_org, start_session};
use super::{ApiError, ApiJson, ApiResult, Authed};
use crate::store::{NewInvite, StoreError};
use crate::{auth, clock, AppState};

/// Letters and digits that cannot be mistaken for one another when read aloud or typed
/// from a screenshot (no 0/O, 1/I/L).
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const CODE_LEN: usize = 12;
const DEFAULT_HOURS: u32 = 72;
const MAX_HOURS: u32 = 720;

/// `/invites`, `/invites/redeem`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/invites", post(create))
        .route("/invites/redeem", post(redeem))
}

/// A code as typed (any case, with or without dashes and spaces) in canonical form.
fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(normalise(code).as_bytes()))
}

fn new_code() -> String {
    let mut rng = rand::thread_rng();
    let raw: Vec<char> = (0..CODE_LEN)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    raw.chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

async fn create(
    State(state): State<AppState>,
    authed: Authed,
    ApiJson(req): ApiJson<CreateInviteRequest>,
) -> ApiResult<Invite> {
    let inviter = &authed.session.member;
    let allowed = matches!(
        (inviter.role, req.role),
        (Role::Admin, _) | (Role::Staff, Role::Customer)
    );
    if !allowed {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only admins invite staff; customers cannot invite",
        ));
    }
    check_role_org(req.role, req.org_id)?;
    let hours = req.valid_hours.unwrap_or(DEFAULT_HOURS);
    if hours == 0 || hours > MAX_HOURS {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            format!("valid_hours: between 1 and {MAX_HOURS}"),
        ));
    }
    let code = new_code();
    let now = clock::now_millis();
    let expires_at = now + i64::from(hours) * 3_600_000;
    state
        .store
        .create_invite(NewInvite {
            code_hash: code_hash(&code),
            role: req.role,
            org_id: req.org_id,
            created_by: inviter.id,
            created_at: now,
            expires_at,
        })
        .await?;
    tracing::info!(by = %inviter.id, role = req.role.as_str(), "invite created");
    Ok(Json(Invite {
        code,
        role: req.role,
        org_id: req.org_id,
        expires_at,
    }))
}

async fn redeem(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RedeemInviteRequest>,
) -> ApiResult<LoginResponse> {
    check_device(&req.device_id, &req.device_name)?;
    validate::username(&req.username)?;
    validate::label(
        "display_name",
        &req.display_name,
        validate::MAX_DISPLAY_NAME_CHARS,
    )?;
    validate::password(&req.password)?;
    // Guessing codes is throttled like guessing passwords.
    let key = format!("invite:{}", req.device_id.as_str());
    if let Err(wait) = state.limiter.check(&key) {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            format!("too many attempts; try again in {} s", wait.as_secs() + 1),
        ));
    }
    let password_hash = auth::hash_password(req.password).await?;
    let member = match state
        .store
        .redeem_invite(
            &code_hash(&req.code),
            clock::now_millis(),
            &req.username,
            req.display_name.trim(),
            &password_hash,
        )
        .await
    {
        Err(StoreError::NotFound) => {
            state.limiter.record_failure(&key);
            return Err(ApiError::new(
                ErrorCode::NotFound,
                "this invite code is unknown, already used or expired",
            ));
        }
        other => other?,
    };
    start_session(&state, member, &req.device_id, &req.device_name).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_grouped_unambiguous_and_forgiving_to_type() {
        let code = new_code();
        assert_eq!(code.len(), 14);
        assert!(normalise(&code).bytes().all(|b| ALPHABET.contains(&b)));
        let sloppy = code.to_lowercase().replace('-', " ");
        assert_eq!(code_hash(&sloppy), code_hash(&code));
    }
}
