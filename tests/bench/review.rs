//! Photo review benchmark, in the real app: a 24 MP JPEG from a click in the order's album
//! to its first sharp pixels at fit (its screen level decoded and painted), then, after a
//! second at fit, at 100 % (the original); a flip to the next 24 MP photo once the viewer
//! has prefetched it; and the app's peak
//! memory (PSS of all its processes, sampled every 100 ms) with a 200-photo album open
//! while photos are viewed. The baseline, measured in the same run: a minimal Tauri app's
//! webview decoding and painting the same JPEG from memory, and that app's memory.
//! Prints numbers and ratios; asserts nothing.
//!
//! The originals are in the profile's cache already (the profile sent them), so the
//! times are the app's own work — reading and verifying the file, decoding, painting —
//! not the network's (the transfer benchmark measures that).
//!
//! Needs release builds of the apps and the server, and what `scripts/setup.sh` installs:
//! ```sh
//! (cd ui && npm run build) && cargo build --release -p satchel-desktop -p tauri-minimal -p satchel-server
//! cargo bench -p satchel-tests --bench review
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

// Shared by the e2e test and the desktop benchmarks; each uses part of it.
#[allow(dead_code)]
#[path = "../e2e/desktop.rs"]
mod desktop;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use desktop::{median, App, Desktop};
use satchel_test_support::{init_workspace, sqlite_url, ServerProcess, Workspace};

/// 24 MP photos: opened, zoomed and flipped between.
const LARGE: usize = 10;
/// Phone-sized photos filling the rest of the 200-photo album.
const SMALL: usize = 190;
const RUNS: usize = 5;

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// A JPEG with a camera's worth of detail: leather-brown shading with grain, different
/// for every `seed` (so every photo is its own file).
fn photo(path: &std::path::Path, w: u32, h: u32, seed: u32) {
    let mut pixels = vec![0u8; (w * h * 3) as usize];
    let mut state = 0x9E37_79B9u32 ^ seed.wrapping_mul(0x85EB_CA6B) | 1;
    for y in 0..h {
        let shade = (y * 40 / h) as i32;
        for x in 0..w {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let grain = (state % 14) as i32;
            let i = ((y * w + x) * 3) as usize;
            let across = (x * 30 / w) as i32 + (seed % 20) as i32;
            pixels[i] = (120 + shade + across + grain).clamp(0, 255) as u8;
            pixels[i + 1] = (80 + shade + across / 2 + grain).clamp(0, 255) as u8;
            pixels[i + 2] = (50 + shade / 2 + grain).clamp(0, 255) as u8;
        }
    }
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 92)
        .encode(&pixels, w as u16, h as u16, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    std::fs::write(path, &jpeg).unwrap();
}

