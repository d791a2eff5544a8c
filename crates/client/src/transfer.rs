//! Files: the profile's content-addressed cache, resumable uploads of outgoing files,
//! and verified downloads.
//!
//! Sending a file copies it into the cache (`files/<sha256>`) while hashing it, so the
//! message survives the user moving or editing the original, and the bytes sent are
//! exactly the bytes hashed. The message waits in the outbox until the uploader task
//! has the file on the server; the sync task holds it (and later messages of the same
//! conversation) back until then.
//!
//! The uploader keeps [`CHUNKS_IN_FLIGHT`] chunks on the wire and resumes from the
//! server's offset after any failure: at most the chunks in flight
//! ([`MAX_RESENT_BYTES`]) are sent twice per interruption. A download resumes from the
//! length of its partial file and is verified against the hash before it becomes
//! visible in the cache.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use satchel_protocol::{ErrorCode, RetryClass};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use crate::engine::{Change, Inner};
use crate::error::EngineError;

/// Bytes per upload chunk.
pub const CHUNK_BYTES: usize = 2 * 1024 * 1024;
/// Upload chunks of one file on the wire at the same time.
pub const CHUNKS_IN_FLIGHT: usize = 2;
/// The most bytes an interrupted upload sends again: the chunks that were in flight.
pub const MAX_RESENT_BYTES: usize = CHUNK_BYTES * CHUNKS_IN_FLIGHT;

fn io_error(what: &str, path: &Path, e: std::io::Error) -> EngineError {
    EngineError::File(format!("{what} {}: {e}", path.display()))
}

/// The cache folder of a profile.
pub(crate) fn cache_dir(profile: &Path) -> PathBuf {
    profile.join("files")
}

/// Where a cached file lives.
pub(crate) fn cached_path(profile: &Path, sha256: &str) -> PathBuf {
    cache_dir(profile).join(sha256)
}

/// What copying a file into the cache found.
pub struct Imported {
    pub sha256: String,
    pub size: u64,
    pub head: Vec<u8>,
}

/// Copies `source` into the cache while hashing it; the cached copy appears only
/// complete (written to a temporary name, synced, renamed).
pub(crate) async fn import(profile: &Path, source: &Path) -> Result<Imported, EngineError> {
    let dir = cache_dir(profile);
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| io_error("creating", &dir, e))?;
    let mut input = tokio::fs::File::open(source)
        .await
        .map_err(|e| io_error("opening", source, e))?;
    let tmp = dir.join(format!("import-{}.tmp", uuid::Uuid::new_v4().simple()));
    let mut output = tokio::fs::File::create(&tmp)
        .await
        .map_err(|e| io_error("creating", &tmp, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut head = Vec::new();
    let mut size = 0u64;
    loop {
        let n = input
            .read(&mut buf)
            .await
            .map_err(|e| io_error("reading", source, e))?;
        if n == 0 {
            break;
        }
        if head.len() < 8192 {
            head.extend_from_slice(&buf[..n.min(8192 - head.len())]);
        }
        hasher.update(&buf[..n]);
        output
            .write_all(&buf[..n])
            .await
            .map_err(|e| io_error("writing", &tmp, e))?;
        size += n as u64;
    }
    output
        .sync_all()
        .await
        .map_err(|e| io_error("syncing", &tmp, e))?;
    drop(output);
    let sha256 = hex::encode(hasher.finalize());
    let target = cached_path(profile, &sha256);
    tokio::fs::rename(&tmp, &target)
        .await
        .map_err(|e| io_error("storing", &target, e))?;
    Ok(Imported { sha256, size, head })
}

/// The uploader task: uploads the files of queued messages, then wakes the sync task.
/// Most files uploaded at the same time.
pub const PARALLEL_UPLOADS: usize = 2;

/// What became of one upload attempt.
enum Attempt {
    Done,
    Refused,
    Interrupted,
}

pub(crate) async fn run_uploader(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            return;
        }
        let pending = match inner.db.pending_uploads().await {
            Ok(p) => p,
            Err(error) => {
                tracing::warn!(%error, "reading pending uploads failed");
                Vec::new()
            }
        };
        if pending.is_empty() {
            tokio::select! {
                _ = inner.transfer_wake.notified() => continue,
                _ = stop.changed() => return,
            }
        }
        // Up to PARALLEL_UPLOADS files at once, oldest first, so one huge design file
        // does not hold up every photo behind it.
        let attempts = futures_util::stream::iter(pending)
            .map(|(sha256, size)| {
                let inner = inner.clone();
                async move { upload_and_record(&inner, &sha256, size).await }
            })
            .buffer_unordered(PARALLEL_UPLOADS)
            .collect::<Vec<Attempt>>();
        let attempts = tokio::select! {
            a = attempts => a,
            _ = stop.changed() => return,
        };
        if attempts.iter().any(|a| matches!(a, Attempt::Interrupted)) {
            failures += 1;
            let delay =
                Duration::from_millis(250u64 << failures.min(7)).min(Duration::from_secs(30));
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = inner.transfer_wake.notified() => {}
                _ = stop.changed() => return,
            }
        } else {
            failures = 0;
        }
    }
}

