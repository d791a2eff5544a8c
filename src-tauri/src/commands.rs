//! The commands the UI invokes. Each is a few lines over the engine or the [`Shell`];
//! every error reaches the UI as [`UiError`]. `build.rs` lists them, and the window's
//! capability file allows exactly these.

use std::path::PathBuf;

use satchel_client::{ConversationSummary, LocalMessage, ReadState};
use satchel_protocol::api::{CreateInviteRequest, Invite};
use satchel_protocol::{
    order, review, Conversation, ConversationId, ConversationKind, Member, MessageBody, MessageId,
    OrgId, Organisation, Receipt, Reminder, Role, Seq, TxnId, UnixMillis,
};
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;

use crate::alerts::{InAppNotification, Inbox, NotificationSettings};
use crate::error::{UiError, UiResult};
use crate::shell::{SessionInfo, Shell};

#[tauri::command]
pub async fn bootstrap(shell: State<'_, Shell>) -> UiResult<SessionInfo> {
    shell.bootstrap().await
}

#[tauri::command]
pub async fn sign_in(
    shell: State<'_, Shell>,
    server_url: String,
    username: String,
    password: String,
) -> UiResult<SessionInfo> {
    shell.sign_in(&server_url, &username, &password).await
}

#[tauri::command]
pub async fn host_workspace(
    shell: State<'_, Shell>,
    factory: String,
    display_name: String,
    username: String,
    password: String,
) -> UiResult<SessionInfo> {
    shell
        .host_workspace(&factory, &display_name, &username, &password)
        .await
}

#[tauri::command]
pub async fn join_workspace(
    shell: State<'_, Shell>,
    server_url: String,
    code: String,
    username: String,
    display_name: String,
    password: String,
) -> UiResult<SessionInfo> {
    shell
        .join(&server_url, &code, &username, &display_name, &password)
        .await
}

/// Creates an invite code (admins: any role; staff: customers of an organisation).
#[tauri::command]
pub async fn create_invite(
    shell: State<'_, Shell>,
    role: Role,
    org_id: Option<OrgId>,
) -> UiResult<Invite> {
    let request = CreateInviteRequest {
        role,
        org_id,
        valid_hours: None,
    };
    Ok(shell.engine.api()?.create_invite(&request).await?)
}

/// The customer organisations the user may see.
#[tauri::command]
pub async fn orgs(shell: State<'_, Shell>) -> UiResult<Vec<Organisation>> {
    Ok(shell.engine.api()?.orgs().await?)
}

/// Adds a customer organisation (admins).
#[tauri::command]
pub async fn create_org(shell: State<'_, Shell>, name: String) -> UiResult<Organisation> {
    Ok(shell.engine.api()?.create_org(&name).await?)
}

#[tauri::command]
pub async fn sign_out(shell: State<'_, Shell>) -> UiResult<SessionInfo> {
    shell.sign_out().await
}

#[tauri::command]
pub async fn conversations(shell: State<'_, Shell>) -> UiResult<Vec<ConversationSummary>> {
    Ok(shell.engine.conversations().await?)
}

/// A page of the timeline: up to `limit` messages before the message with local id
/// `before` (the newest page without it), oldest first.
#[tauri::command]
pub async fn messages(
    shell: State<'_, Shell>,
    conversation_id: ConversationId,
    before: Option<i64>,
    limit: u32,
) -> UiResult<Vec<LocalMessage>> {
    Ok(shell
        .engine
        .messages(conversation_id, before, limit)
        .await?)
}

#[tauri::command]
pub async fn receipts(
    shell: State<'_, Shell>,
    conversation_id: ConversationId,
) -> UiResult<Vec<Receipt>> {
    Ok(shell.engine.receipts(conversation_id).await?)
}

#[tauri::command]
pub async fn members(shell: State<'_, Shell>) -> UiResult<Vec<Member>> {
    Ok(shell.engine.members().await?)
}

/// Tells the shell which conversation is on screen (no notifications for it while the
/// window has focus).
#[tauri::command]
pub fn open_conversation(shell: State<'_, Shell>, conversation_id: Option<ConversationId>) {
    shell.set_active(conversation_id);
}

#[tauri::command]
pub async fn send_text(
    shell: State<'_, Shell>,
    conversation_id: ConversationId,
    text: String,
    reply_to: Option<MessageId>,
    needs_confirmation: bool,
    deadline: Option<UnixMillis>,
) -> UiResult<LocalMessage> {
    if deadline.is_some_and(|d| d <= chrono::Utc::now().timestamp_millis()) {
        return Err(UiError::new(
            "invalid_field",
            "the deadline has already passed",
        ));
    }
    let body = MessageBody::Text {
        text,
        reply_to,
        needs_confirmation,
        deadline,
    };
    Ok(shell.engine.send(conversation_id, body).await?)
}

