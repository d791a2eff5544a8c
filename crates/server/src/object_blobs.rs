//! Blobs in S3-compatible object storage (`--blob-url s3://bucket/prefix`), for server
//! nodes that share no disk.
//!
//! Layout under the prefix:
//! - `blobs/ab/abcd…`: one object per blob, named by its SHA-256 like the local folder.
//! - `uploads/<upload id>/<offset, 20 digits>`: each appended chunk of an upload in
//!   progress is its own object, named by where it starts. S3's own multipart parts must
//!   be at least 5 MiB and cannot be read back before completion, so chunks are staged as
//!   plain objects and assembled once the whole file is verified.
//!
//! Invariants:
//! - A blob object appears only whole: it is written with one `PUT` or one completed
//!   multipart upload, and only after the staged bytes, read back while assembling, hashed
//!   to its name. A reader never sees a partial blob.
//! - An append at `offset` first removes every staged byte at or past `offset` (a chunk
//!   written before a crash but never acknowledged), so staged chunks always continue the
//!   acknowledged prefix.
//! - Object names come only from validated hashes and server-generated upload ids.
//!
//! Credentials and endpoint come from the usual `AWS_*` variables (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP` for a
//! plain-HTTP server on the LAN).

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use crate::blobs::{check_hash, check_upload_id, BlobError, BlobStore, ByteStream, Digester};

/// Below this size a blob is written with one `PUT`; above it with a multipart upload
/// (whose parts, except the last, S3 requires to be at least 5 MiB).
const SINGLE_PUT_MAX: u64 = 8 * 1024 * 1024;
/// Size of each multipart part while assembling a blob.
const PART_BYTES: usize = 8 * 1024 * 1024;
/// Parts in flight at once while assembling: bounds memory to about this many parts.
const PARTS_IN_FLIGHT: usize = 2;

/// How long start-up waits for the bucket to answer.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Blobs and upload staging in one S3 bucket.
pub struct ObjectBlobStore {
    store: AmazonS3,
    prefix: ObjectPath,
    /// For error messages: `s3://bucket/prefix`.
    url: String,
}

/// One staged chunk of an upload.
#[derive(Debug)]
struct StagedChunk {
    start: u64,
    len: u64,
    location: ObjectPath,
}

impl ObjectBlobStore {
    /// Connects to `s3://bucket[/prefix]` with the `AWS_*` settings of the environment
    /// and checks the bucket answers.
    pub async fn open(url: &str) -> Result<ObjectBlobStore, BlobError> {
        Self::open_with(url, &[]).await
    }

