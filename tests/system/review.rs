//! Photo review: annotations travel between a factory and its customer with their
//! coordinates exact, gather replies and a resolution, and the album lists exactly the
//! order's photos, in order, grouped by the stage they were sent in. Annotations that
//! point at the wrong thing are refused and change nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use satchel_client::Engine;
use satchel_protocol::api::SendMessageRequest;
use satchel_protocol::review::{Album, MediaKind};
use satchel_protocol::*;
use satchel_test_support::{engine, sign_in, TestServer, Workspace};

use crate::support::{code, confirmed, server_timeline, settle};

const SETTLE: Duration = Duration::from_secs(30);

fn photo(dir: &Path, name: &str, rgb: [u8; 3]) -> PathBuf {
    let path = dir.join(name);
    image::RgbImage::from_pixel(96, 64, image::Rgb(rgb))
        .save(&path)
        .expect("photo written");
    path
}

/// Queues a message and waits until both sides hold it confirmed; returns its id.
async fn post(from: &Engine, to: &Engine, order: ConversationId, body: MessageBody) -> MessageId {
    let queued = from.send(order, body).await.expect("queued");
    arrived(from, to, order, &queued).await
}

async fn arrived(
    from: &Engine,
    to: &Engine,
    order: ConversationId,
    queued: &satchel_client::LocalMessage,
) -> MessageId {
    settle(&[from, to], SETTLE).await;
    let id = confirmed(from, order, queued).await.id.expect("confirmed");
    let deadline = tokio::time::Instant::now() + SETTLE;
    while to.local().message(id).await.unwrap().is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    id
}

/// Sends a generated photo and waits until both sides hold it; returns its id.
async fn send_photo(
    from: &Engine,
    to: &Engine,
    order: ConversationId,
    file: &Path,
    caption: &str,
) -> MessageId {
    let queued = from.send_file(order, file, caption).await.expect("queued");
    arrived(from, to, order, &queued).await
}

fn stage(from: Stage, to: Stage, reason: &str) -> MessageBody {
    MessageBody::StageChange {
        from,
        to,
        reason: reason.into(),
        waived: vec![],
    }
}

