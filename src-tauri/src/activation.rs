//! One running app per profile. The engine's lock on the profile folder decides who
//! runs; a second launch on the same profile writes `activate` in the folder and exits,
//! and the running app, watching that file, brings its window forward — and, if the
//! second launch came from a join link the OS opened, hands that link to the window.
//! Two profiles (staff and customer on one machine) run side by side.

use std::path::{Path, PathBuf};

use notify::{RecursiveMode, Watcher};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter, Runtime};

use crate::shell::JoinLink;

/// What a later launch leaves for the running app.
#[derive(Debug, Serialize, Deserialize)]
struct Activation {
    /// Makes every write a change the watcher sees.
    stamp: u128,
    link: Option<JoinLink>,
}

fn signal_file(profile_dir: &Path) -> PathBuf {
    profile_dir.join("activate")
}

/// Asks the app running on `profile_dir` to show its window (with a join link to offer).
pub fn signal_running(profile_dir: &Path, link: Option<&JoinLink>) -> std::io::Result<()> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let activation = Activation {
        stamp,
        link: link.cloned(),
    };
    let text = serde_json::to_vec(&activation).map_err(std::io::Error::other)?;
    // Written aside and renamed, so the watcher never reads half a file.
    let file = signal_file(profile_dir);
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(tmp, file)
}

/// Watches for [`signal_running`] from later launches. The watcher lives as long as the
/// returned value.
pub fn listen<R: Runtime>(
    app: AppHandle<R>,
    profile_dir: &Path,
) -> notify::Result<notify::RecommendedWatcher> {
    let file = signal_file(profile_dir);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        let touched = event.kind.is_modify() || event.kind.is_create();
        if touched
            && event
                .paths
                .iter()
                .any(|p| p.file_name() == file.file_name())
        {
            let link = std::fs::read(&file)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Activation>(&bytes).ok())
                .and_then(|a| a.link);
            match link {
                Some(link) => {
                    tracing::info!(server = %link.server, "a later launch handed over a join link");
                    offer_join_link(&app, link);
                }
                None => crate::show_main_window(&app),
            }
        }
    })?;
    watcher.watch(profile_dir, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

/// Shows the main window and offers it a join link (its first-run screen fills in the
/// join form) — however the link reached this running app.
pub fn offer_join_link<R: Runtime>(app: &AppHandle<R>, link: JoinLink) {
    crate::show_main_window(app);
    if let Err(error) = app.emit_to("main", "join-link", link) {
        tracing::warn!(%error, "passing the join link to the window failed");
    }
}
