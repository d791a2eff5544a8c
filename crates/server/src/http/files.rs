//! Files: resumable uploads in the spirit of tus, and verified, range-capable downloads.
//!
//! Upload: `POST /uploads {sha256, size}` → an upload (or, for a file the caller can
//! already see, a complete one). `PATCH /uploads/{id}` with `Upload-Offset` and
//! `Upload-Checksum: crc32 <hex>` (or `sha256 <hex>`) appends one chunk at exactly the
//! current offset; a wrong offset, a bad checksum or a chunk past the declared size is
//! refused with nothing changed. A client may keep several chunks in flight: a chunk a
//! little ahead of the offset waits (up to [`AHEAD_WAIT`]) for the ones before it to
//! land, so chunks are appended in offset order whatever order they arrive in. Chunks
//! are synced to disk in batches ([`SYNC_EVERY_BYTES`]). When the last byte arrives the
//! whole file is hashed; on a mismatch the upload is discarded (or, if a previous server
//! process may have lost unsynced bytes, rewound to its last sync). `GET /uploads/{id}`
//! tells the offset to resume from.
//!
//! Download: `GET /blobs/{sha256}?name=…` for members who can see a message carrying
//! the file (or who uploaded it), with single `Range` requests, served as an attachment
//! with `nosniff`.

use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use satchel_protocol::api::{CreateUploadRequest, UploadStatus};
use satchel_protocol::{validate, ErrorCode, UnixMillis};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{ApiError, ApiJson, ApiResult, Authed};
use crate::blobs::{check_hash, sniff_mime, BlobError, Digester};
use crate::store::{BlobInfo, Upload};
use crate::{clock, AppState};

/// Largest chunk one `PATCH` may carry.
pub const MAX_CHUNK_BYTES: usize = 16 * 1024 * 1024;
/// An unfinished upload is discarded after this long without a chunk.
pub const UPLOAD_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// `/uploads` and `/blobs`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/uploads", post(create))
        .route(
            "/uploads/{id}",
            get(status)
                .patch(append)
                .layer(DefaultBodyLimit::max(MAX_CHUNK_BYTES)),
        )
        .route("/blobs/{sha256}", get(download))
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::Missing => ApiError::new(ErrorCode::NotFound, "not found"),
            BlobError::BadHash(h) => ApiError::new(
                ErrorCode::InvalidField,
                format!("sha256: `{h}` is not lower-case hex SHA-256"),
            ),
            other => ApiError::internal(&other),
        }
    }
}

fn expiry(now: UnixMillis) -> UnixMillis {
    now.saturating_add(i64::try_from(UPLOAD_TTL.as_millis()).unwrap_or(i64::MAX))
}

fn status_of(u: &Upload) -> UploadStatus {
    UploadStatus {
        upload_id: u.id.clone(),
        sha256: u.sha256.clone(),
        size: u.size,
        offset: u.offset,
        complete: u.complete,
        expires_at: u.expires_at,
    }
}

/// A chunk's checksum as sent in `Upload-Checksum`. CRC-32 catches transmission damage
/// at a fraction of SHA-256's cost; the whole file is verified by SHA-256 in any case.
enum ChunkChecksum {
    Crc32(u32),
    Sha256(String),
}

impl ChunkChecksum {
    fn parse(header: &str) -> Option<ChunkChecksum> {
        let (algorithm, value) = header.trim().split_once(' ')?;
        let value = value.trim().to_ascii_lowercase();
        match algorithm {
            "crc32" => u32::from_str_radix(&value, 16)
                .ok()
                .map(ChunkChecksum::Crc32),
            "sha256" => Some(ChunkChecksum::Sha256(value)),
            _ => None,
        }
    }

    fn matches(&self, chunk: &[u8]) -> bool {
        match self {
            ChunkChecksum::Crc32(expected) => crc32fast::hash(chunk) == *expected,
            ChunkChecksum::Sha256(expected) => hex::encode(Sha256::digest(chunk)) == *expected,
        }
    }
}

/// The SHA-256 of an upload's bytes so far, kept while the upload is in progress so
/// the final verification needs no second pass over the file. Lost on restart; the
/// final step then re-reads the staged file.
#[derive(Clone)]
pub struct RunningHash(Digester);

impl RunningHash {
    /// The state after `chunk` at `offset`, if it continues `previous` (or starts the file).
    fn advanced(previous: Option<RunningHash>, offset: u64, chunk: &[u8]) -> Option<RunningHash> {
        let mut digester = match previous {
            Some(RunningHash(d)) if d.bytes_seen() == offset => d,
            _ if offset == 0 => Digester::default(),
            _ => return None,
        };
        digester.update(chunk);
        Some(RunningHash(digester))
    }
}

