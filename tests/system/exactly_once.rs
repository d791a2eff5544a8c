//! Exactly-once delivery under faults: a proxy resets connections at random byte
//! counts, the server process is SIGKILLed and restarted, and a client process is
//! killed between writing its outbox and receiving acks. Afterwards every message is
//! present exactly once everywhere, in per-sender order, and every outbox is empty.

use std::process::Stdio;
use std::time::Duration;

use satchel_client::Engine;
use satchel_test_support::{
    binary, engine, init_workspace, sign_in, sqlite_url, ChaosProxy, ServerProcess, Workspace,
    PASSWORD,
};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{check_numbered, converged, send_numbered, server_timeline, settle};

/// Runs `satchel-cli` with a profile and returns its output, or kills it after `kill_after`.
async fn cli(
    profile: &std::path::Path,
    args: &[&str],
    kill_after_queued: Option<Duration>,
) -> anyhow::Result<bool> {
    let mut child = tokio::process::Command::new(binary("satchel-cli")?)
        .arg("--profile")
        .arg(profile)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    if let Some(delay) = kill_after_queued {
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        // The outbox is on disk once "queued" is printed; kill while acks are arriving.
        while let Some(line) = lines.next_line().await? {
            if line.starts_with("queued") {
                break;
            }
        }
        tokio::time::sleep(delay).await;
        child.start_kill()?;
        child.wait().await?;
        return Ok(false);
    }
    Ok(child.wait().await?.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_and_kills_lose_and_duplicate_nothing() {
    let data = tempfile::tempdir().unwrap();
    init_workspace(&sqlite_url(data.path())).await.unwrap();
    let mut server = ServerProcess::start(data.path(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let ws = Workspace::seed(&format!("http://{}", server.addr))
        .await
        .unwrap();
    let proxy = ChaosProxy::start(server.addr).await.unwrap();
    let url = proxy.url();

    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let senders = [("wang", 700usize), ("chen", 700), ("alice", 600)];
    let mut engines = Vec::new();
    for (i, (name, _)) in senders.iter().enumerate() {
        let e = engine(dirs[i].path(), &url, name).await.unwrap();
        e.start().await.unwrap();
        engines.push(e);
    }
    // A second device of wang's, driven as a separate process.
    let cli_profile = dirs[3].path().to_owned();
    assert!(cli(
        &cli_profile,
        &[
            "login",
            "--server",
            &url,
            "--username",
            "wang",
            "--password",
            PASSWORD
        ],
        None
    )
    .await
    .unwrap());

    // Faults from here on: every connection dies after 2–40 KB.
    proxy.cut_after_random_bytes(2_000, 40_000);
    let conversation = ws.order_a.id;
    let pause = Duration::from_millis(60);
    let chaos = async {
        for round in 0..3 {
            tokio::time::sleep(Duration::from_millis(700)).await;
            server.restart().await.unwrap();
            // The client process dies with its outbox written and acks in flight.
            let (id, prefix) = (conversation.to_string(), format!("cli{round}"));
            let args = [
                "send-many",
                "--conversation",
                &id,
                "--count",
                "40",
                "--prefix",
                &prefix,
            ];
            cli(
                &cli_profile,
                &args,
                Some(Duration::from_millis(150 + 100 * round)),
            )
            .await
            .unwrap();
        }
    };
    tokio::join!(
        send_numbered(
            engines[0].clone(),
            conversation,
            "wang",
            senders[0].1,
            20,
            pause
        ),
        send_numbered(
            engines[1].clone(),
            conversation,
            "chen",
            senders[1].1,
            20,
            pause
        ),
        send_numbered(
            engines[2].clone(),
            conversation,
            "alice",
            senders[2].1,
            20,
            pause
        ),
        chaos,
    );
    // The killed client comes back and finishes its outbox through the faulty proxy.
    let mut restarted = false;
    for _ in 0..10 {
        if cli(&cli_profile, &["sync", "--wait", "30"], None)
            .await
            .unwrap()
        {
            restarted = true;
            break;
        }
    }
    assert!(restarted, "the restarted client process never became idle");
    // Faults off: no connection keeps a byte budget that would cut it later.
    proxy.cut_after_random_bytes(0, 0);
    proxy.reset_all();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let refs: Vec<&Engine> = engines.iter().collect();
    settle(&refs, Duration::from_secs(180)).await;
    assert!(
        proxy.resets() > 20,
        "the proxy really cut connections ({})",
        proxy.resets()
    );

    let direct = sign_in(&format!("http://{}", server.addr), "wang")
        .await
        .unwrap();
    let truth = server_timeline(&direct, conversation).await;
    let expected_total = 2000 + 3 * 40;
    assert_eq!(
        truth.len(),
        expected_total,
        "every message stored exactly once"
    );

    // Exactly once and per-sender order, from the server's history.
    let last_per_sender = check_numbered(&truth);
    for (name, count) in senders {
        assert_eq!(last_per_sender[name], count);
    }
    for round in 0..3 {
        assert_eq!(last_per_sender[&format!("cli{round}")], 40);
    }

    // Every client holds the same history and has nothing left to send.
    for e in &engines {
        let local = converged(e, conversation, &truth, Duration::from_secs(60)).await;
        assert!(
            local == truth,
            "{:?} differs from the server ({} vs {} lines)",
            e.account().map(|a| a.member.username),
            local.len(),
            truth.len()
        );
        assert_eq!(e.local().outbox_len().await.unwrap(), 0);
    }
    let cli_engine = Engine::open(&cli_profile, None).await.unwrap();
    assert_eq!(cli_engine.local().outbox_len().await.unwrap(), 0);
    cli_engine.start().await.unwrap();
    assert!(
        converged(&cli_engine, conversation, &truth, Duration::from_secs(60)).await == truth,
        "the killed client's history"
    );
    server.kill().await.unwrap();
}
