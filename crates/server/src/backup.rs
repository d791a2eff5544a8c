//! Backups of a serving store and restores into an empty one.
//!
//! A backup is a folder:
//! - `satchel.db`: a transactionally consistent copy of the database, taken while the
//!   server keeps serving ([`Store::snapshot_into`]; SQLite's `VACUUM INTO`);
//! - `blobs/ab/abcd…`: every blob that copy knows, read through the [`BlobStore`] and
//!   checked against its hash on the way;
//! - `manifest.json`: what it holds ([`Manifest`]), written last.
//!
//! Why this order is consistent: a message can reference a blob only once the blob is
//! complete, and complete blobs never change, so every blob the database copy names
//! exists (immutably) by the time the copy is taken. Blobs uploaded after the copy are
//! simply not in this backup, like the messages after it.
//!
//! A backup is built in `<dest>.partial` and renamed into place when whole, so a folder
//! with the backup's name is always complete. A restore verifies everything (database
//! integrity, counts against the manifest, every blob's hash) before it writes anything,
//! writes the blobs through the target's [`BlobStore`], and puts the database in place
//! last, so a failed restore never leaves a server that starts on half a workspace (and
//! running it again finishes the job).

use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use satchel_protocol::UnixMillis;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::blobs::{check_hash, BlobError, BlobStore};
use crate::store::sqlite::{self, Inspection};
use crate::store::{Store, StoreCounts, StoreError};

/// Version of the backup folder layout.
pub const FORMAT: u32 = 1;
const MANIFEST: &str = "manifest.json";
const DATABASE: &str = "satchel.db";
/// Bytes per append when restoring a blob (each append is synced).
const RESTORE_CHUNK: usize = 8 << 20;

/// What a backup holds; `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub created_at: UnixMillis,
    pub server_version: String,
    pub counts: StoreCounts,
    /// Total bytes of the blobs.
    pub blob_bytes: u64,
}

/// Why a backup or restore failed. Nothing is left half-written either way.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} already exists; choose a new folder for the backup")]
    Exists(PathBuf),
    #[error("{0} is not empty; restore only into a new data folder and database")]
    NotEmpty(PathBuf),
    #[error("{0} is not a Satchel backup (no readable manifest.json)")]
    NotABackup(PathBuf),
    #[error("the backup is damaged: {0}")]
    Damaged(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{op} {path} failed")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> BackupError + 'a {
    move |source| BackupError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

fn blob_file(root: &Path, sha256: &str) -> Result<PathBuf, BlobError> {
    check_hash(sha256)?;
    Ok(root.join("blobs").join(&sha256[..2]).join(sha256))
}

/// Backs up a serving store and its blobs into the new folder `dest`.
pub async fn backup(
    store: &dyn Store,
    blobs: &dyn BlobStore,
    dest: &Path,
) -> Result<Manifest, BackupError> {
    if tokio::fs::try_exists(dest).await.unwrap_or(true) {
        return Err(BackupError::Exists(dest.to_owned()));
    }
    let partial = partial_path(dest);
    // A leftover of an interrupted backup is ours to replace.
    let _ = tokio::fs::remove_dir_all(&partial).await;
    tokio::fs::create_dir_all(&partial)
        .await
        .map_err(io("creating", &partial))?;
    let result = write_backup(store, blobs, &partial).await;
    match result {
        Ok(manifest) => {
            tokio::fs::rename(&partial, dest)
                .await
                .map_err(io("renaming", &partial))?;
            Ok(manifest)
        }
        Err(e) => {
            let _ = tokio::fs::remove_dir_all(&partial).await;
            Err(e)
        }
    }
}

fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    dest.with_file_name(name)
}

async fn write_backup(
    store: &dyn Store,
    blobs: &dyn BlobStore,
    dir: &Path,
) -> Result<Manifest, BackupError> {
    let database = dir.join(DATABASE);
    store.snapshot_into(&database).await?;
    let Inspection {
        counts,
        blobs: listed,
    } = sqlite::inspect_file(&database).await?;
    let mut blob_bytes = 0;
    for blob in &listed {
        let target = blob_file(dir, &blob.sha256)?;
        copy_blob(blobs, &blob.sha256, blob.size, &target).await?;
        blob_bytes += blob.size;
    }
    let manifest = Manifest {
        format: FORMAT,
        created_at: crate::clock::now_millis(),
        server_version: env!("CARGO_PKG_VERSION").to_owned(),
        counts,
        blob_bytes,
    };
    let text = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| BackupError::Damaged(format!("writing the manifest: {e}")))?;
    write_synced(&dir.join(MANIFEST), &text).await?;
    Ok(manifest)
}

/// Streams one blob into `target`, checking size and hash on the way.
async fn copy_blob(
    blobs: &dyn BlobStore,
    sha256: &str,
    size: u64,
    target: &Path,
) -> Result<(), BackupError> {
    if let Some(dir) = target.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(io("creating", dir))?;
    }
    let mut stream = blobs.read(sha256, 0, size).await.map_err(|e| match e {
        BlobError::Missing => {
            BackupError::Damaged(format!("the server's blob {sha256} is missing"))
        }
        other => other.into(),
    })?;
    let mut file = tokio::fs::File::create(target)
        .await
        .map_err(io("creating", target))?;
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(io("reading blob", Path::new(sha256)))?;
        hasher.update(&chunk);
        len += chunk.len() as u64;
        file.write_all(&chunk)
            .await
            .map_err(io("writing", target))?;
    }
    file.sync_all().await.map_err(io("syncing", target))?;
    if len != size || hex::encode(hasher.finalize()) != sha256 {
        return Err(BackupError::Damaged(format!(
            "the server's blob {sha256} does not match its hash; run a check of the data folder"
        )));
    }
    Ok(())
}

async fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(io("creating", path))?;
    file.write_all(bytes).await.map_err(io("writing", path))?;
    file.sync_all().await.map_err(io("syncing", path))
}

/// Checks a backup completely without changing anything: the manifest, the database's
/// integrity and counts, and every blob's size and hash.
pub async fn verify(backup: &Path) -> Result<Manifest, BackupError> {
    Ok(verified(backup).await?.0)
}

async fn verified(backup: &Path) -> Result<(Manifest, Inspection), BackupError> {
    let manifest: Manifest = match tokio::fs::read(backup.join(MANIFEST)).await {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| BackupError::Damaged(format!("manifest.json: {e}")))?,
        Err(_) => return Err(BackupError::NotABackup(backup.to_owned())),
    };
    if manifest.format != FORMAT {
        return Err(BackupError::Unsupported(format!(
            "backup format {} is not known to this server (it reads format {FORMAT})",
            manifest.format
        )));
    }
    let database = backup.join(DATABASE);
    if !tokio::fs::try_exists(&database).await.unwrap_or(false) {
        return Err(BackupError::Damaged(format!("{DATABASE} is missing")));
    }
    let inspection = sqlite::inspect_file(&database)
        .await
        .map_err(|e| BackupError::Damaged(format!("{DATABASE}: {e}")))?;
    if inspection.counts != manifest.counts {
        return Err(BackupError::Damaged(format!(
            "{DATABASE} holds {:?} but the manifest says {:?}",
            inspection.counts, manifest.counts
        )));
    }
    let mut blob_bytes = 0;
    for blob in &inspection.blobs {
        let path = blob_file(backup, &blob.sha256)?;
        let (sha256, len) = hash_file(&path)
            .await
            .map_err(|_| BackupError::Damaged(format!("blob {} is missing", blob.sha256)))?;
        if sha256 != blob.sha256 || len != blob.size {
            return Err(BackupError::Damaged(format!(
                "blob {} does not match its hash",
                blob.sha256
            )));
        }
        blob_bytes += len;
    }
    if blob_bytes != manifest.blob_bytes {
        return Err(BackupError::Damaged(format!(
            "the blobs hold {blob_bytes} bytes but the manifest says {}",
            manifest.blob_bytes
        )));
    }
    Ok((manifest, inspection))
}

async fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Ok((hex::encode(hasher.finalize()), len));
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
}

/// Restores a verified backup into an empty database (`sqlite://…`) and blob store.
pub async fn restore(
    backup: &Path,
    database_url: &str,
    blobs: &dyn BlobStore,
) -> Result<Manifest, BackupError> {
    let target = sqlite::database_path(database_url).ok_or_else(|| {
        BackupError::Unsupported(format!(
            "restoring into `{database_url}` is not supported: restore into a SQLite data \
             folder (for PostgreSQL use pg_dump/pg_restore, see the README)"
        ))
    })?;
    if tokio::fs::try_exists(&target).await.unwrap_or(true) {
        return Err(BackupError::NotEmpty(target));
    }
    let (manifest, inspection) = verified(backup).await?;
    // Blobs are content-addressed: one already there (from an earlier, interrupted
    // restore) is the same bytes and is kept; only the database marks a restore done.
    for blob in &inspection.blobs {
        if !blobs.exists(&blob.sha256).await? {
            restore_blob(backup, blobs, &blob.sha256).await?;
        }
    }
    let staging = target.with_extension("db.restoring");
    if let Some(dir) = target.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(io("creating", dir))?;
    }
    tokio::fs::copy(backup.join(DATABASE), &staging)
        .await
        .map_err(io("copying the database to", &staging))?;
    let file = tokio::fs::OpenOptions::new()
        .write(true)
        .open(&staging)
        .await
        .map_err(io("opening", &staging))?;
    file.sync_all().await.map_err(io("syncing", &staging))?;
    drop(file);
    tokio::fs::rename(&staging, &target)
        .await
        .map_err(io("renaming", &staging))?;
    Ok(manifest)
}

/// Writes one backed-up blob through the target's blob store, which checks it again.
async fn restore_blob(
    backup: &Path,
    blobs: &dyn BlobStore,
    sha256: &str,
) -> Result<(), BackupError> {
    let path = blob_file(backup, sha256)?;
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(io("opening", &path))?;
    let staging_id = format!("{:032x}", rand::random::<u128>());
    let mut buf = Vec::with_capacity(RESTORE_CHUNK);
    let mut offset = 0u64;
    loop {
        buf.clear();
        let n = (&mut file)
            .take(RESTORE_CHUNK as u64)
            .read_to_end(&mut buf)
            .await
            .map_err(io("reading", &path))?;
        if n == 0 {
            break;
        }
        blobs.append(&staging_id, offset, &buf).await?;
        offset += n as u64;
    }
    let digest = blobs.digest(&staging_id).await?;
    if digest.sha256 != sha256 {
        let _ = blobs.discard(&staging_id).await;
        return Err(BackupError::Damaged(format!(
            "blob {sha256} changed while it was restored"
        )));
    }
    blobs.commit(&staging_id, sha256).await?;
    Ok(())
}
