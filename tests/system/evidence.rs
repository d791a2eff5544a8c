//! Order chat as evidence: every conversation's history is a hash chain that each
//! client checks as it syncs, an altered history raises an alarm on every device that
//! sees it, and an exported record verifies offline — and stops verifying, naming
//! what is wrong, after any change to it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use satchel_client::export::{ExportFormat, VerifyError};
use satchel_client::{ChainProblem, Engine, EngineError};
use satchel_protocol::chain;
use satchel_protocol::export::{CheckOptions, Manifest, Problem, Report};
use satchel_protocol::*;
use satchel_test_support::{
    binary, engine, init_workspace, sqlite_url, ServerProcess, TestServer, Workspace,
};
use sqlx::{Connection, Row};

use crate::support::{confirmed, settle};

const SETTLE: Duration = Duration::from_secs(30);

/// A small real JPEG, so the server sniffs and records it as a photo.
fn photo(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let image = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 3, y as u8 * 5, 90]));
    image.save(&path).unwrap();
    path
}

/// A conversation with every kind of message a record holds: texts in Chinese and
/// English, a photo with a Chinese name with spaces, an edit, a recall, a proposal
/// card and its answer. Returns the photo's path.
async fn converse(wang: &Engine, alice: &Engine, order: ConversationId, dir: &Path) -> PathBuf {
    let quote = wang
        .send_text(order, "报价：¥86/个，YKK 5号拉链", None)
        .await
        .unwrap();
    alice
        .send_text(order, "Please use <b>black</b> PU & YKK zippers", None)
        .await
        .unwrap();
    let path = photo(dir, "样品 第一轮.jpg");
    let sample = wang.send_file(order, &path, "第一轮样品").await.unwrap();
    settle(&[wang, alice], SETTLE).await;
    let quote = confirmed(wang, order, &quote).await.id.unwrap();
    let sample = confirmed(wang, order, &sample).await.id.unwrap();
    wang.send(
        order,
        MessageBody::Edit {
            target: quote,
            text: "报价：¥88/个，YKK 5号拉链".into(),
        },
    )
    .await
    .unwrap();
    let typo = wang
        .send_text(order, "交期 12/20 (typo)", None)
        .await
        .unwrap();
    settle(&[wang, alice], SETTLE).await;
    let typo = confirmed(wang, order, &typo).await.id.unwrap();
    wang.send(order, MessageBody::Recall { target: typo })
        .await
        .unwrap();
    let card = wang
        .send(
            order,
            MessageBody::ConfirmationRequest {
                item: "colour".into(),
                value: "黑色 Black".into(),
                attachments: vec![sample],
                needs_confirmation: true,
                deadline: None,
            },
        )
        .await
        .unwrap();
    settle(&[wang, alice], SETTLE).await;
    let card = confirmed(wang, order, &card).await.id.unwrap();
    wait_for(alice, card).await;
    alice
        .send(
            order,
            MessageBody::ConfirmationAnswer {
                request: card,
                approved: true,
                comment: "OK 黑色".into(),
            },
        )
        .await
        .unwrap();
    settle(&[wang, alice], SETTLE).await;
    let last = alice.local().max_seq(order).await.unwrap();
    alice.mark_read(order, last).await.unwrap();
    settle(&[wang, alice], SETTLE).await;
    path
}

