//! Orders: a factory and its customer take an order from inquiry to receipt. Every
//! agreement is a card with revisions, every stage change passes its gate, nothing is
//! overwritten, and both sides' apps fold the same record.
//!
//! The record both engines end with is rendered as text and compared with
//! `tests/system/snapshots/order_lifecycle.txt` (set `SATCHEL_UPDATE_SNAPSHOTS=1` to
//! rewrite it after an intended change, and review the diff).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use satchel_client::{Engine, EngineError, LocalMessage};
use satchel_protocol::api::{CreateConversationRequest, SendMessageRequest};
use satchel_protocol::order::{CardState, OrderRecord};
use satchel_protocol::*;
use satchel_test_support::{engine, sign_in, TestServer, Workspace};

use crate::support::{code, confirmed, server_timeline, settle};

const SETTLE: Duration = Duration::from_secs(30);

fn txn() -> TxnId {
    TxnId(format!("test-{}", rand::random::<u64>()))
}

/// Queues an order message and waits until both sides hold its confirmed form and
/// agree on the order (a live event can trail the sender's acknowledgement).
async fn post(from: &Engine, to: &Engine, order: ConversationId, body: MessageBody) -> MessageId {
    let queued = from.send(order, body).await.expect("queued");
    settle(&[from, to], SETTLE).await;
    let id = confirmed(from, order, &queued).await.id.expect("confirmed");
    agree(from, to, order, id).await;
    id
}