async fn upload_and_record(inner: &Arc<Inner>, sha256: &str, size: u64) -> Attempt {
    match upload(inner, sha256, size).await {
        Ok(true) => {
            if let Err(error) = inner.db.mark_uploaded(sha256).await {
                tracing::warn!(%error, "recording an upload failed");
                return Attempt::Interrupted;
            }
            inner.emit(vec![Change::Outbox]);
            inner.wake.notify_one();
            Attempt::Done
        }
        // Paused or cancelled meanwhile: nothing to record.
        Ok(false) => Attempt::Done,
        Err(error) if error.retry_class() == RetryClass::Permanent => {
            tracing::warn!(%error, %sha256, "the server refused a file");
            match inner
                .db
                .fail_sends_with_blob(sha256, &error.to_string())
                .await
            {
                Ok(touched) => inner.emit_touched(&touched),
                Err(e) => tracing::warn!(%e, "marking messages failed failed"),
            }
            Attempt::Refused
        }
        Err(error) => {
            tracing::debug!(%error, %sha256, "upload interrupted; resuming later");
            Attempt::Interrupted
        }
    }
}

/// Uploads one cached file, resuming from wherever the server is.
/// `Ok(false)` when the upload was paused or its messages cancelled before it finished.
///
/// [`CHUNKS_IN_FLIGHT`] chunks travel at once, each on its own connection, so the next
/// chunk is on the wire while the server writes and syncs the one before it; the
/// server appends them in offset order. The answers come back in that order too, and
/// each moves the confirmed offset. Any refusal of an offset or a checksum (an earlier
/// attempt's chunk landed after all, a chunk was damaged on the way) drops what is in
/// flight and resumes from the server's offset; an interruption loses at most the
/// chunks in flight, [`MAX_RESENT_BYTES`].
async fn upload(inner: &Arc<Inner>, sha256: &str, size: u64) -> Result<bool, EngineError> {
    let api = inner.api()?;
    let path = cached_path(inner.profile_dir(), sha256);
    let mut status = api.create_upload(sha256, size).await?;
    let started = (std::time::Instant::now(), status.offset);
    let upload_id = status.upload_id.clone();
    let mut next = status.offset;
    let mut in_flight = futures_util::stream::FuturesOrdered::new();
    while !status.complete {
        while in_flight.len() < CHUNKS_IN_FLIGHT && next < size {
            if !inner.db.upload_wanted(sha256).await? {
                return Ok(false);
            }
            let len = (size - next).min(CHUNK_BYTES as u64);
            let (api, id, path, at) = (&api, &upload_id, path.clone(), next);
            in_flight.push_back(async move {
                let chunk = read_chunk(path.clone(), at, len)
                    .await
                    .map_err(|e| EngineError::File(format!("reading {}: {e}", path.display())))??;
                api.upload_chunk(id, at, chunk).await
            });
            next += len;
        }
        let Some(answer) = in_flight.next().await else {
            // Everything was sent and answered, yet the server has not completed it.
            status = api.upload_status(&upload_id).await?;
            if !status.complete && status.offset >= size {
                return Err(EngineError::File(format!(
                    "the server holds all of {sha256} but has not completed it"
                )));
            }
            next = status.offset;
            continue;
        };
        status = match answer {
            Ok(s) => s,
            // Someone (an earlier attempt whose answer was lost) moved the offset, or a
            // chunk was damaged: what is in flight builds on the wrong offset.
            Err(e)
                if matches!(
                    e.code(),
                    Some(ErrorCode::OffsetMismatch | ErrorCode::ChecksumMismatch)
                ) =>
            {
                in_flight.clear();
                let s = api.upload_status(&upload_id).await?;
                next = s.offset;
                s
            }
            Err(e) => return Err(e),
        };
        inner.emit(vec![progress(sha256, status.offset, size, started)]);
    }
    Ok(true)
}

