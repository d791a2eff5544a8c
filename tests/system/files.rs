//! Files on the server: resumable, verified uploads; byte-exact, authorised, range-capable
//! downloads; every bad upload refused with nothing changed.

use rand::RngCore;
use reqwest::StatusCode;
use satchel_protocol::api::*;
use satchel_protocol::*;
use satchel_server::object_blobs::ObjectBlobStore;
use satchel_test_support::s3::S3Server;
use satchel_test_support::{ServerProcess, TestServer, Workspace, PASSWORD};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

use crate::support::{crc32, walk};

const CHUNK: usize = 4 * 1024 * 1024;

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rand::thread_rng().fill_bytes(&mut v);
    v
}

/// A signed-in member speaking the file routes over plain HTTP.
struct Files {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Files {
    async fn sign_in(url: &str, username: &str) -> Files {
        let login = satchel_client::api::ApiClient::new(url)
            .unwrap()
            .login(&LoginRequest {
                username: username.into(),
                password: PASSWORD.into(),
                device_id: DeviceId(format!("files-{username}-device")),
                device_name: String::new(),
            })
            .await
            .unwrap();
        Files {
            http: reqwest::Client::new(),
            base: format!("{url}/api/v1"),
            token: login.token,
        }
    }

    async fn create(
        &self,
        sha256: &str,
        size: u64,
    ) -> Result<UploadStatus, (StatusCode, ErrorBody)> {
        let r = self
            .http
            .post(format!("{}/uploads", self.base))
            .bearer_auth(&self.token)
            .json(&CreateUploadRequest {
                sha256: sha256.into(),
                size,
            })
            .send()
            .await
            .unwrap();
        decode(r).await
    }

