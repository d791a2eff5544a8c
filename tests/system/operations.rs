//! Running a server: backups taken from a server that keeps serving a write load,
//! checked completely, and restored into a new data folder where the workspace passes
//! the same invariants as the original — gapless ordered histories, verified hash
//! chains, byte-exact files; and `/metrics`, which counts what happened.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use satchel_client::Engine;
use satchel_protocol::api::SendMessageRequest;
use satchel_protocol::*;
use satchel_test_support::postgres::TestDatabase;
use satchel_test_support::{
    binary, engine, init_workspace, sign_in, sqlite_url, ServerProcess, TestServer, Workspace,
};
use sha2::{Digest, Sha256};

use crate::support::{server_timeline, settle};

const SETTLE: Duration = Duration::from_secs(60);

/// Runs `satchel-server` with `args` against `data_dir`; (success, stdout + stderr).
async fn server_command(data_dir: &Path, args: &[&str]) -> (bool, String) {
    let output = tokio::process::Command::new(binary("satchel-server").unwrap())
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn text(text: String) -> MessageBody {
    MessageBody::Text {
        text,
        reply_to: None,
        needs_confirmation: false,
        deadline: None,
    }
}

/// A file of `len` random bytes in `dir`; its SHA-256.
fn random_file(dir: &Path, name: &str, len: usize) -> (std::path::PathBuf, String) {
    let mut bytes = vec![0u8; len];
    rand::thread_rng().fill_bytes(&mut bytes);
    let path = dir.join(name);
    std::fs::write(&path, &bytes).unwrap();
    (path, hex::encode(Sha256::digest(&bytes)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_write_load_restores_to_a_consistent_workspace() {
    let data = tempfile::tempdir().unwrap();
    init_workspace(&sqlite_url(data.path())).await.unwrap();
    let server = ServerProcess::start(data.path(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{}", server.addr);
    let ws = Workspace::seed(&url).await.unwrap();
    let (profile, files) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let wang = engine(profile.path(), &url, "wang").await.unwrap();
    wang.start().await.unwrap();
    let (photo, photo_sha) = random_file(files.path(), "样品 正面.jpg", 3 << 20);
    wang.send_file(ws.order_a.id, &photo, "正面").await.unwrap();
    settle(&[&wang], SETTLE).await;

    // Three writers keep sending while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let acked_total = Arc::new(AtomicU32::new(0));
    let mut writers = Vec::new();
    for (n, (who, conversation)) in [
        ("wang", ws.order_a.id),
        ("alice", ws.order_a.id),
        ("somchai", ws.order_b.id),
    ]
    .into_iter()
    .enumerate()
    {
        let api = sign_in(&url, who).await.unwrap();
        let (stop, acked_total) = (stop.clone(), acked_total.clone());
        writers.push(tokio::spawn(async move {
            let mut acked = 0u32;
            while !stop.load(Ordering::SeqCst) {
                let request = SendMessageRequest {
                    txn_id: TxnId(format!("load-{n}-{acked}")),
                    body: text(format!("{who} 第{acked}条 message {acked}")),
                };
                api.send(conversation, &request).await.unwrap();
                acked += 1;
                acked_total.fetch_add(1, Ordering::SeqCst);
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let backups = tempfile::tempdir().unwrap();
    let backup = backups.path().join("2026-12-01 备份");
    let acked_before = acked_total.load(Ordering::SeqCst);
    let (ok, out) =
        server_command(data.path(), &["backup", "--to", backup.to_str().unwrap()]).await;
    let acked_after = acked_total.load(Ordering::SeqCst);
    assert!(ok, "backup failed: {out}");
    assert!(
        acked_after > acked_before,
        "the server kept acknowledging sends while the backup ran"
    );
    assert!(out.contains("backed up"), "{out}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let mut sent = 0;
    for writer in writers {
        sent += writer.await.unwrap();
    }
    assert!(sent >= acked_after);
    assert!(
        !backups.path().join("2026-12-01 备份.partial").exists(),
        "no partial folder is left"
    );

    let (ok, out) = server_command(
        data.path(),
        &["restore", "--check", "--from", backup.to_str().unwrap()],
    )
    .await;
    assert!(ok, "check failed: {out}");

    // Restore into a new data folder and serve it.
    let restored = tempfile::tempdir().unwrap();
    let (ok, out) = server_command(
        restored.path(),
        &["restore", "--from", backup.to_str().unwrap()],
    )
    .await;
    assert!(ok, "restore failed: {out}");
    let copy = ServerProcess::start(restored.path(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let copy_url = format!("http://{}", copy.addr);

    // Each conversation is a gapless prefix of the live one, message for message.
    let live_wang = sign_in(&url, "wang").await.unwrap();
    let copy_wang = sign_in(&copy_url, "wang").await.unwrap();
    let mut restored_load = 0;
    for conversation in [ws.order_a.id, ws.order_b.id, ws.internal.id] {
        let live = server_timeline(&live_wang, conversation).await;
        let copied = server_timeline(&copy_wang, conversation).await;
        for (i, line) in copied.iter().enumerate() {
            assert!(
                line.starts_with(&format!("{} ", i + 1)),
                "gapless seq: {line}"
            );
        }
        assert!(copied.len() <= live.len());
        assert_eq!(
            copied[..],
            live[..copied.len()],
            "a prefix of the live history"
        );
        restored_load += copied.iter().filter(|l| l.contains("条 message")).count();
    }
    // Acknowledged means durable: everything acknowledged before the backup began is in it.
    assert!(
        restored_load >= acked_before as usize,
        "{restored_load} restored < {acked_before} acknowledged before the backup"
    );

    // A new device on the restored server verifies every hash chain and gets the photo
    // byte for byte.
    let device = tempfile::tempdir().unwrap();
    let alice = Engine::open(device.path(), None).await.unwrap();
    alice
        .login(&copy_url, "alice", satchel_test_support::PASSWORD)
        .await
        .unwrap();
    alice.start().await.unwrap();
    settle(&[&alice], SETTLE).await;
    assert_eq!(alice.chain_alarms(None).await.unwrap(), vec![]);
    let fetched = alice.fetch_file(&photo_sha).await.unwrap();
    assert_eq!(
        hex::encode(Sha256::digest(std::fs::read(fetched).unwrap())),
        photo_sha
    );
    // And it takes new messages, continuing the sequence.
    let next = copy_wang
        .send(
            ws.internal.id,
            &SendMessageRequest {
                txn_id: TxnId("after-restore".into()),
                body: text("恢复后第一条".into()),
            },
        )
        .await
        .unwrap();
    let internal = server_timeline(&copy_wang, ws.internal.id).await;
    assert_eq!(next.seq.0 as usize, internal.len());
    alice.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_or_misplaced_backup_is_refused_and_restores_nothing() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let (profile, files) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let wang = engine(profile.path(), &server.url(), "wang").await.unwrap();
    wang.start().await.unwrap();
    let (report, report_sha) = random_file(files.path(), "QC report.pdf", 200_000);
    wang.send_file(ws.order_a.id, &report, "QC").await.unwrap();
    settle(&[&wang], SETTLE).await;
    wang.close().await;

    let backups = tempfile::tempdir().unwrap();
    let backup = backups.path().join("nightly");
    let (ok, out) = server_command(
        server.data_dir(),
        &["backup", "--to", backup.to_str().unwrap()],
    )
    .await;
    assert!(ok, "{out}");

    // Never over an existing backup.
    let (ok, out) = server_command(
        server.data_dir(),
        &["backup", "--to", backup.to_str().unwrap()],
    )
    .await;
    assert!(!ok && out.contains("already exists"), "{out}");
    // Never into a data folder that has a database.
    let (ok, out) = server_command(
        server.data_dir(),
        &["restore", "--from", backup.to_str().unwrap()],
    )
    .await;
    assert!(!ok && out.contains("not empty"), "{out}");
    // Not a backup at all.
    let (ok, out) = server_command(
        server.data_dir(),
        &[
            "restore",
            "--check",
            "--from",
            files.path().to_str().unwrap(),
        ],
    )
    .await;
    assert!(!ok && out.contains("not a Satchel backup"), "{out}");

    // One flipped byte in a file: named, and nothing restored.
    let blob = backup
        .join("blobs")
        .join(&report_sha[..2])
        .join(&report_sha);
    let original = std::fs::read(&blob).unwrap();
    let mut flipped = original.clone();
    flipped[1000] ^= 0x01;
    std::fs::write(&blob, &flipped).unwrap();
    let target = tempfile::tempdir().unwrap();
    for args in [
        vec!["restore", "--check", "--from", backup.to_str().unwrap()],
        vec!["restore", "--from", backup.to_str().unwrap()],
    ] {
        let (ok, out) = server_command(target.path(), &args).await;
        assert!(!ok, "{out}");
        assert!(
            out.contains(&report_sha) && out.contains("does not match"),
            "{out}"
        );
    }
    assert!(!target.path().join("satchel.db").exists());
    std::fs::write(&blob, &original).unwrap();

    // A message deleted from the backup's database: the counts no longer match.
    let database = backup.join("satchel.db");
    let saved = std::fs::read(&database).unwrap();
    {
        use sqlx::ConnectOptions;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&database)
            .connect()
            .await
            .unwrap();
        sqlx::query("PRAGMA foreign_keys = OFF")
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("DELETE FROM messages WHERE id = (SELECT max(id) FROM messages)")
            .execute(&mut conn)
            .await
            .unwrap();
        // Closing checkpoints any write-ahead log into the file itself.
        sqlx::Connection::close(conn).await.unwrap();
    }
    let (ok, out) = server_command(
        target.path(),
        &["restore", "--from", backup.to_str().unwrap()],
    )
    .await;
    assert!(
        !ok && out.contains("damaged") && out.contains("manifest"),
        "{out}"
    );
    assert!(!target.path().join("satchel.db").exists());

    // Put right, the same backup restores.
    std::fs::write(&database, &saved).unwrap();
    let (ok, out) = server_command(
        target.path(),
        &["restore", "--from", backup.to_str().unwrap()],
    )
    .await;
    assert!(ok, "{out}");
    assert!(out.contains("restored") && out.contains("1 files"), "{out}");
}

/// One sample's value from a Prometheus text exposition.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            (key == name).then(|| value.parse().ok())?
        })
        .unwrap_or_else(|| panic!("{name} not in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_connections_messages_latency_and_file_bytes() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let scrape = || async {
        let response = reqwest::get(format!("{}/metrics", server.url()))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        response.text().await.unwrap()
    };
    let before = scrape().await;
    assert_eq!(sample(&before, "satchel_websocket_connections"), 0.0);

    let (profile, files) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let wang = engine(profile.path(), &server.url(), "wang").await.unwrap();
    wang.start().await.unwrap();
    for i in 0..5 {
        wang.send_text(ws.order_a.id, &format!("第{i}条"), None)
            .await
            .unwrap();
    }
    let (report, _) = random_file(files.path(), "report.pdf", 300_000);
    wang.send_file(ws.order_a.id, &report, "").await.unwrap();
    settle(&[&wang], SETTLE).await;

    let after = scrape().await;
    assert_eq!(sample(&after, "satchel_websocket_connections"), 1.0);
    let committed = sample(&after, "satchel_messages_committed_total")
        - sample(&before, "satchel_messages_committed_total");
    assert_eq!(committed, 6.0, "five texts and a file");
    assert!(sample(&after, "satchel_send_ack_seconds_count") >= 6.0);
    assert!(sample(&after, "satchel_upload_bytes_total") >= 300_000.0);
    assert_eq!(sample(&after, "satchel_store_errors_total"), 0.0);

    // A replayed send is answered but not counted again.
    let api = sign_in(&server.url(), "wang").await.unwrap();
    let replay = SendMessageRequest {
        txn_id: TxnId("metrics-replay".into()),
        body: text("once".into()),
    };
    api.send(ws.order_a.id, &replay).await.unwrap();
    assert!(api.send(ws.order_a.id, &replay).await.unwrap().duplicate);
    let replayed = scrape().await;
    assert_eq!(
        sample(&replayed, "satchel_messages_committed_total")
            - sample(&after, "satchel_messages_committed_total"),
        1.0
    );

    wang.close().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while sample(&scrape().await, "satchel_websocket_connections") != 0.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the connection is counted out"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A workspace outgrows the office PC: `migrate-store` moves it from SQLite into
/// PostgreSQL, where a server over the same data folder serves the same histories (hash
/// chains intact), the same files byte for byte, and new messages continue each
/// sequence. A damaged source, or a target that already holds a workspace, is refused
/// and nothing is copied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_migrated_to_postgresql_serves_the_same_history_and_files() {
    let server = TestServer::start().await.unwrap();
    let url = server.url();
    let ws = Workspace::seed(&url).await.unwrap();
    let (profile, files) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let wang = engine(profile.path(), &url, "wang").await.unwrap();
    wang.start().await.unwrap();
    for i in 0..30 {
        let conversation = [ws.order_a.id, ws.order_b.id, ws.internal.id][i % 3];
        wang.send_text(conversation, &format!("第 {i} 条 message"), None)
            .await
            .unwrap();
    }
    let (report, report_sha) = random_file(files.path(), "QC 报告.pdf", 300_000);
    wang.send_file(ws.order_a.id, &report, "QC").await.unwrap();
    settle(&[&wang], SETTLE).await;
    wang.close().await;
    let admin = sign_in(&url, "wang").await.unwrap();
    let mut before = Vec::new();
    for conversation in [ws.order_a.id, ws.order_b.id, ws.internal.id] {
        before.push(server_timeline(&admin, conversation).await);
    }
    let data = server.stop().await;

    // A file the database lists but the folder lost: refused before anything is copied.
    let target = TestDatabase::create().await.unwrap();
    let blob = data
        .path()
        .join("files/blobs")
        .join(&report_sha[..2])
        .join(&report_sha);
    let original = std::fs::read(&blob).unwrap();
    std::fs::remove_file(&blob).unwrap();
    let (ok, out) = server_command(data.path(), &["migrate-store", "--to", &target.url]).await;
    assert!(
        !ok && out.contains(&report_sha) && out.contains("nothing was copied"),
        "{out}"
    );
    std::fs::write(&blob, &original).unwrap();

    let (ok, out) = server_command(data.path(), &["migrate-store", "--to", &target.url]).await;
    assert!(ok && out.contains("migrated and verified"), "{out}");
    assert!(
        out.contains("3 hash chains match") && out.contains("1 files (300000 bytes)"),
        "{out}"
    );
    let (ok, out) = server_command(data.path(), &["migrate-store", "--to", &target.url]).await;
    assert!(!ok && out.contains("already holds a workspace"), "{out}");

    let args = ["--database-url".to_owned(), target.url.clone()];
    let moved =
        ServerProcess::start_with_args(data.path(), "127.0.0.1:0".parse().unwrap(), &args, &[])
            .await
            .unwrap();
    let moved_url = format!("http://{}", moved.addr);
    let wang = sign_in(&moved_url, "wang").await.unwrap();
    for (i, conversation) in [ws.order_a.id, ws.order_b.id, ws.internal.id]
        .into_iter()
        .enumerate()
    {
        assert_eq!(server_timeline(&wang, conversation).await, before[i]);
    }
    // A new device verifies every chain and gets the file byte for byte.
    let device = tempfile::tempdir().unwrap();
    let alice = Engine::open(device.path(), None).await.unwrap();
    alice
        .login(&moved_url, "alice", satchel_test_support::PASSWORD)
        .await
        .unwrap();
    alice.start().await.unwrap();
    settle(&[&alice], SETTLE).await;
    assert_eq!(alice.chain_alarms(None).await.unwrap(), vec![]);
    let fetched = alice.fetch_file(&report_sha).await.unwrap();
    assert_eq!(
        hex::encode(Sha256::digest(std::fs::read(fetched).unwrap())),
        report_sha
    );
    // New rows get new ids: PostgreSQL's sequences continue after the copied ones.
    let next = wang
        .send(
            ws.internal.id,
            &SendMessageRequest {
                txn_id: TxnId("after-migration".into()),
                body: text("迁移后第一条".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(next.seq.0 as usize, before[2].len() + 1);
    let group = satchel_protocol::api::CreateConversationRequest {
        kind: ConversationKind::Group,
        title: "迁移后 after migration".into(),
        org_id: None,
        order_number: None,
        quantity: None,
        due_date: None,
        assignee: None,
        member_ids: vec![ws.staff[1].id],
    };
    let created = wang.create_conversation(&group).await;
    assert!(
        created.is_ok(),
        "a new conversation gets a fresh id: {created:?}"
    );
    alice.close().await;
}