/// Reads `len` bytes of the file at `offset` on a blocking thread.
fn read_chunk(
    path: PathBuf,
    offset: u64,
    len: u64,
) -> tokio::task::JoinHandle<Result<bytes::Bytes, EngineError>> {
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Seek};
        let len = usize::try_from(len).unwrap_or(CHUNK_BYTES);
        let mut buf = vec![0u8; len];
        let mut file = std::fs::File::open(&path).map_err(|e| io_error("opening", &path, e))?;
        file.seek(std::io::SeekFrom::Start(offset))
            .map_err(|e| io_error("seeking", &path, e))?;
        file.read_exact(&mut buf)
            .map_err(|e| io_error("reading", &path, e))?;
        Ok(bytes::Bytes::from(buf))
    })
}

/// A progress event with the rate since `started` and the time left at that rate.
fn progress(sha256: &str, done: u64, total: u64, started: (std::time::Instant, u64)) -> Change {
    let secs = started.0.elapsed().as_secs_f64();
    let rate = if secs > 0.0 {
        (done.saturating_sub(started.1) as f64 / secs) as u64
    } else {
        0
    };
    let eta_ms = total
        .saturating_sub(done)
        .saturating_mul(1000)
        .checked_div(rate)
        .unwrap_or(0);
    Change::Transfer {
        sha256: sha256.to_owned(),
        done,
        total,
        bytes_per_sec: rate,
        eta_ms,
    }
}

/// Downloads a file into the cache (resuming a partial download), verifies its hash,
/// and returns the cached path.
pub(crate) async fn download(inner: &Arc<Inner>, sha256: &str) -> Result<PathBuf, EngineError> {
    let lock = {
        let mut downloads = inner
            .downloads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        downloads.entry(sha256.to_owned()).or_default().clone()
    };
    let result = {
        let _one_at_a_time = lock.lock().await;
        download_once(inner, sha256).await
    };
    let mut downloads = inner
        .downloads
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // The last one out forgets the lock (a waiter still holds its own clone).
    if Arc::strong_count(&lock) <= 2 {
        downloads.remove(sha256);
    }
    result
}

/// How long a download may receive nothing before it is abandoned (and resumed).
const DOWNLOAD_STALL: Duration = Duration::from_secs(30);