#[tauri::command]
pub async fn edit_message(
    shell: State<'_, Shell>,
    conversation_id: ConversationId,
    target: MessageId,
    text: String,
) -> UiResult<LocalMessage> {
    let body = MessageBody::Edit { target, text };
    Ok(shell.engine.send(conversation_id, body).await?)
}

#[tauri::command]
pub async fn recall_message(
    shell: State<'_, Shell>,
    conversation_id: ConversationId,
    target: MessageId,
) -> UiResult<LocalMessage> {
    let body = MessageBody::Recall { target };
    Ok(shell.engine.send(conversation_id, body).await?)
}

/// Sends the files of a drop (see the `dropped` event) at full resolution, in the order
/// they were dropped. Folders are skipped.
#[tauri::command]
pub async fn send_dropped(
    shell: State<'_, Shell>,
    conversation_id: ConversationId,
    drop_id: u64,
) -> UiResult<Vec<LocalMessage>> {
    let paths = shell
        .take_drop(drop_id)
        .ok_or_else(|| UiError::new("not_found", "that drop was already sent or discarded"))?;
    send_paths(&shell, conversation_id, paths).await
}

/// Opens the system's file picker and sends what the user chooses.
#[tauri::command]
pub async fn pick_and_send_files(
    app: AppHandle,
    shell: State<'_, Shell>,
    conversation_id: ConversationId,
) -> UiResult<Vec<LocalMessage>> {
    let picked = tokio::task::spawn_blocking(move || app.dialog().file().blocking_pick_files())
        .await
        .map_err(|e| UiError::new("internal", e.to_string()))?;
    let paths: Vec<PathBuf> = picked
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| p.into_path().ok())
        .collect();
    send_paths(&shell, conversation_id, paths).await
}

async fn send_paths(
    shell: &Shell,
    conversation_id: ConversationId,
    paths: Vec<PathBuf>,
) -> UiResult<Vec<LocalMessage>> {
    let mut sent = Vec::new();
    for path in paths.iter().filter(|p| p.is_file()) {
        sent.push(shell.engine.send_file(conversation_id, path, "").await?);
    }
    Ok(sent)
}

/// Sends a pasted image (a screenshot from the clipboard). The bytes come as the raw
/// request body; the conversation and a file name as headers.
#[tauri::command]
pub async fn send_pasted(
    shell: State<'_, Shell>,
    request: tauri::ipc::Request<'_>,
) -> UiResult<LocalMessage> {
    let upload = RawUpload::from_request(&request, "screenshot.png").await?;
    Ok(shell
        .engine
        .send_file(upload.conversation_id, &upload.path, "")
        .await?)
}

/// Sends a voice message recorded in the window: raw bytes as the body; conversation,
/// file name and `x-duration-ms` as headers.
#[tauri::command]
pub async fn send_voice(
    shell: State<'_, Shell>,
    request: tauri::ipc::Request<'_>,
) -> UiResult<LocalMessage> {
    let upload = RawUpload::from_request(&request, "voice.webm").await?;
    let duration_ms = upload
        .header("x-duration-ms")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| UiError::new("invalid", "missing duration"))?;
    Ok(shell
        .engine
        .send_voice(upload.conversation_id, &upload.path, duration_ms)
        .await?)
}

/// Bytes the window sent as a raw request body, written to a private temporary file
/// (the engine imports from a path; the folder disappears once they are in the cache).
struct RawUpload {
    conversation_id: ConversationId,
    path: PathBuf,
    headers: tauri::http::HeaderMap,
    _dir: tempfile::TempDir,
}

impl RawUpload {
    async fn from_request(
        request: &tauri::ipc::Request<'_>,
        default_name: &str,
    ) -> UiResult<RawUpload> {
        let tauri::ipc::InvokeBody::Raw(bytes) = request.body() else {
            return Err(UiError::new("invalid", "expected the file's bytes"));
        };
        let headers = request.headers().clone();
        let header = |name: &str| header_value(&headers, name);
        let conversation_id = header("x-conversation")
            .and_then(|v| v.parse().ok())
            .map(ConversationId)
            .ok_or_else(|| UiError::new("invalid", "missing conversation"))?;
        let name = satchel_protocol::validate::sanitize_file_name(
            &header("x-file-name").unwrap_or_else(|| default_name.into()),
        );
        let dir = tempfile::tempdir().map_err(|e| UiError::new("file", e.to_string()))?;
        let path = dir.path().join(&name);
        tokio::fs::write(&path, bytes)
            .await
            .map_err(|e| UiError::new("file", e.to_string()))?;
        Ok(RawUpload {
            conversation_id,
            path,
            headers,
            _dir: dir,
        })
    }