    async fn status(&self, id: &str) -> Result<UploadStatus, (StatusCode, ErrorBody)> {
        let r = self
            .http
            .get(format!("{}/uploads/{id}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        decode(r).await
    }

    async fn patch(
        &self,
        id: &str,
        offset: u64,
        chunk: &[u8],
        checksum: &str,
    ) -> Result<UploadStatus, (StatusCode, ErrorBody)> {
        let r = self
            .http
            .patch(format!("{}/uploads/{id}", self.base))
            .bearer_auth(&self.token)
            .header("Upload-Offset", offset.to_string())
            .header("Upload-Checksum", format!("sha256 {checksum}"))
            .header("Content-Type", "application/offset+octet-stream")
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        decode(r).await
    }

    /// Uploads a whole file in chunks and returns its final status.
    async fn upload(&self, bytes: &[u8]) -> UploadStatus {
        let mut status = self.create(&sha(bytes), bytes.len() as u64).await.unwrap();
        while !status.complete {
            let start = status.offset as usize;
            let chunk = &bytes[start..(start + CHUNK).min(bytes.len())];
            status = self
                .patch(&status.upload_id, status.offset, chunk, &sha(chunk))
                .await
                .unwrap();
        }
        status
    }

    async fn download(
        &self,
        sha256: &str,
        range: Option<&str>,
        name: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .get(format!("{}/blobs/{sha256}", self.base))
            .bearer_auth(&self.token);
        if let Some(range) = range {
            req = req.header("Range", range);
        }
        if let Some(name) = name {
            req = req.query(&[("name", name)]);
        }
        req.send().await.unwrap()
    }

    async fn send_body(
        &self,
        conversation: ConversationId,
        body: MessageBody,
    ) -> Result<SendAck, (StatusCode, ErrorBody)> {
        let r = self
            .http
            .post(format!(
                "{}/conversations/{conversation}/messages",
                self.base
            ))
            .bearer_auth(&self.token)
            .json(&SendMessageRequest {
                txn_id: TxnId(format!("body-{}", rand::random::<u64>())),
                body,
            })
            .send()
            .await
            .unwrap();
        decode(r).await
    }

    async fn send_file(
        &self,
        conversation: ConversationId,
        bytes: &[u8],
        name: &str,
    ) -> Result<SendAck, (StatusCode, ErrorBody)> {
        let body = MessageBody::File {
            attachment: AttachmentRef {
                sha256: sha(bytes),
                size: bytes.len() as u64,
                mime: "text/plain".into(), // a lie the server must not store
                name: name.into(),
                width: None,
                height: None,
                preview: None,
                screen: None,
            },
            caption: String::new(),
        };
        self.send_body(conversation, body).await
    }
}

async fn decode<T: serde::de::DeserializeOwned>(
    r: reqwest::Response,
) -> Result<T, (StatusCode, ErrorBody)> {
    let status = r.status();
    if status.is_success() {
        Ok(r.json().await.unwrap())
    } else {
        Err((status, r.json().await.unwrap()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_round_trip_byte_for_byte() {
    round_trip_byte_for_byte(&TestServer::start().await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_round_trip_byte_for_byte_through_s3_compatible_storage() {
    let s3 = S3Server::start().await.unwrap();
    let blobs = ObjectBlobStore::open_with(&s3.blob_url("factory"), &s3.options())
        .await
        .unwrap();
    let server = TestServer::start_with_blobs(Arc::new(blobs)).await.unwrap();
    round_trip_byte_for_byte(&server).await;
    // The blobs are objects in the bucket, named by their hashes; no staged chunk is
    // left behind.
    let bucket = s3.root.path().join(satchel_test_support::s3::BUCKET);
    let empty = bucket
        .join("factory/blobs")
        .join(&sha(b"")[..2])
        .join(sha(b""));
    assert!(empty.is_file(), "{} is missing", empty.display());
    let staged = walk(&bucket.join("factory/uploads"));
    assert!(staged.is_empty(), "staged chunks left: {staged:?}");
}

/// A server started with `--blob-url` keeps files in the bucket across a SIGKILL in the
/// middle of an upload: the upload resumes from the acknowledged offset and the file
/// downloads byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_s3_storage_resumes_an_upload_after_being_killed() {
    let s3 = S3Server::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    satchel_test_support::init_workspace(&satchel_test_support::sqlite_url(data.path()))
        .await
        .unwrap();
    let args = vec!["--blob-url".to_owned(), s3.blob_url("node")];
    let mut server = ServerProcess::start_with_args(
        data.path(),
        "127.0.0.1:0".parse().unwrap(),
        &args,
        &s3.options(),
    )
    .await
    .unwrap();
    let url = format!("http://{}", server.addr);
    let ws = Workspace::seed(&url).await.unwrap();
    let wang = Files::sign_in(&url, "wang").await;
    let bytes = random_bytes(3 * CHUNK + 999);
    let started = wang.create(&sha(&bytes), bytes.len() as u64).await.unwrap();
    let first = &bytes[..CHUNK];
    wang.patch(&started.upload_id, 0, first, &sha(first))
        .await
        .unwrap();

    server.restart().await.unwrap();
    let wang = Files::sign_in(&url, "wang").await;
    let resumed = wang.create(&sha(&bytes), bytes.len() as u64).await.unwrap();
    assert_eq!(resumed.offset, CHUNK as u64);
    assert!(wang.upload(&bytes).await.complete);
    wang.send_file(ws.order_a.id, &bytes, "大货 进度.mov")
        .await
        .unwrap();
    let alice = Files::sign_in(&url, "alice").await;
    let got = alice
        .download(&sha(&bytes), None, None)
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(sha(&got), sha(&bytes));
    // Nothing of the file is in the data folder: it lives in the bucket.
    assert!(walk(&data.path().join("files")).is_empty());
}

/// A server told to use storage it cannot reach refuses to start, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_with_unreachable_s3_storage_refuses_to_start() {
    let mut s3 = S3Server::start().await.unwrap();
    let options = s3.options();
    let url = s3.blob_url("node");
    s3.stop().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    satchel_test_support::init_workspace(&satchel_test_support::sqlite_url(data.path()))
        .await
        .unwrap();
    let started = ServerProcess::start_with_args(
        data.path(),
        "127.0.0.1:0".parse().unwrap(),
        &["--blob-url".to_owned(), url],
        &options,
    )
    .await;
    let Err(e) = started else {
        panic!("a server without its file storage started")
    };
    assert!(e.to_string().contains("exited"), "{e:#}");
}

async fn round_trip_byte_for_byte(server: &TestServer) {
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let wang = Files::sign_in(&server.url(), "wang").await;
    let alice = Files::sign_in(&server.url(), "alice").await;
    let sizes = [0usize, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 12_345];
    for size in sizes {
        let bytes = random_bytes(size);
        let status = wang.upload(&bytes).await;
        assert!(
            status.complete && status.offset == size as u64,
            "{size}: {status:?}"
        );
        wang.send_file(ws.order_a.id, &bytes, "样品 照片 final.psd")
            .await
            .unwrap();
        let r = alice
            .download(&sha(&bytes), None, Some("样品 照片 final.psd"))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        let disposition = r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(disposition.starts_with("attachment;"), "{disposition}");
        assert!(
            disposition.contains("UTF-8''%E6%A0%B7%E5%93%81%20%E7%85%A7%E7%89%87%20final.psd"),
            "{disposition}"
        );
        let got = r.bytes().await.unwrap();
        assert_eq!(sha(&got), sha(&bytes), "size {size}");
    }

    // The stored message carries what the server measured, not what the client claimed.
    let history = satchel_test_support::sign_in(&server.url(), "alice")
        .await
        .unwrap()
        .history(ws.order_a.id, None, None, 10)
        .await
        .unwrap();
    let MessageBody::File { attachment, .. } = &history.messages[0].body else {
        panic!("a file message")
    };
    assert_eq!(attachment.mime, "application/octet-stream");
    assert_eq!(attachment.size, 0);

    // Ranges: resumable downloads.
    let bytes = random_bytes(100_000);
    wang.upload(&bytes).await;
    wang.send_file(ws.order_a.id, &bytes, "range.bin")
        .await
        .unwrap();
    let r = alice
        .download(&sha(&bytes), Some("bytes=1000-1999"), None)
        .await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()["content-range"], "bytes 1000-1999/100000");
    assert_eq!(&r.bytes().await.unwrap()[..], &bytes[1000..2000]);
    let r = alice.download(&sha(&bytes), Some("bytes=-10"), None).await;
    assert_eq!(&r.bytes().await.unwrap()[..], &bytes[99_990..]);
    assert_eq!(
        alice
            .download(&sha(&bytes), Some("bytes=200000-"), None)
            .await
            .status(),
        StatusCode::RANGE_NOT_SATISFIABLE
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_upload_resumes_where_it_stopped() {
    let server = TestServer::start().await.unwrap();
    let _ws = Workspace::seed(&server.url()).await.unwrap();
    let wang = Files::sign_in(&server.url(), "wang").await;
    let bytes = random_bytes(3 * CHUNK);
    let first = wang.create(&sha(&bytes), bytes.len() as u64).await.unwrap();
    let chunk = &bytes[..CHUNK];
    wang.patch(&first.upload_id, 0, chunk, &sha(chunk))
        .await
        .unwrap();
    // The client forgot everything: announcing the same file again finds the upload.
    let again = wang.create(&sha(&bytes), bytes.len() as u64).await.unwrap();
    assert_eq!(again.upload_id, first.upload_id);
    assert_eq!(again.offset, CHUNK as u64);
    assert_eq!(
        wang.status(&first.upload_id).await.unwrap().offset,
        CHUNK as u64
    );
    let done = wang.upload(&bytes).await;
    assert!(done.complete);
}

/// A chunk is acknowledged once written; the server puts the bytes on disk in batches.
/// Should a power cut take bytes it had acknowledged but not yet synced, the next server
/// process finds out when the file is complete and has them sent again from the last sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_a_power_cut_took_are_sent_again_from_the_last_sync() {
    const SYNCED: u64 = satchel_server::http::files::SYNC_EVERY_BYTES;
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let wang_id = ws.staff.iter().find(|m| m.username == "wang").unwrap().id;
    let wang = Files::sign_in(&server.url(), "wang").await;
    let bytes = random_bytes(SYNCED as usize + 2 * CHUNK);
    let up = wang.create(&sha(&bytes), bytes.len() as u64).await.unwrap();
    let last_chunk_at = SYNCED as usize + CHUNK;
    for offset in (0..last_chunk_at).step_by(CHUNK) {
        let chunk = &bytes[offset..offset + CHUNK];
        wang.patch(&up.upload_id, offset as u64, chunk, &sha(chunk))
            .await
            .unwrap();
    }
    // The first batch reaches the disk in the background.
    let store = satchel_server::open_store(&satchel_test_support::sqlite_url(server.data_dir()))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let staged = store.upload(wang_id, &up.upload_id).await.unwrap().unwrap();
        assert_eq!(staged.offset, last_chunk_at as u64);
        if staged.synced_offset == SYNCED {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never synced: {staged:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(store);
    let data = server.stop().await;
    // The power cut: what came after the sync never reached the disk.
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut staged = std::fs::OpenOptions::new()
            .write(true)
            .open(
                data.path()
                    .join("files")
                    .join("uploads")
                    .join(&up.upload_id),
            )
            .unwrap();
        staged.seek(SeekFrom::Start(SYNCED)).unwrap();
        staged.write_all(&vec![0; CHUNK]).unwrap();
    }

    let server = TestServer::start_in(data).await.unwrap();
    let wang = Files::sign_in(&server.url(), "wang").await;
    let last = &bytes[last_chunk_at..];
    let (_, err) = wang
        .patch(&up.upload_id, last_chunk_at as u64, last, &sha(last))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::OffsetMismatch, "{err:?}");
    assert_eq!(wang.status(&up.upload_id).await.unwrap().offset, SYNCED);
    let done = wang.upload(&bytes).await;
    assert!(done.complete);
    assert_eq!(done.upload_id, up.upload_id);
    let got = wang.download(&sha(&bytes), None, None).await;
    assert_eq!(sha(&got.bytes().await.unwrap()), sha(&bytes));
}

/// A client keeps several chunks on the wire at once; whatever order they reach the
/// server in, they are appended in offset order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_in_flight_are_appended_in_offset_order_whatever_order_they_arrive() {
    let server = TestServer::start().await.unwrap();
    let _ws = Workspace::seed(&server.url()).await.unwrap();
    let wang = Files::sign_in(&server.url(), "wang").await;
    let bytes = random_bytes(3 << 20);
    let up = wang.create(&sha(&bytes), bytes.len() as u64).await.unwrap();
    let chunk = |i: usize| &bytes[i << 20..(i + 1) << 20];
    let send_after = |i: usize, delay_ms: u64| {
        let (id, wang) = (&up.upload_id, &wang);
        async move {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            wang.patch(id, (i as u64) << 20, chunk(i), &sha(chunk(i)))
                .await
        }
    };
    // The last chunk first, the first one last.
    let (third, second, first) =
        tokio::join!(send_after(2, 0), send_after(1, 300), send_after(0, 600));
    assert_eq!(first.unwrap().offset, 1 << 20);
    assert_eq!(second.unwrap().offset, 2 << 20);
    let last = third.unwrap();
    assert!(last.complete, "{last:?}");
    let got = wang.download(&sha(&bytes), None, None).await;
    assert_eq!(got.bytes().await.unwrap().as_ref(), &bytes[..]);

    // A chunk whose predecessor never comes is refused, and nothing is stored.
    let other = random_bytes(2 << 20);
    let up = wang.create(&sha(&other), other.len() as u64).await.unwrap();
    let (_, err) = wang
        .patch(
            &up.upload_id,
            1 << 20,
            &other[1 << 20..],
            &sha(&other[1 << 20..]),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::OffsetMismatch);
    assert_eq!(wang.status(&up.upload_id).await.unwrap().offset, 0);
    // Nor does one far beyond what any client keeps in flight wait for anything.
    let big = wang.create(&sha(b"big"), 200 << 20).await.unwrap();
    let (_, err) = wang
        .patch(&big.upload_id, 100 << 20, b"far", &sha(b"far"))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::OffsetMismatch);
    wang.patch(&up.upload_id, 0, &other[..1 << 20], &sha(&other[..1 << 20]))
        .await
        .unwrap();
    let done = wang
        .patch(
            &up.upload_id,
            1 << 20,
            &other[1 << 20..],
            &sha(&other[1 << 20..]),
        )
        .await
        .unwrap();
    assert!(done.complete);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_chunks_are_refused_and_change_nothing() {
    let server = TestServer::start_with(satchel_server::Limits {
        max_file_bytes: 64 << 20,
        quota_bytes: 10 << 20,
    })
    .await
    .unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let wang = Files::sign_in(&server.url(), "wang").await;
    let bytes = random_bytes(2 * 1024 * 1024);
    let up = wang.create(&sha(&bytes), bytes.len() as u64).await.unwrap();
    let (a, b) = bytes.split_at(1024 * 1024);
    wang.patch(&up.upload_id, 0, a, &sha(a)).await.unwrap();

    // Wrong offset.
    let (status, err) = wang.patch(&up.upload_id, 0, b, &sha(b)).await.unwrap_err();
    assert_eq!(
        (status.as_u16(), err.code),
        (409, ErrorCode::OffsetMismatch)
    );
    // A flipped byte.
    let mut flipped = b.to_vec();
    flipped[777] ^= 0x01;
    let (_, err) = wang
        .patch(&up.upload_id, a.len() as u64, &flipped, &sha(b))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::ChecksumMismatch);
    // A flipped byte under a CRC-32 checksum, the cheap one the engine uses.
    let r = wang
        .http
        .patch(format!("{}/uploads/{}", wang.base, up.upload_id))
        .bearer_auth(&wang.token)
        .header("Upload-Offset", a.len().to_string())
        .header("Upload-Checksum", format!("crc32 {:08x}", crc32(b)))
        .body(flipped.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        decode::<UploadStatus>(r).await.unwrap_err().1.code,
        ErrorCode::ChecksumMismatch
    );
    // Past the declared size.
    let mut longer = b.to_vec();
    longer.extend_from_slice(b"extra");
    let (_, err) = wang
        .patch(&up.upload_id, a.len() as u64, &longer, &sha(&longer))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidField);
    // Missing headers.
    let r = wang
        .http
        .patch(format!("{}/uploads/{}", wang.base, up.upload_id))
        .bearer_auth(&wang.token)
        .body(b.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Nothing of that was stored: the offset is unchanged and the right chunk completes it.
    assert_eq!(
        wang.status(&up.upload_id).await.unwrap().offset,
        a.len() as u64
    );
    let done = wang
        .patch(&up.upload_id, a.len() as u64, b, &sha(b))
        .await
        .unwrap();
    assert!(done.complete);

    // Bytes that do not hash to the declared SHA-256: the upload is discarded.
    let claimed = random_bytes(1000);
    let actual = random_bytes(1000);
    let up = wang.create(&sha(&claimed), 1000).await.unwrap();
    let (_, err) = wang
        .patch(&up.upload_id, 0, &actual, &sha(&actual))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::HashMismatch);
    assert_eq!(
        wang.status(&up.upload_id).await.unwrap_err().1.code,
        ErrorCode::NotFound
    );
    assert_eq!(
        wang.send_file(ws.order_a.id, &actual, "x")
            .await
            .unwrap_err()
            .1
            .code,
        ErrorCode::InvalidField
    );

    // Quota: 10 MiB per member, 2 MiB already used.
    let (status, err) = wang.create(&sha(b"big"), 9 << 20).await.unwrap_err();
    assert_eq!((status.as_u16(), err.code), (507, ErrorCode::QuotaExceeded));
    // Over the per-file limit, and a malformed hash.
    assert_eq!(
        wang.create(&sha(b"huge"), 65 << 20)
            .await
            .unwrap_err()
            .1
            .code,
        ErrorCode::InvalidField
    );
    assert_eq!(
        wang.create("../../etc/passwd", 1).await.unwrap_err().1.code,
        ErrorCode::InvalidField
    );
    // A message cannot reference a file that was never uploaded.
    assert_eq!(
        wang.send_file(ws.order_a.id, b"never uploaded", "x")
            .await
            .unwrap_err()
            .1
            .code,
        ErrorCode::InvalidField
    );
}

/// A JPEG (or, with `png`, a PNG) of `w`×`h` in one colour.
fn encoded_image(w: u32, h: u32, png: bool) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(w, h, image::Rgb([150, 90, 50]));
    let mut out = std::io::Cursor::new(Vec::new());
    let format = if png {
        image::ImageFormat::Png
    } else {
        image::ImageFormat::Jpeg
    };
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn photo_with_preview(photo: &[u8], preview: &[u8], edge: (u32, u32)) -> MessageBody {
    photo_with(photo, Some(preview_ref(preview, edge)), None)
}

fn photo_with_screen_level(photo: &[u8], level: &[u8], edge: (u32, u32)) -> MessageBody {
    photo_with(photo, None, Some(preview_ref(level, edge)))
}

fn preview_ref(jpeg: &[u8], (width, height): (u32, u32)) -> PreviewRef {
    PreviewRef {
        sha256: sha(jpeg),
        size: jpeg.len() as u64,
        width,
        height,
    }
}

fn photo_with(
    photo: &[u8],
    preview: Option<PreviewRef>,
    screen: Option<PreviewRef>,
) -> MessageBody {
    MessageBody::Image {
        attachment: AttachmentRef {
            sha256: sha(photo),
            size: photo.len() as u64,
            mime: "image/jpeg".into(),
            name: "sample.jpg".into(),
            width: Some(4000),
            height: Some(3000),
            preview,
            screen,
        },
        caption: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_preview_is_a_small_jpeg_of_the_sender_readable_by_whoever_sees_the_photo() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let wang = Files::sign_in(&server.url(), "wang").await;
    let alice = Files::sign_in(&server.url(), "alice").await;
    let somchai = Files::sign_in(&server.url(), "somchai").await;
    let photo = encoded_image(2000, 1500, false);
    let preview = encoded_image(1024, 768, false);
    let png = encoded_image(1024, 768, true);
    for bytes in [&photo, &preview, &png] {
        wang.upload(bytes).await;
    }
    let refused = |r: Result<SendAck, (StatusCode, ErrorBody)>| {
        let (_, body) = r.unwrap_err();
        assert_eq!(body.code, ErrorCode::InvalidField, "{body:?}");
        body.message
    };
    // Not a JPEG; a preview that is the photo itself; absurd sizes; a preview on a file.
    let why = refused(
        wang.send_body(ws.order_a.id, photo_with_preview(&photo, &png, (1024, 768)))
            .await,
    );
    assert!(why.contains("JPEG"), "{why}");
    refused(
        wang.send_body(
            ws.order_a.id,
            photo_with_preview(&photo, &photo, (1024, 768)),
        )
        .await,
    );
    refused(
        wang.send_body(
            ws.order_a.id,
            photo_with_preview(&photo, &preview, (0, 768)),
        )
        .await,
    );
    let MessageBody::Image { attachment, .. } = photo_with_preview(&photo, &preview, (1024, 768))
    else {
        unreachable!()
    };
    refused(
        wang.send_body(
            ws.order_a.id,
            MessageBody::File {
                attachment,
                caption: String::new(),
            },
        )
        .await,
    );
    // Someone else's preview cannot be borrowed.
    let foreign = encoded_image(800, 600, false);
    somchai.upload(&foreign).await;
    refused(
        wang.send_body(
            ws.order_a.id,
            photo_with_preview(&photo, &foreign, (800, 600)),
        )
        .await,
    );
    assert_eq!(
        alice.download(&sha(&preview), None, None).await.status(),
        StatusCode::NOT_FOUND,
        "nothing carries the preview yet"
    );

    wang.send_body(
        ws.order_a.id,
        photo_with_preview(&photo, &preview, (1024, 768)),
    )
    .await
    .unwrap();
    let got = alice.download(&sha(&preview), None, None).await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap().as_ref(), &preview[..]);
    assert_eq!(
        somchai.download(&sha(&preview), None, None).await.status(),
        StatusCode::NOT_FOUND,
        "another customer's photo's preview"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screen_level_is_held_to_the_rules_of_a_preview() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let wang = Files::sign_in(&server.url(), "wang").await;
    let alice = Files::sign_in(&server.url(), "alice").await;
    let somchai = Files::sign_in(&server.url(), "somchai").await;
    let photo = encoded_image(4000, 3000, false);
    let level = encoded_image(2560, 1920, false);
    let png = encoded_image(2560, 1920, true);
    for bytes in [&photo, &level, &png] {
        wang.upload(bytes).await;
    }
    let refused = |r: Result<SendAck, (StatusCode, ErrorBody)>| {
        let (_, body) = r.unwrap_err();
        assert_eq!(body.code, ErrorCode::InvalidField, "{body:?}");
        body.message
    };
    let why = refused(
        wang.send_body(
            ws.order_a.id,
            photo_with_screen_level(&photo, &png, (2560, 1920)),
        )
        .await,
    );
    assert!(
        why.contains("screen level") && why.contains("JPEG"),
        "{why}"
    );
    let why = refused(
        wang.send_body(
            ws.order_a.id,
            photo_with_screen_level(&photo, &level, (4000, 3000)),
        )
        .await,
    );
    assert!(why.contains("2560"), "{why}");
    refused(
        wang.send_body(
            ws.order_a.id,
            photo_with_screen_level(&photo, &photo, (2560, 1920)),
        )
        .await,
    );
    let MessageBody::Image { attachment, .. } =
        photo_with_screen_level(&photo, &level, (2560, 1920))
    else {
        unreachable!()
    };
    for body in [
        MessageBody::File {
            attachment: attachment.clone(),
            caption: String::new(),
        },
        MessageBody::Video {
            attachment,
            caption: String::new(),
        },
    ] {
        let why = refused(wang.send_body(ws.order_a.id, body).await);
        assert!(why.contains("only photos"), "{why}");
    }

    wang.send_body(
        ws.order_a.id,
        photo_with_screen_level(&photo, &level, (2560, 1920)),
    )
    .await
    .unwrap();
    let got = alice.download(&sha(&level), None, None).await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap().as_ref(), &level[..]);
    assert_eq!(
        somchai.download(&sha(&level), None, None).await.status(),
        StatusCode::NOT_FOUND,
        "another customer's photo's screen level"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knowing_a_hash_gives_no_access() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let wang = Files::sign_in(&server.url(), "wang").await;
    let alice = Files::sign_in(&server.url(), "alice").await;
    let somchai = Files::sign_in(&server.url(), "somchai").await;
    let secret = random_bytes(50_000);
    wang.upload(&secret).await;
    // Before any message carries it, only the uploader can read it.
    assert_eq!(
        alice.download(&sha(&secret), None, None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        wang.download(&sha(&secret), None, None).await.status(),
        StatusCode::OK
    );
    wang.send_file(ws.order_a.id, &secret, "A-only.ai")
        .await
        .unwrap();
    assert_eq!(
        alice.download(&sha(&secret), None, None).await.status(),
        StatusCode::OK
    );
    // Customer B knows the hash: no download, no attaching it, no shortcut upload.
    assert_eq!(
        somchai.download(&sha(&secret), None, None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        somchai
            .send_file(ws.order_b.id, &secret, "stolen.ai")
            .await
            .unwrap_err()
            .1
            .code,
        ErrorCode::InvalidField
    );
    let claim = somchai
        .create(&sha(&secret), secret.len() as u64)
        .await
        .unwrap();
    assert!(
        !claim.complete,
        "B must upload the bytes to prove having them"
    );
    // Dedup for those who can see it: forwarding uploads nothing.
    let forward = alice
        .create(&sha(&secret), secret.len() as u64)
        .await
        .unwrap();
    assert!(forward.complete);
    // Malformed and unknown hashes look the same as forbidden ones.
    assert_eq!(
        somchai.download("zz", None, None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        somchai
            .download(&sha(b"nothing"), None, None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_and_types_are_defused() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let wang = Files::sign_in(&server.url(), "wang").await;
    let html = b"<!DOCTYPE html><html><script>alert(1)</script></html>".to_vec();
    wang.upload(&html).await;
    wang.send_file(ws.order_a.id, &html, "photo.jpg")
        .await
        .unwrap();
    let r = wang.download(&sha(&html), None, Some("../../x")).await;
    assert_eq!(
        r.headers()["content-type"],
        "application/octet-stream",
        "an HTML .jpg is not served as a page"
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let disposition = r.headers()["content-disposition"].to_str().unwrap();
    assert!(disposition.contains("filename=\"x\""), "{disposition}");
    let r = wang
        .download(
            &sha(&html),
            None,
            Some(&format!("a\u{0}b{}.jpg", "长".repeat(300))),
        )
        .await;
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"ab_"));

    // A real JPEG header is recognised from its bytes whatever its name.
    let mut jpeg = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00,
    ];
    jpeg.extend(random_bytes(500));
    wang.upload(&jpeg).await;
    wang.send_file(ws.order_a.id, &jpeg, "scan.pdf")
        .await
        .unwrap();
    assert_eq!(
        wang.download(&sha(&jpeg), None, None).await.headers()["content-type"],
        "image/jpeg"
    );

    // Nothing was written outside the server's data folder's files area.
    let files = server.data_dir().join("files");
    let blobs = walk(&files);
    assert!(blobs.iter().all(|path| path.starts_with(&files)));
    assert_eq!(blobs.len(), 2);
}

/// A zip whose one entry inflates to `inflated` bytes of zeros (about 1000:1).
fn zip_bomb(inflated: usize) -> Vec<u8> {
    use std::io::Write;
    let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let mut crc = flate2::Crc::new();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..inflated / zeros.len() {
        deflate.write_all(&zeros).unwrap();
        crc.update(&zeros);
    }
    let data = deflate.finish().unwrap();
    let name = b"bomb.bin";
    let (crc, size, packed) = (crc.sum(), inflated as u32, data.len() as u32);
    let header = |central: bool| {
        let mut h = Vec::new();
        h.extend_from_slice(if central {
            &[0x50, 0x4b, 1, 2]
        } else {
            &[0x50, 0x4b, 3, 4]
        });
        if central {
            h.extend_from_slice(&20u16.to_le_bytes()); // made by
        }
        h.extend_from_slice(&20u16.to_le_bytes()); // needed
        h.extend_from_slice(&0u16.to_le_bytes()); // flags
        h.extend_from_slice(&8u16.to_le_bytes()); // deflate
        h.extend_from_slice(&[0; 4]); // time, date
        h.extend_from_slice(&crc.to_le_bytes());
        h.extend_from_slice(&packed.to_le_bytes());
        h.extend_from_slice(&size.to_le_bytes());
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // extra
        if central {
            h.extend_from_slice(&[0; 8]); // comment, disk, internal attributes
            h.extend_from_slice(&[0; 4]); // external attributes
            h.extend_from_slice(&0u32.to_le_bytes()); // local header offset
        }
        h.extend_from_slice(name);
        h
    };
    let mut zip = header(false);
    zip.extend_from_slice(&data);
    let central_at = zip.len() as u32;
    let central = header(true);
    zip.extend_from_slice(&central);
    zip.extend_from_slice(&[0x50, 0x4b, 5, 6, 0, 0, 0, 0, 1, 0, 1, 0]);
    zip.extend_from_slice(&(central.len() as u32).to_le_bytes());
    zip.extend_from_slice(&central_at.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zip_bomb_is_stored_and_served_as_the_bytes_it_is() {
    let server = TestServer::start().await.unwrap();
    let ws = Workspace::seed(&server.url()).await.unwrap();
    let wang = Files::sign_in(&server.url(), "wang").await;
    // 256 MiB of zeros in well under 1 MiB: the server must never look inside.
    let bomb = zip_bomb(256 << 20);
    assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
    wang.upload(&bomb).await;
    wang.send_file(ws.order_a.id, &bomb, "样品资料.zip")
        .await
        .unwrap();
    // Recognised as a zip from its bytes, served as an opaque download.
    let api = satchel_test_support::sign_in(&server.url(), "wang")
        .await
        .unwrap();
    let page = api.history(ws.order_a.id, None, None, 10).await.unwrap();
    let sent = page
        .messages
        .last()
        .and_then(|m| m.body.attachment().cloned())
        .unwrap();
    assert_eq!(
        (sent.mime.as_str(), sent.size),
        ("application/zip", bomb.len() as u64)
    );
    let r = wang.download(&sha(&bomb), None, None).await;
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(r.bytes().await.unwrap().as_ref(), bomb.as_slice());
    // Nothing was unpacked: the data folder holds the zip and nothing the size of its
    // contents.
    let largest = walk(server.data_dir())
        .iter()
        .map(|path| path.metadata().unwrap().len())
        .max()
        .unwrap_or(0);
    assert!(largest < 64 << 20, "a {largest}-byte file appeared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_uploads_expire_and_free_their_space() {
    let server = TestServer::start().await.unwrap();
    let _ws = Workspace::seed(&server.url()).await.unwrap();
    let wang = Files::sign_in(&server.url(), "wang").await;
    let bytes = random_bytes(2 * CHUNK);
    let up = wang.create(&sha(&bytes), bytes.len() as u64).await.unwrap();
    let up = wang
        .patch(&up.upload_id, 0, &bytes[..CHUNK], &sha(&bytes[..CHUNK]))
        .await
        .unwrap();
    let staged = server.data_dir().join("files/uploads").join(&up.upload_id);
    assert!(staged.exists());

    let app = satchel_server::App::open(
        &satchel_test_support::sqlite_url(server.data_dir()),
        &server.data_dir().join("files"),
    )
    .await
    .unwrap();
    let now = satchel_server::clock::now_millis();
    assert_eq!(
        satchel_server::http::files::sweep_expired_uploads(app.state(), now)
            .await
            .unwrap(),
        0,
        "not yet"
    );
    let later = up.expires_at + 1;
    assert_eq!(
        satchel_server::http::files::sweep_expired_uploads(app.state(), later)
            .await
            .unwrap(),
        1
    );
    assert!(!staged.exists());
    assert_eq!(
        wang.status(&up.upload_id).await.unwrap_err().1.code,
        ErrorCode::NotFound
    );
}