async fn download_once(inner: &Arc<Inner>, sha256: &str) -> Result<PathBuf, EngineError> {
    let target = cached_path(inner.profile_dir(), sha256);
    if inner.db.has_file(sha256).await? && tokio::fs::try_exists(&target).await.unwrap_or(false) {
        inner.db.touch_file(sha256).await?;
        return Ok(target);
    }
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(EngineError::NotFound("file"));
    }
    let dir = cache_dir(inner.profile_dir());
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| io_error("creating", &dir, e))?;
    let part = dir.join(format!("{sha256}.part"));
    let have = match tokio::fs::metadata(&part).await {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(io_error("reading", &part, e)),
    };
    let response = inner.api()?.download(sha256, have).await?;
    let resumed = response.status() == reqwest::StatusCode::PARTIAL_CONTENT;
    // Without a partial answer the server sent the whole file: start the partial file over.
    let kept = if resumed { have } else { 0 };
    let total = response.content_length().map(|l| l + kept);
    let sink = PartSink::open(part.clone(), kept).await?;
    let mut done = kept;
    let started = (std::time::Instant::now(), done);
    let mut last_progress = std::time::Instant::now();
    let mut stream = response.bytes_stream();
    let received: Result<(), EngineError> = loop {
        // A connection that goes silent (a dropped Wi-Fi, a dead NAT entry) sends no
        // reset; without this the download would wait for hours instead of resuming.
        let chunk = match tokio::time::timeout(DOWNLOAD_STALL, stream.next()).await {
            Ok(Some(Ok(chunk))) => chunk,
            Ok(Some(Err(e))) => break Err(EngineError::Network(e)),
            Ok(None) => break Ok(()),
            Err(_) => {
                break Err(EngineError::File(format!(
                    "download of {sha256} stalled at {done} bytes; it resumes on the next try"
                )))
            }
        };
        done += chunk.len() as u64;
        if !sink.write(chunk).await {
            // The writer stopped; its error is reported below.
            break Ok(());
        }
        // Progress is for eyes: a few events a second, not one per network packet.
        if last_progress.elapsed() >= PROGRESS_EVERY {
            last_progress = std::time::Instant::now();
            inner.emit(vec![progress(sha256, done, total.unwrap_or(done), started)]);
        }
    };
    // Whatever happened, what arrived is written and synced before anyone looks at the
    // partial file again: the next attempt resumes from its length.
    let (actual, size) = sink.finish().await?;
    received?;
    inner.emit(vec![progress(sha256, done, total.unwrap_or(done), started)]);
    if total.is_some_and(|t| size < t) {
        // The connection ended early without an error: keep what arrived and resume.
        return Err(EngineError::File(format!(
            "download of {sha256} ended at {size} bytes; it resumes on the next try"
        )));
    }
    if actual != sha256 {
        let _ = tokio::fs::remove_file(&part).await;
        return Err(EngineError::File(format!(
            "downloaded bytes do not match {sha256}; discarded"
        )));
    }
    tokio::fs::rename(&part, &target)
        .await
        .map_err(|e| io_error("storing", &target, e))?;
    inner.db.add_file(sha256, size, false).await?;
    make_previews(inner.profile_dir(), sha256).await;
    enforce_cache_limit(inner, Some(sha256)).await?;
    Ok(target)
}

/// How often a running transfer reports progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// The partial file of a download, written on one thread and hashed on another, so
/// the network, the disk and the hash work at the same time instead of taking turns
/// (and the file is never read a second time to verify it).
struct PartSink {
    to_writer: tokio::sync::mpsc::Sender<bytes::Bytes>,
    to_hasher: tokio::sync::mpsc::Sender<bytes::Bytes>,
    writer: tokio::task::JoinHandle<Result<u64, EngineError>>,
    hasher: tokio::task::JoinHandle<Result<String, EngineError>>,
}

/// How many received pieces may wait for the disk or the hash.
const SINK_QUEUE: usize = 64;

/// How many bytes of a download are written between syncs. Each sync lets the synced
/// pages go from the cache (the file is read again only for previews), so a large
/// download is written into pages just freed instead of ever more fresh memory: on
/// this project's VMs that took a 1 GiB download from about 610–745 to 825–846 MB/s
/// when the server had the file cached.
const SYNC_EVERY: usize = 32 * 1024 * 1024;

/// Asks the OS to drop a file's synced pages from its cache. Only advice: where the OS
/// has no such call (Windows, macOS) or declines, nothing changes but memory use.
fn release_cached_pages(file: &std::fs::File) {
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    if let Err(error) = rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::DontNeed) {
        tracing::debug!(%error, "dropping a synced file from the page cache failed");
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    let _ = file;
}

