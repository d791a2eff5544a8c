//! The store's contract, checked the same way on every database the server runs on:
//! one suite, generated per backend by `store_suite!`. PostgreSQL is the machine's real
//! server (each test gets a database of its own); SQLite a file in a temporary folder.
//! "Two nodes" are two stores opened on the same database, as two server processes
//! would open it.

use std::collections::BTreeSet;
use std::sync::Arc;

use satchel_protocol::*;
use satchel_server::store::sql::SqlStore;
use satchel_server::store::*;
use satchel_test_support::postgres::TestDatabase;

/// An empty database and what keeps it alive.
struct Fresh {
    url: String,
    _dir: Option<tempfile::TempDir>,
    _database: Option<TestDatabase>,
}

impl Fresh {
    async fn sqlite() -> Fresh {
        let dir = tempfile::tempdir().expect("a temporary folder");
        Fresh {
            url: satchel_test_support::sqlite_url(dir.path()),
            _dir: Some(dir),
            _database: None,
        }
    }

    async fn postgres() -> Fresh {
        let database = TestDatabase::create().await.expect("a PostgreSQL database");
        Fresh {
            url: database.url.clone(),
            _dir: None,
            _database: Some(database),
        }
    }

    /// A store on this database, as one server node opens it.
    async fn node(&self) -> Arc<dyn Store> {
        Arc::new(SqlStore::open(&self.url).await.expect("the store opens"))
    }
}