/// Waits until `to` holds message `id` and both sides see the order as the server
/// has it now.
async fn agree(from: &Engine, to: &Engine, order: ConversationId, id: MessageId) {
    let truth = from.api().unwrap().conversation(order).await.unwrap().order;
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        let arrived = to.local().message(id).await.unwrap().is_some();
        let current = Some(order_info(from, order).await) == truth
            && Some(order_info(to, order).await) == truth
            && from.order_record(order).await.unwrap() == to.order_record(order).await.unwrap();
        if arrived && current {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "message {id} did not reach the other side"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn propose(item: &str, value: &str, photos: Vec<MessageId>) -> MessageBody {
    MessageBody::ConfirmationRequest {
        item: item.into(),
        value: value.into(),
        attachments: photos,
        needs_confirmation: false,
        deadline: None,
    }
}

fn answer(request: MessageId, approved: bool, comment: &str) -> MessageBody {
    MessageBody::ConfirmationAnswer {
        request,
        approved,
        comment: comment.into(),
    }
}

fn stage(from: Stage, to: Stage, reason: &str, waived: Vec<MessageId>) -> MessageBody {
    MessageBody::StageChange {
        from,
        to,
        reason: reason.into(),
        waived,
    }
}

/// The order rule an engine refused with, before anything was queued.
fn rule(result: Result<LocalMessage, EngineError>) -> String {
    match result {
        Err(EngineError::OrderRule(e)) => e.to_string(),
        other => panic!("expected an order rule refusal, got {other:?}"),
    }
}

/// A small photo on disk, to attach to cards and progress updates.
fn photo(dir: &Path, name: &str, rgb: [u8; 3]) -> std::path::PathBuf {
    let path = dir.join(name);
    image::RgbImage::from_pixel(64, 48, image::Rgb(rgb))
        .save(&path)
        .expect("photo written");
    path
}

async fn send_photo(from: &Engine, to: &Engine, order: ConversationId, path: &Path) -> MessageId {
    let queued = from.send_file(order, path, "").await.expect("queued");
    settle(&[from, to], SETTLE).await;
    let id = confirmed(from, order, &queued).await.id.expect("confirmed");
    agree(from, to, order, id).await;
    id
}

/// The record as a person reads it: the spec sheet with every revision's fate, then
/// the stage changes, progress updates and shipments in order. Message ids and times
/// differ between runs; sequence numbers and names do not.
fn render(
    record: &OrderRecord,
    names: &HashMap<MemberId, String>,
    seq_of: &HashMap<MessageId, Seq>,
) -> String {
    let name = |id: &MemberId| names.get(id).cloned().unwrap_or_else(|| format!("#{id}"));
    let at = |id: &MessageId| {
        seq_of
            .get(id)
            .map_or("?".to_owned(), |s| format!("#{}", s.0))
    };
    let photos = |ids: &[MessageId]| {
        if ids.is_empty() {
            String::new()
        } else {
            format!(
                " [photos {}]",
                ids.iter().map(at).collect::<Vec<_>>().join(" ")
            )
        }
    };
    let mut out = format!("stage: {}\n\nspec sheet\n", record.stage.as_str());
    for card in &record.cards {
        out += &format!("  {}\n", card.item);
        for (i, r) in card.revisions.iter().enumerate() {
            out += &format!(
                "    r{} #{} {} by {} ({:?}, during {}){}\n",
                i + 1,
                r.seq.0,
                r.value,
                name(&r.proposer),
                r.side,
                r.stage.as_str(),
                photos(&r.attachments)
            );
            let state = match r.state() {
                CardState::Proposed => "open".to_owned(),
                CardState::Superseded => format!(
                    "superseded by {}",
                    r.superseded_by.as_ref().map_or("?".into(), at)
                ),
                CardState::Waived => {
                    let w = r.waiver.as_ref().expect("waiver");
                    format!(
                        "waived by {} at {}: {}",
                        name(&w.by),
                        at(&w.message_id),
                        w.reason
                    )
                }
                CardState::Approved | CardState::Rejected => String::new(),
            };
            if let Some(a) = &r.answer {
                out += &format!(
                    "       {} by {} at {}: {}\n",
                    if a.approved { "approved" } else { "rejected" },
                    name(&a.by),
                    at(&a.message_id),
                    a.comment
                );
            }
            if !state.is_empty() {
                out += &format!("       {state}\n");
            }
        }
    }
    out += "\nstages\n";
    for s in &record.stages {
        out += &format!(
            "  #{} {} → {} by {}{}{}\n",
            s.seq.0,
            s.from.as_str(),
            s.to.as_str(),
            name(&s.by),
            if s.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", s.reason)
            },
            if s.waived.is_empty() {
                String::new()
            } else {
                format!(" (waived: {})", s.waived.join(", "))
            }
        );
    }
    out += "\nprogress\n";
    for p in &record.progress {
        out += &format!(
            "  #{} [{}] {} by {}{}\n",
            p.seq.0,
            p.stage.as_str(),
            p.text,
            name(&p.by),
            photos(&p.attachments)
        );
    }
    out += "\nshipments\n";
    for s in &record.shipments {
        out += &format!(
            "  #{} {} {} by {}\n",
            s.seq.0,
            s.shipping.carrier,
            s.shipping.tracking_numbers.join(", "),
            name(&s.by)
        );
    }
    out
}

async fn seqs(engine: &Engine, order: ConversationId) -> HashMap<MessageId, Seq> {
    engine
        .local()
        .confirmed(order)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| Some((m.id?, m.seq?)))
        .collect()
}

fn compare_with_snapshot(rendered: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("system/snapshots/order_lifecycle.txt");
    if std::env::var_os("SATCHEL_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, rendered).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with SATCHEL_UPDATE_SNAPSHOTS=1 to create it)",
            path.display()
        )
    });
    assert_eq!(
        rendered, expected,
        "the order record differs from {}; if the change is intended, rerun with SATCHEL_UPDATE_SNAPSHOTS=1 and review the diff",
        path.display()
    );
}