/// What the server knows of an upload in progress beyond its row.
#[derive(Default)]
struct Progress {
    /// The SHA-256 of the bytes so far, if this process saw them all.
    running: Option<RunningHash>,
    /// Set when this process first sees the upload: whether bytes past its synced
    /// offset were written by an earlier process, which may have stopped in a power cut
    /// before they reached the disk.
    inherited_unsynced: Option<bool>,
    /// How far a sync has been started.
    sync_started: u64,
    /// Moves on when the upload is rewound, so a sync started before cannot vouch for
    /// bytes written after it.
    generation: u64,
}

/// Per upload in progress: a lock, so two chunks for the same upload never interleave
/// (it guards the upload's [`Progress`]), and a signal that its offset moved, which a
/// chunk that overtook the one before it waits for.
#[derive(Default)]
pub struct UploadSlot {
    progress: tokio::sync::Mutex<Progress>,
    advanced: tokio::sync::Notify,
}

/// The slots of the uploads in progress, by upload id.
#[derive(Default)]
pub struct UploadLocks(Mutex<HashMap<String, Arc<UploadSlot>>>);

impl UploadLocks {
    fn get(&self, id: &str) -> Arc<UploadSlot> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(id.to_owned()).or_default().clone()
    }
    fn forget(&self, id: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }
}

/// How many written bytes of an upload may wait for a sync. Chunks are acknowledged
/// once written, and synced in the background every this many bytes (and wholly
/// before the blob is committed): a sync per chunk would cost half the disk's speed.
/// After a power cut the bytes past the last sync may be gone, which the whole file's
/// hash reveals; the upload then resumes from the last sync.
pub const SYNC_EVERY_BYTES: u64 = 32 << 20;

/// How long a chunk that arrived ahead of the upload's offset waits for the chunks
/// before it. A client keeps a few chunks in flight on separate connections, so a
/// later one can reach the server first; one whose predecessors never come (their
/// connection was cut) is refused after this, as any wrong offset is.
const AHEAD_WAIT: Duration = Duration::from_secs(5);
/// A chunk further ahead than this is refused at once: no client keeps that much in
/// flight, and a waiting chunk holds its bytes in memory.
const MAX_AHEAD_BYTES: u64 = 4 * MAX_CHUNK_BYTES as u64;

async fn create(
    State(state): State<AppState>,
    authed: Authed,
    ApiJson(req): ApiJson<CreateUploadRequest>,
) -> ApiResult<UploadStatus> {
    check_hash(&req.sha256)?;
    if req.size > state.limits.max_file_bytes {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            format!(
                "size: files are limited to {} bytes",
                state.limits.max_file_bytes
            ),
        ));
    }
    let now = clock::now_millis();
    let id = crate::auth::new_hex_id();
    let upload = state
        .store
        .create_upload(
            Upload {
                id,
                member_id: authed.session.member.id,
                sha256: req.sha256,
                size: req.size,
                offset: 0,
                synced_offset: 0,
                expires_at: expiry(now),
                complete: false,
            },
            state.limits.quota_bytes,
        )
        .await?;
    if !upload.complete && upload.size == 0 {
        let slot = state.upload_locks.get(&upload.id);
        let mut progress = slot.progress.lock().await;
        return Ok(Json(finish(&state, upload, &mut progress).await?));
    }
    Ok(Json(status_of(&upload)))
}

