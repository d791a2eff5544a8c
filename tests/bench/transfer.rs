//! File transfer benchmark on loopback: upload and download of one large file by the
//! app's engine through the real server, against two raw ceilings measured in the same run — writing the
//! same bytes to disk with fsync (`dd`-style) and a plain TCP copy. Prints MB/s and the
//! ratio to the lower ceiling; asserts nothing.
//!
//! Run: `cargo bench -p satchel-tests --bench transfer` (1 GiB; `-- --quick` for 128 MiB).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::Write;
use std::time::Instant;

use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BLOCK: usize = 4 * 1024 * 1024;

fn mbps(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let size: u64 = if quick { 128 << 20 } else { 1 << 30 };
    println!("Satchel transfer benchmark: {} MiB on loopback", size >> 20);
    let dir = tempfile::tempdir().unwrap();

    // The file, written once (not timed).
    let source = dir.path().join("design-files.bin");
    {
        let mut f = std::fs::File::create(&source).unwrap();
        let mut block = vec![0u8; BLOCK];
        let mut left = size;
        while left > 0 {
            rand::thread_rng().fill_bytes(&mut block);
            let n = left.min(BLOCK as u64) as usize;
            f.write_all(&block[..n]).unwrap();
            left -= n as u64;
        }
    }
    let bytes_hash = {
        let start = Instant::now();
        let mut f = std::fs::File::open(&source).unwrap();
        let mut h = Sha256::new();
        std::io::copy(&mut f, &mut h).unwrap();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "sha256 of the file                 {:>8.0} MB/s",
            mbps(size, secs)
        );
        hex::encode(h.finalize())
    };

    // Ceiling 1: copy the bytes to another file with fsync.
    let disk = {
        let start = Instant::now();
        let mut input = std::fs::File::open(&source).unwrap();
        let target = dir.path().join("dd.bin");
        let mut out = std::fs::File::create(&target).unwrap();
        std::io::copy(&mut input, &mut out).unwrap();
        out.sync_all().unwrap();
        let secs = start.elapsed().as_secs_f64();
        std::fs::remove_file(target).unwrap();
        mbps(size, secs)
    };
    // Ceiling 2: a plain TCP copy over loopback.
    let tcp = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let receiver = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; BLOCK];
            let mut total = 0u64;
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    return total;
                }
                total += n as u64;
            }
        });
        let block = vec![7u8; BLOCK];
        let start = Instant::now();
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut left = size;
        while left > 0 {
            let n = left.min(BLOCK as u64) as usize;
            s.write_all(&block[..n]).await.unwrap();
            left -= n as u64;
        }
        s.shutdown().await.unwrap();
        assert_eq!(receiver.await.unwrap(), size);
        mbps(size, start.elapsed().as_secs_f64())
    };
    let ceiling = disk.min(tcp);
    println!("ceiling: file copy with fsync      {disk:>8.0} MB/s");
    println!("ceiling: plain TCP copy            {tcp:>8.0} MB/s");

    let server = satchel_test_support::TestServer::start().await.unwrap();
    let ws = satchel_test_support::Workspace::seed(&server.url())
        .await
        .unwrap();
    let wang_dir = tempfile::tempdir().unwrap();
    let wang = satchel_test_support::engine(wang_dir.path(), &server.url(), "wang")
        .await
        .unwrap();

    wang.start().await.unwrap();
    assert!(
        wang.wait_until_idle(std::time::Duration::from_secs(60))
            .await
    );

    // Upload: the engine's own uploader (chunks checksummed, each durable on the server
    // before it is acknowledged, the whole file verified at the end). Timed from the
    // moment the message is queued (the file copied into the cache and hashed) until
    // the server has verified the last byte.
    let mut changes = wang.subscribe();
    wang.send_file(ws.order_a.id, &source, "").await.unwrap();
    let start = Instant::now();
    loop {
        match changes.recv().await {
            Ok(batch) => {
                let finished = batch.iter().any(|c| {
                    matches!(c, satchel_client::Change::Transfer { sha256, done, total, .. }
                        if *sha256 == bytes_hash && done == total)
                });
                if finished {
                    break;
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(e) => panic!("the engine stopped: {e}"),
        }
    }
    let upload = mbps(size, start.elapsed().as_secs_f64());
    println!("upload (chunks, verified, durable) {upload:>8.0} MB/s   {:.0} % of the lower ceiling   target ≥ 80 %", upload / ceiling * 100.0);
    assert!(
        wang.wait_until_idle(std::time::Duration::from_secs(60))
            .await
    );

    // Download as a customer's app does: streamed to a partial file while hashed,
    // synced, renamed into the cache.
    let alice_dir = tempfile::tempdir().unwrap();
    let alice = satchel_test_support::engine(alice_dir.path(), &server.url(), "alice")
        .await
        .unwrap();
    let start = Instant::now();
    alice.fetch_file(&bytes_hash).await.unwrap();
    let download = mbps(size, start.elapsed().as_secs_f64());
    println!("download (streamed, verified)      {download:>8.0} MB/s   {:.0} % of the lower ceiling   target ≥ 80 %", download / ceiling * 100.0);
}
