//! Read receipts that matter: who has read a message and when, deadlines that warn the
//! sender and remind the recipients ahead of time, "remind now" for the members who
//! still have not read, and nobody outside the conversation seeing any of it.
//!
//! Deadline alerts take the time as a parameter, so these tests move a clock of their
//! own instead of waiting for the wall clock.

use std::time::Duration;

use satchel_client::{DeadlineAlertKind, Engine, ReadState};
use satchel_protocol::api::CreateMemberRequest;
use satchel_protocol::*;
use satchel_test_support::{engine, sign_in, TestServer, Workspace, PASSWORD};

use crate::support::{code, confirmed, settle};

const MINUTE: i64 = 60_000;
const LEAD: Duration = Duration::from_secs(60 * 60);

fn now_millis() -> UnixMillis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn state_of(states: &[ReadState], member: MemberId) -> ReadState {
    states
        .iter()
        .find(|s| s.member_id == member)
        .cloned()
        .unwrap_or_else(|| panic!("no read state for {member} in {states:?}"))
}

/// The conversation list's row for one conversation.
async fn row(engine: &Engine, conversation: ConversationId) -> satchel_client::ConversationSummary {
    engine
        .conversations()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.conversation.id == conversation)
        .unwrap()
}

/// Waits until `check` holds for the sender's read states.
async fn wait_for_states(
    sender: &Engine,
    conversation: ConversationId,
    seq: Seq,
    what: &str,
    check: impl Fn(&[ReadState]) -> bool,
) -> Vec<ReadState> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let states = sender.read_states(conversation, seq).await.unwrap();
        if check(&states) {
            return states;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: read states stayed {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_readers_one_at_once_one_later_one_never() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    // A third reader in Acme's order: alice reads at once, chen later, anna never.
    let anna = ws
        .admin
        .create_member(&CreateMemberRequest {
            username: "anna".into(),
            display_name: "Anna (Acme QC)".into(),
            password: PASSWORD.into(),
            role: Role::Customer,
            org_id: Some(ws.org_a.id),
        })
        .await
        .unwrap();
    let wang_api = sign_in(&server.url(), "wang").await.unwrap();
    wang_api
        .add_members(ws.order_a.id, vec![anna.id])
        .await
        .unwrap();
    let (alice_id, chen_id) = (ws.customer_a.id, ws.staff[1].id);

    let dirs: Vec<_> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
    let url = server.url();
    let wang = engine(dirs[0].path(), &url, "wang").await.unwrap();
    let alice = engine(dirs[1].path(), &url, "alice").await.unwrap();
    let chen = engine(dirs[2].path(), &url, "chen").await.unwrap();
    let anna_e = engine(dirs[3].path(), &url, "anna").await.unwrap();
    let somchai = engine(dirs[4].path(), &url, &ws.customer_b.username)
        .await
        .unwrap();
    let everyone = [&wang, &alice, &chen, &anna_e, &somchai];
    for e in everyone {
        e.start().await.unwrap();
    }

    // A quote that must be read by ten tomorrow (two hours from now, in test time).
    let deadline = now_millis() + 120 * MINUTE;
    let quote = wang
        .send(
            ws.order_a.id,
            MessageBody::Text {
                text: "请确认报价：¥86/个，明天十点前定下来".into(),
                reply_to: None,
                needs_confirmation: true,
                deadline: Some(deadline),
            },
        )
        .await
        .unwrap();
    settle(&everyone, Duration::from_secs(30)).await;
    let sent = confirmed(&wang, ws.order_a.id, &quote).await;
    let (id, seq, sent_at) = (sent.id.unwrap(), sent.seq.unwrap(), sent.sent_at.unwrap());

    // Recipients see the deadline on the conversation until they read it. The sender
    // being idle says nothing of anna's copy having arrived: wait for it.
    let wait_until = tokio::time::Instant::now() + Duration::from_secs(30);
    let anna_row = loop {
        let anna_row = row(&anna_e, ws.order_a.id).await;
        if anna_row.next_deadline.is_some() || tokio::time::Instant::now() > wait_until {
            break anna_row;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(anna_row.next_deadline, Some(deadline));

    // Alice reads at once. Everyone's client has it, so all three are delivered; only
    // alice has read it.
    let before_alice = now_millis();
    alice.mark_read(ws.order_a.id, seq).await.unwrap();
    let states = wait_for_states(&wang, ws.order_a.id, seq, "alice reading", |s| {
        s.len() == 3 && s.iter().all(|r| r.delivered) && state_of(s, alice_id).read_at.is_some()
    })
    .await;
    let alice_read_at = state_of(&states, alice_id).read_at.unwrap();
    assert!(
        alice_read_at >= before_alice,
        "read time is when it was read"
    );
    assert_eq!(state_of(&states, chen_id).read_at, None);
    assert_eq!(state_of(&states, anna.id).read_at, None);

    // Well before the deadline, nobody is alerted.
    let early = deadline - 61 * MINUTE;
    for e in everyone {
        assert!(e
            .take_deadline_alerts(early, LEAD)
            .await
            .unwrap()
            .is_empty());
    }

    // Chen reads later; his read time is his, not alice's, and alice's does not move
    // when a later receipt of hers arrives.
    tokio::time::sleep(Duration::from_millis(50)).await;
    chen.mark_read(ws.order_a.id, seq).await.unwrap();
    let states = wait_for_states(&wang, ws.order_a.id, seq, "chen reading", |s| {
        state_of(s, chen_id).read_at.is_some()
    })
    .await;
    assert!(state_of(&states, chen_id).read_at.unwrap() > alice_read_at);
    let follow_up = alice
        .send_text(ws.order_a.id, "我们内部再看一下", None)
        .await
        .unwrap();
    settle(&everyone, Duration::from_secs(30)).await;
    let later_seq = confirmed(&alice, ws.order_a.id, &follow_up)
        .await
        .seq
        .unwrap();
    wang.mark_read(ws.order_a.id, later_seq).await.unwrap();
    settle(&everyone, Duration::from_secs(30)).await;
    let states = wang.read_states(ws.order_a.id, seq).await.unwrap();
    assert_eq!(state_of(&states, alice_id).read_at, Some(alice_read_at));

    // An hour before the deadline: the sender learns that anna has not read it, and
    // anna — only anna — is reminded. Each alert comes once.
    let due = deadline - 59 * MINUTE;
    let alerts = wang.take_deadline_alerts(due, LEAD).await.unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].kind, DeadlineAlertKind::Unread);
    assert_eq!(alerts[0].unread, vec![anna.id]);
    assert_eq!(alerts[0].message.id, Some(id));
    assert_eq!(alerts[0].deadline, deadline);
    assert!(wang
        .take_deadline_alerts(due, LEAD)
        .await
        .unwrap()
        .is_empty());
    let reminders = anna_e.take_deadline_alerts(due, LEAD).await.unwrap();
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    assert_eq!(reminders[0].kind, DeadlineAlertKind::Reminder);
    assert!(anna_e
        .take_deadline_alerts(due + MINUTE, LEAD)
        .await
        .unwrap()
        .is_empty());
    for reader in [&alice, &chen, &somchai] {
        assert!(reader
            .take_deadline_alerts(due, LEAD)
            .await
            .unwrap()
            .is_empty());
    }
    // The warning time never falls right after sending, even with a lead time longer
    // than the time left.
    assert!(deadline_warning_at(sent_at, deadline, 3 * 60 * MINUTE) > sent_at);

    // "Remind now" reaches exactly the member who has not read it.
    let reminder = wang.remind(ws.order_a.id, id).await.unwrap();
    assert_eq!(reminder.to, vec![anna.id]);
    assert_eq!(
        (reminder.from, reminder.seq),
        (wang.account().unwrap().member.id, seq)
    );
    settle(&everyone, Duration::from_secs(30)).await;
    // Being idle does not mean the live event has arrived yet: wait for it.
    let wait_until = tokio::time::Instant::now() + Duration::from_secs(30);
    let for_anna = loop {
        let taken = anna_e.take_reminders().await.unwrap();
        if !taken.is_empty() || tokio::time::Instant::now() > wait_until {
            break taken;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(for_anna.len(), 1);
    assert_eq!(for_anna[0].message_id, id);
    assert!(anna_e.take_reminders().await.unwrap().is_empty(), "once");
    for other in [&wang, &alice, &chen, &somchai] {
        assert!(other.take_reminders().await.unwrap().is_empty());
    }
    // Nudging is rate-limited, and only the sender may nudge.
    assert_eq!(
        code(wang.remind(ws.order_a.id, id).await),
        ErrorCode::RateLimited
    );
    assert_eq!(
        code(alice.remind(ws.order_a.id, id).await),
        ErrorCode::Forbidden
    );

    // Another organisation sees nothing of it: not the receipts, not the reminder, and
    // cannot nudge.
    assert_eq!(
        code(somchai.remind(ws.order_a.id, id).await),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(somchai.api().unwrap().receipts(ws.order_a.id).await),
        ErrorCode::NotFound
    );
    assert!(somchai.receipts(ws.order_a.id).await.unwrap().is_empty());

    // Once anna reads it, the deadline leaves her list; with nobody left unread, a
    // reminder is refused.
    anna_e.mark_read(ws.order_a.id, later_seq).await.unwrap();
    settle(&everyone, Duration::from_secs(30)).await;
    let anna_row = row(&anna_e, ws.order_a.id).await;
    assert_eq!(anna_row.next_deadline, None);
    wait_for_states(&wang, ws.order_a.id, seq, "anna reading", |s| {
        s.iter().all(|r| r.read_at.is_some())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_alerts_are_given_once_across_restarts_and_muting_is_kept() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let (wang_dir, somchai_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let wang = engine(wang_dir.path(), &server.url(), "wang")
        .await
        .unwrap();
    let somchai = engine(somchai_dir.path(), &server.url(), &ws.customer_b.username)
        .await
        .unwrap();
    wang.start().await.unwrap();
    somchai.start().await.unwrap();

    let deadline = now_millis() + 30 * MINUTE;
    wang.send(
        ws.order_b.id,
        MessageBody::Text {
            text: "Please confirm the carton marks by 3 pm".into(),
            reply_to: None,
            needs_confirmation: false,
            deadline: Some(deadline),
        },
    )
    .await
    .unwrap();
    settle(&[&wang, &somchai], Duration::from_secs(30)).await;

    // Due in 30 minutes with an hour's lead: the warning waits until halfway.
    assert!(somchai
        .take_deadline_alerts(deadline - 16 * MINUTE, LEAD)
        .await
        .unwrap()
        .is_empty());
    let alerts = somchai
        .take_deadline_alerts(deadline - 14 * MINUTE, LEAD)
        .await
        .unwrap();
    assert_eq!(alerts.len(), 1);

    // Muting is a local choice that survives a restart, like the alerts given.
    somchai.set_muted(ws.order_b.id, true).await.unwrap();
    somchai.close().await;
    drop(somchai);
    let somchai = Engine::open(somchai_dir.path(), None).await.unwrap();
    somchai.start().await.unwrap();
    assert!(somchai
        .take_deadline_alerts(deadline - 10 * MINUTE, LEAD)
        .await
        .unwrap()
        .is_empty());
    assert!(row(&somchai, ws.order_b.id).await.muted);
    assert_eq!(
        code_of_local(somchai.set_muted(ws.order_a.id, true).await),
        "not found"
    );

    // A deadline that is not a plausible date is refused before it is queued.
    let bad = wang
        .send(
            ws.order_b.id,
            MessageBody::Text {
                text: "seconds, not milliseconds".into(),
                reply_to: None,
                needs_confirmation: false,
                deadline: Some(deadline / 1000),
            },
        )
        .await;
    assert!(bad.is_err(), "{bad:?}");
}

/// Errors the engine raises itself, without asking the server.
fn code_of_local<T: std::fmt::Debug>(
    result: Result<T, satchel_client::EngineError>,
) -> &'static str {
    match result {
        Err(satchel_client::EngineError::NotFound(_)) => "not found",
        other => panic!("expected a local not-found, got {other:?}"),
    }
}
