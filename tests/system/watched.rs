//! Watched folders: files written slowly into a bound folder become exactly one message
//! each, in the order they were written; partial, temporary and renamed files are not
//! sent twice or early.

use std::io::Write;
use std::time::Duration;

use satchel_protocol::*;
use satchel_test_support::{engine, TestServer, Workspace};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_files_written_slowly_become_fifty_messages_in_order() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let (profile, camera) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let chen = engine(profile.path(), &server.url(), "chen").await.unwrap();
    std::fs::write(camera.path().join("old-shot.jpg"), b"taken before binding").unwrap();
    chen.watch_folder(camera.path(), ws.order_a.id, true)
        .await
        .unwrap();
    chen.start().await.unwrap();

    let dir = camera.path().to_owned();
    let writer = tokio::task::spawn_blocking(move || {
        for i in 1..=50 {
            let name = format!("QC_{i:03}.jpg");
            if i % 10 == 0 {
                // Some cameras write a temporary file and rename it when done.
                let tmp = dir.join(format!("{name}.tmp"));
                std::fs::write(&tmp, format!("QC photo {i} ").repeat(2000)).unwrap();
                std::fs::rename(&tmp, dir.join(&name)).unwrap();
            } else {
                // Others write slowly, in pieces.
                let mut f = std::fs::File::create(dir.join(&name)).unwrap();
                f.write_all(format!("QC photo {i} ").repeat(1000).as_bytes())
                    .unwrap();
                f.sync_all().unwrap();
                std::thread::sleep(Duration::from_millis(150));
                f.write_all(format!("QC photo {i} ").repeat(1000).as_bytes())
                    .unwrap();
            }
            std::fs::write(dir.join(format!(".~lock.{name}#")), b"editor lock").unwrap();
            std::thread::sleep(Duration::from_millis(40));
        }
        // A copy of an already sent photo under a new name is not sent again.
        std::fs::copy(dir.join("QC_001.jpg"), dir.join("QC_001 (copy).jpg")).unwrap();
    });
    writer.await.unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let names = loop {
        let names: Vec<String> = chen
            .messages(ws.order_a.id, None, 200)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|m| m.body.attachment().map(|a| a.name.clone()))
            .collect();
        if (names.len() >= 50 && chen.local().outbox_len().await.unwrap() == 0)
            || tokio::time::Instant::now() > deadline
        {
            break names;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Give a wrongly late duplicate the chance to show up.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after: Vec<String> = chen
        .messages(ws.order_a.id, None, 200)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| m.body.attachment().map(|a| a.name.clone()))
        .collect();
    assert_eq!(after, names, "nothing more was sent");
    let expected: Vec<String> = (1..=50).map(|i| format!("QC_{i:03}.jpg")).collect();
    assert_eq!(names, expected);
    // The server holds each exactly once, with all its bytes.
    let server_view = satchel_test_support::sign_in(&server.url(), "alice")
        .await
        .unwrap();
    let history = server_view
        .history(ws.order_a.id, None, None, 200)
        .await
        .unwrap()
        .messages;
    assert_eq!(history.len(), 50);
    for m in &history {
        let MessageBody::File { attachment, .. } = &m.body else {
            panic!("{:?}", m.body)
        };
        let i: usize = attachment.name[3..6].parse().unwrap();
        let per = format!("QC photo {i} ").len() as u64;
        assert_eq!(attachment.size, per * 2000, "{} whole", attachment.name);
    }
    let bound = chen.watched_folders().await.unwrap();
    assert_eq!(bound.len(), 1);
    assert_eq!(bound[0].last_error, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_folder_is_reported_not_ignored() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let (profile, parent) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let folder = parent.path().join("usb-camera");
    std::fs::create_dir(&folder).unwrap();
    let chen = engine(profile.path(), &server.url(), "chen").await.unwrap();
    chen.watch_folder(&folder, ws.internal.id, false)
        .await
        .unwrap();
    chen.start().await.unwrap();
    std::fs::remove_dir(&folder).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let bound = chen.watched_folders().await.unwrap();
        if bound[0].last_error.is_some() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no error reported");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(chen
        .watch_folder(&parent.path().join("nope"), ws.internal.id, false)
        .await
        .is_err());
}
