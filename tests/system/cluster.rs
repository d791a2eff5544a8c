//! Two `satchel-server` processes on different ports sharing one PostgreSQL database
//! and the machine's NATS: clients on different nodes converse live, and exactly-once
//! and per-sender order hold while one node is SIGKILLed mid-stream, its clients fail
//! over to the other node (a proxy stands in for the load balancer) and come back.

use std::time::Duration;

use satchel_client::Engine;
use satchel_test_support::postgres::TestDatabase;
use satchel_test_support::{engine, init_workspace, sign_in, ChaosProxy, ServerProcess, Workspace};

use crate::support::{check_numbered, converged, send_numbered, server_timeline, settle, timeline};

/// The NATS server for tests: `SATCHEL_TEST_NATS`, or the one every development and CI
/// machine runs.
fn nats_url() -> String {
    std::env::var("SATCHEL_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

async fn node(db: &TestDatabase, dir: &std::path::Path) -> ServerProcess {
    let args = [
        "--database-url".to_owned(),
        db.url.clone(),
        "--nats-url".to_owned(),
        nats_url(),
    ];
    ServerProcess::start_with_args(dir, "127.0.0.1:0".parse().unwrap(), &args, &[])
        .await
        .unwrap()
}

/// Waits until `engine` holds a message whose summary is `text`.
async fn receives(
    engine: &Engine,
    conversation: satchel_protocol::ConversationId,
    text: &str,
) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if timeline(engine, conversation)
            .await
            .iter()
            .any(|line| line.ends_with(text))
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_converse_and_survive_a_killed_node() {
    let db = TestDatabase::create().await.unwrap();
    init_workspace(&db.url).await.unwrap();
    let (dir1, dir2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut node1 = node(&db, dir1.path()).await;
    let node2 = node(&db, dir2.path()).await;
    let ws = Workspace::seed(&format!("http://{}", node1.addr))
        .await
        .unwrap();
    let conversation = ws.order_a.id;

    // Wang reaches the cluster through a balancer that sends him to node 1; Alice is
    // on node 2.
    let balancer = ChaosProxy::start(node1.addr).await.unwrap();
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let wang = engine(dirs[0].path(), &balancer.url(), "wang")
        .await
        .unwrap();
    let alice = engine(dirs[1].path(), &format!("http://{}", node2.addr), "alice")
        .await
        .unwrap();
    wang.start().await.unwrap();
    alice.start().await.unwrap();

    // Live, both ways, across nodes.
    wang.send_text(conversation, "样品明天寄出 (from node 1)", None)
        .await
        .unwrap();
    assert!(
        receives(&alice, conversation, "样品明天寄出 (from node 1)").await,
        "node 1 → node 2"
    );
    alice
        .send_text(conversation, "Great, thanks (from node 2)", None)
        .await
        .unwrap();
    assert!(
        receives(&wang, conversation, "Great, thanks (from node 2)").await,
        "node 2 → node 1"
    );

    // Both send a stream; node 1 dies in the middle of it.
    const EACH: usize = 300;
    let pause = Duration::from_millis(50);
    let chaos = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        node1.kill().await.unwrap();
        // The balancer notices and sends Wang's reconnects to node 2.
        balancer.set_target(node2.addr);
        balancer.reset_all();
        tokio::time::sleep(Duration::from_millis(800)).await;
        node1.restart().await.unwrap();
        // Back to node 1 once it is up again: a second failover, this time planned.
        tokio::time::sleep(Duration::from_millis(300)).await;
        balancer.set_target(node1.addr);
        balancer.reset_all();
    };
    tokio::join!(
        send_numbered(wang.clone(), conversation, "wang", EACH, 25, pause),
        send_numbered(alice.clone(), conversation, "alice", EACH, 25, pause),
        chaos
    );
    settle(&[&wang, &alice], Duration::from_secs(120)).await;

    let direct = sign_in(&format!("http://{}", node2.addr), "wang")
        .await
        .unwrap();
    let truth = server_timeline(&direct, conversation).await;
    assert_eq!(
        truth.len(),
        2 + 2 * EACH,
        "every message stored exactly once"
    );
    let last = check_numbered(&truth);
    assert_eq!((last["wang"], last["alice"]), (EACH, EACH));

    // Each node serves the same history, and each client converged to it live.
    let via_node1 = sign_in(&format!("http://{}", node1.addr), "alice")
        .await
        .unwrap();
    assert_eq!(server_timeline(&via_node1, conversation).await, truth);
    for e in [&wang, &alice] {
        assert_eq!(
            converged(e, conversation, &truth, Duration::from_secs(30)).await,
            truth
        );
    }
}
