//! The photo viewer in a window of its own, so a reviewer can put it on a second
//! monitor (full screen there) and keep the chat on the first.
//!
//! The window is labelled `viewer` and loads the same UI, which sees the label and shows
//! only the viewer. What it shows is kept here (`ViewerTarget`): the window asks for it
//! when it starts, and is told (`viewer-target` event) when the main window opens
//! another photo in it. It hears the main window's `changes` events as they are (the
//! UI listens to every target), so new annotations and replies appear there live.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter, Manager, State, WebviewUrl, WebviewWindowBuilder};
use ts_rs::TS;

use crate::error::{UiError, UiResult};

/// Label of the viewer window (the media scheme and its capability file use it too).
pub const LABEL: &str = "viewer";

/// Which photo the viewer window shows.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ViewerTarget {
    #[ts(type = "number")]
    pub conversation_id: i64,
    /// The photo's message id.
    #[ts(type = "number")]
    pub image: i64,
    /// An annotation to open it at.
    #[ts(type = "number | null")]
    pub annotation: Option<i64>,
}

/// What the viewer window currently shows.
#[derive(Default)]
pub struct ViewerState(Mutex<Option<ViewerTarget>>);

/// Shows a photo in the viewer window, creating the window — on another monitor than
/// the main window's, maximised, when there is one — or bringing it forward.
#[tauri::command]
pub async fn open_viewer_window(
    app: AppHandle,
    state: State<'_, ViewerState>,
    shell: State<'_, crate::shell::Shell>,
    target: ViewerTarget,
) -> UiResult<()> {
    *state.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(target.clone());
    if let Some(window) = app.get_webview_window(LABEL) {
        app.emit_to(LABEL, "viewer-target", &target)
            .map_err(|e| UiError::new("window", e.to_string()))?;
        let _ = window.unminimize();
        let _ = window.set_focus();
        return Ok(());
    }
    let window = WebviewWindowBuilder::new(&app, LABEL, WebviewUrl::App("index.html".into()))
        .title("包讯 Satchel — 看图 Photo review")
        .inner_size(1400.0, 900.0)
        .min_inner_size(800.0, 600.0)
        // The profile's web storage, like the main window's: same language and theme.
        .data_directory(shell.engine.profile_dir().join("webview"))
        .build()
        .map_err(|e| UiError::new("window", e.to_string()))?;
    let main_monitor = app
        .get_webview_window("main")
        .and_then(|w| w.current_monitor().ok().flatten());
    let elsewhere = app.available_monitors().ok().and_then(|monitors| {
        monitors.into_iter().find(|m| {
            main_monitor
                .as_ref()
                .is_none_or(|main| main.position() != m.position())
        })
    });
    if let Some(monitor) = elsewhere {
        let _ = window.set_position(*monitor.position());
        let _ = window.maximize();
    }
    let _ = window.set_focus();
    Ok(())
}

/// The photo the viewer window should show (asked by that window when it starts).
#[tauri::command]
pub fn viewer_target(state: State<'_, ViewerState>) -> Option<ViewerTarget> {
    state.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
}
