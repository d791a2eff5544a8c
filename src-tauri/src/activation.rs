//! One running app per profile. The engine's lock on the profile folder decides who
//! runs; a second launch on the same profile touches `activate` in the folder and exits,
//! and the running app, watching that file, brings its window forward. Two profiles
//! (staff and customer on one machine) run side by side.

use std::path::{Path, PathBuf};

use notify::{RecursiveMode, Watcher};
use tauri::{AppHandle, Runtime};

fn signal_file(profile_dir: &Path) -> PathBuf {
    profile_dir.join("activate")
}

/// Asks the app running on `profile_dir` to show its window.
pub fn signal_running(profile_dir: &Path) -> std::io::Result<()> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    std::fs::write(signal_file(profile_dir), stamp.to_string())
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
            crate::show_main_window(&app);
        }
    })?;
    watcher.watch(profile_dir, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}