async fn status(
    State(state): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> ApiResult<UploadStatus> {
    let upload = state
        .store
        .upload(authed.session.member.id, &id)
        .await?
        .ok_or(BlobError::Missing)?;
    Ok(Json(status_of(&upload)))
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn append(
    State(state): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<UploadStatus> {
    let offset: u64 = header_str(&headers, "upload-offset")
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::MalformedRequest,
                "Upload-Offset header missing or not a number",
            )
        })?;
    let checksum = header_str(&headers, "upload-checksum")
        .and_then(ChunkChecksum::parse)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::MalformedRequest,
                "Upload-Checksum header missing: `crc32 <hex>` or `sha256 <hex>`",
            )
        })?;

    let slot = state.upload_locks.get(&id);
    let wait_until = tokio::time::Instant::now() + AHEAD_WAIT;
    let (mut progress, upload) = loop {
        // Registered before the offset is read, so an advance in between is not missed.
        let advanced = slot.advanced.notified();
        let mut progress = slot.progress.lock().await;
        let upload = state
            .store
            .upload(authed.session.member.id, &id)
            .await?
            .ok_or(BlobError::Missing)?;
        if upload.complete {
            return Ok(Json(status_of(&upload)));
        }
        if progress.inherited_unsynced.is_none() {
            progress.inherited_unsynced = Some(upload.offset > upload.synced_offset);
            progress.sync_started = upload.synced_offset;
        }
        let ahead = offset.saturating_sub(upload.offset);
        if ahead > 0 && ahead <= MAX_AHEAD_BYTES && tokio::time::Instant::now() < wait_until {
            drop(progress);
            let _ = tokio::time::timeout_at(wait_until, advanced).await;
            continue;
        }
        if offset != upload.offset {
            return Err(ApiError::new(
                ErrorCode::OffsetMismatch,
                format!("the upload is at offset {}, not {offset}", upload.offset),
            ));
        }
        break (progress, upload);
    };
    let (matches, body) = tokio::task::spawn_blocking(move || (checksum.matches(&body), body))
        .await
        .map_err(|e| ApiError::internal(&e))?;
    if !matches {
        return Err(ApiError::new(
            ErrorCode::ChecksumMismatch,
            "the chunk does not match its checksum; resend it",
        ));
    }
    let end = offset.saturating_add(body.len() as u64);
    if end > upload.size {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            format!(
                "the chunk ends at {end}, past the declared size {}",
                upload.size
            ),
        ));
    }
    // The running hash advances on another thread while the chunk is written: the two
    // are a chunk's largest costs, and neither needs the other.
    let previous = progress.running.clone();
    let hashed = body.clone();
    let hashing =
        tokio::task::spawn_blocking(move || RunningHash::advanced(previous, offset, &hashed));
    state.blobs.append(&id, offset, &body).await?;
    let advanced = hashing.await.map_err(|e| ApiError::internal(&e))?;
    state.metrics.upload_bytes.inc_by(body.len() as u64);
    let now = clock::now_millis();
    state.store.set_upload_offset(&id, end, expiry(now)).await?;
    progress.running = advanced;
    slot.advanced.notify_waiters();
    let upload = Upload {
        offset: end,
        expires_at: expiry(now),
        ..upload
    };
    if end < upload.size {
        if end - progress.sync_started >= SYNC_EVERY_BYTES {
            progress.sync_started = end;
            tokio::spawn(sync_in_background(
                state.clone(),
                slot.clone(),
                id,
                end,
                progress.generation,
            ));
        }
        return Ok(Json(status_of(&upload)));
    }
    Ok(Json(finish(&state, upload, &mut progress).await?))
}

/// Puts an upload's bytes up to `through` on disk while the next chunks arrive, and
/// records that they are there.
async fn sync_in_background(
    state: AppState,
    slot: Arc<UploadSlot>,
    id: String,
    through: u64,
    generation: u64,
) {
    if let Err(error) = state.blobs.sync(&id).await {
        // The commit syncs everything again; until then the upload is only less safe.
        tracing::warn!(%error, upload = %id, "syncing an upload failed");
        return;
    }
    let progress = slot.progress.lock().await;
    if progress.generation != generation {
        return;
    }
    if let Err(error) = state.store.set_upload_synced(&id, through).await {
        tracing::warn!(%error, upload = %id, "recording a synced upload failed");
    }
}

/// All bytes are in: verify the whole file, then make it a blob (or discard it).
async fn finish(
    state: &AppState,
    upload: Upload,
    progress: &mut Progress,
) -> Result<UploadStatus, ApiError> {
    let digest = match progress.running.take() {
        Some(RunningHash(d)) if d.bytes_seen() == upload.size => d.finish(),
        // The server restarted during the upload: hash what is on disk.
        _ => state.blobs.digest(&upload.id).await?,
    };
    let matches = digest.sha256 == upload.sha256 && digest.len == upload.size;
    if !matches && progress.inherited_unsynced == Some(true) {
        // Bytes an earlier server process wrote but had not synced may be what differs
        // (a power cut): keep what is known to be on disk and have the rest sent again.
        // Should the file still not match, it is discarded.
        progress.inherited_unsynced = Some(false);
        progress.generation += 1;
        progress.sync_started = upload.synced_offset;
        state
            .store
            .rewind_upload(&upload.id, upload.synced_offset)
            .await?;
        return Err(ApiError::new(
            ErrorCode::OffsetMismatch,
            format!(
                "the bytes after {} did not survive a server restart; send them again from there",
                upload.synced_offset
            ),
        ));
    }
    if !matches {
        state.blobs.discard(&upload.id).await?;
        state.store.delete_upload(&upload.id).await?;
        state.upload_locks.forget(&upload.id);
        return Err(ApiError::new(
            ErrorCode::HashMismatch,
            "the file's bytes do not match the declared SHA-256; upload it again",
        ));
    }
    state.blobs.commit(&upload.id, &upload.sha256).await?;
    let blob = BlobInfo {
        sha256: upload.sha256.clone(),
        size: upload.size,
        mime: sniff_mime(&digest.head),
    };
    state
        .store
        .complete_upload(&upload.id, &blob, clock::now_millis())
        .await?;
    state.upload_locks.forget(&upload.id);
    Ok(status_of(&Upload {
        complete: true,
        offset: upload.size,
        ..upload
    }))
}

