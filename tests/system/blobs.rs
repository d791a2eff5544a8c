//! The blob store's contract, one suite run on the local folder and on a real
//! S3-compatible server (`s3s-fs`): staged chunks become a whole blob only when committed,
//! an append discards whatever lies past its offset (bytes written before a crash but
//! never acknowledged), ranges read exactly, and hostile names reach nothing.

use std::sync::Arc;

use rand::RngCore;
use satchel_server::blobs::{is_intact, BlobError, BlobStore, LocalBlobStore};
use satchel_server::object_blobs::ObjectBlobStore;
use satchel_test_support::s3::S3Server;
use sha2::{Digest, Sha256};

/// A fresh blob store and what keeps it alive.
struct Fresh {
    blobs: Arc<dyn BlobStore>,
    _folder: Option<tempfile::TempDir>,
    _s3: Option<S3Server>,
}

impl Fresh {
    async fn local() -> Fresh {
        let folder = tempfile::tempdir().unwrap();
        Fresh {
            blobs: Arc::new(LocalBlobStore::open(folder.path()).await.unwrap()),
            _folder: Some(folder),
            _s3: None,
        }
    }

    async fn s3() -> Fresh {
        let s3 = S3Server::start().await.unwrap();
        let blobs = ObjectBlobStore::open_with(&s3.blob_url("files"), &s3.options())
            .await
            .unwrap();
        Fresh {
            blobs: Arc::new(blobs),
            _folder: None,
            _s3: Some(s3),
        }
    }
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rand::thread_rng().fill_bytes(&mut v);
    v
}

fn upload_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

async fn read_all(blobs: &dyn BlobStore, sha256: &str, start: u64, end: u64) -> Vec<u8> {
    use futures_util::TryStreamExt;
    let chunks: Vec<_> = blobs
        .read(sha256, start, end)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    chunks.concat()
}

/// Appends `bytes` in chunks of `chunk` and commits them as a blob.
async fn store_file(blobs: &dyn BlobStore, bytes: &[u8], chunk: usize) -> String {
    let id = upload_id();
    for (i, part) in bytes.chunks(chunk).enumerate() {
        blobs.append(&id, (i * chunk) as u64, part).await.unwrap();
    }
    let digest = blobs.digest(&id).await.unwrap();
    assert_eq!(digest.sha256, sha(bytes));
    assert_eq!(digest.len, bytes.len() as u64);
    blobs.commit(&id, &digest.sha256).await.unwrap();
    digest.sha256
}