impl PartSink {
    /// Opens `part`, keeping its first `keep` bytes (hashed again, as the hash must
    /// cover the whole file) and dropping anything after them.
    async fn open(part: PathBuf, keep: u64) -> Result<PartSink, EngineError> {
        use std::io::{Read, Seek, Write};
        let mut file = {
            let opening = part.clone();
            tokio::task::spawn_blocking(move || {
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&opening)?;
                file.set_len(keep)?;
                file.seek(std::io::SeekFrom::Start(keep))?;
                Ok(file)
            })
            .await
            .map_err(|e| EngineError::File(format!("opening {}: {e}", part.display())))?
            .map_err(|e| io_error("opening", &part, e))?
        };
        let (to_writer, mut for_writer) = tokio::sync::mpsc::channel::<bytes::Bytes>(SINK_QUEUE);
        let (to_hasher, mut for_hasher) = tokio::sync::mpsc::channel::<bytes::Bytes>(SINK_QUEUE);
        let writer_path = part.clone();
        let writer = tokio::task::spawn_blocking(move || {
            let path = writer_path;
            let mut written = keep;
            let mut unsynced = 0usize;
            let mut out = std::io::BufWriter::with_capacity(1 << 20, &mut file);
            while let Some(chunk) = for_writer.blocking_recv() {
                out.write_all(&chunk)
                    .map_err(|e| io_error("writing", &path, e))?;
                written += chunk.len() as u64;
                unsynced += chunk.len();
                if unsynced >= SYNC_EVERY {
                    out.flush().map_err(|e| io_error("writing", &path, e))?;
                    out.get_ref()
                        .sync_data()
                        .map_err(|e| io_error("syncing", &path, e))?;
                    release_cached_pages(out.get_ref());
                    unsynced = 0;
                }
            }
            out.flush().map_err(|e| io_error("writing", &path, e))?;
            drop(out);
            file.sync_all().map_err(|e| io_error("syncing", &path, e))?;
            Ok(written)
        });
        let hasher = tokio::task::spawn_blocking(move || {
            let mut hasher = Sha256::new();
            let kept = std::fs::File::open(&part)
                .and_then(|f| std::io::copy(&mut f.take(keep), &mut hasher))
                .map_err(|e| io_error("reading", &part, e))?;
            if kept != keep {
                return Err(EngineError::File(format!(
                    "{} shrank while it was resumed",
                    part.display()
                )));
            }
            while let Some(chunk) = for_hasher.blocking_recv() {
                hasher.update(&chunk);
            }
            Ok(hex::encode(hasher.finalize()))
        });
        Ok(PartSink {
            to_writer,
            to_hasher,
            writer,
            hasher,
        })
    }

    /// Queues bytes for the file; `false` when the writer or the hasher has stopped (on
    /// an error that [`PartSink::finish`] returns).
    async fn write(&self, chunk: bytes::Bytes) -> bool {
        self.to_hasher.send(chunk.clone()).await.is_ok() && self.to_writer.send(chunk).await.is_ok()
    }

    /// Writes and syncs everything queued; the SHA-256 and length of the whole file.
    async fn finish(self) -> Result<(String, u64), EngineError> {
        drop((self.to_writer, self.to_hasher));
        let stopped = |e: tokio::task::JoinError| {
            EngineError::File(format!("the download writer failed: {e}"))
        };
        let written = self.writer.await.map_err(stopped)??;
        let sha256 = self.hasher.await.map_err(stopped)??;
        Ok((sha256, written))
    }
}

/// SHA-256 and length of a file.
pub(crate) async fn hash_file(path: &Path) -> Result<(String, u64), EngineError> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| io_error("opening", path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .await
            .map_err(|e| io_error("reading", path, e))?;
        if n == 0 {
            return Ok((hex::encode(hasher.finalize()), len));
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
}

/// Which preview of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PreviewSize {
    /// Long edge ≤ 1024 px, for the chat.
    Chat,
    /// Long edge ≤ 256 px, for lists and albums.
    Thumb,
    /// Long edge ≤ 2560 px, for the viewer at fit: a blob of its own (the sender's
    /// [`satchel_protocol::AttachmentRef::screen`]), cached like any file.
    Screen,
}

