//! Watched folders: a folder bound to a conversation (the QC station's camera output,
//! say) whose new files are sent automatically, once each, in the order they were
//! written.
//!
//! A file is sent only after it has stopped growing: its size and modification time
//! must stay the same for [`SETTLE_TIME`]. Hidden, temporary and partial files
//! (`.tmp`, `.part`, `~$x.docx`, …) are never sent; a temporary file renamed to its final
//! name is sent under that name. A file whose bytes the folder already sent under
//! another name (a rename) is not sent again. Notifications from the OS wake a scan
//! early; a scan also runs every [`SCAN_EVERY`], so a missed notification only delays.
//! Problems (a folder that vanished, no permission) are kept per folder for the UI.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use notify::Watcher;
use tokio::sync::{mpsc, watch};

use crate::engine::{Change, Engine};
use crate::error::EngineError;

/// How long a file must stay unchanged before it is sent.
pub const SETTLE_TIME: Duration = Duration::from_millis(1000);
/// Interval of the fallback scan.
pub const SCAN_EVERY: Duration = Duration::from_millis(500);

/// Whether a file name is one that applications use while still writing.
pub fn is_temporary(name: &str) -> bool {
    let lower = name.to_lowercase();
    lower.starts_with('.')
        || lower.starts_with('~')
        || lower.ends_with('~')
        || [
            ".tmp",
            ".temp",
            ".part",
            ".partial",
            ".crdownload",
            ".download",
            ".swp",
            ".lock",
        ]
        .iter()
        .any(|ext| lower.ends_with(ext))
        || ["thumbs.db", "desktop.ini"].contains(&lower.as_str())
}

struct Seen {
    size: u64,
    modified: SystemTime,
    since: Instant,
}

pub(crate) async fn run(engine: Engine, mut stop: watch::Receiver<bool>) {
    let (wake_tx, mut wake) = mpsc::unbounded_channel::<()>();
    let mut watcher =
        match notify::recommended_watcher(move |_event: notify::Result<notify::Event>| {
            let _ = wake_tx.send(());
        }) {
            Ok(w) => Some(w),
            Err(error) => {
                tracing::warn!(%error, "no file system notifications; scanning on a timer only");
                None
            }
        };
    let mut watching: HashSet<String> = HashSet::new();
    let mut seen: HashMap<PathBuf, Seen> = HashMap::new();
    loop {
        let folders = engine.watched_folders().await.unwrap_or_default();
        let current: HashSet<String> = folders.iter().map(|f| f.path.clone()).collect();
        if let Some(w) = watcher.as_mut() {
            for gone in watching.difference(&current) {
                let _ = w.unwatch(Path::new(gone));
            }
            watching.retain(|p| current.contains(p));
            for folder in &current {
                if !watching.contains(folder)
                    && w.watch(Path::new(folder), notify::RecursiveMode::NonRecursive)
                        .is_ok()
                {
                    watching.insert(folder.clone());
                }
            }
        }
        for folder in &folders {
            let result = scan(&engine, &folder.path, folder.conversation_id, &mut seen).await;
            let error = result.err().map(|e| e.to_string());
            if let Ok(true) = engine
                .inner
                .db
                .set_watch_error(&folder.path, error.as_deref())
                .await
            {
                engine.inner.emit(vec![Change::WatchedFolders]);
            }
        }
        tokio::select! {
            _ = wake.recv() => {
                // Let a burst of notifications coalesce into one scan.
                tokio::time::sleep(Duration::from_millis(50)).await;
                while wake.try_recv().is_ok() {}
            }
            _ = tokio::time::sleep(SCAN_EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Sends the folder's settled, unsent files, oldest first. Stops at the first file that
/// is still being written, so files go out in the order they were written.
async fn scan(
    engine: &Engine,
    folder: &str,
    conversation: satchel_protocol::ConversationId,
    seen: &mut HashMap<PathBuf, Seen>,
) -> Result<(), EngineError> {
    let unreadable = |e: std::io::Error| EngineError::File(format!("{folder}: {e}"));
    let mut entries = Vec::new();
    let mut dir = tokio::fs::read_dir(folder).await.map_err(unreadable)?;
    while let Some(entry) = dir.next_entry().await.map_err(unreadable)? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_temporary(&name) {
            continue;
        }
        let Ok(meta) = entry.metadata().await else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        entries.push((modified, name, entry.path(), meta.len()));
    }
    entries.sort();
    // Watch every file's settle clock on each scan, then send in order up to the first
    // file that is still being written.
    let mut ready = Vec::new();
    for (modified, name, path, size) in entries {
        if engine.inner.db.watched_sent(folder, &name).await? {
            continue;
        }
        let settled = match seen.get(&path) {
            Some(s) if s.size == size && s.modified == modified => s.since.elapsed() >= SETTLE_TIME,
            _ => {
                seen.insert(
                    path.clone(),
                    Seen {
                        size,
                        modified,
                        since: Instant::now(),
                    },
                );
                false
            }
        };
        ready.push((settled, name, path));
    }
    for (settled, name, path) in ready {
        if !settled {
            break;
        }
        match engine
            .send_watched_file(conversation, folder, &path, &name)
            .await?
        {
            Some(_) => tracing::info!(%folder, %name, "sent from a watched folder"),
            None => {
                engine
                    .inner
                    .db
                    .record_watched_rename(folder, &name, &path)
                    .await?
            }
        }
        seen.remove(&path);
    }
    Ok(())
}
