//! The authorisation matrix: admin, staff, customer A and customer B against every
//! route and frame type, with their own and foreign ids.

use std::time::Duration;

use satchel_client::api::ApiClient;
use satchel_protocol::api::*;
use satchel_protocol::ws::{ClientFrame, ServerFrame};
use satchel_protocol::*;
use satchel_test_support::{sign_in, TestServer, Workspace, PASSWORD};

use crate::support::{code, RawSocket};

fn text(t: &str) -> MessageBody {
    MessageBody::Text {
        text: t.into(),
        reply_to: None,
        needs_confirmation: false,
        deadline: None,
    }
}

fn txn() -> TxnId {
    TxnId(format!("txn-{}", rand::random::<u64>()))
}

/// Every conversation route must answer `not_found` for a conversation the caller is
/// not in, exactly as for one that does not exist.
async fn assert_conversation_hidden(api: &ApiClient, id: ConversationId) {
    assert_eq!(
        code(api.conversation(id).await),
        ErrorCode::NotFound,
        "GET conversation {id}"
    );
    assert_eq!(
        code(api.history(id, None, None, 10).await),
        ErrorCode::NotFound,
        "GET messages {id}"
    );
    assert_eq!(
        code(api.receipts(id).await),
        ErrorCode::NotFound,
        "GET receipts {id}"
    );
    assert_eq!(
        code(
            api.send(
                id,
                &SendMessageRequest {
                    txn_id: txn(),
                    body: text("leak?")
                }
            )
            .await
        ),
        ErrorCode::NotFound,
        "POST messages {id}"
    );
    assert_eq!(
        code(
            api.post_receipt(
                id,
                &ReceiptRequest {
                    delivered_up_to: Some(Seq(1)),
                    read_up_to: Some(Seq(1))
                }
            )
            .await
        ),
        ErrorCode::NotFound,
        "POST receipts {id}"
    );
    assert_eq!(
        code(api.add_members(id, vec![]).await),
        ErrorCode::NotFound,
        "POST members {id}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_sees_or_touches_what_is_not_theirs() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let url = server.url();
    let admin = ws.admin.clone();
    let wang = sign_in(&url, "wang").await.unwrap();
    let alice = sign_in(&url, "alice").await.unwrap();
    let somchai = sign_in(&url, "somchai").await.unwrap();
    wang.send(
        ws.order_a.id,
        &SendMessageRequest {
            txn_id: txn(),
            body: text("A 的样品"),
        },
    )
    .await
    .unwrap();
    wang.send(
        ws.order_b.id,
        &SendMessageRequest {
            txn_id: txn(),
            body: text("B 的样品"),
        },
    )
    .await
    .unwrap();
    let missing = ConversationId(999_999);

    // Conversations each role is not in.
    let matrix: [(&ApiClient, Vec<ConversationId>); 4] = [
        (
            &admin,
            vec![ws.order_a.id, ws.order_b.id, ws.internal.id, missing],
        ),
        (&wang, vec![missing]),
        (&alice, vec![ws.order_b.id, ws.internal.id, missing]),
        (&somchai, vec![ws.order_a.id, ws.internal.id, missing]),
    ];
    for (api, hidden) in &matrix {
        for id in hidden {
            assert_conversation_hidden(api, *id).await;
        }
    }

    // Lists show only one's own.
    let ids = |list: Vec<Conversation>| list.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(
        ids(alice.conversations().await.unwrap()),
        vec![ws.order_a.id]
    );
    assert_eq!(
        ids(somchai.conversations().await.unwrap()),
        vec![ws.order_b.id]
    );
    assert!(admin.conversations().await.unwrap().is_empty());
    assert_eq!(alice.orgs().await.unwrap(), vec![ws.org_a.clone()]);
    let visible = alice.members().await.unwrap();
    assert!(visible.iter().any(|m| m.id == ws.staff[0].id));
    assert!(
        !visible.iter().any(|m| m.id == ws.customer_b.id),
        "customer B is invisible to A"
    );
    let events = alice.events(StreamPos(0), 1000).await.unwrap();
    assert!(events
        .events
        .iter()
        .all(|e| e.event.conversation_id() == ws.order_a.id));

    // Administration is for admins; creating conversations for staff.
    for api in [&wang, &alice, &somchai] {
        assert_eq!(
            code(api.create_org("Evil Corp").await),
            ErrorCode::Forbidden
        );
        assert_eq!(
            code(
                api.create_member(&CreateMemberRequest {
                    username: "mallory".into(),
                    display_name: "M".into(),
                    password: PASSWORD.into(),
                    role: Role::Admin,
                    org_id: None,
                })
                .await
            ),
            ErrorCode::Forbidden
        );
    }
    let order_for = |org: OrgId, members: Vec<MemberId>| CreateConversationRequest {
        kind: ConversationKind::Order,
        title: "sneaky".into(),
        org_id: Some(org),
        order_number: Some(format!("X-{}", rand::random::<u32>())),
        quantity: None,
        due_date: None,
        assignee: None,
        member_ids: members,
    };
    assert_eq!(
        code(
            alice
                .create_conversation(&order_for(ws.org_a.id, vec![]))
                .await
        ),
        ErrorCode::Forbidden
    );
    // Staff cannot put a customer into another organisation's order.
    assert_eq!(
        code(
            wang.create_conversation(&order_for(ws.org_a.id, vec![ws.customer_b.id]))
                .await
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(
            wang.add_members(ws.order_a.id, vec![ws.customer_b.id])
                .await
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(alice.add_members(ws.order_a.id, vec![ws.staff[0].id]).await),
        ErrorCode::Forbidden
    );
    assert!(!wang
        .conversation(ws.order_a.id)
        .await
        .unwrap()
        .members
        .contains(&ws.customer_b.id));
    // Customers may not be in internal groups at all.
    assert_eq!(
        code(
            wang.add_members(ws.internal.id, vec![ws.customer_a.id])
                .await
        ),
        ErrorCode::Forbidden
    );

    // Without a token, every route refuses.
    let anonymous = ApiClient::new(&url).unwrap();
    assert_eq!(code(anonymous.me().await), ErrorCode::Unauthenticated);
    assert_eq!(
        code(anonymous.conversations().await),
        ErrorCode::Unauthenticated
    );
    assert_eq!(
        code(anonymous.history(ws.order_a.id, None, None, 1).await),
        ErrorCode::Unauthenticated
    );
    assert_eq!(code(anonymous.members().await), ErrorCode::Unauthenticated);
    assert_eq!(
        code(anonymous.events(StreamPos(0), 1).await),
        ErrorCode::Unauthenticated
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_receives_nothing_of_another_organisations_conversations() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let url = server.url();
    let login = |username: &'static str| {
        let url = url.clone();
        async move {
            ApiClient::new(&url)
                .unwrap()
                .login(&LoginRequest {
                    username: username.into(),
                    password: PASSWORD.into(),
                    device_id: DeviceId(format!("raw-{username}-device")),
                    device_name: String::new(),
                })
                .await
                .unwrap()
                .token
        }
    };
    let b_token = login("somchai").await;
    let mut b = RawSocket::authed(&url, &b_token).await;
    b.send(ClientFrame::Subscribe {
        after: StreamPos(0),
    })
    .await;

    // B tries every frame type against A's conversation.
    let probe = txn();
    b.send(ClientFrame::Send {
        conversation_id: ws.order_a.id,
        txn_id: probe.clone(),
        body: text("hi A"),
    })
    .await;
    b.send(ClientFrame::Receipt {
        conversation_id: ws.order_a.id,
        delivered_up_to: Some(Seq(1)),
        read_up_to: Some(Seq(1)),
    })
    .await;

    // Meanwhile A's conversation is busy.
    let wang = sign_in(&url, "wang").await.unwrap();
    let alice = sign_in(&url, "alice").await.unwrap();
    for i in 0..20 {
        wang.send(
            ws.order_a.id,
            &SendMessageRequest {
                txn_id: txn(),
                body: text(&format!("A only {i}")),
            },
        )
        .await
        .unwrap();
        alice
            .post_receipt(
                ws.order_a.id,
                &ReceiptRequest {
                    delivered_up_to: Some(Seq(i + 1)),
                    read_up_to: Some(Seq(i + 1)),
                },
            )
            .await
            .unwrap();
    }
    wang.add_members(ws.order_a.id, vec![ws.staff[1].id])
        .await
        .unwrap();
    wang.send(
        ws.order_b.id,
        &SendMessageRequest {
            txn_id: txn(),
            body: text("for B"),
        },
    )
    .await
    .unwrap();

    let frames = b.drain(Duration::from_millis(1500)).await;
    let mut saw_own = false;
    let mut refusals = 0;
    for frame in &frames {
        match frame {
            ServerFrame::Event { event } => match &event.event {
                Event::Message { message } => {
                    assert_eq!(
                        message.conversation_id, ws.order_b.id,
                        "leaked: {message:?}"
                    );
                    saw_own |= message.body.summary() == "for B";
                }
                Event::Receipt { receipt } => {
                    assert_eq!(receipt.conversation_id, ws.order_b.id, "leaked receipt")
                }
                Event::Conversation { conversation } => {
                    assert_eq!(conversation.id, ws.order_b.id, "leaked conversation")
                }
                Event::Reminder { reminder } => {
                    assert_eq!(reminder.conversation_id, ws.order_b.id, "leaked reminder")
                }
            },
            ServerFrame::Error { error, .. } => {
                assert_eq!(error.code, ErrorCode::NotFound);
                refusals += 1;
            }
            ServerFrame::CaughtUp { .. } => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
    assert!(saw_own, "B still receives its own conversation's events");
    assert_eq!(refusals, 2, "the send and the receipt were both refused");
    assert!(wang
        .history(ws.order_a.id, None, None, 100)
        .await
        .unwrap()
        .messages
        .iter()
        .all(|m| m.body.summary() != "hi A"));
}
