//! Read receipts: delivered when the reader's client has the message, read only when
//! the reader's client says the user saw it.

use std::time::Duration;

use satchel_protocol::*;
use satchel_test_support::{engine, TestServer, Workspace};

use crate::support::{confirmed, settle};

async fn receipt_of(
    e: &satchel_client::Engine,
    conversation: ConversationId,
    member: MemberId,
) -> Option<Receipt> {
    e.receipts(conversation)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.member_id == member)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_receipts_reach_the_sender_only_after_the_reader_reads() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let wang = engine(dirs[0].path(), &server.url(), "wang").await.unwrap();
    let alice = engine(dirs[1].path(), &server.url(), "alice")
        .await
        .unwrap();
    let chen = engine(dirs[2].path(), &server.url(), "chen").await.unwrap();
    for e in [&wang, &alice, &chen] {
        e.start().await.unwrap();
    }

    let quote = wang
        .send_text(ws.order_a.id, "请确认报价：¥86/个，明天十点前定下来", None)
        .await
        .unwrap();
    settle(&[&wang, &alice, &chen], Duration::from_secs(30)).await;
    let seq = confirmed(&wang, ws.order_a.id, &quote).await.seq.unwrap();
    settle(&[&wang], Duration::from_secs(30)).await;

    // Delivered to both readers' clients, read by neither.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let a = receipt_of(&wang, ws.order_a.id, ws.customer_a.id).await;
        let c = receipt_of(&wang, ws.order_a.id, ws.staff[1].id).await;
        if a.is_some_and(|r| r.delivered_up_to >= seq)
            && c.is_some_and(|r| r.delivered_up_to >= seq)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "delivery receipts did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receipt_of(&wang, ws.order_a.id, ws.customer_a.id)
            .await
            .unwrap()
            .read_up_to,
        Seq(0)
    );
    assert_eq!(
        receipt_of(&wang, ws.order_a.id, ws.staff[1].id)
            .await
            .unwrap()
            .read_up_to,
        Seq(0)
    );

    // Alice's UI shows the message: now, and only now, it is read.
    alice.mark_read(ws.order_a.id, seq).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while receipt_of(&wang, ws.order_a.id, ws.customer_a.id)
        .await
        .map(|r| r.read_up_to)
        != Some(seq)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "read receipt did not reach the sender"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        receipt_of(&wang, ws.order_a.id, ws.staff[1].id)
            .await
            .unwrap()
            .read_up_to,
        Seq(0),
        "chen has not read"
    );
    let alice_list = alice.conversations().await.unwrap();
    assert_eq!(
        alice_list
            .iter()
            .find(|s| s.conversation.id == ws.order_a.id)
            .unwrap()
            .unread,
        0
    );

    // Positions never move back, and never past the newest message.
    alice.mark_read(ws.order_a.id, Seq(0)).await.unwrap();
    let api = alice.api().unwrap();
    let r = api
        .post_receipt(
            ws.order_a.id,
            &api::ReceiptRequest {
                delivered_up_to: None,
                read_up_to: Some(Seq(1_000_000)),
            },
        )
        .await
        .unwrap();
    assert_eq!(r.read_up_to, seq);
}