async fn order_info(engine: &Engine, order: ConversationId) -> order::OrderInfo {
    engine
        .local()
        .conversation(order)
        .await
        .unwrap()
        .expect("known conversation")
        .order
        .expect("an order")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_goes_from_inquiry_to_receipt_with_every_agreement_on_record() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wang = engine(&dir.path().join("wang"), &server.url(), "wang")
        .await
        .unwrap();
    let alice = engine(&dir.path().join("alice"), &server.url(), "alice")
        .await
        .unwrap();
    let (wang_id, alice_id) = (ws.staff[0].id, ws.customer_a.id);

    // Staff open the order with its details.
    let due = 1_798_761_600_000; // 2027-01-01
    let created = wang
        .api()
        .unwrap()
        .create_conversation(&CreateConversationRequest {
            kind: ConversationKind::Order,
            title: "通勤托特包 Commuter tote".into(),
            org_id: Some(ws.org_a.id),
            order_number: Some("SC-2026-118".into()),
            quantity: Some(500),
            due_date: Some(due),
            assignee: Some(wang_id),
            member_ids: vec![alice_id],
        })
        .await
        .unwrap();
    let order = created.id;
    wang.start().await.unwrap();
    alice.start().await.unwrap();
    settle(&[&wang, &alice], SETTLE).await;
    let info = order_info(&alice, order).await;
    assert_eq!(
        (info.stage, info.quantity, info.due_date, info.assignee),
        (Stage::Inquiry, Some(500), Some(due), Some(wang_id)),
        "the customer sees the order's details"
    );

    // Inquiry: a colour proposed with a photo, rejected, revised, approved.
    let brown = photo(dir.path(), "brown.png", [110, 70, 40]);
    let brown_photo = send_photo(&wang, &alice, order, &brown).await;
    let dark = post(
        &wang,
        &alice,
        order,
        propose("colour", "深棕 Dark brown 7520", vec![brown_photo]),
    )
    .await;
    post(&alice, &wang, order, answer(dark, false, "太深了 too dark")).await;
    let light = photo(dir.path(), "light.png", [170, 120, 70]);
    let light_photo = send_photo(&wang, &alice, order, &light).await;
    let light_brown = post(
        &wang,
        &alice,
        order,
        propose("Colour", "浅棕 Light brown 7516", vec![light_photo]),
    )
    .await;
    assert!(
        rule(alice.send(order, answer(dark, true, "ok after all")).await)
            .contains("replaced by a newer revision"),
        "a superseded revision cannot be approved"
    );
    post(
        &alice,
        &wang,
        order,
        answer(light_brown, true, "就这个 this one"),
    )
    .await;

    // The customer proposes a zipper; she cannot approve it herself.
    let zipper = post(
        &alice,
        &wang,
        order,
        propose("zipper", "YKK #5 金色 gold", vec![]),
    )
    .await;
    assert!(rule(alice.send(order, answer(zipper, true, "")).await).contains("own proposal"));

    // The gate: an open zipper keeps the order in inquiry until it is settled.
    assert!(
        rule(
            wang.send(order, stage(Stage::Inquiry, Stage::Sample, "", vec![]))
                .await
        )
        .contains("zipper"),
        "the gate names what is still open"
    );
    post(&wang, &alice, order, answer(zipper, true, "YKK OK")).await;
    post(
        &wang,
        &alice,
        order,
        stage(Stage::Inquiry, Stage::Sample, "", vec![]),
    )
    .await;

    // Sample: packaging stays open and is waived on purpose, with a reason.
    let packaging = post(
        &wang,
        &alice,
        order,
        propose("packaging", "单个PE袋 + 五层外箱", vec![]),
    )
    .await;
    assert!(rule(
        wang.send(
            order,
            stage(Stage::Sample, Stage::Production, "", vec![packaging])
        )
        .await
    )
    .contains("needs a reason"));
    post(
        &wang,
        &alice,
        order,
        stage(
            Stage::Sample,
            Stage::Production,
            "包装大货前再定 packaging decided before packing",
            vec![packaging],
        ),
    )
    .await;

    // Production: progress with a photo; a step back needs a reason, and customers do
    // not move stages.
    let cutting = photo(dir.path(), "cutting.png", [90, 90, 90]);
    let cutting_photo = send_photo(&wang, &alice, order, &cutting).await;
    post(
        &wang,
        &alice,
        order,
        MessageBody::ProgressUpdate {
            stage: Stage::Production,
            text: "料子已到位，明天开始裁剪".into(),
            attachments: vec![cutting_photo],
        },
    )
    .await;
    assert!(rule(
        wang.send(order, stage(Stage::Production, Stage::Sample, "", vec![]))
            .await
    )
    .contains("needs a reason"));
    assert!(rule(
        alice
            .send(
                order,
                stage(Stage::Production, Stage::QcPacking, "", vec![])
            )
            .await
    )
    .contains("only factory staff"));
    assert!(rule(
        alice
            .send(
                order,
                MessageBody::ProgressUpdate {
                    stage: Stage::Production,
                    text: "?".into(),
                    attachments: vec![]
                }
            )
            .await
    )
    .contains("only factory staff"));
    post(
        &wang,
        &alice,
        order,
        stage(
            Stage::Production,
            Stage::Sample,
            "手柄重新打样 handle resampled",
            vec![],
        ),
    )
    .await;
    post(
        &wang,
        &alice,
        order,
        stage(Stage::Sample, Stage::Production, "", vec![]),
    )
    .await;
    post(
        &wang,
        &alice,
        order,
        stage(Stage::Production, Stage::QcPacking, "", vec![]),
    )
    .await;
    post(
        &wang,
        &alice,
        order,
        MessageBody::ProgressUpdate {
            stage: Stage::QcPacking,
            text: "QC 498/500 passed, 2 reworked".into(),
            attachments: vec![],
        },
    )
    .await;
    post(
        &wang,
        &alice,
        order,
        stage(Stage::QcPacking, Stage::Shipping, "", vec![]),
    )
    .await;
    post(
        &wang,
        &alice,
        order,
        MessageBody::Shipment {
            carrier: "DHL".into(),
            tracking_numbers: vec!["1234567890".into(), "1234567891".into()],
        },
    )
    .await;

    // Only the customer's confirmation of receipt makes it done.
    assert!(rule(
        wang.send(order, stage(Stage::Shipping, Stage::Done, "", vec![]))
            .await
    )
    .contains("customer confirms receipt"));
    post(
        &alice,
        &wang,
        order,
        stage(Stage::Shipping, Stage::Done, "收到了 received", vec![]),
    )
    .await;
    assert!(rule(
        wang.send(order, propose("lining", "too late", vec![]))
            .await
    )
    .contains("done"));

    // Both sides hold the same order, and the same record.
    for engine in [&wang, &alice] {
        let info = order_info(engine, order).await;
        assert_eq!(info.stage, Stage::Done);
        assert!(info.received_at.is_some());
        assert_eq!(
            info.shipping.as_ref().map(|s| s.carrier.as_str()),
            Some("DHL")
        );
    }
    let names: HashMap<MemberId, String> =
        [(wang_id, "王丽".to_owned()), (alice_id, "Alice".to_owned())].into();
    let seq_of = seqs(&wang, order).await;
    let from_staff = render(&wang.order_record(order).await.unwrap(), &names, &seq_of);
    let from_customer = render(&alice.order_record(order).await.unwrap(), &names, &seq_of);
    assert_eq!(from_staff, from_customer, "both sides fold the same record");
    compare_with_snapshot(&from_staff);
}

