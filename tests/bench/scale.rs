//! Scale-out benchmark: the same load against three deployments, each made of real
//! `satchel-server` processes on loopback, in one run:
//!
//! 1. one node on SQLite (the office PC),
//! 2. one node on PostgreSQL,
//! 3. two nodes on PostgreSQL + NATS, senders spread over both and the receivers of the
//!    delivery test on the *other* node than the sender.
//!
//! Prints durable messages/s and send→deliver p50/p99 for each, and the cross-node
//! delivery penalty (3 against 2) as a ratio. Asserts nothing.
//!
//! Run: `cargo build --workspace --bins && cargo bench -p satchel-tests --bench scale`
//! (add `-- --quick` for a short run). Needs the machine's PostgreSQL and NATS
//! (`SATCHEL_TEST_POSTGRES`, `SATCHEL_TEST_NATS` to point elsewhere).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Duration;

use satchel_test_support::postgres::TestDatabase;
use satchel_test_support::{init_workspace, sqlite_url, ServerProcess, Workspace};

#[path = "wire.rs"]
#[allow(dead_code)]
mod wire;

use wire::{fanout, ms, throughput};

struct Deployment {
    name: &'static str,
    nodes: Vec<ServerProcess>,
    _dirs: Vec<tempfile::TempDir>,
    _database: Option<TestDatabase>,
}

impl Deployment {
    fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("http://{}", n.addr))
            .collect()
    }
}

async fn start(dir: &std::path::Path, args: &[String]) -> ServerProcess {
    ServerProcess::start_with_args(dir, "127.0.0.1:0".parse().unwrap(), args, &[])
        .await
        .unwrap()
}

async fn sqlite_node() -> Deployment {
    let dir = tempfile::tempdir().unwrap();
    init_workspace(&sqlite_url(dir.path())).await.unwrap();
    Deployment {
        name: "1 node, SQLite",
        nodes: vec![start(dir.path(), &[]).await],
        _dirs: vec![dir],
        _database: None,
    }
}

async fn postgres_nodes(count: usize) -> Deployment {
    let database = TestDatabase::create().await.unwrap();
    init_workspace(&database.url).await.unwrap();
    let mut args = vec!["--database-url".to_owned(), database.url.clone()];
    if count > 1 {
        let nats = std::env::var("SATCHEL_TEST_NATS")
            .unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
        args.extend(["--nats-url".to_owned(), nats]);
    }
    let mut dirs = Vec::new();
    let mut nodes = Vec::new();
    for _ in 0..count {
        let dir = tempfile::tempdir().unwrap();
        nodes.push(start(dir.path(), &args).await);
        dirs.push(dir);
    }
    Deployment {
        name: if count > 1 {
            "2 nodes, PostgreSQL + NATS"
        } else {
            "1 node, PostgreSQL"
        },
        nodes,
        _dirs: dirs,
        _database: Some(database),
    }
}

struct Measured {
    rate: f64,
    p50: Duration,
    p99: Duration,
}

async fn measure(deployment: &Deployment, quick: bool) -> Measured {
    let urls = deployment.urls();
    let ws = Workspace::seed(&urls[0]).await.unwrap();
    let scale = if quick { 10 } else { 1 };
    let rate = throughput(&urls, ws.order_b.id, 50, 1000 / scale).await;
    // The receivers sit on the last node: with two nodes, every delivery crosses.
    let receiver = urls.last().unwrap();
    let (p50, p99) = fanout(&urls[0], receiver, ws.internal.id, 200 / scale, 300 / scale).await;
    Measured { rate, p50, p99 }
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    println!(
        "Satchel scale-out benchmark (server processes on loopback){}",
        if quick { " — quick run" } else { "" }
    );
    println!(
        "{:<28} {:>14} {:>16} {:>16}",
        "deployment", "durable msg/s", "deliver p50 ms", "deliver p99 ms"
    );
    let mut results = Vec::new();
    for deployment in [
        sqlite_node().await,
        postgres_nodes(1).await,
        postgres_nodes(2).await,
    ] {
        let m = measure(&deployment, quick).await;
        println!(
            "{:<28} {:>14.0} {:>16.3} {:>16.3}",
            deployment.name,
            m.rate,
            ms(m.p50),
            ms(m.p99)
        );
        results.push(m);
    }
    let (sqlite, single, pair) = (&results[0], &results[1], &results[2]);
    println!(
        "PostgreSQL vs SQLite, one node: {:.2}× the msg/s, {:.2}× the delivery p99",
        single.rate / sqlite.rate,
        ms(single.p99) / ms(sqlite.p99)
    );
    println!(
        "cross-node delivery penalty (2 nodes vs 1, PostgreSQL): p50 {:.2}×, p99 {:.2}×; msg/s {:.2}×",
        ms(pair.p50) / ms(single.p50),
        ms(pair.p99) / ms(single.p99),
        pair.rate / single.rate
    );
}
