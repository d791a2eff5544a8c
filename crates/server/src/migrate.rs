//! Moving a workspace to another database (`satchel-server migrate-store`): from the
//! office PC's SQLite file to PostgreSQL when one machine is no longer enough (or back).
//!
//! First every file the workspace references is read back and hashed, and every
//! conversation's hash chain recomputed from the source's bodies; a damaged source is
//! refused before anything is written. Then every row is copied in one target
//! transaction, and the copy is verified the way an auditor would: the counts match the
//! source's, and every chain recomputed from the copied bodies ends where the source's
//! ends. Files stay where they are (the data folder's `files/`), which both databases'
//! servers read.

use crate::blobs::{self, BlobError, BlobStore};
use crate::store::sql::SqlStore;
use crate::store::{StoreCounts, StoreError};

/// What a migration moved and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    pub counts: StoreCounts,
    /// Conversations whose hash chain was recomputed and matched.
    pub chains: usize,
    /// Files read back whole with their hash.
    pub blobs: usize,
    pub blob_bytes: u64,
}

/// Why a migration failed. The source is never changed; a failed copy leaves the target
/// empty.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blobs(#[from] BlobError),
    #[error("the source is damaged, nothing was copied: {0}")]
    Damaged(String),
    #[error("the copy does not match the source: {0}")]
    Mismatch(String),
}

/// Copies the workspace at `from` into the empty database at `to` and verifies it
/// against the source and the file store. Run it with the server stopped, so the copy
/// holds everything the source holds.
pub async fn migrate_store(
    from: &str,
    to: &str,
    files: &dyn BlobStore,
) -> Result<MigrationReport, MigrateError> {
    let source = SqlStore::open(from).await?;
    let target = SqlStore::open(to).await?;
    let expected_heads = source.chain_heads().await?;
    let expected = source.counts().await?;
    let (mut blob_count, mut blob_bytes) = (0, 0);
    for blob in source.blobs().await? {
        let intact = match blobs::is_intact(files, &blob.sha256, blob.size).await {
            Err(BlobError::Missing) => false,
            other => other?,
        };
        if !intact {
            return Err(MigrateError::Damaged(format!(
                "file {} is missing or damaged in the file store",
                blob.sha256
            )));
        }
        blob_count += 1;
        blob_bytes += blob.size;
    }
    let copied = source.copy_into(&target).await?;
    let stored = target.counts().await?;
    for (what, counts) in [("copied", copied), ("stored", stored)] {
        if counts != expected {
            return Err(MigrateError::Mismatch(format!(
                "{what} {counts:?}, the source holds {expected:?}"
            )));
        }
    }
    let heads = target.chain_heads().await?;
    if heads != expected_heads {
        return Err(MigrateError::Mismatch(
            "a conversation's hash chain ends elsewhere than in the source".into(),
        ));
    }
    Ok(MigrationReport {
        counts: stored,
        chains: heads.len(),
        blobs: blob_count,
        blob_bytes,
    })
}