async fn wait_for(engine: &Engine, id: MessageId) {
    let deadline = tokio::time::Instant::now() + SETTLE;
    while engine.local().message(id).await.unwrap().is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "message {id} never arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `engine` holds every message the server has in `conversation`, with
/// links, and has verified them.
async fn verified_to_end(engine: &Engine, conversation: ConversationId) -> (Seq, String) {
    let api = engine.api().unwrap();
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        let page = api.history(conversation, None, None, 1000).await.unwrap();
        let last = page.messages.last().unwrap().clone();
        let head = engine.local().verified_head(conversation).await.unwrap();
        if head.0 == last.seq {
            assert_eq!(
                head.1, last.chain,
                "verified head differs from the server's"
            );
            return head;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "verification stopped at {head:?}; the server is at seq {}",
            last.seq
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A server with the seeded workspace, and running engines for staff member wang and
/// customer alice (profile folders 0 and 1; 2 and 3 are spare).
async fn two_sides() -> (
    TestServer,
    Workspace,
    Vec<tempfile::TempDir>,
    Engine,
    Engine,
) {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let wang = engine(dirs[0].path(), &server.url(), "wang").await.unwrap();
    let alice = engine(dirs[1].path(), &server.url(), "alice")
        .await
        .unwrap();
    wang.start().await.unwrap();
    alice.start().await.unwrap();
    (server, ws, dirs, wang, alice)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_checks_every_link_as_it_syncs() {
    let (server, ws, dirs, wang, alice) = two_sides().await;
    converse(&wang, &alice, ws.order_a.id, dirs[3].path()).await;

    // The server's links follow the documented rule from the first message on.
    let history = wang
        .api()
        .unwrap()
        .history(ws.order_a.id, None, None, 1000)
        .await
        .unwrap()
        .messages;
    let mut previous = chain::GENESIS.to_owned();
    for m in &history {
        assert_eq!(m.chain, chain::link_of(m, &previous), "seq {}", m.seq);
        previous.clone_from(&m.chain);
    }

    // Both live clients, the sender's own messages included, verified all of it.
    let head = verified_to_end(&wang, ws.order_a.id).await;
    assert_eq!(verified_to_end(&alice, ws.order_a.id).await, head);
    assert_eq!(head.0, history.last().unwrap().seq);
    // A colleague's new device replays the stream from the start and agrees.
    let chen = engine(dirs[2].path(), &server.url(), "chen").await.unwrap();
    chen.start().await.unwrap();
    settle(&[&chen], SETTLE).await;
    assert_eq!(verified_to_end(&chen, ws.order_a.id).await, head);
    for e in [&wang, &alice, &chen] {
        assert_eq!(e.chain_alarms(None).await.unwrap(), vec![]);
        let summary = e.conversations().await.unwrap();
        assert!(summary.iter().all(|s| s.chain_alarms == 0));
    }
}

/// Opens the server's database as an operator with a SQLite shell would.
async fn database(data: &Path) -> sqlx::SqliteConnection {
    sqlx::SqliteConnection::connect(&sqlite_url(data))
        .await
        .unwrap()
}

/// Changes a text message's words in both places the server keeps them (its history
/// and its stream log), leaving its link as it was.
async fn alter_text(data: &Path, conversation: ConversationId, seq: i64, words: &str) {
    let mut db = database(data).await;
    let id: i64 = sqlx::query_scalar(
        "UPDATE messages SET body = json_set(body, '$.text', ?1)
         WHERE conversation_id = ?2 AND seq = ?3 RETURNING id",
    )
    .bind(words)
    .bind(conversation.0)
    .bind(seq)
    .fetch_one(&mut db)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE events SET payload = json_set(payload, '$.message.body.text', ?1)
         WHERE json_extract(payload, '$.message.id') = ?2",
    )
    .bind(words)
    .bind(id)
    .execute(&mut db)
    .await
    .unwrap();
}

/// A careful forger: recomputes every link from `from` on, in both places, so the
/// altered chain is consistent in itself.
async fn relink_from(data: &Path, conversation: ConversationId, from: i64) {
    let mut db = database(data).await;
    let rows = sqlx::query(
        "SELECT id, seq, sender_id, device_id, txn_id, sent_at, body, chain FROM messages
         WHERE conversation_id = ? ORDER BY seq",
    )
    .bind(conversation.0)
    .fetch_all(&mut db)
    .await
    .unwrap();
    let mut previous = chain::GENESIS.to_owned();
    for row in rows {
        let seq: i64 = row.get("seq");
        let id: i64 = row.get("id");
        let link = if seq < from {
            row.get::<String, _>("chain")
        } else {
            let device: String = row.get("device_id");
            let txn: String = row.get("txn_id");
            let body: String = row.get("body");
            let link = chain::Chained {
                conversation_id: conversation,
                seq: Seq(seq),
                id: MessageId(id),
                sender_id: MemberId(row.get("sender_id")),
                sender_device: &device,
                txn_id: &txn,
                sent_at: row.get("sent_at"),
                body_json: &body,
            }
            .link(&previous);
            sqlx::query("UPDATE messages SET chain = ? WHERE id = ?")
                .bind(&link)
                .bind(id)
                .execute(&mut db)
                .await
                .unwrap();
            sqlx::query(
                "UPDATE events SET payload = json_set(payload, '$.message.chain', ?1)
                 WHERE json_extract(payload, '$.message.id') = ?2",
            )
            .bind(&link)
            .bind(id)
            .execute(&mut db)
            .await
            .unwrap();
            link
        };
        previous = link;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_history_raises_an_alarm_on_every_device_that_sees_it() {
    let data = tempfile::tempdir().unwrap();
    init_workspace(&sqlite_url(data.path())).await.unwrap();
    let mut server = ServerProcess::start(data.path(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{}", server.addr);
    let ws = Workspace::seed(&url).await.unwrap();
    let order = ws.order_a.id;
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let wang = engine(dirs[0].path(), &url, "wang").await.unwrap();
    let alice = engine(dirs[1].path(), &url, "alice").await.unwrap();
    wang.start().await.unwrap();
    alice.start().await.unwrap();
    for line in ["样品收到了", "拉链用 YKK 5号", "颜色：黑色", "数量 500 个"] {
        wang.send_text(order, line, None).await.unwrap();
    }
    settle(&[&wang, &alice], SETTLE).await;
    let original_head = verified_to_end(&wang, order).await;
    verified_to_end(&alice, order).await;

    // Someone with access to the server's disk changes "YKK" to "SBS" in message 2.
    wang.stop().await;
    alice.stop().await;
    server.kill().await.unwrap();
    alter_text(data.path(), order, 2, "拉链用 SBS 5号").await;
    server.restart().await.unwrap();

    // A new device replays the altered history: message 2's link no longer follows
    // from its content. One alarm, on that message, and the walk goes on past it.
    let mut changes = {
        let fresh = Engine::open(dirs[2].path(), None).await.unwrap();
        fresh
            .login(&url, "alice", satchel_test_support::PASSWORD)
            .await
            .unwrap();
        let changes = fresh.subscribe();
        fresh.start().await.unwrap();
        settle(&[&fresh], SETTLE).await;
        let alarms = fresh.chain_alarms(Some(order)).await.unwrap();
        assert_eq!(alarms.len(), 1, "{alarms:?}");
        assert_eq!(alarms[0].seq, Seq(2));
        assert_eq!(alarms[0].problem, ChainProblem::Mismatch);
        assert_eq!(fresh.local().verified_head(order).await.unwrap().0, Seq(4));
        let summary = fresh.conversations().await.unwrap();
        let listed = summary.iter().find(|s| s.conversation.id == order).unwrap();
        assert_eq!(listed.chain_alarms, 1);
        // Alarms stay: they are evidence too.
        fresh.close().await;
        drop(fresh);
        let reopened = Engine::open(dirs[2].path(), None).await.unwrap();
        assert_eq!(reopened.chain_alarms(None).await.unwrap(), alarms);
        reopened.close().await;
        changes
    };
    let mut alarmed = false;
    while let Ok(batch) = changes.try_recv() {
        alarmed |= batch.iter().any(|c| {
            *c == satchel_client::Change::ChainAlarm {
                conversation_id: order,
            }
        });
    }
    assert!(alarmed, "the UI was told about the alarm");

    // A careful forger also recomputes every later link, so the altered chain is
    // consistent in itself. A device that received the original notices as soon as
    // the server presents the forged copy — here, when it exports the record.
    server.kill().await.unwrap();
    relink_from(data.path(), order, 2).await;
    server.restart().await.unwrap();
    wang.start().await.unwrap();
    settle(&[&wang], SETTLE).await;
    let out = dirs[3].path().join("record");
    let summary = wang
        .export_order(order, &out, ExportFormat::Folder)
        .await
        .unwrap();
    let alarms = wang.chain_alarms(Some(order)).await.unwrap();
    assert!(!alarms.is_empty());
    assert!(alarms.iter().all(|a| a.problem == ChainProblem::Rewritten));
    assert_eq!(alarms[0].seq, Seq(2));
    // The export keeps the original the device received, lists the alarms, and
    // verifies against the head this device had before the forgery.
    assert_eq!((summary.head_seq, summary.head.clone()), original_head);
    let manifest = read_manifest(&out);
    assert_eq!(manifest.alarms.len(), alarms.len());
    assert!(manifest.messages[1].body.contains("YKK"));
    let report = verify(&out, Some(&original_head.1));
    assert!(report.is_valid(), "{:?}", report.problems);
    let page = std::fs::read_to_string(out.join("record.html")).unwrap();
    assert!(page.contains("校验警告 Verification alarms"));
    wang.close().await;
    alice.close().await;
}

fn read_manifest(export: &Path) -> Manifest {
    serde_json::from_slice(&std::fs::read(export.join("manifest.json")).unwrap()).unwrap()
}

fn write_manifest(export: &Path, manifest: &Manifest) {
    std::fs::write(
        export.join("manifest.json"),
        serde_json::to_vec_pretty(manifest).unwrap(),
    )
    .unwrap();
}

fn verify(export: &Path, expected_head: Option<&str>) -> Report {
    satchel_client::export::verify(
        export,
        &CheckOptions {
            expected_head: expected_head.map(str::to_owned),
        },
    )
    .unwrap()
}

/// A fresh copy of an export folder to tamper with.
fn copy_of(export: &Path, scratch: &Path, name: &str) -> PathBuf {
    let target = scratch.join(name);
    copy_dir(export, &target);
    target
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_record_verifies_offline_and_every_change_to_it_is_named() {
    let (_server, ws, dirs, wang, alice) = two_sides().await;
    let original = converse(&wang, &alice, ws.order_a.id, dirs[3].path()).await;
    let head = verified_to_end(&alice, ws.order_a.id).await;
    let scratch = dirs[2].path();

    // The customer exports the record, as a folder and as one ZIP file.
    let folder = scratch.join("TB-001 记录");
    let summary = alice
        .export_order(ws.order_a.id, &folder, ExportFormat::Folder)
        .await
        .unwrap();
    assert_eq!((summary.head_seq, summary.head.clone()), head);
    assert_eq!(summary.files, 1);
    let zip = scratch.join("TB-001.zip");
    alice
        .export_order(ws.order_a.id, &zip, ExportFormat::Zip)
        .await
        .unwrap();
    for export in [&folder, &zip] {
        let report = verify(export, Some(&head.1));
        assert!(report.is_valid(), "{export:?}: {:?}", report.problems);
        assert_eq!(report.messages, usize::try_from(head.0 .0).unwrap());
        assert_eq!(report.files, 1);
    }

    // What is inside: the original photo byte for byte, every message, the card
    // with its answer, read receipts, and user text shown as text, not markup.
    let manifest = read_manifest(&folder);
    assert_eq!(
        std::fs::read(folder.join(&manifest.files[0].path)).unwrap(),
        std::fs::read(&original).unwrap()
    );
    assert!(manifest.files[0].path.ends_with("样品 第一轮.jpg"));
    assert_eq!(
        manifest.conversation.order_number.as_deref(),
        Some("TB-001")
    );
    assert!(manifest
        .receipts
        .iter()
        .any(|r| r.member_id == ws.customer_a.id && r.read_up_to == head.0));
    let page = std::fs::read_to_string(folder.join("record.html")).unwrap();
    for expected in [
        "TB-001",
        "报价：¥88/个，YKK 5号拉链",
        "Please use &lt;b&gt;black&lt;/b&gt; PU &amp; YKK zippers",
        "黑色 Black",
        "已确认 Approved",
        "OK 黑色",
        "撤回了 recalled",
        &head.1,
        "<img loading=\"lazy\" src=\"files/",
    ] {
        assert!(page.contains(expected), "record.html lacks {expected:?}");
    }
    assert!(!page.contains("<b>black</b>"));

    // The command-line verifier agrees, with exit status 0.
    let cli = binary("satchel-cli").unwrap();
    let ok = std::process::Command::new(&cli)
        .args(["verify", "--expect-head", &head.1])
        .arg(&zip)
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("OK: "));

    // One byte of one message's words changed ("black" → "blacj").
    let flipped = copy_of(&folder, scratch, "flipped-message");
    let mut m = read_manifest(&flipped);
    let target = m
        .messages
        .iter_mut()
        .find(|m| m.body.contains("black"))
        .unwrap();
    target.body = target.body.replacen("black", "blacj", 1);
    let (seq, id) = (target.seq, target.id);
    write_manifest(&flipped, &m);
    let report = verify(&flipped, None);
    assert_eq!(report.problems, vec![Problem::LinkMismatch { seq, id }]);
    let failed = std::process::Command::new(&cli)
        .arg("verify")
        .arg(&flipped)
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1));
    let out = String::from_utf8_lossy(&failed.stdout);
    assert!(
        out.contains(&format!("message seq {seq}")) && out.contains("was altered"),
        "{out}"
    );

    // One byte of the photo flipped.
    let bad_photo = copy_of(&folder, scratch, "flipped-photo");
    let photo_path = bad_photo.join(&manifest.files[0].path);
    let mut bytes = std::fs::read(&photo_path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&photo_path, bytes).unwrap();
    let report = verify(&bad_photo, None);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(
        matches!(&report.problems[0], Problem::FileDiffers { path, .. } if *path == manifest.files[0].path)
    );

    // A message deleted: the gap is named, and the next link no longer follows.
    let deleted = copy_of(&folder, scratch, "deleted");
    let mut m = read_manifest(&deleted);
    m.messages.remove(2);
    write_manifest(&deleted, &m);
    let problems = verify(&deleted, None).problems;
    assert!(problems.contains(&Problem::OutOfSequence {
        index: 2,
        expected: Seq(3),
        found: Seq(4)
    }));
    assert!(problems
        .iter()
        .any(|p| matches!(p, Problem::LinkMismatch { seq, .. } if *seq == Seq(4))));
    assert!(problems[0].to_string().contains("seq 3 is missing"));

    // Two messages swapped.
    let swapped = copy_of(&folder, scratch, "swapped");
    let mut m = read_manifest(&swapped);
    m.messages.swap(0, 1);
    write_manifest(&swapped, &m);
    let problems = verify(&swapped, None).problems;
    assert!(problems.contains(&Problem::OutOfSequence {
        index: 0,
        expected: Seq(1),
        found: Seq(2)
    }));
    assert!(problems
        .iter()
        .any(|p| p.to_string().contains("out of order")));

    // The tail cut off: the head still names the last message, so the cut shows.
    let cut = copy_of(&folder, scratch, "cut");
    let mut m = read_manifest(&cut);
    m.messages.truncate(m.messages.len() - 2);
    write_manifest(&cut, &m);
    let problems = verify(&cut, None).problems;
    assert!(
        matches!(problems.as_slice(), [Problem::HeadMismatch { .. }]),
        "{problems:?}"
    );
    assert!(problems[0].to_string().contains("removed from the end"));
    // …and with the head rewritten to match, the fingerprint the other side holds
    // still tells.
    let mut m = read_manifest(&cut);
    m.head = export_head(&m);
    write_manifest(&cut, &m);
    assert!(verify(&cut, None).is_valid());
    assert!(matches!(
        verify(&cut, Some(&head.1)).problems.as_slice(),
        [Problem::UnexpectedHead { .. }]
    ));
    // The manifest file itself cut short.
    let short = copy_of(&folder, scratch, "short");
    let text = std::fs::read(short.join("manifest.json")).unwrap();
    std::fs::write(short.join("manifest.json"), &text[..text.len() / 2]).unwrap();
    assert!(matches!(
        satchel_client::export::verify(&short, &CheckOptions::default()),
        Err(VerifyError::Manifest(_))
    ));

    // A byte flipped inside the ZIP file's copy of the photo.
    let bad_zip = scratch.join("flipped.zip");
    let mut bytes = std::fs::read(&zip).unwrap();
    let photo = std::fs::read(&original).unwrap();
    let at = find(&bytes, &photo[200..232]).expect("the photo is stored uncompressed");
    bytes[at + 5] ^= 0x01;
    std::fs::write(&bad_zip, bytes).unwrap();
    let problems = verify(&bad_zip, None).problems;
    assert!(
        matches!(problems.as_slice(), [Problem::FileDiffers { path, .. }] if *path == manifest.files[0].path),
        "{problems:?}"
    );

    // Hostile exports: a path that leaves the export, a file that is not an export.
    let escaping = copy_of(&folder, scratch, "escaping");
    let mut m = read_manifest(&escaping);
    m.files[0].path = "files/../../../etc/passwd".into();
    write_manifest(&escaping, &m);
    assert!(verify(&escaping, None)
        .problems
        .contains(&Problem::UnsafePath("files/../../../etc/passwd".into())));
    assert!(matches!(
        satchel_client::export::verify(&original, &CheckOptions::default()),
        Err(VerifyError::NotAnExport(..))
    ));

    // Exporting never overwrites, and nobody exports what is not theirs.
    let before = std::fs::read(folder.join("manifest.json")).unwrap();
    assert!(matches!(
        alice
            .export_order(ws.order_a.id, &folder, ExportFormat::Folder)
            .await,
        Err(EngineError::Export(_))
    ));
    assert_eq!(std::fs::read(folder.join("manifest.json")).unwrap(), before);
    assert!(matches!(
        alice
            .export_order(ws.order_b.id, &scratch.join("b"), ExportFormat::Zip)
            .await,
        Err(EngineError::NotFound(_))
    ));
    assert!(!scratch.join("b").exists());
    // No half-written export is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(scratch)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".partial-"))
        .collect();
    assert!(leftovers.is_empty());
    wang.close().await;
    alice.close().await;
}

fn export_head(m: &Manifest) -> satchel_protocol::export::Head {
    let last = m.messages.last().unwrap();
    satchel_protocol::export::Head {
        seq: last.seq,
        chain: last.chain.clone(),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