macro_rules! blob_suite {
    ($($backend:ident),+) => {$(
        mod $backend {
            use super::*;

            #[tokio::test(flavor = "multi_thread")]
            async fn staged_chunks_become_a_blob_read_back_exactly_and_in_ranges() {
                super::staged_chunks_become_a_blob_read_back_exactly_and_in_ranges(
                    Fresh::$backend().await,
                )
                .await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn an_append_discards_what_lies_past_its_offset() {
                super::an_append_discards_what_lies_past_its_offset(Fresh::$backend().await)
                    .await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn an_empty_file_is_a_blob_too() {
                super::an_empty_file_is_a_blob_too(Fresh::$backend().await).await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn a_large_file_is_assembled_whole() {
                super::a_large_file_is_assembled_whole(Fresh::$backend().await).await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn the_same_file_uploaded_twice_is_one_blob() {
                super::the_same_file_uploaded_twice_is_one_blob(Fresh::$backend().await).await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn a_discarded_upload_leaves_nothing() {
                super::a_discarded_upload_leaves_nothing(Fresh::$backend().await).await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn hostile_names_reach_nothing() {
                super::hostile_names_reach_nothing(Fresh::$backend().await).await
            }
        }
    )+};
}

blob_suite!(local, s3);

async fn staged_chunks_become_a_blob_read_back_exactly_and_in_ranges(fresh: Fresh) {
    let blobs = fresh.blobs.as_ref();
    let bytes = random_bytes(300_001);
    let id = upload_id();
    for (i, part) in bytes.chunks(100_000).enumerate() {
        blobs.append(&id, (i * 100_000) as u64, part).await.unwrap();
    }
    let sha256 = sha(&bytes);
    // Staged bytes are not a blob until committed.
    assert!(!blobs.exists(&sha256).await.unwrap());
    assert!(matches!(
        blobs.read(&sha256, 0, 10).await,
        Err(BlobError::Missing)
    ));
    let digest = blobs.digest(&id).await.unwrap();
    assert_eq!(digest.sha256, sha256);
    assert_eq!(digest.len, bytes.len() as u64);
    assert_eq!(digest.head, bytes[..8192]);
    blobs.commit(&id, &sha256).await.unwrap();

    assert!(blobs.exists(&sha256).await.unwrap());
    assert!(is_intact(blobs, &sha256, bytes.len() as u64).await.unwrap());
    assert_eq!(read_all(blobs, &sha256, 0, bytes.len() as u64).await, bytes);
    assert_eq!(
        read_all(blobs, &sha256, 99_990, 100_010).await,
        bytes[99_990..100_010]
    );
    // A range running past the end stops at the end; one starting there is empty.
    assert_eq!(
        read_all(blobs, &sha256, 300_000, 400_000).await,
        bytes[300_000..]
    );
    assert!(read_all(blobs, &sha256, 300_001, 400_000).await.is_empty());
    // The staging area is empty again.
    assert_eq!(blobs.digest(&id).await.unwrap().len, 0);
}

async fn an_append_discards_what_lies_past_its_offset(fresh: Fresh) {
    let blobs = fresh.blobs.as_ref();
    let bytes = random_bytes(100);
    let id = upload_id();
    blobs.append(&id, 0, &bytes[..40]).await.unwrap();
    blobs.append(&id, 40, &bytes[40..]).await.unwrap();
    // The server crashed after storing 40..100 but before acknowledging past 70; the
    // client resends from 70 with other bytes (say, a file edited in between).
    let resent = random_bytes(30);
    blobs.append(&id, 70, &resent).await.unwrap();
    let expected = [&bytes[..70], &resent[..]].concat();
    let digest = blobs.digest(&id).await.unwrap();
    assert_eq!(
        (digest.sha256.as_str(), digest.len),
        (sha(&expected).as_str(), 100)
    );

    // Back to a chunk boundary, and to the very start.
    blobs.append(&id, 40, &bytes[40..]).await.unwrap();
    assert_eq!(blobs.digest(&id).await.unwrap().sha256, sha(&bytes));
    blobs.append(&id, 0, &bytes[..10]).await.unwrap();
    assert_eq!(blobs.digest(&id).await.unwrap().sha256, sha(&bytes[..10]));

    blobs.append(&id, 10, &bytes[10..]).await.unwrap();
    blobs.commit(&id, &sha(&bytes)).await.unwrap();
    assert_eq!(read_all(blobs, &sha(&bytes), 0, 100).await, bytes);
}

async fn an_empty_file_is_a_blob_too(fresh: Fresh) {
    let blobs = fresh.blobs.as_ref();
    let id = upload_id();
    let digest = blobs.digest(&id).await.unwrap();
    assert_eq!((digest.sha256.as_str(), digest.len), (sha(b"").as_str(), 0));
    blobs.commit(&id, &digest.sha256).await.unwrap();
    assert!(blobs.exists(&sha(b"")).await.unwrap());
    assert!(read_all(blobs, &sha(b""), 0, 1).await.is_empty());
    assert!(is_intact(blobs, &sha(b""), 0).await.unwrap());
}

async fn a_large_file_is_assembled_whole(fresh: Fresh) {
    // Larger than one S3 PUT takes here, so the object store assembles it from parts.
    let blobs = fresh.blobs.as_ref();
    let bytes = random_bytes(21 * 1024 * 1024 + 17);
    let sha256 = store_file(blobs, &bytes, 4 * 1024 * 1024).await;
    assert!(is_intact(blobs, &sha256, bytes.len() as u64).await.unwrap());
    let tail_start = bytes.len() as u64 - 1000;
    assert_eq!(
        read_all(blobs, &sha256, tail_start, bytes.len() as u64).await,
        bytes[tail_start as usize..]
    );
}

async fn the_same_file_uploaded_twice_is_one_blob(fresh: Fresh) {
    let blobs = fresh.blobs.as_ref();
    let bytes = random_bytes(50_000);
    let first = store_file(blobs, &bytes, 20_000).await;
    let second = store_file(blobs, &bytes, 7_000).await;
    assert_eq!(first, second);
    assert_eq!(read_all(blobs, &first, 0, 50_000).await, bytes);
}

async fn a_discarded_upload_leaves_nothing(fresh: Fresh) {
    let blobs = fresh.blobs.as_ref();
    let id = upload_id();
    blobs.append(&id, 0, &random_bytes(1000)).await.unwrap();
    blobs.append(&id, 1000, &random_bytes(1000)).await.unwrap();
    blobs.discard(&id).await.unwrap();
    assert_eq!(blobs.digest(&id).await.unwrap().len, 0);
    // Discarding twice is not an error.
    blobs.discard(&id).await.unwrap();
}

async fn hostile_names_reach_nothing(fresh: Fresh) {
    let blobs = fresh.blobs.as_ref();
    for id in ["../../etc", "", "abc/def", "ABCDEF0123..", &"a".repeat(65)] {
        assert!(
            matches!(blobs.append(id, 0, b"x").await, Err(BlobError::Missing)),
            "{id:?} was accepted as an upload id"
        );
        assert!(matches!(blobs.digest(id).await, Err(BlobError::Missing)));
        assert!(matches!(blobs.discard(id).await, Err(BlobError::Missing)));
    }
    for hash in [
        "../blobs",
        &"A".repeat(64),
        &"0".repeat(63),
        &format!("{}/", "0".repeat(63)),
    ] {
        assert!(
            matches!(blobs.read(hash, 0, 1).await, Err(BlobError::BadHash(_))),
            "{hash:?} was accepted as a hash"
        );
        assert!(matches!(
            blobs.exists(hash).await,
            Err(BlobError::BadHash(_))
        ));
    }
    let unknown = "0".repeat(64);
    assert!(!blobs.exists(&unknown).await.unwrap());
    assert!(matches!(
        blobs.read(&unknown, 0, 1).await,
        Err(BlobError::Missing)
    ));
}