macro_rules! store_suite {
    ($($backend:ident),+) => {$(
        mod $backend {
            use super::*;

            #[tokio::test(flavor = "multi_thread")]
            async fn a_workspace_is_initialised_once() {
                super::a_workspace_is_initialised_once(Fresh::$backend().await).await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn concurrent_nodes_keep_seq_gapless_and_sends_idempotent() {
                super::concurrent_nodes_keep_seq_gapless_and_sends_idempotent(
                    Fresh::$backend().await,
                )
                .await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn a_refused_write_leaves_the_rest_of_its_batch() {
                super::a_refused_write_leaves_the_rest_of_its_batch(Fresh::$backend().await)
                    .await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn customers_see_only_their_own_organisation() {
                super::customers_see_only_their_own_organisation(Fresh::$backend().await)
                    .await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn history_pages_ascend_and_say_whether_more_exist() {
                super::history_pages_ascend_and_say_whether_more_exist(
                    Fresh::$backend().await,
                )
                .await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn receipts_only_move_forward_and_never_past_the_newest_message() {
                super::receipts_only_move_forward_and_never_past_the_newest_message(
                    Fresh::$backend().await,
                )
                .await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn uploads_resume_keep_to_the_quota_and_blobs_are_read_through_messages() {
                super::uploads_resume_keep_to_the_quota_and_blobs_are_read_through_messages(
                    Fresh::$backend().await,
                )
                .await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn annotations_point_at_photos_that_were_not_recalled() {
                super::annotations_point_at_photos_that_were_not_recalled(
                    Fresh::$backend().await,
                )
                .await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn invites_sessions_and_reminders_keep_their_rules() {
                super::invites_sessions_and_reminders_keep_their_rules(Fresh::$backend().await)
                    .await
            }
        }
    )+};
}

store_suite!(sqlite, postgres);

const NOW: UnixMillis = 1_800_000_000_000;

/// A factory admin, one staff member, and customers of two organisations.
struct People {
    admin: Member,
    staff: Member,
    alice: Member,
    bob: Member,
}

async fn person(store: &dyn Store, name: &str, role: Role, org: Option<OrgId>) -> Member {
    store
        .create_member(NewMember {
            username: name.into(),
            display_name: name.into(),
            role,
            org_id: org,
            password_hash: "not a real hash".into(),
        })
        .await
        .expect("a new member")
}

async fn people(store: &dyn Store) -> People {
    let admin = store
        .init_workspace(
            "宏达箱包厂",
            NewMember {
                username: "admin".into(),
                display_name: "管理员".into(),
                role: Role::Admin,
                org_id: None,
                password_hash: "not a real hash".into(),
            },
        )
        .await
        .expect("the workspace");
    let acme = store.create_org("Acme Bags").await.expect("an org");
    let bolt = store.create_org("Bolt Luggage").await.expect("an org");
    People {
        admin,
        staff: person(store, "lihua", Role::Staff, None).await,
        alice: person(store, "alice", Role::Customer, Some(acme.id)).await,
        bob: person(store, "bob", Role::Customer, Some(bolt.id)).await,
    }
}

async fn commit_one(store: &dyn Store, write: Write) -> Result<Outcome, StoreError> {
    let mut batch = store
        .commit_batch(vec![write], NOW)
        .await
        .expect("the batch commits");
    batch.outcomes.remove(0)
}

/// An order conversation of `customer`'s organisation with staff and the customer.
async fn order(
    store: &dyn Store,
    people: &People,
    customer: &Member,
    number: &str,
) -> Conversation {
    let created = commit_one(
        store,
        Write::CreateConversation {
            creator: people.staff.id,
            kind: ConversationKind::Order,
            title: format!("订单 {number}"),
            org_id: customer.org_id,
            order_number: Some(number.into()),
            order: None,
            member_ids: vec![customer.id],
        },
    )
    .await;
    match created {
        Ok(Outcome::Conversation(c)) => c,
        other => panic!("creating an order: {other:?}"),
    }
}

fn text(
    sender: &Member,
    device: &str,
    txn: &str,
    conversation: ConversationId,
    text: &str,
) -> Write {
    Write::Send {
        sender: sender.id,
        device: DeviceId(device.into()),
        conversation_id: conversation,
        txn_id: TxnId(txn.into()),
        body: MessageBody::Text {
            text: text.into(),
            reply_to: None,
            needs_confirmation: false,
            deadline: None,
        },
    }
}

fn sent(outcome: &Result<Outcome, StoreError>) -> api::SendAck {
    match outcome {
        Ok(Outcome::Sent(ack)) => *ack,
        other => panic!("expected a send: {other:?}"),
    }
}

async fn whole_history(store: &dyn Store, viewer: MemberId, id: ConversationId) -> Vec<Message> {
    let mut messages = Vec::new();
    loop {
        let page = store
            .history(
                viewer,
                id,
                None,
                messages.last().map(|m: &Message| m.seq),
                1000,
            )
            .await
            .expect("history");
        let more = page.has_more;
        messages.extend(page.messages);
        if !more {
            return messages;
        }
    }
}

async fn a_workspace_is_initialised_once(db: Fresh) {
    let store = db.node().await;
    assert!(store.workspace().await.expect("workspace").is_none());
    people(&*store).await;
    assert_eq!(
        store.workspace().await.expect("workspace").map(|w| w.name),
        Some("宏达箱包厂".to_owned())
    );
    let again = store
        .init_workspace(
            "another",
            NewMember {
                username: "root".into(),
                display_name: "root".into(),
                role: Role::Admin,
                org_id: None,
                password_hash: "x".into(),
            },
        )
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let taken = store
        .create_member(NewMember {
            username: "lihua".into(),
            display_name: "another Li Hua".into(),
            role: Role::Staff,
            org_id: None,
            password_hash: "x".into(),
        })
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
}

/// Two nodes, two writers each, sending into one conversation in batches, every send
/// also replayed on the other node: each transaction id makes exactly one message, the
/// replays answer the original, `seq` runs 1..=n without a gap, and the event log
/// holds each message once in commit order.
async fn concurrent_nodes_keep_seq_gapless_and_sends_idempotent(db: Fresh) {
    let nodes = [db.node().await, db.node().await];
    let people = people(&*nodes[0]).await;
    let conversation = order(&*nodes[0], &people, &people.alice, "PO-1").await;
    const WRITERS: usize = 4;
    const BATCHES: usize = 10;
    const PER_BATCH: usize = 5;
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let (mine, other) = (nodes[writer % 2].clone(), nodes[(writer + 1) % 2].clone());
        let sender = if writer % 2 == 0 {
            people.staff.clone()
        } else {
            people.alice.clone()
        };
        let id = conversation.id;
        tasks.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            for batch in 0..BATCHES {
                let writes: Vec<Write> = (0..PER_BATCH)
                    .map(|i| {
                        let txn = format!("w{writer}-b{batch}-{i}");
                        text(&sender, &format!("device-{writer}"), &txn, id, &txn)
                    })
                    .collect();
                let first = mine
                    .commit_batch(writes.clone(), NOW)
                    .await
                    .expect("commits");
                // The client did not hear the acks and sends again, to the other node.
                let replay = other.commit_batch(writes, NOW).await.expect("commits");
                for (original, again) in first.outcomes.iter().zip(&replay.outcomes) {
                    let (original, again) = (sent(original), sent(again));
                    assert!(!original.duplicate);
                    assert!(again.duplicate);
                    assert_eq!(original.message_id, again.message_id);
                    assert_eq!(original.seq, again.seq);
                    acks.push(original);
                }
                assert!(replay.events.is_empty(), "a replay appends no event");
            }
            acks
        }));
    }
    let mut acked = Vec::new();
    for task in tasks {
        acked.extend(task.await.expect("the writer finishes"));
    }
    let total = WRITERS * BATCHES * PER_BATCH;
    assert_eq!(acked.len(), total);

    let history = whole_history(&*nodes[1], people.staff.id, conversation.id).await;
    let seqs: Vec<i64> = history.iter().map(|m| m.seq.0).collect();
    assert_eq!(
        seqs,
        (1..=total as i64).collect::<Vec<_>>(),
        "gapless, in order"
    );
    let txns: BTreeSet<&str> = history.iter().map(|m| m.txn_id.as_str()).collect();
    assert_eq!(txns.len(), total, "one message per transaction id");
    for ack in &acked {
        assert_eq!(history[(ack.seq.0 - 1) as usize].id, ack.message_id);
    }
    // Chain links are each computed from the one before: both nodes agree on them.
    let mut previous = chain::GENESIS.to_owned();
    for message in &history {
        assert_eq!(
            message.chain,
            chain::link_of(message, &previous),
            "seq {}",
            message.seq
        );
        previous = message.chain.clone();
    }

    let events = nodes[0]
        .events_after(people.alice.id, StreamPos(0), 10_000)
        .await
        .expect("events");
    let positions: Vec<i64> = events.iter().map(|e| e.pos.0).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "positions ascend"
    );
    let message_seqs: Vec<i64> = events
        .iter()
        .filter_map(|e| match e.decode().expect("decodes").event {
            Event::Message { message } => Some(message.seq.0),
            _ => None,
        })
        .collect();
    assert_eq!(
        message_seqs, seqs,
        "the log holds each message once, in commit order"
    );
    assert_eq!(
        nodes[0].head().await.expect("head"),
        *events.last().map(|e| &e.pos).expect("events")
    );
}

async fn a_refused_write_leaves_the_rest_of_its_batch(db: Fresh) {
    let store = db.node().await;
    let people = people(&*store).await;
    let alices = order(&*store, &people, &people.alice, "PO-A").await;
    let bobs = order(&*store, &people, &people.bob, "PO-B").await;
    let batch = store
        .commit_batch(
            vec![
                text(&people.alice, "d-alice", "t1", alices.id, "first"),
                text(&people.alice, "d-alice", "t2", bobs.id, "not my order"),
                text(&people.alice, "d-alice", "t3", alices.id, "second"),
            ],
            NOW,
        )
        .await
        .expect("the batch commits");
    assert_eq!(sent(&batch.outcomes[0]).seq, Seq(1));
    assert!(
        matches!(batch.outcomes[1], Err(StoreError::NotFound)),
        "{:?}",
        batch.outcomes[1]
    );
    assert_eq!(sent(&batch.outcomes[2]).seq, Seq(2));
    assert!(whole_history(&*store, people.bob.id, bobs.id)
        .await
        .is_empty());
}

async fn customers_see_only_their_own_organisation(db: Fresh) {
    let store = db.node().await;
    let people = people(&*store).await;
    let alices = order(&*store, &people, &people.alice, "PO-A").await;
    sent(
        &commit_one(
            &*store,
            text(&people.staff, "d-staff", "t1", alices.id, "报价 12.5"),
        )
        .await,
    );

    assert!(matches!(
        store.conversation(people.bob.id, alices.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .history(people.bob.id, alices.id, None, None, 50)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.receipts(people.bob.id, alices.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(store
        .events_after(people.bob.id, StreamPos(0), 100)
        .await
        .expect("events")
        .is_empty());
    assert!(store
        .conversations_of(people.bob.id)
        .await
        .expect("list")
        .is_empty());
    assert_eq!(
        store
            .conversations_of(people.alice.id)
            .await
            .expect("list")
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>(),
        vec![alices.id]
    );

    let visible: BTreeSet<String> = store
        .list_members(&people.bob)
        .await
        .expect("members")
        .into_iter()
        .map(|m| m.username)
        .collect();
    assert_eq!(
        visible,
        BTreeSet::from(["admin".into(), "lihua".into(), "bob".into()])
    );

    let mixed = commit_one(
        &*store,
        Write::CreateConversation {
            creator: people.staff.id,
            kind: ConversationKind::Group,
            title: "both customers".into(),
            org_id: people.alice.org_id,
            order_number: None,
            order: None,
            member_ids: vec![people.alice.id, people.bob.id],
        },
    )
    .await;
    assert!(matches!(mixed, Err(StoreError::Forbidden(_))), "{mixed:?}");
    let by_customer = commit_one(
        &*store,
        Write::AddMembers {
            actor: people.alice.id,
            conversation_id: alices.id,
            member_ids: vec![people.bob.id],
        },
    )
    .await;
    assert!(
        matches!(by_customer, Err(StoreError::Forbidden(_))),
        "{by_customer:?}"
    );
    let taken = commit_one(
        &*store,
        Write::CreateConversation {
            creator: people.admin.id,
            kind: ConversationKind::Order,
            title: "again".into(),
            org_id: people.alice.org_id,
            order_number: Some("PO-A".into()),
            order: None,
            member_ids: vec![],
        },
    )
    .await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
}

async fn history_pages_ascend_and_say_whether_more_exist(db: Fresh) {
    let store = db.node().await;
    let people = people(&*store).await;
    let c = order(&*store, &people, &people.alice, "PO-H").await;
    let writes = (1..=25)
        .map(|i| {
            text(
                &people.staff,
                "d",
                &format!("t{i}"),
                c.id,
                &format!("message {i}"),
            )
        })
        .collect();
    store.commit_batch(writes, NOW).await.expect("commits");
    let seqs = |page: &api::HistoryPage| page.messages.iter().map(|m| m.seq.0).collect::<Vec<_>>();

    let newest = store
        .history(people.alice.id, c.id, None, None, 10)
        .await
        .expect("page");
    assert_eq!(seqs(&newest), (16..=25).collect::<Vec<_>>());
    assert!(newest.has_more);
    let older = store
        .history(people.alice.id, c.id, Some(Seq(16)), None, 10)
        .await
        .expect("page");
    assert_eq!(seqs(&older), (6..=15).collect::<Vec<_>>());
    let oldest = store
        .history(people.alice.id, c.id, Some(Seq(6)), None, 10)
        .await
        .expect("page");
    assert_eq!(seqs(&oldest), (1..=5).collect::<Vec<_>>());
    assert!(!oldest.has_more);
    let after = store
        .history(people.alice.id, c.id, None, Some(Seq(20)), 10)
        .await
        .expect("page");
    assert_eq!(seqs(&after), (21..=25).collect::<Vec<_>>());
    assert!(!after.has_more);
    let between = store
        .history(people.alice.id, c.id, Some(Seq(8)), Some(Seq(3)), 10)
        .await
        .expect("page");
    assert_eq!(seqs(&between), vec![4, 5, 6, 7]);
    assert_eq!(
        store
            .conversation(people.alice.id, c.id)
            .await
            .expect("c")
            .last_seq,
        Seq(25)
    );
}

async fn receipts_only_move_forward_and_never_past_the_newest_message(db: Fresh) {
    let store = db.node().await;
    let people = people(&*store).await;
    let c = order(&*store, &people, &people.alice, "PO-R").await;
    let writes = (1..=5)
        .map(|i| text(&people.staff, "d", &format!("t{i}"), c.id, "hi"))
        .collect();
    store.commit_batch(writes, NOW).await.expect("commits");
    let receipt = |delivered: Option<i64>, read: Option<i64>| Write::Receipt {
        member: people.alice.id,
        conversation_id: c.id,
        delivered_up_to: delivered.map(Seq),
        read_up_to: read.map(Seq),
    };
    let read = |o: Result<Outcome, StoreError>| match o {
        Ok(Outcome::Receipt(r)) => (r.delivered_up_to.0, r.read_up_to.0),
        other => panic!("expected a receipt: {other:?}"),
    };
    assert_eq!(
        read(commit_one(&*store, receipt(Some(2), None)).await),
        (2, 0)
    );
    assert_eq!(
        read(commit_one(&*store, receipt(None, Some(3))).await),
        (3, 3),
        "reading delivers"
    );
    assert_eq!(
        read(commit_one(&*store, receipt(Some(1), Some(1))).await),
        (3, 3),
        "never back"
    );
    assert_eq!(
        read(commit_one(&*store, receipt(None, Some(99))).await),
        (5, 5),
        "never past"
    );
    let stored = store
        .receipts(people.staff.id, c.id)
        .await
        .expect("receipts");
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (stored[0].member_id, stored[0].read_up_to),
        (people.alice.id, Seq(5))
    );
    let stranger = commit_one(
        &*store,
        Write::Receipt {
            member: people.bob.id,
            conversation_id: c.id,
            delivered_up_to: None,
            read_up_to: Some(Seq(5)),
        },
    )
    .await;
    assert!(
        matches!(stranger, Err(StoreError::NotFound)),
        "{stranger:?}"
    );
}

fn upload(id: &str, member: &Member, sha256: &str, size: u64) -> Upload {
    Upload {
        id: id.into(),
        member_id: member.id,
        sha256: sha256.into(),
        size,
        offset: 0,
        synced_offset: 0,
        expires_at: NOW + 86_400_000,
        complete: false,
    }
}

fn image(
    sender: &Member,
    txn: &str,
    conversation: ConversationId,
    sha256: &str,
    size: u64,
) -> Write {
    Write::Send {
        sender: sender.id,
        device: DeviceId(format!("d-{}", sender.username)),
        conversation_id: conversation,
        txn_id: TxnId(txn.into()),
        body: MessageBody::Image {
            attachment: AttachmentRef {
                sha256: sha256.into(),
                size,
                mime: "claimed/by-client".into(),
                name: "样品 正面.jpg".into(),
                width: Some(6000),
                height: Some(4000),
                preview: None,
                screen: None,
            },
            caption: "v2".into(),
        },
    }
}

async fn uploads_resume_keep_to_the_quota_and_blobs_are_read_through_messages(db: Fresh) {
    let store = db.node().await;
    let people = people(&*store).await;
    let alices = order(&*store, &people, &people.alice, "PO-U").await;
    let photo = "a".repeat(64);
    const QUOTA: u64 = 10_000;

    let started = store
        .create_upload(upload("u1", &people.staff, &photo, 6_000), QUOTA)
        .await
        .expect("starts");
    assert_eq!((started.offset, started.complete), (0, false));
    store
        .set_upload_offset("u1", 4_096, NOW + 1)
        .await
        .expect("offset");
    // The client lost the id: asking again resumes the same upload where it stopped.
    let resumed = store
        .create_upload(upload("u2", &people.staff, &photo, 6_000), QUOTA)
        .await
        .expect("resumes");
    assert_eq!((resumed.id.as_str(), resumed.offset), ("u1", 4_096));
    // What is on disk is kept apart from what was written: never past it, never back.
    let offsets = || async {
        let u = store
            .upload(people.staff.id, "u1")
            .await
            .expect("lookup")
            .expect("the upload");
        (u.offset, u.synced_offset)
    };
    assert_eq!(offsets().await, (4_096, 0));
    store.set_upload_synced("u1", 2_048).await.expect("synced");
    store.set_upload_synced("u1", 1_024).await.expect("synced");
    store.set_upload_synced("u1", 8_192).await.expect("synced");
    assert_eq!(offsets().await, (4_096, 2_048));
    // Rewound to what is on disk, the bytes past it are to be sent again.
    store.rewind_upload("u1", 2_048).await.expect("rewound");
    assert_eq!(offsets().await, (2_048, 2_048));
    store
        .set_upload_offset("u1", 4_096, NOW + 1)
        .await
        .expect("offset");
    let over = store
        .create_upload(upload("u3", &people.staff, &"b".repeat(64), 5_000), QUOTA)
        .await;
    assert!(
        matches!(over, Err(StoreError::Quota { quota: QUOTA })),
        "{over:?}"
    );
    assert!(store
        .upload(people.staff.id, "u3")
        .await
        .expect("lookup")
        .is_none());
    assert!(
        store
            .upload(people.alice.id, "u1")
            .await
            .expect("lookup")
            .is_none(),
        "not alice's"
    );

    // Unknown until complete; then readable by its uploader only.
    assert!(matches!(
        commit_one(
            &*store,
            image(&people.staff, "i0", alices.id, &photo, 6_000)
        )
        .await,
        Err(StoreError::Invalid(_))
    ));
    let blob = BlobInfo {
        sha256: photo.clone(),
        size: 6_000,
        mime: "image/jpeg".into(),
    };
    store
        .complete_upload("u1", &blob, NOW)
        .await
        .expect("completes");
    assert_eq!(store.blob(&photo).await.expect("blob"), Some(blob));
    assert!(store
        .can_read_blob(people.staff.id, &photo)
        .await
        .expect("check"));
    for member in [&people.alice, &people.bob] {
        assert!(
            !store.can_read_blob(member.id, &photo).await.expect("check"),
            "knowing a hash is not enough"
        );
    }
    let message =
        sent(&commit_one(&*store, image(&people.staff, "i1", alices.id, &photo, 1)).await);
    let history = whole_history(&*store, people.alice.id, alices.id).await;
    match &history[(message.seq.0 - 1) as usize].body {
        MessageBody::Image { attachment, .. } => {
            assert_eq!(
                (attachment.size, attachment.mime.as_str()),
                (6_000, "image/jpeg"),
                "the server's measure, not the client's claim"
            );
        }
        other => panic!("expected the photo: {other:?}"),
    }
    assert!(
        store
            .can_read_blob(people.alice.id, &photo)
            .await
            .expect("check"),
        "alice sees it in her order"
    );
    assert!(
        !store
            .can_read_blob(people.bob.id, &photo)
            .await
            .expect("check"),
        "bob does not"
    );
    // Bob cannot attach it either, even in a conversation of his own.
    let bobs = order(&*store, &people, &people.bob, "PO-B").await;
    assert!(matches!(
        commit_one(&*store, image(&people.bob, "i2", bobs.id, &photo, 6_000)).await,
        Err(StoreError::Invalid(_))
    ));
    // A file someone may already read completes at once, without bytes.
    let known = store
        .create_upload(upload("u4", &people.alice, &photo, 6_000), QUOTA)
        .await
        .expect("starts");
    assert_eq!((known.complete, known.offset), (true, 6_000));

    let stale = store
        .create_upload(upload("u5", &people.bob, &"c".repeat(64), 10), QUOTA)
        .await
        .expect("starts");
    assert_eq!(
        store
            .expired_uploads(NOW + 2 * 86_400_000)
            .await
            .expect("expired"),
        vec![stale.id.clone()]
    );
    store.delete_upload(&stale.id).await.expect("deleted");
    assert!(store
        .expired_uploads(NOW + 2 * 86_400_000)
        .await
        .expect("expired")
        .is_empty());
}

async fn annotations_point_at_photos_that_were_not_recalled(db: Fresh) {
    let store = db.node().await;
    let people = people(&*store).await;
    let c = order(&*store, &people, &people.alice, "PO-P").await;
    let photo = "d".repeat(64);
    store
        .create_upload(upload("u1", &people.staff, &photo, 100), 1 << 20)
        .await
        .expect("starts");
    store
        .complete_upload(
            "u1",
            &BlobInfo {
                sha256: photo.clone(),
                size: 100,
                mime: "image/jpeg".into(),
            },
            NOW,
        )
        .await
        .expect("completes");
    let shot = sent(&commit_one(&*store, image(&people.staff, "p1", c.id, &photo, 100)).await);
    let words = sent(&commit_one(&*store, text(&people.staff, "d", "t1", c.id, "看一下")).await);
    let annotate = |txn: &str, image: MessageId| Write::Send {
        sender: people.alice.id,
        device: DeviceId("d-alice".into()),
        conversation_id: c.id,
        txn_id: TxnId(txn.into()),
        body: MessageBody::Annotation {
            image,
            mark: Mark::Box {
                region: Region {
                    x: 0.25,
                    y: 0.5,
                    w: 0.1,
                    h: 0.125,
                },
            },
            comment: "这里的走线歪了".into(),
        },
    };
    sent(&commit_one(&*store, annotate("a1", shot.message_id)).await);
    let on_text = commit_one(&*store, annotate("a2", words.message_id)).await;
    assert!(
        matches!(on_text, Err(StoreError::Invalid(_))),
        "{on_text:?}"
    );
    let recall = Write::Send {
        sender: people.staff.id,
        device: DeviceId("d".into()),
        conversation_id: c.id,
        txn_id: TxnId("r1".into()),
        body: MessageBody::Recall {
            target: shot.message_id,
        },
    };
    sent(&commit_one(&*store, recall).await);
    let on_recalled = commit_one(&*store, annotate("a3", shot.message_id)).await;
    assert!(
        matches!(on_recalled, Err(StoreError::Invalid(_))),
        "{on_recalled:?}"
    );
    // Only a message's sender recalls it.
    let not_hers = Write::Send {
        sender: people.alice.id,
        device: DeviceId("d-alice".into()),
        conversation_id: c.id,
        txn_id: TxnId("r2".into()),
        body: MessageBody::Recall {
            target: words.message_id,
        },
    };
    assert!(matches!(
        commit_one(&*store, not_hers).await,
        Err(StoreError::Forbidden(_))
    ));
    let stage = Write::Send {
        sender: people.staff.id,
        device: DeviceId("d".into()),
        conversation_id: c.id,
        txn_id: TxnId("s1".into()),
        body: MessageBody::StageChange {
            from: Stage::Inquiry,
            to: Stage::Sample,
            reason: String::new(),
            waived: vec![],
        },
    };
    sent(&commit_one(&*store, stage).await);
    let order = store
        .conversation(people.alice.id, c.id)
        .await
        .expect("c")
        .order
        .expect("an order");
    assert_eq!(order.stage, Stage::Sample);
    let stale = Write::Send {
        sender: people.staff.id,
        device: DeviceId("d".into()),
        conversation_id: c.id,
        txn_id: TxnId("s2".into()),
        body: MessageBody::StageChange {
            from: Stage::Inquiry,
            to: Stage::Sample,
            reason: String::new(),
            waived: vec![],
        },
    };
    assert!(
        commit_one(&*store, stale).await.is_err(),
        "the order is no longer at inquiry"
    );
}

async fn invites_sessions_and_reminders_keep_their_rules(db: Fresh) {
    let store = db.node().await;
    let people = people(&*store).await;
    store
        .create_invite(NewInvite {
            code_hash: "h1".into(),
            role: Role::Customer,
            org_id: people.alice.org_id,
            created_by: people.staff.id,
            created_at: NOW,
            expires_at: NOW + 1000,
        })
        .await
        .expect("invite");
    let expired = store
        .redeem_invite("h1", NOW + 1000, "carol", "Carol", "x")
        .await;
    assert!(matches!(expired, Err(StoreError::NotFound)), "{expired:?}");
    let taken = store
        .redeem_invite("h1", NOW, "alice", "Alice 2", "x")
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
    let carol = store
        .redeem_invite("h1", NOW, "carol", "Carol", "x")
        .await
        .expect("redeemed");
    assert_eq!(
        (carol.role, carol.org_id),
        (Role::Customer, people.alice.org_id)
    );
    let twice = store.redeem_invite("h1", NOW, "dave", "Dave", "x").await;
    assert!(matches!(twice, Err(StoreError::NotFound)), "{twice:?}");

    let device = DeviceId("laptop".into());
    store
        .create_session("s1", carol.id, &device, "Carol's laptop", NOW + 1000)
        .await
        .expect("session");
    let session = store
        .session("s1", NOW)
        .await
        .expect("lookup")
        .expect("a session");
    assert_eq!((session.member.id, session.device_id), (carol.id, device));
    assert!(
        store
            .session("s1", NOW + 1000)
            .await
            .expect("lookup")
            .is_none(),
        "expired"
    );
    store.revoke_session("s1", NOW).await.expect("revoked");
    assert!(
        store.session("s1", NOW).await.expect("lookup").is_none(),
        "revoked"
    );

    let c = order(&*store, &people, &people.alice, "PO-M").await;
    let quote = sent(&commit_one(&*store, text(&people.staff, "d", "t1", c.id, "报价")).await);
    let remind = |at: UnixMillis, actor: MemberId| {
        let store = store.clone();
        async move {
            let write = Write::Remind {
                actor,
                conversation_id: c.id,
                message_id: quote.message_id,
            };
            store
                .commit_batch(vec![write], at)
                .await
                .expect("commits")
                .outcomes
                .remove(0)
        }
    };
    match remind(NOW, people.staff.id).await {
        Ok(Outcome::Reminder(r)) => assert_eq!(r.to, vec![people.alice.id]),
        other => panic!("expected a reminder: {other:?}"),
    }
    assert!(matches!(
        remind(NOW + 1, people.staff.id).await,
        Err(StoreError::TooSoon { .. })
    ));
    assert!(matches!(
        remind(NOW, people.alice.id).await,
        Err(StoreError::Forbidden(_))
    ));
    commit_one(
        &*store,
        Write::Receipt {
            member: people.alice.id,
            conversation_id: c.id,
            delivered_up_to: None,
            read_up_to: Some(quote.seq),
        },
    )
    .await
    .expect("read");
    let later = NOW + REMIND_INTERVAL_MS;
    assert!(
        matches!(
            remind(later, people.staff.id).await,
            Err(StoreError::Conflict(_))
        ),
        "everyone has read it"
    );
}
