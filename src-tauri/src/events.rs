//! Pushes the engine's changes to the window. Batches arriving within a frame are merged
//! and de-duplicated (a burst of 500 incoming messages becomes one `changes` event), and
//! transfer progress keeps only its latest value per file.

use std::time::Duration;

use satchel_client::{Change, Engine};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Runtime};
use tokio::sync::broadcast::error::RecvError;
use ts_rs::TS;

/// The payload of the `changes` event.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ChangeEvent {
    pub changes: Vec<Change>,
    /// Changes were missed (the UI fell behind): re-read everything shown.
    pub reload: bool,
}

/// How long to gather changes before emitting: about one frame.
const GATHER: Duration = Duration::from_millis(16);

pub async fn forward<R: Runtime>(app: AppHandle<R>, engine: Engine) {
    let mut changes = engine.subscribe();
    loop {
        let mut event = ChangeEvent {
            changes: Vec::new(),
            reload: false,
        };
        match changes.recv().await {
            Ok(batch) => merge(&mut event.changes, &batch),
            Err(RecvError::Lagged(_)) => event.reload = true,
            Err(RecvError::Closed) => return,
        }
        let deadline = tokio::time::Instant::now() + GATHER;
        while let Ok(next) = tokio::time::timeout_at(deadline, changes.recv()).await {
            match next {
                Ok(batch) => merge(&mut event.changes, &batch),
                Err(RecvError::Lagged(_)) => event.reload = true,
                Err(RecvError::Closed) => break,
            }
        }
        let unread_may_change = event.reload
            || event
                .changes
                .iter()
                .any(|c| matches!(c, Change::Conversations));
        if let Err(e) = app.emit_to("main", "changes", &event) {
            tracing::warn!(error = %e, "emitting changes failed");
        }
        if unread_may_change {
            if let Ok(list) = engine.conversations().await {
                crate::tray::set_unread(&app, crate::tray::unread_badge(&list));
            }
        }
    }
}

fn merge(into: &mut Vec<Change>, batch: &[Change]) {
    for change in batch {
        if let Change::Transfer { sha256, .. } = change {
            into.retain(|c| !matches!(c, Change::Transfer { sha256: s, .. } if s == sha256));
            into.push(change.clone());
        } else if !into.contains(change) {
            into.push(change.clone());
        }
    }
}