    fn header(&self, name: &str) -> Option<String> {
        header_value(&self.headers, name)
    }
}

fn header_value(headers: &tauri::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Marks messages up to `seq` read. Refused unless the window has focus: a message
/// counts as read only when a person could actually have seen it.
#[tauri::command]
pub async fn mark_read(
    app: AppHandle,
    shell: State<'_, Shell>,
    conversation_id: ConversationId,
    seq: Seq,
) -> UiResult<()> {
    if !crate::window_focused(&app) {
        return Err(UiError::new("not_focused", "the window is not focused"));
    }
    Ok(shell.engine.mark_read(conversation_id, seq).await?)
}

#[tauri::command]
pub async fn retry_message(shell: State<'_, Shell>, txn_id: TxnId) -> UiResult<()> {
    Ok(shell.engine.retry(&txn_id).await?)
}

#[tauri::command]
pub async fn discard_message(shell: State<'_, Shell>, txn_id: TxnId) -> UiResult<()> {
    Ok(shell.engine.discard(&txn_id).await?)
}

#[tauri::command]
pub async fn cancel_upload(shell: State<'_, Shell>, txn_id: TxnId) -> UiResult<()> {
    Ok(shell.engine.cancel(&txn_id).await?)
}

#[tauri::command]
pub async fn pause_upload(shell: State<'_, Shell>, sha256: String) -> UiResult<()> {
    Ok(shell.engine.pause_upload(&sha256).await?)
}

#[tauri::command]
pub async fn resume_upload(shell: State<'_, Shell>, sha256: String) -> UiResult<()> {
    Ok(shell.engine.resume_upload(&sha256).await?)
}

/// Downloads (and verifies) the original of an attachment so the viewer can show it.
#[tauri::command]
pub async fn fetch_original(shell: State<'_, Shell>, sha256: String) -> UiResult<()> {
    if shell.engine.attachment(&sha256).await?.is_none() {
        return Err(UiError::new("not_found", "no message carries that file"));
    }
    shell.engine.fetch_file(&sha256).await?;
    Ok(())
}

/// "Save as": asks where, then writes the original bytes there. `None` if the user
/// cancelled; otherwise the path written.
#[tauri::command]
pub async fn save_attachment(
    app: AppHandle,
    shell: State<'_, Shell>,
    sha256: String,
) -> UiResult<Option<String>> {
    let attachment = shell
        .engine
        .attachment(&sha256)
        .await?
        .ok_or_else(|| UiError::new("not_found", "no message carries that file"))?;
    let dialog_app = app.clone();
    let name = attachment.name.clone();
    let chosen = tokio::task::spawn_blocking(move || {
        dialog_app
            .dialog()
            .file()
            .set_file_name(name)
            .blocking_save_file()
    })
    .await
    .map_err(|e| UiError::new("internal", e.to_string()))?;
    let Some(path) = chosen.and_then(|p| p.into_path().ok()) else {
        return Ok(None);
    };
    shell.engine.save_file_as(&sha256, &path).await?;
    Ok(Some(path.to_string_lossy().into_owned()))
}

/// Brings the main window forward (used by notifications and a second launch).
#[tauri::command]
pub fn focus_window(app: AppHandle) {
    crate::show_main_window(&app);
}

/// Who has read one of my messages (and when), and who has not.
#[tauri::command]
pub async fn read_states(
    shell: State<'_, Shell>,
    conversation_id: ConversationId,
    seq: Seq,
) -> UiResult<Vec<ReadState>> {
    Ok(shell.engine.read_states(conversation_id, seq).await?)
}

/// "Remind now": nudges the members who have not read one of my messages.
#[tauri::command]
pub async fn remind(
    shell: State<'_, Shell>,
    conversation_id: ConversationId,
    message_id: MessageId,
) -> UiResult<Reminder> {
    Ok(shell.engine.remind(conversation_id, message_id).await?)
}

#[tauri::command]
pub async fn set_muted(
    shell: State<'_, Shell>,
    conversation_id: ConversationId,
    muted: bool,
) -> UiResult<()> {
    Ok(shell.engine.set_muted(conversation_id, muted).await?)
}

#[tauri::command]
pub async fn notification_settings(shell: State<'_, Shell>) -> UiResult<NotificationSettings> {
    Ok(crate::alerts::load_settings(&shell.engine).await)
}

#[tauri::command]
pub async fn set_notification_settings(
    shell: State<'_, Shell>,
    settings: NotificationSettings,
) -> UiResult<()> {
    settings
        .validate()
        .map_err(|m| UiError::new("invalid_field", m))?;
    Ok(crate::alerts::save_settings(&shell.engine, &settings).await?)
}

/// The in-app list of notifications, newest first.
#[tauri::command]
pub async fn notifications(
    shell: State<'_, Shell>,
    inbox: State<'_, Inbox>,
) -> UiResult<Vec<InAppNotification>> {
    Ok(inbox.list(&shell.engine).await)
}

#[tauri::command]
pub async fn mark_notifications_seen(
    shell: State<'_, Shell>,
    inbox: State<'_, Inbox>,
) -> UiResult<()> {
    Ok(inbox.mark_seen(&shell.engine).await?)
}

/// An order's record: spec sheet with every revision, stage changes, progress,
/// shipments.
#[tauri::command]
pub async fn order_record(
    shell: State<'_, Shell>,
    conversation_id: ConversationId,
) -> UiResult<order::OrderRecord> {
    Ok(shell.engine.order_record(conversation_id).await?)
}

/// Queues an order message (proposal, answer, stage change, progress update,
/// shipment, order edit). Other kinds have commands of their own.
#[tauri::command]
pub async fn send_order_message(
    shell: State<'_, Shell>,
    conversation_id: ConversationId,
    body: MessageBody,
) -> UiResult<LocalMessage> {
    if !order::is_order_kind(&body) {
        return Err(UiError::new(
            "invalid",
            format!("`{}` is not an order message", body.kind_name()),
        ));
    }
    Ok(shell.engine.send(conversation_id, body).await?)
}

/// A conversation's photos and videos with the annotations on them.
#[tauri::command]
pub async fn album(
    shell: State<'_, Shell>,
    conversation_id: ConversationId,
) -> UiResult<review::Album> {
    Ok(shell.engine.album(conversation_id).await?)
}

/// Queues an annotation on a photo of the conversation, or a change of an
/// annotation's status (resolved / reopened). Other kinds have commands of their own.
#[tauri::command]
pub async fn send_review_message(
    shell: State<'_, Shell>,
    conversation_id: ConversationId,
    body: MessageBody,
) -> UiResult<LocalMessage> {
    if !matches!(
        body,
        MessageBody::Annotation { .. } | MessageBody::AnnotationStatus { .. }
    ) {
        return Err(UiError::new(
            "invalid",
            format!("`{}` is not a review message", body.kind_name()),
        ));
    }
    Ok(shell.engine.send(conversation_id, body).await?)
}

/// What the camera recorded about a photo, for the viewer.
#[tauri::command]
pub async fn photo_details(
    shell: State<'_, Shell>,
    sha256: String,
) -> UiResult<satchel_client::preview::PhotoDetails> {
    Ok(shell.engine.photo_details(&sha256).await?)
}

/// A new order, as staff open it from the order board.
#[derive(Debug, Clone, serde::Deserialize, ts_rs::TS)]
pub struct NewOrder {
    pub order_number: String,
    pub title: String,
    pub org_id: OrgId,
    pub quantity: Option<u32>,
    #[ts(type = "number | null")]
    pub due_date: Option<UnixMillis>,
}

/// Creates an order with the customer organisation's members and the creator (who is
/// its assignee) in it.
#[tauri::command]
pub async fn create_order(shell: State<'_, Shell>, order: NewOrder) -> UiResult<Conversation> {
    let me = shell
        .engine
        .account()
        .ok_or_else(|| UiError::new("not_signed_in", "not signed in"))?
        .member;
    let members = shell.engine.refresh_members().await?;
    let customers = members
        .iter()
        .filter(|m| m.org_id == Some(order.org_id))
        .map(|m| m.id)
        .collect();
    let request = satchel_protocol::api::CreateConversationRequest {
        kind: ConversationKind::Order,
        title: order.title.trim().to_owned(),
        org_id: Some(order.org_id),
        order_number: Some(order.order_number.trim().to_owned()),
        quantity: order.quantity,
        due_date: order.due_date,
        assignee: Some(me.id),
        member_ids: customers,
    };
    Ok(shell.engine.api()?.create_conversation(&request).await?)
}

/// Full-text search of this profile's history.
#[tauri::command]
pub async fn search(
    shell: State<'_, Shell>,
    query: satchel_client::SearchQuery,
) -> UiResult<Vec<satchel_client::SearchHit>> {
    Ok(shell.engine.search(&query).await?)
}

/// Where a conversation's hash chain stands on this device: how far it is verified,
/// the record's fingerprint (the last verified link, which both sides can compare), and
/// any breaks found.
#[derive(Debug, Clone, serde::Serialize, ts_rs::TS)]
pub struct ChainStatus {
    pub verified_seq: Seq,
    pub head: String,
    pub alarms: Vec<satchel_client::ChainAlarm>,
}

#[tauri::command]
pub async fn chain_status(
    shell: State<'_, Shell>,
    conversation_id: ConversationId,
) -> UiResult<ChainStatus> {
    let (verified_seq, head) = shell.engine.local().verified_head(conversation_id).await?;
    let alarms = shell.engine.chain_alarms(Some(conversation_id)).await?;
    Ok(ChainStatus {
        verified_seq,
        head,
        alarms,
    })
}

/// Exports a conversation's record: asks where (a ZIP file, or a folder to create the
/// record folder in), then writes it. `None` if the user cancelled.
///
/// `SATCHEL_EXPORT_DIR` skips the question and writes into that folder under the
/// suggested name: the end-to-end tests use it, because WebDriver cannot answer a
/// native file dialog.
#[tauri::command]
pub async fn export_record(
    app: AppHandle,
    shell: State<'_, Shell>,
    conversation_id: ConversationId,
    format: satchel_client::export::ExportFormat,
) -> UiResult<Option<satchel_client::export::ExportSummary>> {
    use satchel_client::export::ExportFormat;
    let conversation = shell
        .engine
        .local()
        .conversation(conversation_id)
        .await?
        .ok_or_else(|| UiError::new("not_found", "no such conversation"))?;
    let today = chrono::Local::now().format("%Y-%m-%d");
    let base = satchel_client::export::safe_file_name(
        conversation
            .order_number
            .as_deref()
            .unwrap_or(&conversation.title),
    );
    let suggested = match format {
        ExportFormat::Zip => format!("{base} 记录 record {today}.zip"),
        ExportFormat::Folder => format!("{base} 记录 record {today}"),
    };
    let destination = match std::env::var_os("SATCHEL_EXPORT_DIR") {
        Some(dir) => Some(std::path::PathBuf::from(dir).join(&suggested)),
        None => {
            let dialog_app = app.clone();
            let name = suggested.clone();
            tokio::task::spawn_blocking(move || match format {
                ExportFormat::Zip => dialog_app
                    .dialog()
                    .file()
                    .add_filter("ZIP", &["zip"])
                    .set_file_name(name)
                    .blocking_save_file()
                    .and_then(|p| p.into_path().ok()),
                ExportFormat::Folder => dialog_app
                    .dialog()
                    .file()
                    .blocking_pick_folder()
                    .and_then(|p| p.into_path().ok())
                    .map(|parent| parent.join(name)),
            })
            .await
            .map_err(|e| UiError::new("internal", e.to_string()))?
        }
    };
    let Some(destination) = destination else {
        return Ok(None);
    };
    Ok(Some(
        shell
            .engine
            .export_order(conversation_id, &destination, format)
            .await?,
    ))
}

/// Backs up the workspace this app hosts into a new folder inside one the user picks
/// (`None` if they cancel) while it keeps serving. `SATCHEL_EXPORT_DIR` skips the
/// question, as for exports.
#[tauri::command]
pub async fn backup_workspace(
    app: AppHandle,
    shell: State<'_, Shell>,
) -> UiResult<Option<crate::host::BackupSummary>> {
    let Some(server) = shell.hosted_state().await else {
        return Err(UiError::new(
            "not_hosting",
            "this app does not host a workspace; back up on the server's computer",
        ));
    };
    let name = format!(
        "Satchel 备份 backup {}",
        chrono::Local::now().format("%Y-%m-%d %H%M%S")
    );
    let folder = match std::env::var_os("SATCHEL_EXPORT_DIR") {
        Some(dir) => Some(std::path::PathBuf::from(dir)),
        None => tokio::task::spawn_blocking(move || {
            app.dialog()
                .file()
                .blocking_pick_folder()
                .and_then(|p| p.into_path().ok())
        })
        .await
        .map_err(|e| UiError::new("internal", e.to_string()))?,
    };
    let Some(folder) = folder else {
        return Ok(None);
    };
    Ok(Some(
        crate::host::backup(&server, &folder.join(name)).await?,
    ))
}
