//! Files through the engine: queued offline, uploaded through a connection that keeps
//! breaking, delivered in order with the messages around them, fetched and saved byte
//! for byte.

use std::time::Duration;

use rand::RngCore;
use satchel_protocol::*;
use satchel_test_support::{engine, ChaosProxy, TestServer, Workspace};
use sha2::{Digest, Sha256};

use crate::support::{arrived, settle, walk};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_sent_offline_arrives_whole_and_in_order() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let proxy = ChaosProxy::start(server.addr).await.unwrap();
    let (d1, d2, files) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let wang = engine(d1.path(), &proxy.url(), "wang").await.unwrap();
    let alice = engine(d2.path(), &server.url(), "alice").await.unwrap();

    let mut bytes = vec![0u8; 21 * 1024 * 1024 + 123];
    rand::thread_rng().fill_bytes(&mut bytes);
    let original = files.path().join("样品 第二轮 final.psd");
    std::fs::write(&original, &bytes).unwrap();
    let sha256 = hex::encode(Sha256::digest(&bytes));

    // Offline: both wait in the outbox, the text behind the file.
    let file_message = wang
        .send_file(ws.order_a.id, &original, "第二轮样品")
        .await
        .unwrap();
    wang.send_text(ws.order_a.id, "see the file above 请看上面的文件", None)
        .await
        .unwrap();
    assert_eq!(wang.local().outbox_len().await.unwrap(), 2);
    // The user may delete the original: the engine sends its own copy.
    std::fs::remove_file(&original).unwrap();

    // Online through connections that die every 3–6 MB: the 21 MB travel on two
    // connections (two chunks in flight), so each carries enough to be cut.
    proxy.cut_after_random_bytes(3 << 20, 6 << 20);
    wang.start().await.unwrap();
    alice.start().await.unwrap();
    settle(&[&wang], Duration::from_secs(120)).await;
    assert!(
        proxy.resets() >= 1,
        "the upload was interrupted at least once"
    );
    proxy.cut_after_random_bytes(0, 0);
    settle(&[&alice], Duration::from_secs(60)).await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let received = loop {
        let got = alice.local().confirmed(ws.order_a.id).await.unwrap();
        if got.len() == 2 || tokio::time::Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(received.len(), 2);
    let MessageBody::File {
        attachment,
        caption,
    } = &received[0].body
    else {
        panic!("file first: {:?}", received[0].body)
    };
    assert_eq!(caption, "第二轮样品");
    assert_eq!(attachment.sha256, sha256);
    assert_eq!(attachment.size, bytes.len() as u64);
    assert_eq!(attachment.name, "样品 第二轮 final.psd");
    assert!(
        matches!(&received[1].body, MessageBody::Text { .. }),
        "the text follows the file"
    );
    assert_eq!(received[0].txn_id, file_message.txn_id);

    // The customer opens the original: verified, byte for byte; "save as" writes it.
    // The app asks for it twice at once (chat preview and thumbnail): one download.
    let (cached, again) = tokio::join!(alice.fetch_file(&sha256), alice.fetch_file(&sha256));
    let cached = cached.unwrap();
    assert_eq!(again.unwrap(), cached);
    assert_eq!(
        hex::encode(Sha256::digest(std::fs::read(&cached).unwrap())),
        sha256
    );
    let saved = files.path().join("saved copy.psd");
    assert_eq!(
        alice.save_file_as(&sha256, &saved).await.unwrap(),
        bytes.len() as u64
    );
    assert!(std::fs::read(&saved).unwrap() == bytes);
}

/// A file of random bytes that wang has sent into order A; alice, who may fetch it,
/// reaches the server through a chaos proxy.
struct SentFile {
    proxy: ChaosProxy,
    alice: satchel_client::Engine,
    bytes: Vec<u8>,
    sha256: String,
    _wang: satchel_client::Engine,
    _server: TestServer,
    _folders: [tempfile::TempDir; 3],
}

