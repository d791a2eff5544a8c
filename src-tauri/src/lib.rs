//! The Satchel desktop shell: adapts `satchel-client` to the web UI in `ui/` and can host
//! `satchel-server` for a small factory. It holds no business logic of its own.
//!
//! - [`shell`] — the state commands share: the profile's engine, the hosted server,
//!   what the window shows; session start-up (demo, host, sign-in).
//! - [`commands`] — the thin commands the UI invokes, errors as [`error::UiError`].
//! - [`events`] — the engine's change batches, merged per frame, pushed to the window.
//! - [`media`] — the `satchel:` scheme serving previews and originals by hash.
//! - [`host`] — the embedded server (host mode and the demo workspace).
//! - [`alerts`] — desktop notifications; [`tray`] — tray icon with the unread badge.
//! - [`keychain`] — session tokens in the OS keychain; [`activation`] — one app per
//!   profile.

pub mod activation;
pub mod alerts;
pub mod bindings;
pub mod commands;
pub mod error;
pub mod events;
pub mod host;
pub mod keychain;
pub mod media;
pub mod shell;
pub mod tray;
pub mod viewer;

use serde::Serialize;
use tauri::{AppHandle, DragDropEvent, Emitter, Manager, Runtime, WindowEvent};
use ts_rs::TS;

pub use shell::LaunchOptions;
use shell::Shell;

