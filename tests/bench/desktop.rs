//! Desktop app benchmark: cold start to an interactive window, proportional memory (PSS)
//! of all the app's processes idle and with a 10,000-message conversation open, and the
//! time to open that conversation — each beside a minimal Tauri app of the same version
//! measured in the same run. Prints numbers and ratios; asserts nothing.
//!
//! Needs release builds of the apps and the server, and what `scripts/setup.sh` installs:
//! ```sh
//! (cd ui && npm run build) && cargo build --release -p satchel-desktop -p tauri-minimal -p satchel-server
//! cargo bench -p satchel-tests --bench desktop
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

// Shared by the e2e test and the desktop benchmark; each uses part of it.
#[allow(dead_code)]
#[path = "../e2e/desktop.rs"]
mod desktop;

use std::time::{Duration, Instant};

use desktop::{median, App, Desktop};
use satchel_protocol::api::SendMessageRequest;
use satchel_protocol::{MessageBody, TxnId};
use satchel_test_support::{init_workspace, sqlite_url, ServerProcess, Workspace};

const RUNS: usize = 3;
const MESSAGES: usize = 10_000;
/// Memory is read after the window has settled.
const SETTLE: Duration = Duration::from_secs(3);

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Launches an app and waits until `ready` (a script) is true; returns the session and
/// the seconds from launch to ready.
async fn start(
    desktop: &mut Desktop,
    name: &str,
    binary: &std::path::Path,
    data: &std::path::Path,
    ready: &str,
) -> (App, f64) {
    let started = Instant::now();
    let app = desktop
        .launch(name, binary, data, &[])
        .await
        .expect("launch");
    app.wait_until("ready", ready, Duration::from_secs(60))
        .await
        .expect("ready");
    (app, started.elapsed().as_secs_f64())
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let (satchel, minimal) = desktop::release_apps();

    // A server with one order conversation 10,000 messages long.
    let server_dir = tempfile::tempdir().unwrap();
    init_workspace(&sqlite_url(server_dir.path()))
        .await
        .unwrap();
    let server = ServerProcess::start(server_dir.path(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{}", server.addr);
    let workspace = Workspace::seed(&url).await.unwrap();
    let order = workspace.order_b.clone();
    let wang = satchel_test_support::sign_in(&url, "wang").await.unwrap();
    let somchai = satchel_test_support::sign_in(&url, "somchai")
        .await
        .unwrap();
    for i in 0..MESSAGES {
        let (api, text) = if i % 3 == 0 {
            (
                &somchai,
                format!(
                    "Message {i}: please check the stitching on sample v{}",
                    i / 100
                ),
            )
        } else {
            (
                &wang,
                format!("第 {i} 条：五金用铜的，YKK 拉链，色号 18-1031。"),
            )
        };
        api.send(
            order.id,
            &SendMessageRequest {
                txn_id: TxnId(format!("bench-txn-{i:06}")),
                body: MessageBody::Text {
                    text,
                    reply_to: None,
                    needs_confirmation: false,
                    deadline: None,
                },
            },
        )
        .await
        .unwrap();
    }
    // A profile signed in and synced, so the app starts as it does on a normal morning.
    let profile_root = tempfile::tempdir().unwrap();
    let engine =
        satchel_test_support::engine(&profile_root.path().join("profiles/default"), &url, "wang")
            .await
            .unwrap();
    engine.start().await.unwrap();
    assert!(
        engine.wait_until_idle(Duration::from_secs(120)).await,
        "profile did not sync"
    );
    engine.close().await;
    // Release the profile (its lock lives as long as the engine) for the app.
    drop(engine);

    let mut desktop = Desktop::start().expect("desktop");
    let (mut minimal_start, mut minimal_pss) = (Vec::new(), Vec::new());
    let mut fetch_ms = Vec::new();
    let (mut start_s, mut idle_pss, mut open_pss, mut open_ms) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..RUNS {
        let data = tempfile::tempdir().unwrap();
        let (app, seconds) = start(
            &mut desktop,
            &format!("minimal-{run}"),
            &minimal,
            data.path(),
            "return document.readyState === 'complete' && !!document.getElementById('ready')",
        )
        .await;
        minimal_start.push(seconds);
        tokio::time::sleep(SETTLE).await;
        minimal_pss.push(app.pss_bytes().unwrap() as f64);
        app.client.close().await.unwrap();

        let (app, seconds) = start(
            &mut desktop,
            &format!("satchel-{run}"),
            &satchel,
            profile_root.path(),
            "return !!document.querySelector('[data-testid=conversation]')",
        )
        .await;
        start_s.push(seconds);
        tokio::time::sleep(SETTLE).await;
        idle_pss.push(app.pss_bytes().unwrap() as f64);
        let script = format!(
            "const done = arguments[arguments.length - 1];
             const row = document.querySelector(\"[data-testid=conversation][data-conversation-id='{id}']\");
             const t0 = performance.now();
             row.click();
             const check = () => document.querySelector('[data-testid=conversation-view] [data-seq=\"{last}\"]')
               ? requestAnimationFrame(() => done(performance.now() - t0))
               : requestAnimationFrame(check);
             check();",
            id = order.id,
            last = MESSAGES
        );
        // The part of opening that is the page fetch over IPC (the rest is rendering).
        let fetch = format!(
            "const done = arguments[arguments.length - 1];
             const t0 = performance.now();
             window.__TAURI_INTERNALS__.invoke('messages', {{ conversationId: {id}, before: null, limit: 60 }})
               .then(() => done(performance.now() - t0));",
            id = order.id
        );
        let fetched = app.client.execute_async(&fetch, vec![]).await.unwrap();
        fetch_ms.push(fetched.as_f64().unwrap_or(f64::NAN));
        let elapsed = app.client.execute_async(&script, vec![]).await.unwrap();
        open_ms.push(elapsed.as_f64().unwrap_or(f64::NAN));
        tokio::time::sleep(SETTLE).await;
        open_pss.push(app.pss_bytes().unwrap() as f64);
        app.client.close().await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    let base_start = median(minimal_start);
    let base_pss = median(minimal_pss);
    let (start, idle, open, open_time) = (
        median(start_s),
        median(idle_pss),
        median(open_pss),
        median(open_ms),
    );
    println!("desktop app vs a minimal Tauri app of the same version (median of {RUNS} runs, release builds, Xvfb)");
    println!(
        "  minimal app: start {:.2} s, PSS {:.0} MiB",
        base_start,
        mib(base_pss as u64)
    );
    println!(
        "  cold start to interactive list: {:.2} s = {:.2}× minimal (target ≤ 1.2×)",
        start,
        start / base_start
    );
    println!(
        "  PSS idle:                       {:.0} MiB = {:.2}× minimal",
        mib(idle as u64),
        idle / base_pss
    );
    println!("  PSS with {MESSAGES}-message conversation open: {:.0} MiB = {:.2}× minimal (target ≤ 1.3×)", mib(open as u64), open / base_pss);
    println!(
        "  open the {MESSAGES}-message conversation: {:.0} ms (target ≤ 100 ms), of which fetching its newest page over IPC {:.1} ms",
        open_time,
        median(fetch_ms)
    );
    drop(server);
}