impl SentFile {
    async fn new(name: &str, len: usize) -> SentFile {
        let server = TestServer::start().await.unwrap();
        let ws = Workspace::seed(&server.url()).await.unwrap();
        let proxy = ChaosProxy::start(server.addr).await.unwrap();
        let folders = [(); 3].map(|()| tempfile::tempdir().unwrap());
        let wang = engine(folders[0].path(), &server.url(), "wang")
            .await
            .unwrap();
        let alice = engine(folders[1].path(), &proxy.url(), "alice")
            .await
            .unwrap();
        let mut bytes = vec![0u8; len];
        rand::thread_rng().fill_bytes(&mut bytes);
        let path = folders[2].path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        wang.start().await.unwrap();
        wang.send_file(ws.order_a.id, &path, "").await.unwrap();
        settle(&[&wang], Duration::from_secs(60)).await;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        SentFile {
            proxy,
            alice,
            bytes,
            sha256,
            _wang: wang,
            _server: server,
            _folders: folders,
        }
    }

    /// Alice's profile folder.
    fn alice_folder(&self) -> &std::path::Path {
        self._folders[1].path()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_download_resumes_and_is_verified() {
    let sent = SentFile::new("qc-report.zip", 12 * 1024 * 1024).await;
    let (proxy, alice, bytes, sha256) =
        (&sent.proxy, &sent.alice, &sent.bytes, sent.sha256.as_str());

    proxy.cut_after_random_bytes(2 << 20, 4 << 20);
    let mut attempts = 0;
    let cached = loop {
        attempts += 1;
        match alice.fetch_file(sha256).await {
            Ok(p) => break p,
            Err(e) => assert!(attempts < 20, "download never completed: {e}"),
        }
    };
    assert!(attempts > 1, "the download was interrupted and resumed");
    assert!(std::fs::read(&cached).unwrap() == *bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_download_as_long_as_the_file_or_longer_starts_over_instead_of_failing() {
    let sent = SentFile::new("dieline.ai", 6 * 1024 * 1024).await;
    let (proxy, alice, bytes, sha256) =
        (&sent.proxy, &sent.alice, &sent.bytes, sent.sha256.as_str());

    // A download cut short leaves its partial file behind.
    proxy.cut_after_random_bytes(1 << 20, 2 << 20);
    assert!(alice.fetch_file(sha256).await.is_err(), "the cut download");
    proxy.cut_after_random_bytes(0, 0);
    let part = walk(sent.alice_folder())
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "part"))
        .expect("a partial file after the cut");

    // A crash before verification, or a disk fault, leaves it as long as the file or
    // longer: no range of the file follows it. The file still arrives, exact.
    for kept in [bytes.clone(), [bytes.as_slice(), b"trailing junk"].concat()] {
        std::fs::write(&part, &kept).unwrap();
        let cached = alice
            .fetch_file(sha256)
            .await
            .expect("the file, fetched again");
        assert!(std::fs::read(&cached).unwrap() == *bytes);
        assert!(!part.exists(), "the partial file became the cached file");
        // Forget the cached copy so the next round downloads again.
        std::fs::remove_file(&cached).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_has_its_preview_and_screen_level_at_once_and_the_receiver_gets_the_original() {
    use satchel_client::transfer::PreviewSize;
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let (d1, d2, files) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let wang = engine(d1.path(), &server.url(), "wang").await.unwrap();
    let alice = engine(d2.path(), &server.url(), "alice").await.unwrap();
    let img = image::RgbImage::from_fn(3000, 2000, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let path = files.path().join("IMG_0042.JPG");
    img.save(&path).unwrap();
    let original = std::fs::read(&path).unwrap();

    // Offline, the sender already shows the photo.
    let sent = wang.send_file(ws.order_a.id, &path, "").await.unwrap();
    let MessageBody::Image { attachment, .. } = &sent.body else {
        panic!("an image message: {:?}", sent.body)
    };
    assert_eq!(
        (
            attachment.width,
            attachment.height,
            attachment.mime.as_str()
        ),
        (Some(3000), Some(2000), "image/jpeg")
    );
    let chat = wang
        .preview_path(&attachment.sha256, PreviewSize::Chat)
        .expect("chat preview");
    let chat = image::open(chat).unwrap();
    assert_eq!((chat.width(), chat.height()), (1024, 683));
    assert!(wang
        .preview_path(&attachment.sha256, PreviewSize::Thumb)
        .is_some());

    let sent_preview = attachment
        .preview
        .clone()
        .expect("a preview travels beside");
    assert_eq!((sent_preview.width, sent_preview.height), (1024, 683));
    // Larger than a screen shows it: a screen-sized level travels beside it too.
    let level = attachment.screen.clone().expect("a screen level beside");
    assert_eq!((level.width, level.height), (2560, 1707));
    let own_level = wang
        .preview(&attachment.sha256, PreviewSize::Screen)
        .await
        .unwrap();
    let own_level = open_image(&own_level);
    assert_eq!((own_level.width(), own_level.height()), (2560, 1707));

    wang.start().await.unwrap();
    alice.start().await.unwrap();
    settle(&[&wang, &alice], Duration::from_secs(60)).await;
    assert!(
        alice
            .preview_path(&attachment.sha256, PreviewSize::Chat)
            .is_none(),
        "not fetched yet"
    );
    // The receiver shows the photo from the sender's preview, without the original.
    let shown = alice
        .preview(&attachment.sha256, PreviewSize::Chat)
        .await
        .unwrap();
    let shown = image::open(shown).unwrap();
    assert_eq!((shown.width(), shown.height()), (1024, 683));
    let thumb = alice
        .preview(&attachment.sha256, PreviewSize::Thumb)
        .await
        .unwrap();
    assert_eq!(image::open(thumb).unwrap().width(), 256);
    let shown_level = alice
        .preview(&attachment.sha256, PreviewSize::Screen)
        .await
        .unwrap();
    let shown_level = open_image(&shown_level);
    assert_eq!((shown_level.width(), shown_level.height()), (2560, 1707));
    assert!(
        !alice.local().has_file(&attachment.sha256).await.unwrap(),
        "the original was not downloaded for a preview or the screen level"
    );
    let fetched = alice.fetch_file(&attachment.sha256).await.unwrap();
    assert!(
        std::fs::read(fetched).unwrap() == original,
        "the original, byte for byte"
    );
    assert!(alice
        .preview_path(&attachment.sha256, PreviewSize::Chat)
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_shows_its_poster_frame_and_the_receiver_gets_it_without_the_video() {
    use satchel_client::transfer::PreviewSize;
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let (d1, d2, files) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let clip = files.path().join("QC 开箱 unboxing.mp4");
    satchel_test_support::video_clip(&clip).unwrap();
    let wang = engine(d1.path(), &server.url(), "wang").await.unwrap();
    let alice = engine(d2.path(), &server.url(), "alice").await.unwrap();

    let sent = wang.send_file(ws.order_a.id, &clip, "开箱").await.unwrap();
    let MessageBody::Video { attachment, .. } = &sent.body else {
        panic!("a video message: {:?}", sent.body)
    };
    assert_eq!(
        (attachment.width, attachment.height),
        (Some(640), Some(360))
    );
    let poster = attachment
        .preview
        .clone()
        .expect("the poster travels beside");
    assert_eq!((poster.width, poster.height), (640, 360));
    assert!(attachment.screen.is_none(), "videos have no screen level");
    let own = image::open(
        wang.preview_path(&attachment.sha256, PreviewSize::Thumb)
            .expect("a thumbnail at once"),
    )
    .unwrap();
    assert_eq!((own.width(), own.height()), (256, 144));

    wang.start().await.unwrap();
    alice.start().await.unwrap();
    settle(&[&wang, &alice], Duration::from_secs(60)).await;
    let shown = alice
        .preview(&attachment.sha256, PreviewSize::Chat)
        .await
        .unwrap();
    assert_eq!(image::open(shown).unwrap().width(), 640);
    assert!(
        !alice.local().has_file(&attachment.sha256).await.unwrap(),
        "the video itself is fetched only when played or saved"
    );
}

/// The kinds of files factories send, each round-tripped byte for byte through two
/// engines: a 24 MP JPEG shot sideways, a CMYK JPEG, a progressive JPEG, a 16-bit PNG, a
/// 300 MB file, an empty file, and a Chinese name with spaces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_file_round_trips_byte_for_byte() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let (d1, d2, files) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let wang = engine(d1.path(), &server.url(), "wang").await.unwrap();
    let alice = engine(d2.path(), &server.url(), "alice").await.unwrap();

    let mut samples: Vec<(&str, Vec<u8>)> = Vec::new();
    let photo = image::RgbImage::from_fn(6000, 4000, |x, y| {
        image::Rgb([(x / 24) as u8, (y / 16) as u8, ((x ^ y) % 256) as u8])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&photo)
        .unwrap();
    samples.push((
        "IMG_24MP_rotated.jpg",
        crate::previews::with_orientation(&jpeg, 6),
    ));
    let (w, h) = (1200u16, 900u16);
    let mut cmyk = Vec::new();
    let pixels: Vec<u8> = (0..usize::from(w) * usize::from(h))
        .flat_map(|i| [(i % 200) as u8, 60, 200, 10])
        .collect();
    jpeg_encoder::Encoder::new(&mut cmyk, 90)
        .encode(&pixels, w, h, jpeg_encoder::ColorType::Cmyk)
        .unwrap();
    samples.push(("print_CMYK.jpg", cmyk));
    let mut progressive = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut progressive, 90);
    encoder.set_progressive(true);
    let rgb: Vec<u8> = (0..usize::from(w) * usize::from(h))
        .flat_map(|i| [(i % 251) as u8, 90, 30])
        .collect();
    encoder
        .encode(&rgb, w, h, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    samples.push(("progressive.jpg", progressive));
    let png16 = image::ImageBuffer::<image::Rgb<u16>, _>::from_fn(2000, 1500, |x, y| {
        image::Rgb([(x * 30) as u16, (y * 40) as u16, 999])
    });
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb16(png16)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    samples.push(("scan-16bit.png", png));
    let mut big = vec![0u8; 300 * 1024 * 1024];
    rand::thread_rng().fill_bytes(&mut big);
    samples.push(("design-files.zip", big));
    samples.push(("empty.txt", Vec::new()));
    samples.push((
        "箱包 样品 第3版 (最终).ai",
        b"%PDF-1.5 fake illustrator".to_vec(),
    ));

    wang.start().await.unwrap();
    alice.start().await.unwrap();
    let mut sent = Vec::new();
    for (name, bytes) in &samples {
        let path = files.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let message = wang.send_file(ws.order_a.id, &path, "").await.unwrap();
        sent.push(message.body.attachment().unwrap().clone());
        std::fs::remove_file(&path).unwrap();
    }
    settle(&[&wang], Duration::from_secs(300)).await;
    settle(&[&alice], Duration::from_secs(60)).await;

    for ((name, bytes), attachment) in samples.iter().zip(&sent) {
        assert_eq!(attachment.name, *name);
        let saved = files.path().join(format!("saved-{}", attachment.sha256));
        assert_eq!(
            alice
                .save_file_as(&attachment.sha256, &saved)
                .await
                .unwrap(),
            bytes.len() as u64
        );
        assert!(
            std::fs::read(&saved).unwrap() == *bytes,
            "{name} byte for byte"
        );
        std::fs::remove_file(&saved).unwrap();
    }
    // The sideways photo is an image message of its displayed size.
    assert_eq!((sent[0].width, sent[0].height), (Some(4000), Some(6000)));
    assert_eq!((sent[3].width, sent[3].height), (Some(2000), Some(1500)));
}

/// A 200 MB upload and download while the proxy cuts the connection every few tens of
/// MB and the server process is SIGKILLed and restarted twice: the transfers finish,
/// the hash matches, and each interruption costs at most the chunks that were in flight
/// (two chunks of 2 MiB) of re-sent bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_transfer_survives_cuts_and_server_kills_resending_little() {
    use satchel_client::transfer::MAX_RESENT_BYTES;
    use satchel_test_support::{init_workspace, sqlite_url, ServerProcess};
    let data = tempfile::tempdir().unwrap();
    init_workspace(&sqlite_url(data.path())).await.unwrap();
    let mut server = ServerProcess::start(data.path(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let ws = Workspace::seed(&format!("http://{}", server.addr))
        .await
        .unwrap();
    let proxy = ChaosProxy::start(server.addr).await.unwrap();
    let (d1, d2, files) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let wang = engine(d1.path(), &proxy.url(), "wang").await.unwrap();
    let alice = engine(d2.path(), &proxy.url(), "alice").await.unwrap();
    let size = 200 * 1024 * 1024;
    let mut bytes = vec![0u8; size];
    rand::thread_rng().fill_bytes(&mut bytes);
    let path = files.path().join("大货 QC 视频.mp4");
    std::fs::write(&path, &bytes).unwrap();
    let sha256 = hex::encode(Sha256::digest(&bytes));

    let mut changes = wang.subscribe();
    wang.send_file(ws.order_a.id, &path, "").await.unwrap();
    proxy.cut_after_random_bytes(30 << 20, 50 << 20);
    let resets_before = proxy.resets();
    let up_before = proxy.bytes_up();
    wang.start().await.unwrap();
    // Kill the server when the upload passes 60 MB and again past 130 MB.
    let mut kills = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    while kills < 2 && tokio::time::Instant::now() < deadline {
        let Ok(Ok(batch)) = tokio::time::timeout(Duration::from_secs(5), changes.recv()).await
        else {
            continue;
        };
        let passed = batch.iter().any(|c| {
            matches!(c, satchel_client::Change::Transfer { done, .. } if *done > (60 << 20) * (kills + 1) + (10 << 20) * kills)
        });
        if passed {
            server.restart().await.unwrap();
            kills += 1;
        }
    }
    assert_eq!(kills, 2, "both kills happened during the upload");
    settle(&[&wang], Duration::from_secs(300)).await;
    let interruptions = proxy.resets() - resets_before + kills;
    let sent = proxy.bytes_up() - up_before;
    let overhead = 4 << 20; // HTTP headers, WebSocket traffic, JSON
    assert!(
        sent <= size as u64 + interruptions * MAX_RESENT_BYTES as u64 + overhead,
        "sent {sent} bytes for {size} with {interruptions} interruptions"
    );

    // Download through the same faults, with one more kill in the middle.
    alice.start().await.unwrap();
    settle(&[&alice], Duration::from_secs(60)).await;
    let down_before = proxy.bytes_down();
    let mut attempts = 0;
    let cached = loop {
        attempts += 1;
        if attempts == 3 {
            server.restart().await.unwrap();
        }
        match alice.fetch_file(&sha256).await {
            Ok(p) => break p,
            Err(e) => assert!(attempts < 40, "download never completed: {e}"),
        }
    };
    let received = proxy.bytes_down() - down_before;
    assert!(attempts > 1, "the download was interrupted");
    // A reset drops what sat in the socket buffers, so that much is fetched again.
    let in_buffers = 4 << 20;
    assert!(
        received <= size as u64 + attempts * in_buffers + overhead,
        "received {received} for {size} in {attempts} attempts"
    );
    assert_eq!(
        hex::encode(Sha256::digest(std::fs::read(cached).unwrap())),
        sha256
    );
    server.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_evicts_least_recently_used_but_never_unsent_files() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let (d1, d2, files) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let wang = engine(d1.path(), &server.url(), "wang").await.unwrap();
    let alice = engine(d2.path(), &server.url(), "alice").await.unwrap();
    wang.start().await.unwrap();
    let mut hashes = Vec::new();
    for i in 0..3 {
        let mut bytes = vec![0u8; 4 << 20];
        rand::thread_rng().fill_bytes(&mut bytes);
        let path = files.path().join(format!("sample-{i}.bin"));
        std::fs::write(&path, &bytes).unwrap();
        hashes.push(
            wang.send_file(ws.order_a.id, &path, "")
                .await
                .unwrap()
                .body
                .attachment()
                .unwrap()
                .sha256
                .clone(),
        );
    }
    settle(&[&wang], Duration::from_secs(60)).await;

    // Alice keeps at most 10 MB: the third download pushes out the least recently used.
    alice.set_cache_limit(10 << 20).await.unwrap();
    let cached = |sha: &str| d2.path().join("files").join(sha).exists();
    alice.fetch_file(&hashes[0]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    alice.fetch_file(&hashes[1]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    alice.fetch_file(&hashes[0]).await.unwrap(); // used again: now the newest
    tokio::time::sleep(Duration::from_millis(5)).await;
    alice.fetch_file(&hashes[2]).await.unwrap();
    assert!(cached(&hashes[0]) && cached(&hashes[2]));
    assert!(
        !cached(&hashes[1]),
        "the least recently used file was evicted"
    );
    // Evicted is not lost: it comes back on demand, verified.
    alice.fetch_file(&hashes[1]).await.unwrap();
    assert!(cached(&hashes[1]));

    // Offline, an own file waiting to be sent survives any limit.
    let mut unsent = vec![0u8; 6 << 20];
    rand::thread_rng().fill_bytes(&mut unsent);
    let path = files.path().join("unsent.bin");
    std::fs::write(&path, &unsent).unwrap();
    alice.stop().await;
    let sha = alice
        .send_file(ws.order_a.id, &path, "")
        .await
        .unwrap()
        .body
        .attachment()
        .unwrap()
        .sha256
        .clone();
    alice.set_cache_limit(1).await.unwrap();
    assert!(cached(&sha), "the unsent file is kept");
    assert!(!cached(&hashes[0]) && !cached(&hashes[2]));
    alice.start().await.unwrap();
    settle(&[&alice], Duration::from_secs(60)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_can_be_paused_resumed_and_cancelled() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let (d1, files) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let wang = engine(d1.path(), &server.url(), "wang").await.unwrap();
    let file = |name: &str| {
        let mut bytes = vec![0u8; 8 << 20];
        rand::thread_rng().fill_bytes(&mut bytes);
        let path = files.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        path
    };
    let paused = wang
        .send_file(ws.order_a.id, &file("paused.psd"), "")
        .await
        .unwrap();
    let other = wang
        .send_file(ws.internal.id, &file("other.psd"), "")
        .await
        .unwrap();
    let cancelled = wang
        .send_file(ws.order_b.id, &file("mistake.psd"), "")
        .await
        .unwrap();
    let sha = |m: &satchel_client::LocalMessage| m.body.attachment().unwrap().sha256.clone();
    wang.pause_upload(&sha(&paused)).await.unwrap();
    wang.pause_upload(&sha(&cancelled)).await.unwrap();
    wang.cancel(&cancelled.txn_id).await.unwrap();
    assert!(
        wang.messages(ws.order_b.id, None, 10)
            .await
            .unwrap()
            .is_empty(),
        "cancelled"
    );
    wang.start().await.unwrap();

    // The other conversation's file goes out; the paused one waits.
    let api = wang.api().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while api
        .history(ws.internal.id, None, None, 10)
        .await
        .unwrap()
        .messages
        .is_empty()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the unpaused file never arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        api.history(ws.order_a.id, None, None, 10)
            .await
            .unwrap()
            .messages
            .is_empty(),
        "paused"
    );
    assert!(
        api.history(ws.order_b.id, None, None, 10)
            .await
            .unwrap()
            .messages
            .is_empty(),
        "cancelled"
    );
    assert_eq!(wang.local().outbox_len().await.unwrap(), 1);

    wang.resume_upload(&sha(&paused)).await.unwrap();
    settle(&[&wang], Duration::from_secs(60)).await;
    let history = api
        .history(ws.order_a.id, None, None, 10)
        .await
        .unwrap()
        .messages;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].txn_id, paused.txn_id);
    // A message the server already has cannot be cancelled.
    assert!(wang.cancel(&other.txn_id).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voice_message_arrives_as_voice_with_its_length_and_exact_bytes() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let (d1, d2, files) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let wang = engine(d1.path(), &server.url(), "wang").await.unwrap();
    let alice = engine(d2.path(), &server.url(), "alice").await.unwrap();
    wang.start().await.unwrap();
    alice.start().await.unwrap();

    // What a browser's MediaRecorder produces: a WebM header and opaque audio.
    let mut bytes = vec![0x1a, 0x45, 0xdf, 0xa3];
    bytes.extend((0..48_000u32).map(|i| (i * 7 % 251) as u8));
    let recording = files.path().join("voice-1.webm");
    std::fs::write(&recording, &bytes).unwrap();
    let sent = wang
        .send_voice(ws.order_a.id, &recording, 12_400)
        .await
        .unwrap();
    let received = arrived(&alice, ws.order_a.id, &sent, Duration::from_secs(30)).await;
    let MessageBody::Voice {
        attachment,
        duration_ms,
    } = &received.body
    else {
        panic!("voice: {:?}", received.body)
    };
    assert_eq!(*duration_ms, 12_400);
    let fetched = alice.fetch_file(&attachment.sha256).await.unwrap();
    assert_eq!(std::fs::read(fetched).unwrap(), bytes);
}

/// Decodes a cached file, which is named by its hash (no extension to guess from).
fn open_image(path: &std::path::Path) -> image::DynamicImage {
    image::ImageReader::open(path)
        .unwrap()
        .with_guessed_format()
        .unwrap()
        .decode()
        .unwrap()
}
