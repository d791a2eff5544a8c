//! Several clients, one truth: the same messages in the same order everywhere.

use std::time::Duration;

use satchel_client::Engine;
use satchel_protocol::*;
use satchel_test_support::{engine, sign_in, TestServer, Workspace};

use crate::support::{converged, server_timeline, settle, timeline};

const SETTLE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_clients_in_two_conversations_see_one_ordered_history() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let wang = engine(dirs[0].path(), &server.url(), "wang").await.unwrap();
    let chen = engine(dirs[1].path(), &server.url(), "chen").await.unwrap();
    let alice = engine(dirs[2].path(), &server.url(), "alice")
        .await
        .unwrap();
    for e in [&wang, &chen, &alice] {
        e.start().await.unwrap();
    }

    // Everyone talks at once: the order conversation with the customer, and the
    // internal one among staff.
    let talk = |e: Engine, conversation: ConversationId, who: &'static str, n: usize| async move {
        for i in 1..=n {
            e.send_text(conversation, &format!("{who} 第{i}条 message {i}"), None)
                .await
                .unwrap();
            if i % 5 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    tokio::join!(
        talk(wang.clone(), ws.order_a.id, "wang", 25),
        talk(chen.clone(), ws.order_a.id, "chen", 25),
        talk(alice.clone(), ws.order_a.id, "alice", 25),
        talk(wang.clone(), ws.internal.id, "wang-internal", 15),
        talk(chen.clone(), ws.internal.id, "chen-internal", 15),
    );
    settle(&[&wang, &chen, &alice], SETTLE).await;

    let admin_view = sign_in(&server.url(), "wang").await.unwrap();
    let truth_order = server_timeline(&admin_view, ws.order_a.id).await;
    let truth_internal = server_timeline(&admin_view, ws.internal.id).await;
    assert_eq!(truth_order.len(), 75);
    assert_eq!(truth_internal.len(), 30);
    // Gapless sequence numbers starting at 1.
    for (i, line) in truth_order.iter().enumerate() {
        assert!(line.starts_with(&format!("{} ", i + 1)), "{line}");
    }
    for e in [&wang, &chen, &alice] {
        assert_eq!(
            converged(e, ws.order_a.id, &truth_order, SETTLE).await,
            truth_order
        );
    }
    for e in [&wang, &chen] {
        assert_eq!(
            converged(e, ws.internal.id, &truth_internal, SETTLE).await,
            truth_internal
        );
    }
    // The customer never learns of the internal conversation.
    assert!(timeline(&alice, ws.internal.id).await.is_empty());
    assert!(alice
        .local()
        .conversation(ws.internal.id)
        .await
        .unwrap()
        .is_none());

    // History survives a restart of the client, before it reconnects.
    chen.close().await;
    drop(chen);
    let chen = Engine::open(dirs[1].path(), None).await.unwrap();
    assert_eq!(timeline(&chen, ws.order_a.id).await, truth_order);
    assert_eq!(timeline(&chen, ws.internal.id).await, truth_internal);

    // A client that was offline catches up in order, with no gaps.
    alice.stop().await;
    chen.start().await.unwrap();
    tokio::join!(
        talk(wang.clone(), ws.order_a.id, "wang-later", 20),
        talk(chen.clone(), ws.order_a.id, "chen-later", 20),
    );
    settle(&[&wang, &chen], SETTLE).await;
    assert_eq!(
        timeline(&alice, ws.order_a.id).await,
        truth_order,
        "offline client unchanged"
    );
    alice.start().await.unwrap();
    settle(&[&alice], SETTLE).await;
    let truth_order = server_timeline(&admin_view, ws.order_a.id).await;
    assert_eq!(truth_order.len(), 115);
    for e in [&wang, &chen, &alice] {
        assert_eq!(
            converged(e, ws.order_a.id, &truth_order, SETTLE).await,
            truth_order
        );
    }
    let summaries = alice.conversations().await.unwrap();
    let order = summaries
        .iter()
        .find(|s| s.conversation.id == ws.order_a.id)
        .unwrap();
    assert_eq!(
        order.unread, 90,
        "everything from others is unread until alice reads it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_added_later_receives_the_earlier_history() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let wang = engine(d1.path(), &server.url(), "wang").await.unwrap();
    let chen = engine(d2.path(), &server.url(), "chen").await.unwrap();
    wang.start().await.unwrap();
    chen.start().await.unwrap();
    for i in 1..=30 {
        wang.send_text(ws.order_b.id, &format!("BP-007 进度 {i}"), None)
            .await
            .unwrap();
    }
    settle(&[&wang, &chen], SETTLE).await;
    assert!(chen
        .local()
        .conversation(ws.order_b.id)
        .await
        .unwrap()
        .is_none());

    wang.api()
        .unwrap()
        .add_members(ws.order_b.id, vec![ws.staff[1].id])
        .await
        .unwrap();
    wang.send_text(ws.order_b.id, "陈刚 joins", None)
        .await
        .unwrap();
    settle(&[&wang, &chen], SETTLE).await;
    let truth = timeline(&wang, ws.order_b.id).await;
    assert_eq!(truth.len(), 31);
    // The live event only said "you are in"; the engine fetched what came before.
    assert_eq!(
        converged(&chen, ws.order_b.id, &truth, SETTLE).await,
        truth,
        "history backfilled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_never_mix_accounts() {
    let server = TestServer::start().await.unwrap();
    let _ws = Workspace::seed(&server.url()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wang = engine(dir.path(), &server.url(), "wang").await.unwrap();
    // A second engine on the same folder is refused while the first is open.
    assert!(matches!(
        Engine::open(dir.path(), None).await,
        Err(satchel_client::EngineError::ProfileLocked(_))
    ));
    // The profile holds wang's history: signing in as somebody else is refused.
    let err = wang
        .login(&server.url(), "alice", satchel_test_support::PASSWORD)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            satchel_client::EngineError::ProfileBelongsToAnother { .. }
        ),
        "{err}"
    );
    assert_eq!(wang.account().unwrap().member.username, "wang");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_message_is_shown_failed_and_can_be_retried_or_discarded() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let alice = engine(dir.path(), &server.url(), "alice").await.unwrap();
    alice.start().await.unwrap();
    // Alice is not in B's order: the server refuses, permanently.
    let refused = alice
        .send_text(ws.order_b.id, "wrong window", None)
        .await
        .unwrap();
    let fine = alice
        .send_text(ws.order_a.id, "right window", None)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + SETTLE;
    let failed = loop {
        let page = alice.messages(ws.order_b.id, None, 10).await.unwrap();
        if page
            .first()
            .is_some_and(|m| m.state == satchel_client::SendState::Failed)
            || tokio::time::Instant::now() > deadline
        {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].state, satchel_client::SendState::Failed);
    assert!(failed[0].error.as_deref().is_some_and(|e| !e.is_empty()));
    // The refusal did not hold up the other conversation.
    settle(&[&alice], SETTLE).await;
    let sent = alice.messages(ws.order_a.id, None, 10).await.unwrap();
    assert!(sent
        .iter()
        .any(|m| m.txn_id == fine.txn_id && m.state == satchel_client::SendState::Sent));

    // Retry: the same transaction goes again and is refused again.
    alice.retry(&refused.txn_id).await.unwrap();
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        let page = alice.messages(ws.order_b.id, None, 10).await.unwrap();
        if page[0].state == satchel_client::SendState::Failed {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "retry never settled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Discard removes it for good.
    alice.discard(&refused.txn_id).await.unwrap();
    assert!(alice
        .messages(ws.order_b.id, None, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(alice.local().outbox_len().await.unwrap(), 0);
    // A message that was not refused cannot be discarded.
    assert!(alice.discard(&fine.txn_id).await.is_err());
}