/// Where a cached preview lives.
pub(crate) fn preview_path(profile: &Path, sha256: &str, size: PreviewSize) -> PathBuf {
    let suffix = match size {
        PreviewSize::Chat => "chat",
        PreviewSize::Thumb => "thumb",
        PreviewSize::Screen => "screen",
    };
    cache_dir(profile).join(format!("{sha256}.{suffix}.jpg"))
}

/// Largest file a preview is made of.
const MAX_PREVIEW_SOURCE: u64 = 512 * 1024 * 1024;

/// What [`make_previews`] made: the image's displayed size, its chat preview's, and
/// its screen level's if it has one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PreviewSizes {
    pub full: (u32, u32),
    pub chat: (u32, u32),
    pub screen: Option<(u32, u32)>,
}

/// Makes and caches the previews and the screen level of a cached photo, off the async
/// threads. `None` when it is not an image that can be previewed (the file is still
/// sent and saved as it is).
pub(crate) async fn make_previews(profile: &Path, sha256: &str) -> Option<PreviewSizes> {
    let source = cached_path(profile, sha256);
    let size = tokio::fs::metadata(&source).await.ok()?.len();
    if size > MAX_PREVIEW_SOURCE {
        return None;
    }
    let bytes = tokio::fs::read(&source).await.ok()?;
    cache_previews(profile, sha256, bytes, crate::preview::make_with_screen).await
}

/// Makes the previews of `image` (encoded bytes) with `make` and caches them as those
/// of `sha256`. A screen level is written to its preview path, to be imported into the
/// cache as a file of its own.
async fn cache_previews(
    profile: &Path,
    sha256: &str,
    image: Vec<u8>,
    make: MakePreviews,
) -> Option<PreviewSizes> {
    let previews = previews_of(image, sha256, make).await?;
    write_previews(profile, sha256, &previews.chat.jpeg, &previews.thumb.jpeg).await?;
    // A level too large to be accepted as one is left out: the viewer uses the original.
    let screen = previews
        .screen
        .filter(|level| level.jpeg.len() as u64 <= satchel_protocol::MAX_PREVIEW_BYTES);
    if let Some(level) = &screen {
        write_preview(profile, sha256, PreviewSize::Screen, &level.jpeg).await?;
    }
    Some(PreviewSizes {
        full: (previews.width, previews.height),
        chat: (previews.chat.width, previews.chat.height),
        screen: screen.map(|level| (level.width, level.height)),
    })
}

type MakePreviews = fn(&[u8]) -> Result<crate::preview::Previews, crate::preview::PreviewError>;

/// How long extracting a video's poster frame may take.
const POSTER_TIMEOUT: Duration = Duration::from_secs(20);

/// Makes and caches the previews of a cached video from a frame near its start, with
/// `ffmpeg` (`SATCHEL_FFMPEG`, else on the `PATH`). `None` when no decoder is there or
/// it cannot read the file: the video then shows as a typed file.
pub(crate) async fn make_video_poster(profile: &Path, sha256: &str) -> Option<PreviewSizes> {
    let source = cached_path(profile, sha256);
    // A second in skips the black first frame of most clips; a shorter clip has no frame
    // there, so ask again from the start.
    let mut frame = poster_frame(&source, Some("1")).await;
    if frame.as_ref().is_none_or(Vec::is_empty) {
        frame = poster_frame(&source, None).await;
    }
    let frame = frame.filter(|f| !f.is_empty())?;
    cache_previews(profile, sha256, frame, crate::preview::make).await
}

/// One frame of a video as JPEG bytes, or `None` without a working decoder.
async fn poster_frame(video: &Path, at_seconds: Option<&str>) -> Option<Vec<u8>> {
    let program = std::env::var_os("SATCHEL_FFMPEG").unwrap_or_else(|| "ffmpeg".into());
    let mut command = tokio::process::Command::new(program);
    command.args(["-nostdin", "-v", "error"]);
    if let Some(at) = at_seconds {
        command.args(["-ss", at]);
    }
    command
        .arg("-i")
        .arg(video)
        .args([
            "-frames:v",
            "1",
            "-f",
            "image2pipe",
            "-c:v",
            "mjpeg",
            "-q:v",
            "2",
            "pipe:1",
        ])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    #[cfg(windows)]
    {
        // No console window flashing up for a helper process.
        const CREATE_NO_WINDOW: u32 = 0x0800_0000;
        command.creation_flags(CREATE_NO_WINDOW);
    }
    match tokio::time::timeout(POSTER_TIMEOUT, command.output()).await {
        Ok(Ok(output)) if output.status.success() => Some(output.stdout),
        Ok(Ok(_)) => Some(Vec::new()),
        Ok(Err(error)) => {
            tracing::debug!(%error, "no video decoder; videos show as files");
            None
        }
        Err(_) => {
            tracing::warn!(video = %video.display(), "extracting a poster frame timed out");
            None
        }
    }
}