/// Sends straight to the server and returns the stored message's id.
async fn sent(
    api: &satchel_client::api::ApiClient,
    order: ConversationId,
    body: MessageBody,
) -> MessageId {
    api.send(
        order,
        &SendMessageRequest {
            txn_id: txn(),
            body,
        },
    )
    .await
    .unwrap()
    .message_id
}

/// Sends straight to the server, past the engine's own checks.
async fn raw(
    api: &satchel_client::api::ApiClient,
    order: ConversationId,
    body: MessageBody,
) -> ErrorCode {
    code(
        api.send(
            order,
            &SendMessageRequest {
                txn_id: txn(),
                body,
            },
        )
        .await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_customer_can_neither_see_nor_propose_on_nor_approve_an_order() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let wang = sign_in(&server.url(), "wang").await.unwrap();
    let somchai = sign_in(&server.url(), "somchai").await.unwrap();
    let order_a = ws.order_a.id;
    let proposal = sent(&wang, order_a, propose("colour", "黑色 black", vec![])).await;
    let before = server_timeline(&wang, order_a).await;

    // Acme's order does not exist for a Bangkok customer.
    assert_eq!(
        code(somchai.conversation(order_a).await),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(somchai.history(order_a, None, None, 50).await),
        ErrorCode::NotFound
    );
    assert_eq!(
        raw(&somchai, order_a, propose("colour", "红色 red", vec![])).await,
        ErrorCode::NotFound
    );
    assert_eq!(
        raw(&somchai, order_a, answer(proposal, true, "")).await,
        ErrorCode::NotFound
    );
    assert_eq!(
        raw(
            &somchai,
            order_a,
            stage(Stage::Inquiry, Stage::Done, "", vec![])
        )
        .await,
        ErrorCode::NotFound
    );

    // Naming Acme's proposal from inside his own order does not reach it either.
    let order_b = ws.order_b.id;
    assert_eq!(
        raw(&somchai, order_b, answer(proposal, true, "")).await,
        ErrorCode::InvalidField
    );
    assert_eq!(
        raw(
            &wang,
            order_b,
            stage(Stage::Inquiry, Stage::Sample, "skip", vec![proposal])
        )
        .await,
        ErrorCode::InvalidField
    );

    assert_eq!(
        server_timeline(&wang, order_a).await,
        before,
        "nothing changed in Acme's order"
    );
    let alice = sign_in(&server.url(), "alice").await.unwrap();
    let record_seen_by_alice = alice.history(order_a, None, None, 50).await.unwrap();
    assert_eq!(
        record_seen_by_alice.messages.len(),
        1,
        "Acme still sees its one open proposal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_order_input_is_refused_with_its_reason_and_changes_nothing() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let wang = sign_in(&server.url(), "wang").await.unwrap();
    let alice = sign_in(&server.url(), "alice").await.unwrap();
    let order = ws.order_a.id;
    let mine = sent(&wang, order, propose("size", "40×30×12 cm", vec![])).await;
    let before = server_timeline(&wang, order).await;

    // Approving one's own proposal, or a colleague's (the same side).
    assert_eq!(
        raw(&wang, order, answer(mine, true, "")).await,
        ErrorCode::Forbidden
    );
    let chen = sign_in(&server.url(), "chen").await.unwrap();
    assert_eq!(
        raw(&chen, order, answer(mine, true, "")).await,
        ErrorCode::Forbidden
    );
    // A stage change from a stage the order is not in (someone moved it meanwhile).
    assert_eq!(
        raw(
            &wang,
            order,
            stage(Stage::Sample, Stage::Production, "", vec![])
        )
        .await,
        ErrorCode::Conflict
    );
    // Forward past an open card.
    assert_eq!(
        raw(
            &wang,
            order,
            stage(Stage::Inquiry, Stage::Sample, "", vec![])
        )
        .await,
        ErrorCode::InvalidField
    );
    // Customers post no progress and no shipping; staff do not confirm receipt.
    let progress = MessageBody::ProgressUpdate {
        stage: Stage::Inquiry,
        text: "x".into(),
        attachments: vec![],
    };
    assert_eq!(raw(&alice, order, progress).await, ErrorCode::Forbidden);
    // A card pointing at a message that is not a photo.
    let text = sent(
        &wang,
        order,
        MessageBody::Text {
            text: "见附件".into(),
            reply_to: None,
            needs_confirmation: false,
            deadline: None,
        },
    )
    .await;
    assert_eq!(
        raw(&wang, order, propose("logo", "烫金 gold foil", vec![text])).await,
        ErrorCode::InvalidField
    );
    // The record is evidence: a proposal is neither edited nor recalled.
    assert_eq!(
        raw(
            &wang,
            order,
            MessageBody::Edit {
                target: mine,
                text: "50 cm".into()
            }
        )
        .await,
        ErrorCode::InvalidField
    );
    assert_eq!(
        raw(&wang, order, MessageBody::Recall { target: mine }).await,
        ErrorCode::InvalidField
    );
    // Order messages outside orders.
    assert_eq!(
        raw(&wang, ws.internal.id, propose("colour", "red", vec![])).await,
        ErrorCode::InvalidField
    );
    // An assignee who is not staff of the order.
    let edit = MessageBody::OrderEdit {
        title: None,
        quantity: None,
        due_date: None,
        assignee: Some(ws.customer_a.id),
    };
    assert_eq!(raw(&wang, order, edit).await, ErrorCode::InvalidField);
    // Shipping without a tracking number; a quantity of zero.
    let shipment = MessageBody::Shipment {
        carrier: "SF".into(),
        tracking_numbers: vec![],
    };
    assert_eq!(raw(&wang, order, shipment).await, ErrorCode::InvalidField);
    let zero = MessageBody::OrderEdit {
        title: None,
        quantity: Some(0),
        due_date: None,
        assignee: None,
    };
    assert_eq!(raw(&wang, order, zero).await, ErrorCode::InvalidField);

    let mut after = server_timeline(&wang, order).await;
    after.pop(); // the one text message sent above
    assert_eq!(after, before, "no refused message was stored");

    // A duplicate order number.
    let duplicate = wang
        .create_conversation(&CreateConversationRequest {
            kind: ConversationKind::Order,
            title: "copy".into(),
            org_id: Some(ws.org_a.id),
            order_number: ws.order_a.order_number.clone(),
            quantity: None,
            due_date: None,
            assignee: None,
            member_ids: vec![],
        })
        .await;
    assert_eq!(code(duplicate), ErrorCode::Conflict);

    // An edit that is allowed changes the order for everyone in it.
    let edit = MessageBody::OrderEdit {
        title: Some("托特包 Tote v2".into()),
        quantity: Some(800),
        due_date: None,
        assignee: None,
    };
    wang.send(
        order,
        &SendMessageRequest {
            txn_id: txn(),
            body: edit,
        },
    )
    .await
    .unwrap();
    let seen = alice.conversation(order).await.unwrap();
    assert_eq!(seen.title, "托特包 Tote v2");
    assert_eq!(seen.order.and_then(|o| o.quantity), Some(800));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_workspace_has_an_order_in_every_stage_with_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("satchel.db").display()
    );
    let app = satchel_server::App::open(&url, &dir.path().join("files"))
        .await
        .unwrap();
    assert!(satchel_server::demo::seed(app.state()).await.unwrap());
    let store = &app.state().store;
    let wang = store
        .credentials("wang")
        .await
        .unwrap()
        .expect("wang exists")
        .member;
    let orders: Vec<Conversation> = store
        .conversations_of(wang.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.kind == ConversationKind::Order)
        .collect();
    let mut stages: Vec<Stage> = orders
        .iter()
        .map(|c| c.order.as_ref().expect("order details").stage)
        .collect();
    stages.sort();
    assert_eq!(stages, Stage::ALL.to_vec(), "one demo order per stage");
    let shipped = orders
        .iter()
        .filter(|c| c.order.as_ref().is_some_and(|o| o.shipping.is_some()))
        .count();
    assert_eq!(
        shipped, 2,
        "the shipping and done orders carry tracking numbers"
    );
    // Its photos are full resolution, with the preview a sender's app uploads beside
    // them, which the customer of the order may read.
    let mut photos = 0;
    for order in &orders {
        let customer = store
            .list_members(&wang)
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.org_id.is_some() && m.org_id == order.org_id)
            .expect("the order's customer");
        let page = store
            .history(wang.id, order.id, None, None, 500)
            .await
            .unwrap();
        for message in &page.messages {
            let MessageBody::Image { attachment, .. } = &message.body else {
                continue;
            };
            photos += 1;
            assert!(attachment.width.unwrap() * attachment.height.unwrap() >= 12_000_000);
            let preview = attachment.preview.as_ref().expect("a preview beside");
            assert_eq!(preview.width, 1024);
            let blob = store.blob(&preview.sha256).await.unwrap().expect("stored");
            assert_eq!(
                (blob.mime.as_str(), blob.size),
                ("image/jpeg", preview.size)
            );
            assert!(store
                .can_read_blob(customer.id, &preview.sha256)
                .await
                .unwrap());
        }
    }
    assert!(photos >= 3, "{photos} demo photos");
}