/// Discards unfinished uploads whose time has passed, reclaiming their space.
pub async fn sweep_expired_uploads(state: &AppState, now: UnixMillis) -> Result<usize, ApiError> {
    let expired = state.store.expired_uploads(now).await?;
    for id in &expired {
        state.blobs.discard(id).await?;
        state.store.delete_upload(id).await?;
        state.upload_locks.forget(id);
    }
    Ok(expired.len())
}

#[derive(Deserialize)]
struct DownloadQuery {
    name: Option<String>,
}

/// Parses a single `bytes=` range against a length; `Err` when unsatisfiable.
fn parse_range(value: &str, len: u64) -> Result<(u64, u64), ()> {
    let spec = value.trim().strip_prefix("bytes=").ok_or(())?;
    if spec.contains(',') {
        return Err(());
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().map_err(|_| ())?;
            (len.saturating_sub(n), len)
        }
        (start, "") => (start.parse().map_err(|_| ())?, len),
        (start, last) => {
            let last: u64 = last.parse().map_err(|_| ())?;
            (
                start.parse().map_err(|_| ())?,
                last.saturating_add(1).min(len),
            )
        }
    };
    if start >= end || start >= len {
        return Err(());
    }
    Ok((start, end))
}

/// Types a browser engine may display inline from a blob; everything else is served
/// as an opaque download.
fn served_type(mime: &str) -> &str {
    if mime.starts_with("image/")
        || mime.starts_with("video/")
        || mime.starts_with("audio/")
        || mime == "application/pdf"
    {
        mime
    } else {
        "application/octet-stream"
    }
}

fn content_disposition(name: &str) -> HeaderValue {
    let name = validate::sanitize_file_name(name);
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

async fn download(
    State(state): State<AppState>,
    authed: Authed,
    Path(sha256): Path<String>,
    Query(q): Query<DownloadQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // Malformed hashes, unknown ones and ones the caller may not read all look alike.
    let hidden = || ApiError::new(ErrorCode::NotFound, "not found");
    check_hash(&sha256).map_err(|_| hidden())?;
    if !state
        .store
        .can_read_blob(authed.session.member.id, &sha256)
        .await?
    {
        return Err(hidden());
    }
    let blob = state.store.blob(&sha256).await?.ok_or_else(hidden)?;
    let (status, start, end) = match header_str(&headers, "range") {
        None => (StatusCode::OK, 0, blob.size),
        Some(range) => match parse_range(range, blob.size) {
            Ok((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e),
            Err(()) => {
                let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", blob.size)) {
                    r.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return Ok(r);
            }
        },
    };
    let served = state.metrics.download_bytes.clone();
    let stream = state
        .blobs
        .read(&sha256, start, end)
        .await?
        .inspect(move |chunk| {
            if let Ok(bytes) = chunk {
                served.inc_by(bytes.len() as u64);
            }
        });
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    if let Ok(v) = HeaderValue::from_str(served_type(&blob.mime)) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{sha256}\"")) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CONTENT_DISPOSITION,
        content_disposition(q.name.as_deref().unwrap_or(&sha256)),
    );
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{}", end - 1, blob.size)) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range("bytes=0-99", 1000), Ok((0, 100)));
        assert_eq!(parse_range("bytes=900-", 1000), Ok((900, 1000)));
        assert_eq!(parse_range("bytes=-100", 1000), Ok((900, 1000)));
        assert_eq!(parse_range("bytes=990-5000", 1000), Ok((990, 1000)));
        assert_eq!(parse_range("bytes=1000-", 1000), Err(()));
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), Err(()));
        assert_eq!(parse_range("items=0-1", 1000), Err(()));
    }
}