async fn previews_of(
    bytes: Vec<u8>,
    sha256: &str,
    make: MakePreviews,
) -> Option<crate::preview::Previews> {
    match tokio::task::spawn_blocking(move || make(&bytes)).await {
        Ok(Ok(p)) => Some(p),
        Ok(Err(error)) => {
            tracing::debug!(%error, %sha256, "no preview");
            None
        }
        Err(_) => None,
    }
}

async fn write_previews(profile: &Path, sha256: &str, chat: &[u8], thumb: &[u8]) -> Option<()> {
    write_preview(profile, sha256, PreviewSize::Chat, chat).await?;
    write_preview(profile, sha256, PreviewSize::Thumb, thumb).await
}

async fn write_preview(
    profile: &Path,
    sha256: &str,
    which: PreviewSize,
    jpeg: &[u8],
) -> Option<()> {
    let path = preview_path(profile, sha256, which);
    let tmp = path.with_extension("tmp");
    if tokio::fs::write(&tmp, jpeg).await.is_err() || tokio::fs::rename(&tmp, &path).await.is_err()
    {
        return None;
    }
    Some(())
}

/// Installs the previews of the photo `sha256` from the preview its sender uploaded
/// (downloaded and verified like any file): a few hundred kilobytes instead of the
/// whole original.
pub(crate) async fn install_sent_preview(
    inner: &Arc<Inner>,
    sha256: &str,
    preview_sha256: &str,
) -> Result<(), EngineError> {
    let path = download(inner, preview_sha256).await?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| io_error("reading", &path, e))?;
    // The sender's chat preview is used as it is; only the list thumbnail is made here.
    let previews = previews_of(bytes.clone(), preview_sha256, crate::preview::make)
        .await
        .ok_or_else(|| EngineError::File(format!("preview {preview_sha256} is not an image")))?;
    write_previews(inner.profile_dir(), sha256, &bytes, &previews.thumb.jpeg)
        .await
        .ok_or_else(|| EngineError::File(format!("storing the previews of {sha256} failed")))
}

/// Default size limit of a profile's file cache.
pub const DEFAULT_CACHE_LIMIT: u64 = 20 << 30;

/// Evicts least-recently-used files (with their previews) until the cache is within its
/// limit. Files waiting to be sent are never evicted, nor is `keep` (the file just
/// fetched), so the cache may exceed its limit while they wait.
pub(crate) async fn enforce_cache_limit(
    inner: &Inner,
    keep: Option<&str>,
) -> Result<(), EngineError> {
    let limit = inner
        .db
        .get("cache_limit_bytes")
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CACHE_LIMIT);
    let mut total = inner.db.cached_bytes().await?;
    if total <= limit {
        return Ok(());
    }
    for (sha256, size) in inner.db.evictable_files().await? {
        if total <= limit {
            break;
        }
        if Some(sha256.as_str()) == keep {
            continue;
        }
        let profile = inner.profile_dir();
        for path in [
            cached_path(profile, &sha256),
            preview_path(profile, &sha256, PreviewSize::Chat),
            preview_path(profile, &sha256, PreviewSize::Thumb),
        ] {
            match tokio::fs::remove_file(&path).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io_error("evicting", &path, e))
                }
                _ => {}
            }
        }
        inner.db.remove_file(&sha256).await?;
        total = total.saturating_sub(size);
    }
    Ok(())
}