/// Waits until both sides fold the same album, and returns it.
async fn same_album(a: &Engine, b: &Engine, order: ConversationId) -> Album {
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        let (left, right) = (a.album(order).await.unwrap(), b.album(order).await.unwrap());
        if left == right {
            return left;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the albums differ:\n{left:#?}\n{right:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn text(text: &str, reply_to: Option<MessageId>) -> MessageBody {
    MessageBody::Text {
        text: text.into(),
        reply_to,
        needs_confirmation: false,
        deadline: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annotations_round_trip_with_exact_coordinates_and_the_album_lists_the_orders_media_in_order(
) {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wang = engine(&dir.path().join("wang"), &server.url(), "wang")
        .await
        .unwrap();
    let alice = engine(&dir.path().join("alice"), &server.url(), "alice")
        .await
        .unwrap();
    wang.start().await.unwrap();
    alice.start().await.unwrap();
    let order = ws.order_a.id;
    settle(&[&wang, &alice], SETTLE).await;

    // Inquiry: the customer's reference photo. Then a sample photo, a text, a second
    // sample round with its photo.
    let reference = send_photo(
        &alice,
        &wang,
        order,
        &photo(dir.path(), "参考图 reference.png", [120, 80, 50]),
        "",
    )
    .await;
    post(
        &wang,
        &alice,
        order,
        stage(Stage::Inquiry, Stage::Sample, ""),
    )
    .await;
    let sample_v1 = send_photo(
        &wang,
        &alice,
        order,
        &photo(dir.path(), "sample v1.png", [110, 70, 40]),
        "第一版",
    )
    .await;
    post(&wang, &alice, order, text("样品已寄出", None)).await;

    // The customer marks three details on the first sample.
    let stitching = Mark::Box {
        region: Region {
            x: 0.123_456_79,
            y: 0.654_321,
            w: 0.2,
            h: 0.033_333_335,
        },
    };
    let logo = Mark::Pin {
        at: Point {
            x: 0.999_999,
            y: 0.000_001,
        },
    };
    let pocket = Mark::Arrow {
        from: Point { x: 0.9, y: 0.9 },
        to: Point { x: 0.5, y: 0.4 },
    };
    let mut annotations = Vec::new();
    for (mark, comment) in [
        (stitching, "车线歪了 stitching is crooked"),
        (logo, "logo 再小一点"),
        (pocket, "内袋位置 inner pocket here"),
    ] {
        let id = post(
            &alice,
            &wang,
            order,
            MessageBody::Annotation {
                image: sample_v1,
                mark,
                comment: comment.into(),
            },
        )
        .await;
        annotations.push((id, mark, comment));
    }
    // Staff reply under the first, the customer resolves it once the factory answered.
    let reply = post(
        &wang,
        &alice,
        order,
        text("大货会改 will fix in production", Some(annotations[0].0)),
    )
    .await;
    post(
        &alice,
        &wang,
        order,
        MessageBody::AnnotationStatus {
            annotation: annotations[0].0,
            resolved: true,
        },
    )
    .await;
    // Back to a second sample round: its photo, and a card attaching it.
    post(
        &wang,
        &alice,
        order,
        stage(Stage::Sample, Stage::Production, ""),
    )
    .await;
    post(
        &wang,
        &alice,
        order,
        stage(
            Stage::Production,
            Stage::Sample,
            "客户要求改内袋 pocket change",
        ),
    )
    .await;
    let sample_v2 = send_photo(
        &wang,
        &alice,
        order,
        &photo(dir.path(), "sample v2.png", [112, 72, 42]),
        "第二版",
    )
    .await;
    let card = post(
        &wang,
        &alice,
        order,
        MessageBody::ConfirmationRequest {
            item: "颜色 colour".into(),
            value: "深棕 7520".into(),
            attachments: vec![sample_v2],
            needs_confirmation: true,
            deadline: None,
        },
    )
    .await;

    let album = same_album(&wang, &alice, order).await;
    let listed: Vec<(MessageId, MediaKind, Stage, u32, &str)> = album
        .items
        .iter()
        .map(|i| (i.message, i.kind, i.stage, i.round, i.caption.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            (reference, MediaKind::Photo, Stage::Inquiry, 1, ""),
            (sample_v1, MediaKind::Photo, Stage::Sample, 1, "第一版"),
            (sample_v2, MediaKind::Photo, Stage::Sample, 2, "第二版"),
        ],
        "exactly the order's photos, in order, by stage and round"
    );
    assert_eq!(album.items[0].attachment.name, "参考图 reference.png");
    assert_eq!(album.items[2].cards, [card]);
    assert_eq!(
        (album.items[1].annotations, album.items[1].open_annotations),
        (3, 2)
    );

    // On the factory's side every mark is exactly what the customer drew.
    let threads: Vec<_> = album.annotations_on(sample_v1).collect();
    assert_eq!(threads.len(), 3);
    for (thread, (id, mark, comment)) in threads.iter().zip(&annotations) {
        assert_eq!(
            (thread.id, thread.mark, thread.comment.as_str()),
            (*id, *mark, *comment)
        );
        assert_eq!(thread.author, ws.customer_a.id);
    }
    assert_eq!(threads[0].replies, [reply]);
    assert_eq!(threads[0].resolved.map(|r| r.by), Some(ws.customer_a.id));
    assert_eq!(threads[1].resolved, None);
    // A new device of the customer's folds the same album from history alone.
    let fresh = engine(&dir.path().join("alice-2"), &server.url(), "alice")
        .await
        .unwrap();
    fresh.start().await.unwrap();
    settle(&[&fresh], SETTLE).await;
    assert_eq!(fresh.album(order).await.unwrap(), album);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annotations_on_the_wrong_thing_are_refused_and_change_nothing() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let wang = sign_in(&server.url(), "wang").await.unwrap();
    let somchai = sign_in(&server.url(), "somchai").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let staff = engine(&dir.path().join("wang"), &server.url(), "wang")
        .await
        .unwrap();
    staff.start().await.unwrap();
    let (order_a, order_b) = (ws.order_a.id, ws.order_b.id);
    let queued = staff
        .send_file(order_a, &photo(dir.path(), "a.png", [1, 2, 3]), "")
        .await
        .unwrap();
    settle(&[&staff], SETTLE).await;
    let photo_a = confirmed(&staff, order_a, &queued).await.id.unwrap();
    let note = |image: MessageId| MessageBody::Annotation {
        image,
        mark: Mark::Pin {
            at: Point { x: 0.5, y: 0.5 },
        },
        comment: "?".into(),
    };
    let send = |api: &satchel_client::api::ApiClient, order: ConversationId, body: MessageBody| {
        let api = api.clone();
        async move {
            api.send(
                order,
                &SendMessageRequest {
                    txn_id: TxnId(format!("review-{}", rand::random::<u64>())),
                    body,
                },
            )
            .await
        }
    };
    let text_a = send(
        &wang,
        order_a,
        MessageBody::Text {
            text: "报价见附件".into(),
            reply_to: None,
            needs_confirmation: false,
            deadline: None,
        },
    )
    .await
    .unwrap()
    .message_id;
    let before_a = server_timeline(&wang, order_a).await;
    let before_b = server_timeline(&wang, order_b).await;

    // Another customer cannot reach the order at all.
    assert_eq!(
        code(send(&somchai, order_a, note(photo_a)).await),
        ErrorCode::NotFound
    );
    // A photo of another conversation, a text, a message that does not exist.
    assert_eq!(
        code(send(&somchai, order_b, note(photo_a)).await),
        ErrorCode::InvalidField
    );
    assert_eq!(
        code(send(&wang, order_a, note(text_a)).await),
        ErrorCode::InvalidField
    );
    assert_eq!(
        code(send(&wang, order_a, note(MessageId(987_654))).await),
        ErrorCode::InvalidField
    );
    // A status for something that is not an annotation; a mark outside the photo.
    assert_eq!(
        code(
            send(
                &wang,
                order_a,
                MessageBody::AnnotationStatus {
                    annotation: photo_a,
                    resolved: true
                }
            )
            .await
        ),
        ErrorCode::InvalidField
    );
    let outside = MessageBody::Annotation {
        image: photo_a,
        mark: Mark::Arrow {
            from: Point { x: 0.5, y: 0.5 },
            to: Point { x: 1.5, y: 0.5 },
        },
        comment: "?".into(),
    };
    assert_eq!(
        code(send(&wang, order_a, outside.clone()).await),
        ErrorCode::InvalidField
    );
    assert!(
        matches!(
            staff.send(order_a, outside).await,
            Err(satchel_client::EngineError::Invalid(_))
        ),
        "the engine refuses it before queueing"
    );
    assert_eq!(server_timeline(&wang, order_a).await, before_a);
    assert_eq!(server_timeline(&wang, order_b).await, before_b);

    // A recalled photo takes no new annotations.
    send(&wang, order_a, MessageBody::Recall { target: photo_a })
        .await
        .unwrap();
    let recalled = send(&wang, order_a, note(photo_a)).await;
    assert_eq!(code(recalled), ErrorCode::InvalidField);
}