/// Why the app could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the profile is already open in another Satchel window (it was brought forward)")]
    AlreadyRunning,
    #[error("opening the profile failed: {0}")]
    Profile(#[from] satchel_client::EngineError),
    #[error("starting the window failed: {0}")]
    Tauri(#[from] tauri::Error),
}

/// A file in a drop, as the UI shows it before sending.
#[derive(Debug, Clone, Serialize, TS)]
pub struct DroppedFile {
    pub name: String,
    #[ts(type = "number")]
    pub size: u64,
    pub is_folder: bool,
}

/// The payload of the `dropped` event.
#[derive(Debug, Clone, Serialize, TS)]
pub struct DroppedFiles {
    #[ts(type = "number")]
    pub drop_id: u64,
    pub files: Vec<DroppedFile>,
}

/// Runs the app until its window closes.
pub fn run(launch: LaunchOptions) -> Result<(), StartError> {
    let context = tauri::generate_context!();
    #[cfg(windows)]
    register_app_user_model_id(&context.config().identifier);
    let data_root = data_root(&context.config().identifier);
    let profile_dir = Shell::profile_dir_for(&launch, &data_root);
    let tokens = keychain::token_store(&profile_dir);
    let engine = match tauri::async_runtime::block_on(satchel_client::Engine::open(
        &profile_dir,
        Some(tokens),
    )) {
        Ok(engine) => engine,
        Err(satchel_client::EngineError::ProfileLocked(_)) => {
            let _ = activation::signal_running(&profile_dir, launch.join.as_ref());
            return Err(StartError::AlreadyRunning);
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(profile = %profile_dir.display(), "opening profile");
    let shell = Shell::new(engine.clone(), launch, data_root);

    tauri::Builder::default()
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .manage(shell)
        .manage(alerts::Inbox::default())
        .manage(viewer::ViewerState::default())
        .register_asynchronous_uri_scheme_protocol("satchel", media::handle)
        .invoke_handler(tauri::generate_handler![
            commands::bootstrap,
            commands::sign_in,
            commands::host_workspace,
            commands::join_workspace,
            commands::create_invite,
            commands::orgs,
            commands::create_org,
            commands::sign_out,
            commands::conversations,
            commands::messages,
            commands::receipts,
            commands::members,
            commands::open_conversation,
            commands::send_text,
            commands::edit_message,
            commands::recall_message,
            commands::send_dropped,
            commands::pick_and_send_files,
            commands::send_pasted,
            commands::send_voice,
            commands::mark_read,
            commands::retry_message,
            commands::discard_message,
            commands::cancel_upload,
            commands::pause_upload,
            commands::resume_upload,
            commands::fetch_original,
            commands::save_attachment,
            commands::focus_window,
            commands::read_states,
            commands::order_record,
            commands::send_order_message,
            commands::album,
            commands::send_review_message,
            commands::photo_details,
            commands::create_order,
            commands::search,
            commands::chain_status,
            commands::export_record,
            commands::backup_workspace,
            viewer::open_viewer_window,
            viewer::viewer_target,
            commands::remind,
            commands::set_muted,
            commands::notification_settings,
            commands::set_notification_settings,
            commands::notifications,
            commands::mark_notifications_seen,
        ])
        .setup(move |app| {
            let handle = app.handle().clone();
            // The window is created here rather than from the config so that each
            // profile keeps its own web storage (language, theme) beside its data.
            if let Some(config) = app.config().app.windows.iter().find(|w| w.label == "main") {
                tauri::WebviewWindowBuilder::from_config(&handle, config)?
                    .data_directory(profile_dir.join("webview"))
                    .build()?;
            }
            if let Err(e) = tray::install(&handle) {
                tracing::warn!(error = %e, "no tray icon on this desktop");
            }
            register_join_links(app);
            match activation::listen(handle.clone(), &profile_dir) {
                Ok(watcher) => {
                    app.manage(std::sync::Mutex::new(watcher));
                }
                Err(e) => tracing::warn!(error = %e, "cannot watch for second launches"),
            }
            tauri::async_runtime::spawn(events::forward(handle.clone(), engine.clone()));
            tauri::async_runtime::spawn(alerts::run(handle, engine.clone()));
            Ok(())
        })
        .on_window_event(on_window_event)
        .build(context)?
        .run(|app, event| {
            if let tauri::RunEvent::Exit = event {
                let shell = app.state::<Shell>();
                tauri::async_runtime::block_on(shell.engine.close());
            }
        });
    Ok(())
}

fn on_window_event<R: Runtime>(window: &tauri::Window<R>, event: &WindowEvent) {
    let app = window.app_handle();
    match event {
        WindowEvent::DragDrop(DragDropEvent::Enter { .. }) => {
            let _ = app.emit_to("main", "drag", true);
        }
        WindowEvent::DragDrop(DragDropEvent::Leave) => {
            let _ = app.emit_to("main", "drag", false);
        }
        WindowEvent::DragDrop(DragDropEvent::Drop { paths, .. }) => {
            let _ = app.emit_to("main", "drag", false);
            let files = paths
                .iter()
                .map(|p| {
                    let meta = std::fs::metadata(p).ok();
                    DroppedFile {
                        name: p
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        size: meta.as_ref().map_or(0, |m| m.len()),
                        is_folder: meta.is_some_and(|m| m.is_dir()),
                    }
                })
                .collect();
            let drop_id = app.state::<Shell>().hold_drop(paths.clone());
            let _ = app.emit_to("main", "dropped", DroppedFiles { drop_id, files });
        }
        WindowEvent::Focused(focused) => {
            let _ = app.emit_to("main", "focus", *focused);
        }
        _ => {}
    }
}

/// Windows shows toasts for, and groups taskbar buttons by, an AppUserModelID. The
/// installer's Start-menu shortcut carries the bundle identifier; the process claims the
/// same one before it shows any window, so its notifications appear as the app's.
#[cfg(windows)]
#[allow(unsafe_code)]
fn register_app_user_model_id(identifier: &str) {
    let wide: Vec<u16> = identifier
        .encode_utf16()
        .chain(std::iter::once(0))
        .collect();
    // SAFETY: `wide` is a NUL-terminated UTF-16 string that outlives the call; the
    // function copies it.
    let result = unsafe {
        windows_sys::Win32::UI::Shell::SetCurrentProcessExplicitAppUserModelID(wide.as_ptr())
    };
    if result < 0 {
        tracing::warn!(hresult = result, "could not register the AppUserModelID");
    }
}

/// Whether the main window has keyboard focus (a person is looking at it).
pub fn window_focused<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.get_webview_window("main")
        .and_then(|w| w.is_focused().ok())
        .unwrap_or(false)
}

/// Shows, unminimises and focuses the main window.
/// Makes `satchel://` links (invites) open this app. Installers register the scheme on
/// Windows and macOS; registering at start as well keeps a portable or moved app (and a
/// Linux build, which has no installer step for it) the handler. On Windows and Linux
/// the OS starts a second process with the link, which hands it to this one
/// (`activation`); macOS tells the running app instead, handled here.
fn register_join_links<R: Runtime>(app: &tauri::App<R>) {
    use tauri_plugin_deep_link::DeepLinkExt;
    #[cfg(any(target_os = "linux", windows))]
    if let Err(error) = app.deep_link().register_all() {
        tracing::warn!(%error, "satchel:// links will not open the app");
    }
    let handle = app.handle().clone();
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            if let Some(link) = shell::JoinLink::parse(url.as_str()) {
                activation::offer_join_link(&handle, link);
            }
        }
    });
}

pub fn show_main_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// The app's data folder (profiles, hosted servers): the platform's per-user data folder
/// for the app identifier — where Tauri's `app_data_dir` points — or `SATCHEL_DATA_DIR`.
fn data_root(identifier: &str) -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("SATCHEL_DATA_DIR") {
        return dir.into();
    }
    dirs::data_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join(identifier)
}
