//! Malformed, oversized and unauthenticated input: each gets its documented error,
//! the connection survives where the protocol says it does, and nothing is lost.

use std::time::Duration;

use satchel_client::api::ApiClient;
use satchel_protocol::api::*;
use satchel_protocol::ws::{ClientFrame, ServerFrame};
use satchel_protocol::*;
use satchel_test_support::{sign_in, sqlite_url, TestServer, Workspace, PASSWORD};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::support::{code, RawSocket};

fn text(t: &str) -> MessageBody {
    MessageBody::Text {
        text: t.into(),
        reply_to: None,
        needs_confirmation: false,
        deadline: None,
    }
}

async fn expect_error(socket: &mut RawSocket) -> ErrorCode {
    match socket.next().await {
        Some(ServerFrame::Error { error, .. }) => error.code,
        other => panic!("expected an error frame, got {other:?}"),
    }
}

async fn login(
    url: &str,
    username: &str,
    password: &str,
) -> Result<LoginResponse, satchel_client::EngineError> {
    ApiClient::new(url)
        .unwrap()
        .login(&LoginRequest {
            username: username.into(),
            password: password.into(),
            device_id: DeviceId("bad-input-device".into()),
            device_name: String::new(),
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_are_answered_and_the_connection_survives() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let token = login(&server.url(), "wang", PASSWORD).await.unwrap().token;
    let mut socket = RawSocket::authed(&server.url(), &token).await;

    socket
        .send(ClientFrame::Send {
            conversation_id: ws.order_a.id,
            txn_id: TxnId("before-bad-1".into()),
            body: text("before"),
        })
        .await;
    assert!(matches!(socket.next().await, Some(ServerFrame::Ack { .. })));

    socket
        .send_raw(WsMessage::Text("{this is not json".into()))
        .await;
    assert_eq!(expect_error(&mut socket).await, ErrorCode::MalformedRequest);
    socket
        .send_raw(WsMessage::Text(r#"{"v":1,"type":"teleport"}"#.into()))
        .await;
    assert_eq!(expect_error(&mut socket).await, ErrorCode::UnknownFrameType);
    socket
        .send_raw(WsMessage::Text(r#"{"v":2,"type":"ping","nonce":1}"#.into()))
        .await;
    assert_eq!(
        expect_error(&mut socket).await,
        ErrorCode::UnsupportedVersion
    );
    socket
        .send_raw(WsMessage::Text(
            r#"{"v":1,"type":"send","conversation_id":"x"}"#.into(),
        ))
        .await;
    assert_eq!(expect_error(&mut socket).await, ErrorCode::MalformedRequest);
    let ten_mb = format!(
        r#"{{"v":1,"type":"ping","nonce":1,"pad":"{}"}}"#,
        "x".repeat(10 * 1024 * 1024)
    );
    socket.send_raw(WsMessage::Text(ten_mb.into())).await;
    assert_eq!(expect_error(&mut socket).await, ErrorCode::FrameTooLarge);
    // Bytes that are not UTF-8 can only travel as a binary frame (a text frame with
    // them is a protocol violation the codec itself rejects).
    socket
        .send_raw(WsMessage::Binary(vec![0xff, 0xfe, 0x80, 0x00].into()))
        .await;
    assert_eq!(expect_error(&mut socket).await, ErrorCode::InvalidEncoding);
    socket
        .send(ClientFrame::Send {
            conversation_id: ws.order_a.id,
            txn_id: TxnId("bad".into()),
            body: text("short txn id"),
        })
        .await;
    assert_eq!(expect_error(&mut socket).await, ErrorCode::InvalidField);
    socket
        .send(ClientFrame::Send {
            conversation_id: ws.order_a.id,
            txn_id: TxnId("empty-text-1".into()),
            body: text("  "),
        })
        .await;
    assert_eq!(expect_error(&mut socket).await, ErrorCode::InvalidField);
    socket
        .send(ClientFrame::Send {
            conversation_id: ws.order_a.id,
            txn_id: TxnId("reply-elsewhere".into()),
            body: MessageBody::Text {
                text: "re".into(),
                reply_to: Some(MessageId(987_654)),
                needs_confirmation: false,
                deadline: None,
            },
        })
        .await;
    assert_eq!(expect_error(&mut socket).await, ErrorCode::InvalidField);
    socket.assert_alive().await;

    // The same socket still sends, and the history holds exactly the valid messages.
    socket
        .send(ClientFrame::Send {
            conversation_id: ws.order_a.id,
            txn_id: TxnId("after-bad-1".into()),
            body: text("after"),
        })
        .await;
    assert!(matches!(socket.next().await, Some(ServerFrame::Ack { .. })));
    let wang = sign_in(&server.url(), "wang").await.unwrap();
    let history: Vec<_> = wang
        .history(ws.order_a.id, None, None, 100)
        .await
        .unwrap()
        .messages
        .iter()
        .map(|m| m.body.summary())
        .collect();
    assert_eq!(history, vec!["before", "after"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_before_auth_and_bad_tokens_are_refused() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let mut socket = RawSocket::connect(&server.url()).await;
    socket
        .send(ClientFrame::Send {
            conversation_id: ws.order_a.id,
            txn_id: TxnId("no-auth-01".into()),
            body: text("sneak"),
        })
        .await;
    assert_eq!(expect_error(&mut socket).await, ErrorCode::Unauthenticated);
    socket
        .send(ClientFrame::Auth {
            token: "not-a-token".into(),
        })
        .await;
    assert_eq!(expect_error(&mut socket).await, ErrorCode::Unauthenticated);
    socket.assert_alive().await;
    let token = login(&server.url(), "wang", PASSWORD).await.unwrap().token;
    socket.send(ClientFrame::Auth { token }).await;
    assert!(matches!(
        socket.next().await,
        Some(ServerFrame::Ready { .. })
    ));
    let wang = sign_in(&server.url(), "wang").await.unwrap();
    assert!(wang
        .history(ws.order_a.id, None, None, 10)
        .await
        .unwrap()
        .messages
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_are_rate_limited() {
    let server = TestServer::start().await.unwrap();
    let _ws = Workspace::seed(&server.url()).await.unwrap();
    for _ in 0..5 {
        assert_eq!(
            code(login(&server.url(), "alice", "wrong password").await),
            ErrorCode::InvalidCredentials
        );
    }
    // Locked now, even with the right password.
    assert_eq!(
        code(login(&server.url(), "alice", PASSWORD).await),
        ErrorCode::RateLimited
    );
    // Unknown users get the same answer as wrong passwords.
    assert_eq!(
        code(login(&server.url(), "nobody", PASSWORD).await),
        ErrorCode::InvalidCredentials
    );
    // Other accounts are unaffected.
    assert!(login(&server.url(), "wang", PASSWORD).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_and_expired_tokens_stop_working_everywhere() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let token = login(&server.url(), "wang", PASSWORD).await.unwrap().token;
    let api = ApiClient::new(&server.url())
        .unwrap()
        .with_token(token.clone());
    let mut open_socket = RawSocket::authed(&server.url(), &token).await;
    api.logout().await.unwrap();

    assert_eq!(code(api.me().await), ErrorCode::Unauthenticated);
    let mut socket = RawSocket::connect(&server.url()).await;
    socket
        .send(ClientFrame::Auth {
            token: token.clone(),
        })
        .await;
    assert_eq!(expect_error(&mut socket).await, ErrorCode::Unauthenticated);
    // A socket opened before the logout notices within its re-check interval.
    tokio::time::sleep(Duration::from_millis(5200)).await;
    open_socket
        .send(ClientFrame::Send {
            conversation_id: ws.order_a.id,
            txn_id: TxnId("after-logout".into()),
            body: text("ghost"),
        })
        .await;
    assert_eq!(
        expect_error(&mut open_socket).await,
        ErrorCode::Unauthenticated
    );
    assert!(
        open_socket
            .next_within(Duration::from_secs(5))
            .await
            .unwrap()
            .is_none(),
        "socket closed"
    );

    // An expired session (written straight into the store with a past expiry).
    let store = satchel_server::open_store(&sqlite_url(server.data_dir()))
        .await
        .unwrap();
    let expired = "expired-token-for-test";
    store
        .create_session(
            &satchel_server::auth::token_hash(expired),
            ws.staff[0].id,
            &DeviceId("expired-device".into()),
            "old",
            1_000,
        )
        .await
        .unwrap();
    let api = ApiClient::new(&server.url()).unwrap().with_token(expired);
    assert_eq!(code(api.conversations().await), ErrorCode::Unauthenticated);

    let wang = sign_in(&server.url(), "wang").await.unwrap();
    assert!(
        wang.history(ws.order_a.id, None, None, 10)
            .await
            .unwrap()
            .messages
            .is_empty(),
        "nothing was written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_bodies_are_checked() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let token = login(&server.url(), "wang", PASSWORD).await.unwrap().token;
    let http = reqwest::Client::new();
    let url = format!(
        "{}/api/v1/conversations/{}/messages",
        server.url(),
        ws.order_a.id
    );
    let post = |body: Vec<u8>| {
        http.post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let r = post(b"{\"txn_id\":".to_vec()).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<ErrorBody>().await.unwrap().code,
        ErrorCode::MalformedRequest
    );
    let r = post(vec![b'x'; 300 * 1024]).await.unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.json::<ErrorBody>().await.unwrap().code,
        ErrorCode::FrameTooLarge
    );
    let r = post(vec![b'{', 0xff, 0xfe, b'}']).await.unwrap();
    assert_eq!(r.status(), 400);
    let image = serde_json::json!({"txn_id": "image-txn-1", "body": {"kind": "image", "attachment": {"sha256": "00", "size": 1, "mime": "image/jpeg", "name": "a.jpg", "width": null, "height": null}}});
    let r = post(serde_json::to_vec(&image).unwrap()).await.unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.json::<ErrorBody>().await.unwrap().code,
        ErrorCode::InvalidField,
        "no such upload"
    );
    // Annotations: a mark outside the photo, a photo that does not exist here.
    let outside = serde_json::json!({"txn_id": "note-txn-01", "body": {"kind": "annotation", "image": 1, "mark": {"shape": "box", "region": {"x": 0.9, "y": 0.1, "w": 0.2, "h": 0.2}}, "comment": "车线歪了"}});
    let r = post(serde_json::to_vec(&outside).unwrap()).await.unwrap();
    assert_eq!(r.status(), 422);
    let refusal = r.json::<ErrorBody>().await.unwrap();
    assert_eq!(refusal.code, ErrorCode::InvalidField);
    assert!(refusal.message.contains("mark"), "{}", refusal.message);
    let elsewhere = serde_json::json!({"txn_id": "note-txn-02", "body": {"kind": "annotation", "image": 999999, "mark": {"shape": "pin", "at": {"x": 0.5, "y": 0.5}}, "comment": "车线歪了"}});
    let r = post(serde_json::to_vec(&elsewhere).unwrap()).await.unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.json::<ErrorBody>().await.unwrap().code,
        ErrorCode::InvalidField,
        "no such photo in this conversation"
    );
    let long = serde_json::json!({"txn_id": "long-txn-01", "body": {"kind": "text", "text": "长".repeat(validate::MAX_TEXT_CHARS + 1)}});
    let r = post(serde_json::to_vec(&long).unwrap()).await.unwrap();
    assert_eq!(
        r.json::<ErrorBody>().await.unwrap().code,
        ErrorCode::InvalidField
    );

    let wang = sign_in(&server.url(), "wang").await.unwrap();
    assert!(wang
        .history(ws.order_a.id, None, None, 10)
        .await
        .unwrap()
        .messages
        .is_empty());
}
