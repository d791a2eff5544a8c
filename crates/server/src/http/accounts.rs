//! Sign-in, the caller's identity, organisations and members.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use satchel_protocol::api::*;
use satchel_protocol::{validate, DeviceId, ErrorCode, Member, OrgId, Organisation, Role};

use super::{require_admin, ApiError, ApiJson, ApiResult, Authed};
use crate::store::NewMember;
use crate::{auth, clock, AppState};

/// `/login`, `/logout`, `/me`, `/orgs`, `/members`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .route("/orgs", get(list_orgs).post(create_org))
        .route("/members", get(list_members).post(create_member))
}

async fn login(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<LoginResponse> {
    check_device(&req.device_id, &req.device_name)?;
    let username = req.username.trim().to_lowercase();
    if let Err(wait) = state.limiter.check(&username) {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            format!(
                "too many failed attempts; try again in {} s",
                wait.as_secs() + 1
            ),
        ));
    }
    let credentials = state.store.credentials(&username).await?;
    let ok = auth::verify_password(
        req.password,
        credentials.as_ref().map(|c| c.password_hash.clone()),
    )
    .await?;
    let Some(credentials) = credentials.filter(|_| ok) else {
        state.limiter.record_failure(&username);
        return Err(ApiError::new(
            ErrorCode::InvalidCredentials,
            "wrong username or password",
        ));
    };
    state.limiter.record_success(&username);
    start_session(&state, credentials.member, &req.device_id, &req.device_name).await
}

/// Opens a session for `member` on a device and answers as a login does.
pub async fn start_session(
    state: &AppState,
    member: Member,
    device_id: &DeviceId,
    device_name: &str,
) -> ApiResult<LoginResponse> {
    let token = auth::new_token();
    let lifetime = i64::try_from(auth::SESSION_LIFETIME.as_millis()).unwrap_or(i64::MAX);
    state
        .store
        .create_session(
            &auth::token_hash(&token),
            member.id,
            device_id,
            device_name,
            clock::now_millis().saturating_add(lifetime),
        )
        .await?;
    let workspace = state.workspace().await?;
    tracing::info!(member = %member.id, "signed in");
    Ok(Json(LoginResponse {
        token,
        member,
        workspace,
    }))
}

/// Customers belong to exactly one organisation; staff and admins to none.
pub fn check_role_org(role: Role, org_id: Option<OrgId>) -> Result<(), ApiError> {
    match (role, org_id) {
        (Role::Customer, None) => Err(ApiError::new(
            ErrorCode::InvalidField,
            "org_id: customers need an organisation",
        )),
        (Role::Admin | Role::Staff, Some(_)) => Err(ApiError::new(
            ErrorCode::InvalidField,
            "org_id: staff belong to no organisation",
        )),
        _ => Ok(()),
    }
}

/// Checks a device id and name as sent at sign-in.
pub fn check_device(device_id: &DeviceId, device_name: &str) -> Result<(), ApiError> {
    validate::client_id("device_id", device_id.as_str())?;
    validate::label(
        "device_name",
        if device_name.is_empty() {
            "-"
        } else {
            device_name
        },
        100,
    )?;
    Ok(())
}

async fn logout(State(state): State<AppState>, authed: Authed) -> ApiResult<serde_json::Value> {
    state
        .store
        .revoke_session(&authed.token_hash, clock::now_millis())
        .await?;
    Ok(Json(serde_json::json!({})))
}

async fn me(State(state): State<AppState>, authed: Authed) -> ApiResult<MeResponse> {
    Ok(Json(MeResponse {
        member: authed.session.member,
        workspace: state.workspace().await?,
        device_id: authed.session.device_id,
    }))
}

async fn list_orgs(State(state): State<AppState>, authed: Authed) -> ApiResult<Vec<Organisation>> {
    let orgs = state.store.list_orgs().await?;
    let member = &authed.session.member;
    if member.role.is_staff() {
        Ok(Json(orgs))
    } else {
        Ok(Json(
            orgs.into_iter()
                .filter(|o| Some(o.id) == member.org_id)
                .collect(),
        ))
    }
}

async fn create_org(
    State(state): State<AppState>,
    authed: Authed,
    ApiJson(req): ApiJson<CreateOrgRequest>,
) -> ApiResult<Organisation> {
    require_admin(&authed)?;
    validate::label("name", &req.name, validate::MAX_TITLE_CHARS)?;
    Ok(Json(state.store.create_org(req.name.trim()).await?))
}

async fn list_members(State(state): State<AppState>, authed: Authed) -> ApiResult<Vec<Member>> {
    Ok(Json(
        state.store.list_members(&authed.session.member).await?,
    ))
}

async fn create_member(
    State(state): State<AppState>,
    authed: Authed,
    ApiJson(req): ApiJson<CreateMemberRequest>,
) -> ApiResult<Member> {
    require_admin(&authed)?;
    Ok(Json(create_member_checked(&state, req).await?))
}

/// Validates and creates an account; shared by the HTTP route and the CLI.
pub async fn create_member_checked(
    state: &AppState,
    req: CreateMemberRequest,
) -> Result<Member, ApiError> {
    validate::username(&req.username)?;
    validate::label(
        "display_name",
        &req.display_name,
        validate::MAX_DISPLAY_NAME_CHARS,
    )?;
    validate::password(&req.password)?;
    check_role_org(req.role, req.org_id)?;
    let password_hash = auth::hash_password(req.password).await?;
    Ok(state
        .store
        .create_member(NewMember {
            username: req.username,
            display_name: req.display_name.trim().to_owned(),
            role: req.role,
            org_id: req.org_id,
            password_hash,
        })
        .await?)
}
