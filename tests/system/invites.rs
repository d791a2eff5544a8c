//! Invite codes: who may invite whom, one account per code, and a joined account that
//! has exactly the role and organisation it was invited for.

use satchel_client::api::ApiClient;
use satchel_protocol::api::*;
use satchel_protocol::*;
use satchel_test_support::{sign_in, TestServer, Workspace};

use crate::support::code;

fn invite(role: Role, org_id: Option<OrgId>) -> CreateInviteRequest {
    CreateInviteRequest {
        role,
        org_id,
        valid_hours: None,
    }
}

fn redeem(code: &str, username: &str) -> RedeemInviteRequest {
    RedeemInviteRequest {
        code: code.into(),
        username: username.into(),
        display_name: format!("{username} (invited)"),
        password: "a long enough password".into(),
        device_id: DeviceId(format!("device-{username}")),
        device_name: "test".into(),
    }
}

#[tokio::test]
async fn a_customer_joins_with_a_code_into_exactly_the_organisation_invited_for() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let wang = sign_in(&server.url(), "wang").await.unwrap();

    let created = wang
        .create_invite(&invite(Role::Customer, Some(ws.org_a.id)))
        .await
        .unwrap();
    assert_eq!(created.code.len(), 14, "XXXX-XXXX-XXXX");

    // Typed sloppily from a chat message: lower case, spaces instead of dashes.
    let typed = created.code.to_lowercase().replace('-', " ");
    let anonymous = ApiClient::new(&server.url()).unwrap();
    let joined = anonymous
        .redeem_invite(&redeem(&typed, "bella"))
        .await
        .unwrap();
    assert_eq!(joined.member.role, Role::Customer);
    assert_eq!(joined.member.org_id, Some(ws.org_a.id));

    // The new session works, and sees only its organisation's people.
    let bella = anonymous.with_token(joined.token);
    let visible: Vec<String> = bella
        .members()
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.role == Role::Customer)
        .map(|m| m.username)
        .collect();
    assert!(visible.contains(&"alice".to_owned()) && visible.contains(&"bella".to_owned()));
    assert!(!visible.contains(&ws.customer_b.username));

    // A code makes one account.
    assert_eq!(
        code(
            anonymous
                .redeem_invite(&redeem(&created.code, "bella2"))
                .await
        ),
        ErrorCode::NotFound
    );
}

#[tokio::test]
async fn only_admins_invite_staff_and_customers_invite_nobody() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let wang = sign_in(&server.url(), "wang").await.unwrap();
    let alice = sign_in(&server.url(), "alice").await.unwrap();

    assert_eq!(
        code(wang.create_invite(&invite(Role::Staff, None)).await),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(
            alice
                .create_invite(&invite(Role::Customer, Some(ws.org_a.id)))
                .await
        ),
        ErrorCode::Forbidden
    );
    let staff = ws
        .admin
        .create_invite(&invite(Role::Staff, None))
        .await
        .unwrap();
    let joined = ApiClient::new(&server.url())
        .unwrap()
        .redeem_invite(&redeem(&staff.code, "liu"))
        .await
        .unwrap();
    assert_eq!(
        (joined.member.role, joined.member.org_id),
        (Role::Staff, None)
    );
}

#[tokio::test]
async fn bad_invites_get_clear_errors_and_a_taken_username_keeps_the_code_usable() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let anonymous = ApiClient::new(&server.url()).unwrap();

    // Customers need an organisation; staff have none; lifetimes are bounded.
    for bad in [
        invite(Role::Customer, None),
        invite(Role::Staff, Some(ws.org_a.id)),
        CreateInviteRequest {
            valid_hours: Some(0),
            ..invite(Role::Staff, None)
        },
        CreateInviteRequest {
            valid_hours: Some(100_000),
            ..invite(Role::Staff, None)
        },
    ] {
        assert_eq!(
            code(ws.admin.create_invite(&bad).await),
            ErrorCode::InvalidField
        );
    }
    assert_eq!(
        code(
            ws.admin
                .create_invite(&invite(Role::Customer, Some(OrgId(9_999))))
                .await
        ),
        ErrorCode::InvalidField
    );

    assert_eq!(
        code(
            anonymous
                .redeem_invite(&redeem("AAAA-BBBB-CCCC", "nobody"))
                .await
        ),
        ErrorCode::NotFound
    );
    let valid = ws
        .admin
        .create_invite(&invite(Role::Customer, Some(ws.org_b.id)))
        .await
        .unwrap();
    assert_eq!(
        code(anonymous.redeem_invite(&redeem(&valid.code, "alice")).await),
        ErrorCode::Conflict,
        "username taken"
    );
    assert_eq!(
        code(
            anonymous
                .redeem_invite(&RedeemInviteRequest {
                    password: "short".into(),
                    ..redeem(&valid.code, "newname")
                })
                .await
        ),
        ErrorCode::InvalidField
    );
    anonymous
        .redeem_invite(&redeem(&valid.code, "newname"))
        .await
        .expect("the code survived the failed attempts");
}