    /// [`ObjectBlobStore::open`] with `AWS_*` settings given here taking precedence over
    /// the environment's.
    pub async fn open_with(
        url: &str,
        options: &[(String, String)],
    ) -> Result<ObjectBlobStore, BlobError> {
        let parsed = url::Url::parse(url).map_err(|e| BlobError::BadUrl {
            url: url.to_owned(),
            why: e.to_string(),
        })?;
        if parsed.scheme() != "s3" {
            return Err(BlobError::BadUrl {
                url: url.to_owned(),
                why: "the blob URL must look like s3://bucket/prefix".to_owned(),
            });
        }
        let bucket =
            parsed
                .host_str()
                .filter(|b| !b.is_empty())
                .ok_or_else(|| BlobError::BadUrl {
                    url: url.to_owned(),
                    why: "the URL names no bucket".to_owned(),
                })?;
        let prefix =
            ObjectPath::parse(parsed.path().trim_matches('/')).map_err(|e| BlobError::BadUrl {
                url: url.to_owned(),
                why: e.to_string(),
            })?;
        let mut builder = AmazonS3Builder::from_env();
        for (key, value) in options {
            let key: AmazonS3ConfigKey =
                key.to_ascii_lowercase()
                    .parse()
                    .map_err(|_| BlobError::BadUrl {
                        url: url.to_owned(),
                        why: format!("`{key}` is not an S3 setting"),
                    })?;
            builder = builder.with_config(key, value);
        }
        let store = builder
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| BlobError::BadUrl {
                url: url.to_owned(),
                why: e.to_string(),
            })?;
        let blobs = ObjectBlobStore {
            store,
            prefix,
            url: url.to_owned(),
        };
        // Fail at start-up, not at the first upload, when the bucket or the credentials
        // are wrong.
        // The client retries a refused connection for minutes; at start-up an answer
        // within seconds or a clear error is more useful.
        let probe = blobs.prefix.clone().join("blobs");
        match tokio::time::timeout(PROBE_TIMEOUT, blobs.store.list_with_delimiter(Some(&probe)))
            .await
        {
            Ok(listed) => {
                listed.map_err(blobs.backend("listing"))?;
            }
            Err(_) => {
                return Err(BlobError::BadUrl {
                    url: url.to_owned(),
                    why: format!(
                        "no answer within {} s (is AWS_ENDPOINT_URL right and the server up?)",
                        PROBE_TIMEOUT.as_secs()
                    ),
                })
            }
        }
        Ok(blobs)
    }

    fn backend(&self, op: &'static str) -> impl FnOnce(object_store::Error) -> BlobError + '_ {
        move |source| match source {
            object_store::Error::NotFound { .. } => BlobError::Missing,
            source => BlobError::Backend {
                op,
                url: self.url.clone(),
                source,
            },
        }
    }

    fn blob_location(&self, sha256: &str) -> Result<ObjectPath, BlobError> {
        check_hash(sha256)?;
        Ok(self
            .prefix
            .clone()
            .join("blobs")
            .join(&sha256[..2])
            .join(sha256))
    }

    fn staging_folder(&self, upload_id: &str) -> Result<ObjectPath, BlobError> {
        check_upload_id(upload_id)?;
        Ok(self.prefix.clone().join("uploads").join(upload_id))
    }

    /// An upload's staged chunks, in order of their start.
    async fn staged_chunks(&self, upload_id: &str) -> Result<Vec<StagedChunk>, BlobError> {
        let folder = self.staging_folder(upload_id)?;
        let objects: Vec<_> = self
            .store
            .list(Some(&folder))
            .try_collect()
            .await
            .map_err(self.backend("listing"))?;
        let mut chunks: Vec<StagedChunk> = objects
            .into_iter()
            .filter_map(|meta| {
                // Anything not named by an offset was not written by this store.
                let start = meta.location.filename()?.parse::<u64>().ok()?;
                Some(StagedChunk {
                    start,
                    len: meta.size,
                    location: meta.location,
                })
            })
            .collect();
        chunks.sort_by_key(|c| c.start);
        Ok(chunks)
    }

    /// The staged chunks, checked to cover `0..len` without a gap or an overlap.
    async fn contiguous_chunks(&self, upload_id: &str) -> Result<Vec<StagedChunk>, BlobError> {
        let chunks = self.staged_chunks(upload_id).await?;
        let mut end = 0u64;
        for chunk in &chunks {
            if chunk.start != end {
                return Err(BlobError::Damaged(format!(
                    "upload {upload_id}: staged bytes jump from {end} to {}",
                    chunk.start
                )));
            }
            end += chunk.len;
        }
        Ok(chunks)
    }

    /// The staged chunks' bytes, one after another.
    fn staged_bytes(&self, chunks: Vec<StagedChunk>) -> ByteStream {
        let store = self.store.clone();
        futures_util::stream::iter(chunks)
            .then(move |chunk| {
                let store = store.clone();
                async move {
                    let stream = store
                        .get(&chunk.location)
                        .await
                        .map_err(std::io::Error::other)?
                        .into_stream()
                        .map_err(std::io::Error::other);
                    Ok::<_, std::io::Error>(stream)
                }
            })
            .try_flatten()
            .boxed()
    }

    async fn put_whole(
        &self,
        location: &ObjectPath,
        chunks: Vec<StagedChunk>,
        sha256: &str,
    ) -> Result<(), BlobError> {
        let mut digester = Digester::default();
        let mut parts = Vec::new();
        let mut stream = self.staged_bytes(chunks);
        while let Some(bytes) = stream.next().await {
            let bytes = bytes.map_err(self.staging_read())?;
            digester.update(&bytes);
            parts.push(bytes);
        }
        check_assembled(&digester.finish(), sha256)?;
        self.store
            .put(location, PutPayload::from_iter(parts))
            .await
            .map_err(self.backend("writing"))?;
        Ok(())
    }

    /// Deletes objects; one already gone is no error.
    async fn delete_all(&self, locations: &[ObjectPath]) -> Result<(), BlobError> {
        for location in locations {
            self.store
                .delete(location)
                .await
                .or_else(ignore_missing)
                .map_err(self.backend("deleting"))?;
        }
        Ok(())
    }

    fn staging_read(&self) -> impl FnOnce(std::io::Error) -> BlobError + '_ {
        move |source| BlobError::Io {
            op: "reading staged chunks from",
            path: self.url.clone().into(),
            source,
        }
    }

    async fn put_multipart(
        &self,
        location: &ObjectPath,
        chunks: Vec<StagedChunk>,
        sha256: &str,
    ) -> Result<(), BlobError> {
        let upload = self
            .store
            .put_multipart(location)
            .await
            .map_err(self.backend("starting a multipart upload"))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let assembled = async {
            let mut digester = Digester::default();
            let mut stream = self.staged_bytes(chunks);
            while let Some(bytes) = stream.next().await {
                let bytes = bytes.map_err(self.staging_read())?;
                digester.update(&bytes);
                writer
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(self.backend("uploading a part"))?;
                writer.put(bytes);
            }
            check_assembled(&digester.finish(), sha256)
        }
        .await;
        match assembled {
            Ok(()) => {
                writer
                    .finish()
                    .await
                    .map_err(self.backend("completing a multipart upload"))?;
                Ok(())
            }
            Err(e) => {
                // Leave no orphaned parts behind (billed storage on a real S3).
                let _ = writer.abort().await;
                Err(e)
            }
        }
    }
}

