//! Declares the app's commands so capability files can allow them one by one (a command
//! not allowed for a window cannot be invoked from it).

const COMMANDS: &[&str] = &[
    "bootstrap",
    "sign_in",
    "host_workspace",
    "join_workspace",
    "create_invite",
    "orgs",
    "create_org",
    "sign_out",
    "conversations",
    "messages",
    "receipts",
    "members",
    "open_conversation",
    "send_text",
    "edit_message",
    "recall_message",
    "send_dropped",
    "pick_and_send_files",
    "send_pasted",
    "send_voice",
    "mark_read",
    "retry_message",
    "discard_message",
    "cancel_upload",
    "pause_upload",
    "resume_upload",
    "fetch_original",
    "save_attachment",
    "focus_window",
    "read_states",
    "order_record",
    "send_order_message",
    "album",
    "send_review_message",
    "photo_details",
    "create_order",
    "search",
    "chain_status",
    "export_record",
    "backup_workspace",
    "open_viewer_window",
    "viewer_target",
    "remind",
    "set_muted",
    "notification_settings",
    "set_notification_settings",
    "notifications",
    "mark_notifications_seen",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build script");
}