/// Samples an app's PSS every 100 ms until dropped; keeps the highest.
struct PeakMemory {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PeakMemory {
    fn watch(app: &App) -> PeakMemory {
        let (peak, stop) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let driver = app.driver_pid;
        let thread = {
            let (peak, stop) = (peak.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(pss) = desktop::pss_under(driver) {
                        peak.fetch_max(pss, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        PeakMemory {
            peak,
            stop,
            thread: Some(thread),
        }
    }

    fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for PeakMemory {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Page script: calls `done(ms since t0)` once the viewer shows the photo `sha` decoded
/// and painted (two frames after its decode settles) from the image that is sharp at
/// this zoom: its screen level, or its original.
const WHEN_SHARP: &str = "
const whenSharp = (sha, t0, done) => {
  const check = () => {
    const img = document.querySelector(`[data-testid=viewer-image][data-sha256='${sha}']`);
    if (img && img.complete && img.naturalWidth > 0) {
      img.decode().catch(() => {}).then(() =>
        requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t0))));
    } else requestAnimationFrame(check);
  };
  check();
};";

async fn ms(app: &App, script: &str) -> f64 {
    let script = format!("const done = arguments[arguments.length - 1];{WHEN_SHARP}{script}");
    let value = app.client.execute_async(&script, vec![]).await.unwrap();
    value
        .as_f64()
        .unwrap_or_else(|| panic!("the page answered {value}"))
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let (satchel, minimal) = desktop::release_apps();

    println!("Satchel photo review benchmark (release builds, Xvfb, software rendering)");
    let photos = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for i in 0..SMALL {
        let path = photos.path().join(format!("progress-{i:03}.jpg"));
        photo(&path, 1600, 1200, i as u32);
        files.push(path);
    }
    for i in 0..LARGE {
        let path = photos.path().join(format!("sample-v2-{i}-24MP.jpg"));
        photo(&path, 6000, 4000, 1000 + i as u32);
        files.push(path);
    }
    let large_bytes = std::fs::metadata(files.last().unwrap()).unwrap().len();

    // The factory sends the 200 photos into an order; its profile then holds them all.
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
    let profile_root = tempfile::tempdir().unwrap();
    let engine =
        satchel_test_support::engine(&profile_root.path().join("profiles/default"), &url, "wang")
            .await
            .unwrap();
    engine.start().await.unwrap();
    for file in &files {
        engine.send_file(order.id, file, "").await.unwrap();
    }
    assert!(
        engine.wait_until_idle(Duration::from_secs(600)).await,
        "the photos were not sent"
    );
    let album = engine.album(order.id).await.unwrap();
    assert_eq!(album.items.len(), SMALL + LARGE, "the album");
    // The large photos, in the album's (and so the viewer's) order.
    let large: Vec<_> = album
        .items
        .iter()
        .filter(|item| item.attachment.width == Some(6000))
        .map(|item| (item.message, item.attachment.sha256.clone()))
        .collect();
    assert_eq!(large.len(), LARGE);
    engine.close().await;
    // Release the profile (its lock lives as long as the engine) for the app.
    drop(engine);
    println!(
        "  album: {SMALL} photos of 1600×1200 and {LARGE} of 6000×4000 ({:.1} MB each)",
        large_bytes as f64 / 1e6
    );

    let mut desktop = Desktop::start().expect("desktop");

    // Baseline: a bare webview decoding and painting the same JPEG from memory.
    let data = tempfile::tempdir().unwrap();
    let bare = desktop
        .launch("minimal", &minimal, data.path(), &[])
        .await
        .expect("launch the minimal app");
    bare.wait_until(
        "ready",
        "return document.readyState === 'complete'",
        Duration::from_secs(60),
    )
    .await
    .expect("minimal app ready");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let bare_pss = bare.pss_bytes().unwrap();
    let mut bare_ms = Vec::new();
    for run in 0..RUNS {
        let encoded = base64::engine::general_purpose::STANDARD
            .encode(std::fs::read(&files[SMALL + run]).unwrap());
        let script = "
            const done = arguments[arguments.length - 1];
            const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));
            const url = URL.createObjectURL(new Blob([bytes], { type: 'image/jpeg' }));
            document.body.innerHTML = '';
            document.body.style.margin = '0';
            const img = document.createElement('img');
            img.style.cssText = 'width: 100vw; height: 100vh; object-fit: contain; display: block';
            const t0 = performance.now();
            img.onload = () => img.decode().catch(() => {}).then(() =>
              requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t0))));
            img.onerror = () => done('the bare webview could not show the JPEG');
            img.src = url;
            document.body.appendChild(img);";
        let value = bare
            .client
            .execute_async(script, vec![serde_json::json!(encoded)])
            .await
            .unwrap();
        bare_ms.push(value.as_f64().unwrap_or(f64::NAN));
    }
    bare.client.close().await.unwrap();

    // The app, signed in as the factory, with the order's album open.
    let app = desktop
        .launch("satchel", &satchel, profile_root.path(), &[])
        .await
        .expect("launch the app");
    let memory = PeakMemory::watch(&app);
    app.wait_until(
        "the conversation list",
        "return !!document.querySelector('[data-testid=conversation]')",
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    app.click(&format!(
        "[data-testid=conversation][data-conversation-id='{}']",
        order.id
    ))
    .await
    .unwrap();
    // The conversation itself (its newest photo messages) before the album opens.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let conversation_pss = app.pss_bytes().unwrap();
    app.click("[data-testid=album-button]").await.unwrap();
    app.wait_until(
        "the album's 200 tiles",
        &format!(
            "return document.querySelectorAll('[data-testid=album-item]').length === {}",
            SMALL + LARGE
        ),
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    // Every thumbnail scrolled into view and loaded, as a reviewer paging through would.
    app.client
        .execute(
            "for (const tile of document.querySelectorAll('[data-testid=album-item]')) tile.scrollIntoView();",
            vec![],
        )
        .await
        .unwrap();
    app.wait_until(
        "every thumbnail loaded",
        "const imgs = [...document.querySelectorAll('[data-testid=album-item] img')]; \
         imgs.forEach((i) => { if (!i.complete) i.scrollIntoView(); }); \
         return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0)",
        Duration::from_secs(120),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let album_pss = app.pss_bytes().unwrap();

    let (mut open_ms, mut actual_ms, mut flip_ms) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..RUNS {
        let (message, sha256) = &large[run * 2];
        let (_, next_sha256) = &large[run * 2 + 1];
        open_ms.push(
            ms(
                &app,
                &format!(
                    "const tile = document.querySelector(\"[data-testid=album-item][data-message-id='{message}']\");
                     tile.scrollIntoView();
                     const t0 = performance.now();
                     tile.click();
                     whenSharp('{sha256}', t0, done);"
                ),
            )
            .await,
        );
        // A reviewer looks at the whole photo before zooming in.
        tokio::time::sleep(Duration::from_secs(1)).await;
        // 100 %: the original, painted one image pixel per screen pixel.
        actual_ms.push(
            ms(
                &app,
                "const t0 = performance.now();
                 document.querySelector('[data-testid=viewer-actual]').click();
                 const check = () => {
                   const img = document.querySelector('[data-testid=viewer-image][data-level=original]');
                   const r = img?.getBoundingClientRect();
                   if (img && img.complete && img.naturalWidth > 0 && Math.abs(r.width * devicePixelRatio - img.naturalWidth) < 1)
                     img.decode().catch(() => {}).then(() =>
                       requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t0))));
                   else requestAnimationFrame(check);
                 };
                 check();",
            )
            .await,
        );
        app.click("[data-testid=viewer-fit]").await.unwrap();
        // The viewer prefetches the neighbours while the reviewer looks.
        tokio::time::sleep(Duration::from_secs(2)).await;
        flip_ms.push(
            ms(
                &app,
                &format!(
                    "const t0 = performance.now();
                     document.body.dispatchEvent(new KeyboardEvent('keydown', {{ key: 'ArrowRight', bubbles: true }}));
                     whenSharp('{next_sha256}', t0, done);"
                ),
            )
            .await,
        );
        app.click("[data-testid=viewer-close]").await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let peak = memory.peak();
    drop(memory);
    app.client.close().await.unwrap();

    let bare_median = median(bare_ms);
    let (open, actual, flip) = (median(open_ms), median(actual_ms), median(flip_ms));
    println!("  median of {RUNS} runs; baseline = a minimal Tauri app's webview decoding and painting the same JPEG from memory");
    println!(
        "  baseline: 24 MP JPEG decoded and painted {bare_median:.0} ms; minimal app PSS {:.0} MB",
        mb(bare_pss)
    );
    println!(
        "  click → first sharp pixels at fit: {open:.0} ms = {:.2}× baseline (target ≤ 150 ms)",
        open / bare_median
    );
    println!("  fit (for 1 s) → 100 % painted:     {actual:.0} ms (target ≤ 150 ms)");
    println!(
        "  flip to the next 24 MP photo:      {flip:.0} ms = {:.2}× baseline (target ≤ 50 ms)",
        flip / bare_median
    );
    println!(
        "  PSS with the order's conversation open: {:.0} MB = {:.2}× minimal app",
        mb(conversation_pss),
        conversation_pss as f64 / bare_pss as f64
    );
    println!(
        "  PSS with the 200-photo album open: {:.0} MB; peak while reviewing {:.0} MB = {:.2}× minimal app (target ≤ 400 MB)",
        mb(album_pss),
        mb(peak),
        peak as f64 / bare_pss as f64
    );
    drop(server);
}