/// The staged bytes read back must be exactly the verified file; anything else means the
/// staging area changed under us.
fn check_assembled(digest: &crate::blobs::StagedDigest, sha256: &str) -> Result<(), BlobError> {
    if digest.sha256 == sha256 {
        Ok(())
    } else {
        Err(BlobError::Damaged(format!(
            "staged bytes hash to {} while assembling blob {sha256}",
            digest.sha256
        )))
    }
}

#[async_trait]
impl BlobStore for ObjectBlobStore {
    async fn append(&self, upload_id: &str, offset: u64, bytes: &[u8]) -> Result<(), BlobError> {
        let folder = self.staging_folder(upload_id)?;
        for chunk in self.staged_chunks(upload_id).await? {
            let end = chunk.start + chunk.len;
            if chunk.start >= offset {
                self.store
                    .delete(&chunk.location)
                    .await
                    .or_else(ignore_missing)
                    .map_err(self.backend("deleting"))?;
            } else if end > offset {
                // A chunk straddling the acknowledged offset keeps only its acknowledged
                // head; a PUT replaces an object atomically.
                let head = self
                    .store
                    .get_range(&chunk.location, 0..offset - chunk.start)
                    .await
                    .map_err(self.backend("reading"))?;
                self.store
                    .put(&chunk.location, head.into())
                    .await
                    .map_err(self.backend("writing"))?;
            }
        }
        if !bytes.is_empty() {
            self.store
                .put(
                    &folder.join(format!("{offset:020}")),
                    Bytes::copy_from_slice(bytes).into(),
                )
                .await
                .map_err(self.backend("writing"))?;
        }
        Ok(())
    }

    async fn sync(&self, _upload_id: &str) -> Result<(), BlobError> {
        // Each append is a PUT, durable in the bucket once it returns.
        Ok(())
    }

    async fn digest(&self, upload_id: &str) -> Result<crate::blobs::StagedDigest, BlobError> {
        let chunks = self.contiguous_chunks(upload_id).await?;
        let mut digester = Digester::default();
        let mut stream = self.staged_bytes(chunks);
        while let Some(bytes) = stream.next().await {
            digester.update(&bytes.map_err(self.staging_read())?);
        }
        Ok(digester.finish())
    }

    async fn commit(&self, upload_id: &str, sha256: &str) -> Result<(), BlobError> {
        let location = self.blob_location(sha256)?;
        if self.exists(sha256).await? {
            return self.discard(upload_id).await;
        }
        let chunks = self.contiguous_chunks(upload_id).await?;
        let locations: Vec<ObjectPath> = chunks.iter().map(|c| c.location.clone()).collect();
        let len: u64 = chunks.iter().map(|c| c.len).sum();
        if len <= SINGLE_PUT_MAX {
            self.put_whole(&location, chunks, sha256).await?;
        } else {
            self.put_multipart(&location, chunks, sha256).await?;
        }
        self.delete_all(&locations).await
    }

    async fn discard(&self, upload_id: &str) -> Result<(), BlobError> {
        let chunks = self.staged_chunks(upload_id).await?;
        let locations: Vec<ObjectPath> = chunks.into_iter().map(|c| c.location).collect();
        self.delete_all(&locations).await
    }

    async fn exists(&self, sha256: &str) -> Result<bool, BlobError> {
        let location = self.blob_location(sha256)?;
        match self.store.head(&location).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.backend("looking up")(e)),
        }
    }

    async fn read(&self, sha256: &str, start: u64, end: u64) -> Result<ByteStream, BlobError> {
        let location = self.blob_location(sha256)?;
        if start >= end {
            // No bytes asked for; the blob must still exist.
            self.store
                .head(&location)
                .await
                .map_err(self.backend("looking up"))?;
            return Ok(futures_util::stream::empty().boxed());
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(start..end)),
            ..GetOptions::default()
        };
        match self.store.get_opts(&location, options).await {
            Ok(result) => Ok(result.into_stream().map_err(std::io::Error::other).boxed()),
            Err(object_store::Error::NotFound { .. }) => Err(BlobError::Missing),
            Err(refused) => {
                // S3 refuses a range that starts at or past the end (an empty blob has no
                // range at all): that answer is simply no bytes. Only then is the size
                // looked up, so a normal read is one request.
                match self.store.head(&location).await {
                    Ok(meta) if meta.size <= start => Ok(futures_util::stream::empty().boxed()),
                    _ => Err(self.backend("reading")(refused)),
                }
            }
        }
    }
}

/// Deleting what is already gone is success.
fn ignore_missing(e: object_store::Error) -> Result<(), object_store::Error> {
    match e {
        object_store::Error::NotFound { .. } => Ok(()),
        e => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_blob_url_must_name_an_s3_bucket() {
        for url in ["file:///srv/blobs", "s3:///prefix", "not a url"] {
            let result = ObjectBlobStore::open(url).await;
            assert!(
                matches!(result, Err(BlobError::BadUrl { .. })),
                "{url} was accepted"
            );
        }
    }
}
