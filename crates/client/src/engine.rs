//! The engine a UI (or the CLI) drives: one signed-in profile, its local history, its
//! outbox and its live connection.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use satchel_protocol::api::{LoginRequest, LoginResponse, RedeemInviteRequest};
use satchel_protocol::*;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch, Mutex, Notify};
use tokio::task::JoinHandle;

use crate::api::ApiClient;
use crate::error::EngineError;
use crate::local::{ConversationSummary, DeadlineAlert, LocalDb, LocalMessage, ReadState, Touched};
use crate::token::{FileTokenStore, TokenStore};

/// The signed-in account of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Account {
    pub server_url: String,
    pub member: Member,
    pub workspace: Workspace,
}

/// The live connection as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ConnectionState {
    /// Not started, or stopped.
    Idle,
    Connecting,
    /// Connected, replaying what was missed.
    Syncing,
    /// Caught up; new events arrive as they happen.
    Online,
    /// Disconnected; the next attempt is in `retry_in_ms`.
    Offline {
        reason: String,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        retry_in_ms: u64,
    },
    /// The server no longer accepts the session; sign in again.
    SignedOut,
}

/// Something the UI should re-read. Emitted in batches after each local commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Change {
    Conversations,
    Messages {
        conversation_id: ConversationId,
    },
    Receipts {
        conversation_id: ConversationId,
    },
    Outbox,
    Connection {
        state: ConnectionState,
    },
    /// A watched folder was added, removed, or its error changed.
    WatchedFolders,
    /// This conversation's history failed verification (see [`Engine::chain_alarms`]).
    ChainAlarm {
        conversation_id: ConversationId,
    },
    /// A "remind now" arrived in this conversation (see [`Engine::take_reminders`]).
    Reminders {
        conversation_id: ConversationId,
    },
    /// Progress of a file upload or download: bytes done of total, the current rate, and
    /// the time left at that rate.
    Transfer {
        sha256: String,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        done: u64,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        total: u64,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        bytes_per_sec: u64,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        eta_ms: u64,
    },
}

/// Changes from one commit. A receiver that lags (`RecvError::Lagged`) should reload
/// everything it shows.
pub type ChangeBatch = Arc<Vec<Change>>;

/// The background tasks of a started engine and the switch that stops them.
type Running = (Vec<JoinHandle<()>>, watch::Sender<bool>);

pub(crate) struct Inner {
    pub(crate) db: LocalDb,
    pub(crate) device: DeviceId,
    pub(crate) tokens: Arc<dyn TokenStore>,
    pub(crate) account: RwLock<Option<Account>>,
    pub(crate) changes: broadcast::Sender<ChangeBatch>,
    pub(crate) status: watch::Sender<ConnectionState>,
    /// Wakes the sync task when the outbox or own receipts change.
    pub(crate) wake: Notify,
    /// Wakes the uploader when a file is queued.
    pub(crate) transfer_wake: Notify,
    /// One lock per file being downloaded: two requests for the same file (a chat
    /// preview and a thumbnail at once) must not append to one partial file together.
    pub(crate) downloads: std::sync::Mutex<std::collections::HashMap<String, Arc<Mutex<()>>>>,
    sync: Mutex<Option<Running>>,
    profile_dir: PathBuf,
    _lock: std::fs::File,
}

impl Inner {
    pub(crate) fn emit_touched(&self, touched: &Touched) {
        let mut batch = Vec::new();
        if touched.conversations || !touched.messages.is_empty() {
            batch.push(Change::Conversations);
        }
        batch.extend(
            touched
                .messages
                .iter()
                .map(|&conversation_id| Change::Messages { conversation_id }),
        );
        batch.extend(
            touched
                .receipts
                .iter()
                .map(|&conversation_id| Change::Receipts { conversation_id }),
        );
        if touched.outbox {
            batch.push(Change::Outbox);
        }
        batch.extend(
            touched
                .reminders
                .iter()
                .map(|&conversation_id| Change::Reminders { conversation_id }),
        );
        if !touched.alarms.is_empty() && !batch.contains(&Change::Conversations) {
            batch.push(Change::Conversations);
        }
        batch.extend(
            touched
                .alarms
                .iter()
                .map(|&conversation_id| Change::ChainAlarm { conversation_id }),
        );
        self.emit(batch);
    }

    pub(crate) fn emit(&self, batch: Vec<Change>) {
        if !batch.is_empty() {
            let _ = self.changes.send(Arc::new(batch));
        }
    }

    pub(crate) fn set_status(&self, state: ConnectionState) {
        if *self.status.borrow() != state {
            self.status.send_replace(state.clone());
            self.emit(vec![Change::Connection { state }]);
        }
    }

    pub(crate) fn account(&self) -> Option<Account> {
        self.account
            .read()
            .map(|a| a.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    pub(crate) fn profile_dir(&self) -> &Path {
        &self.profile_dir
    }

    pub(crate) fn api(&self) -> Result<ApiClient, EngineError> {
        let account = self.account().ok_or(EngineError::NotSignedIn)?;
        let token = self
            .tokens
            .load()
            .map_err(EngineError::TokenStore)?
            .ok_or(EngineError::NotSignedIn)?;
        Ok(ApiClient::new(&account.server_url)?.with_token(token))
    }
}

/// One profile: a folder holding its database and (by default) its token. Two engines
/// can never share a profile folder — the second `open` fails with `ProfileLocked` — and
/// a profile signed in to one account refuses to sign in to another, so accounts on one
/// machine never mix.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

impl Engine {
    /// Opens the profile at `dir`, creating it if needed. With `tokens` absent the
    /// token is kept in `dir/token`.
    pub async fn open(
        dir: &Path,
        tokens: Option<Arc<dyn TokenStore>>,
    ) -> Result<Engine, EngineError> {
        std::fs::create_dir_all(dir).map_err(|source| EngineError::CreateProfileDir {
            path: dir.to_owned(),
            source,
        })?;
        let lock_path = dir.join("profile.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| EngineError::CreateProfileDir {
                path: lock_path.clone(),
                source,
            })?;
        if lock.try_lock().is_err() {
            return Err(EngineError::ProfileLocked(dir.to_owned()));
        }
        let db = LocalDb::open(&dir.join("satchel.db")).await?;
        let device = match db.get("device_id").await? {
            Some(id) => DeviceId(id),
            None => {
                let id = DeviceId(uuid::Uuid::new_v4().simple().to_string());
                db.set("device_id", id.as_str()).await?;
                id
            }
        };
        let account = match db.get("account").await? {
            Some(json) => {
                Some(serde_json::from_str(&json).map_err(|e| EngineError::Corrupt(e.to_string()))?)
            }
            None => None,
        };
        let tokens = tokens.unwrap_or_else(|| Arc::new(FileTokenStore::new(dir.join("token"))));
        let (changes, _) = broadcast::channel(1024);
        let (status, _) = watch::channel(ConnectionState::Idle);
        Ok(Engine {
            inner: Arc::new(Inner {
                db,
                device,
                tokens,
                account: RwLock::new(account),
                changes,
                status,
                wake: Notify::new(),
                transfer_wake: Notify::new(),
                downloads: Default::default(),
                sync: Mutex::new(None),
                profile_dir: dir.to_owned(),
                _lock: lock,
            }),
        })
    }

    /// The profile folder.
    pub fn profile_dir(&self) -> &Path {
        &self.inner.profile_dir
    }

    /// This profile's device id (stable for the profile's lifetime).
    pub fn device_id(&self) -> &DeviceId {
        &self.inner.device
    }

    /// The signed-in account, if any.
    pub fn account(&self) -> Option<Account> {
        self.inner.account()
    }

    /// An authenticated HTTP client for calls the engine does not wrap (account
    /// administration, creating conversations).
    pub fn api(&self) -> Result<ApiClient, EngineError> {
        self.inner.api()
    }

    /// Signs in. A profile that already holds another account's history refuses.
    pub async fn login(
        &self,
        server_url: &str,
        username: &str,
        password: &str,
    ) -> Result<Account, EngineError> {
        let api = ApiClient::new(server_url)?;
        let response = api
            .login(&LoginRequest {
                username: username.to_owned(),
                password: password.to_owned(),
                device_id: self.inner.device.clone(),
                device_name: hostname(),
            })
            .await?;
        self.adopt_session(&api, response).await
    }

    /// Joins a workspace with an invite code: creates the account the invite is for,
    /// with the username and password the person chose, and signs in as it.
    pub async fn join(
        &self,
        server_url: &str,
        code: &str,
        username: &str,
        display_name: &str,
        password: &str,
    ) -> Result<Account, EngineError> {
        if let Some(existing) = self.account() {
            // Joining creates a new account; a profile holds one account only.
            return Err(EngineError::ProfileBelongsToAnother {
                existing: format!("{} at {}", existing.member.username, existing.server_url),
                requested: format!("{username} at {server_url}"),
            });
        }
        let api = ApiClient::new(server_url)?;
        let response = api
            .redeem_invite(&RedeemInviteRequest {
                code: code.to_owned(),
                username: username.to_owned(),
                display_name: display_name.to_owned(),
                password: password.to_owned(),
                device_id: self.inner.device.clone(),
                device_name: hostname(),
            })
            .await?;
        self.adopt_session(&api, response).await
    }

    /// Keeps a new session's token and account, unless the profile belongs to another
    /// account.
    async fn adopt_session(
        &self,
        api: &ApiClient,
        response: LoginResponse,
    ) -> Result<Account, EngineError> {
        let account = Account {
            server_url: api.server_url().to_owned(),
            member: response.member,
            workspace: response.workspace,
        };
        if let Some(existing) = self.inner.db.get("account").await? {
            let existing: Account =
                serde_json::from_str(&existing).map_err(|e| EngineError::Corrupt(e.to_string()))?;
            if existing.server_url != account.server_url || existing.member.id != account.member.id
            {
                return Err(EngineError::ProfileBelongsToAnother {
                    existing: format!("{} at {}", existing.member.username, existing.server_url),
                    requested: format!("{} at {}", account.member.username, account.server_url),
                });
            }
        }
        self.inner
            .tokens
            .save(&response.token)
            .map_err(EngineError::TokenStore)?;
        self.inner
            .db
            .set(
                "account",
                &serde_json::to_string(&account)
                    .map_err(|e| EngineError::Corrupt(e.to_string()))?,
            )
            .await?;
        *self
            .inner
            .account
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(account.clone());
        if let Ok(members) = self.api()?.members().await {
            self.inner.db.store_members(&members).await?;
        }
        Ok(account)
    }

    /// Revokes the session on the server (best effort) and forgets the token. The
    /// local history stays; signing in again to the same account resumes it.
    pub async fn logout(&self) -> Result<(), EngineError> {
        self.stop().await;
        if let Ok(api) = self.api() {
            let _ = api.logout().await;
        }
        self.inner.tokens.clear().map_err(EngineError::TokenStore)?;
        self.inner.set_status(ConnectionState::SignedOut);
        Ok(())
    }

    /// Starts (or restarts) the sync task: connect, resume, send the outbox, keep
    /// reconnecting with backoff until [`Engine::stop`].
    pub async fn start(&self) -> Result<(), EngineError> {
        self.inner.api()?;
        let mut sync = self.inner.sync.lock().await;
        if let Some((handles, _)) = sync.as_ref() {
            if handles.iter().all(|h| !h.is_finished()) {
                return Ok(());
            }
        }
        if let Some((handles, stop)) = sync.take() {
            let _ = stop.send(true);
            for handle in handles {
                let _ = handle.await;
            }
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let handles = vec![
            tokio::spawn(crate::sync::run(self.inner.clone(), stop_rx.clone())),
            tokio::spawn(crate::transfer::run_uploader(
                self.inner.clone(),
                stop_rx.clone(),
            )),
            tokio::spawn(crate::watch::run(self.clone(), stop_rx)),
        ];
        *sync = Some((handles, stop_tx));
        Ok(())
    }

    /// Stops the sync task and waits for it. Queued messages stay in the outbox.
    pub async fn stop(&self) {
        let taken = self.inner.sync.lock().await.take();
        if let Some((handles, stop)) = taken {
            let _ = stop.send(true);
            for handle in handles {
                let _ = handle.await;
            }
        }
        self.inner.set_status(ConnectionState::Idle);
    }

    /// Stops syncing and closes the database.
    pub async fn close(&self) {
        self.stop().await;
        self.inner.db.close().await;
    }

    /// Queues a text message (validated first; nothing is queued if it is invalid).
    pub async fn send_text(
        &self,
        conversation_id: ConversationId,
        text: &str,
        reply_to: Option<MessageId>,
    ) -> Result<LocalMessage, EngineError> {
        self.send(
            conversation_id,
            MessageBody::Text {
                text: text.to_owned(),
                reply_to,
                needs_confirmation: false,
                deadline: None,
            },
        )
        .await
    }

    /// Queues any message body. It is on disk in the outbox when this returns, and is
    /// delivered exactly once, whenever the server is reachable.
    pub async fn send(
        &self,
        conversation_id: ConversationId,
        body: MessageBody,
    ) -> Result<LocalMessage, EngineError> {
        self.send_from(conversation_id, body, None).await
    }

    /// [`Engine::send`], recording a watched folder's file as sent in the same commit.
    async fn send_from(
        &self,
        conversation_id: ConversationId,
        body: MessageBody,
        from_folder: Option<(&str, &str)>,
    ) -> Result<LocalMessage, EngineError> {
        validate::message_body(&body)?;
        let account = self.account().ok_or(EngineError::NotSignedIn)?;
        if order::is_order_kind(&body) {
            self.check_order_message(conversation_id, &account.member, &body)
                .await?;
        }
        let txn_id = TxnId(uuid::Uuid::new_v4().simple().to_string());
        let message = self
            .inner
            .db
            .queue_send(
                account.member.id,
                &self.inner.device,
                conversation_id,
                &txn_id,
                &body,
                from_folder,
            )
            .await?;
        let mut touched = Touched {
            outbox: true,
            ..Touched::default()
        };
        touched.messages.push(conversation_id);
        self.inner.emit_touched(&touched);
        self.inner.wake.notify_one();
        Ok(message)
    }

    /// Sends a file at full resolution, byte for byte: it is copied into the profile's
    /// cache while hashed, its type is sniffed from its bytes (images and videos become
    /// image and video messages), and the message is queued; it goes out once the file
    /// is uploaded, resuming after any interruption or restart.
    pub async fn send_file(
        &self,
        conversation_id: ConversationId,
        path: &Path,
        caption: &str,
    ) -> Result<LocalMessage, EngineError> {
        // Without a folder nothing is skipped, so there is always a message.
        self.send_file_from(conversation_id, path, caption, None, None)
            .await?
            .ok_or(EngineError::NotFound("message"))
    }

    /// Sends a recorded voice message (the file as recorded, byte for byte) with its
    /// length, through the outbox like any file.
    pub async fn send_voice(
        &self,
        conversation_id: ConversationId,
        path: &Path,
        duration_ms: u32,
    ) -> Result<LocalMessage, EngineError> {
        self.send_file_from(conversation_id, path, "", None, Some(duration_ms))
            .await?
            .ok_or(EngineError::NotFound("message"))
    }

    /// [`Engine::send_file`] for a watched folder: skips the file (returning `None`) if
    /// the folder already sent the same bytes under another name (a rename), and records
    /// it as sent in the same commit that queues it.
    pub(crate) async fn send_watched_file(
        &self,
        conversation_id: ConversationId,
        folder: &str,
        path: &Path,
        name: &str,
    ) -> Result<Option<LocalMessage>, EngineError> {
        self.send_file_from(conversation_id, path, "", Some((folder, name)), None)
            .await
    }

    async fn send_file_from(
        &self,
        conversation_id: ConversationId,
        path: &Path,
        caption: &str,
        from_folder: Option<(&str, &str)>,
        voice_duration_ms: Option<u32>,
    ) -> Result<Option<LocalMessage>, EngineError> {
        let imported = crate::transfer::import(&self.inner.profile_dir, path).await?;
        if let Some((folder, _)) = from_folder {
            if self
                .inner
                .db
                .watched_sent_bytes(folder, &imported.sha256)
                .await?
            {
                return Ok(None);
            }
        }
        let mime = infer::get(&imported.head)
            .map_or("application/octet-stream", |t| t.mime_type())
            .to_owned();
        let name = validate::sanitize_file_name(
            &path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        let sizes = if voice_duration_ms.is_some() {
            None
        } else if mime.starts_with("image/") {
            crate::transfer::make_previews(&self.inner.profile_dir, &imported.sha256).await
        } else if mime.starts_with("video/") {
            crate::transfer::make_video_poster(&self.inner.profile_dir, &imported.sha256).await
        } else {
            None
        };
        use crate::transfer::PreviewSize;
        let preview = match sizes {
            Some(sizes) => {
                self.upload_preview_beside(&imported.sha256, PreviewSize::Chat, sizes.chat)
                    .await
            }
            None => None,
        };
        let screen = match sizes.and_then(|s| s.screen) {
            Some(edge) => {
                self.upload_preview_beside(&imported.sha256, PreviewSize::Screen, edge)
                    .await
            }
            None => None,
        };
        let attachment = AttachmentRef {
            sha256: imported.sha256.clone(),
            size: imported.size,
            mime: mime.clone(),
            name,
            width: sizes.map(|s| s.full.0),
            height: sizes.map(|s| s.full.1),
            preview,
            screen,
        };
        let caption = caption.to_owned();
        let body = if let Some(duration_ms) = voice_duration_ms {
            MessageBody::Voice {
                attachment,
                duration_ms,
            }
        } else if mime.starts_with("image/") {
            MessageBody::Image {
                attachment,
                caption,
            }
        } else if mime.starts_with("video/") {
            MessageBody::Video {
                attachment,
                caption,
            }
        } else {
            MessageBody::File {
                attachment,
                caption,
            }
        };
        self.inner
            .db
            .add_file(&imported.sha256, imported.size, true)
            .await?;
        let message = self.send_from(conversation_id, body, from_folder).await?;
        self.inner.transfer_wake.notify_one();
        crate::transfer::enforce_cache_limit(&self.inner, None).await?;
        Ok(Some(message))
    }

    /// Puts a photo's chat preview or screen level into the cache as a file of its
    /// own, to be uploaded with the photo's message. `None` (the photo goes without) if
    /// that fails.
    async fn upload_preview_beside(
        &self,
        sha256: &str,
        which: crate::transfer::PreviewSize,
        (width, height): (u32, u32),
    ) -> Option<PreviewRef> {
        let made = crate::transfer::preview_path(&self.inner.profile_dir, sha256, which);
        let imported = crate::transfer::import(&self.inner.profile_dir, &made).await;
        if which == crate::transfer::PreviewSize::Screen {
            // The level lives on as a cached file of its own hash, served from there.
            let _ = tokio::fs::remove_file(&made).await;
        }
        let imported = match imported {
            Ok(imported) => imported,
            Err(error) => {
                tracing::warn!(%error, ?which, "the photo goes without its preview");
                return None;
            }
        };
        if let Err(error) = self
            .inner
            .db
            .add_file(&imported.sha256, imported.size, true)
            .await
        {
            tracing::warn!(%error, "the photo goes without its preview");
            return None;
        }
        Some(PreviewRef {
            sha256: imported.sha256,
            size: imported.size,
            width,
            height,
        })
    }

    /// A preview of a photo or video: the cached one, else the one its sender uploaded
    /// (a small download), else — for a photo — made from the original (fetched first).
    /// A screen level is only ever the sender's (a photo without one is shown from its
    /// original).
    pub async fn preview(
        &self,
        sha256: &str,
        size: crate::transfer::PreviewSize,
    ) -> Result<PathBuf, EngineError> {
        if size != crate::transfer::PreviewSize::Screen {
            if let Some(path) = self.preview_path(sha256, size) {
                return Ok(path);
            }
        }
        let attachment = self
            .inner
            .db
            .attachment(sha256)
            .await?
            .ok_or(EngineError::NotFound("file"))?;
        if size == crate::transfer::PreviewSize::Screen {
            let level = attachment
                .screen
                .ok_or(EngineError::NotFound("screen level"))?;
            return self.fetch_file(&level.sha256).await;
        }
        if let Some(sent) = attachment.preview {
            match crate::transfer::install_sent_preview(&self.inner, sha256, &sent.sha256).await {
                Ok(()) => {
                    if let Some(path) = self.preview_path(sha256, size) {
                        return Ok(path);
                    }
                }
                Err(error) => {
                    tracing::debug!(%error, %sha256, "no sent preview; fetching the original")
                }
            }
        }
        if !attachment.mime.starts_with("image/") {
            // A whole video is no way to a thumbnail: it shows as a typed file instead.
            return Err(EngineError::NotFound("preview"));
        }
        self.fetch_file(sha256).await?;
        self.preview_path(sha256, size)
            .ok_or(EngineError::NotFound("preview"))
    }

    /// The original of a file, downloaded (resuming a partial download) and verified
    /// against its hash, in the profile's cache.
    pub async fn fetch_file(&self, sha256: &str) -> Result<PathBuf, EngineError> {
        crate::transfer::download(&self.inner, sha256).await
    }

    /// What the camera recorded about a photo (camera, time, exposure), read from its
    /// verified original (fetched first if needed).
    pub async fn photo_details(
        &self,
        sha256: &str,
    ) -> Result<crate::preview::PhotoDetails, EngineError> {
        let path = self.fetch_file(sha256).await?;
        tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&path)
                .map_err(|e| EngineError::File(format!("{}: {e}", path.display())))?;
            Ok(crate::preview::details(&mut std::io::BufReader::new(file)))
        })
        .await
        .map_err(|e| EngineError::Corrupt(e.to_string()))?
    }

    /// Binds a folder to a conversation: from now on every new file written into it is
    /// sent there automatically, once. Files already in the folder are sent too unless
    /// `skip_existing`. The binding survives restarts.
    pub async fn watch_folder(
        &self,
        folder: &Path,
        conversation_id: ConversationId,
        skip_existing: bool,
    ) -> Result<(), EngineError> {
        let meta = tokio::fs::metadata(folder)
            .await
            .map_err(|e| EngineError::File(format!("{}: {e}", folder.display())))?;
        if !meta.is_dir() {
            return Err(EngineError::File(format!(
                "{} is not a folder",
                folder.display()
            )));
        }
        let path = folder.to_string_lossy().into_owned();
        self.inner.db.add_watched(&path, conversation_id).await?;
        if skip_existing {
            let mut dir = tokio::fs::read_dir(folder)
                .await
                .map_err(|e| EngineError::File(e.to_string()))?;
            while let Ok(Some(entry)) = dir.next_entry().await {
                if entry.metadata().await.map(|m| m.is_file()).unwrap_or(false) {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    self.inner
                        .db
                        .record_watched_rename(&path, &name, &entry.path())
                        .await?;
                }
            }
        }
        self.inner.emit(vec![Change::WatchedFolders]);
        Ok(())
    }

    /// Unbinds a folder.
    pub async fn unwatch_folder(&self, folder: &Path) -> Result<(), EngineError> {
        self.inner
            .db
            .remove_watched(&folder.to_string_lossy())
            .await?;
        self.inner.emit(vec![Change::WatchedFolders]);
        Ok(())
    }

    /// The bound folders, with the problem each has, if any.
    pub async fn watched_folders(&self) -> Result<Vec<crate::local::WatchedFolder>, EngineError> {
        self.inner.db.watched().await
    }

    /// Pauses the upload of a file (its messages stay queued and go out after
    /// [`Engine::resume_upload`]).
    pub async fn pause_upload(&self, sha256: &str) -> Result<(), EngineError> {
        self.inner.db.set_paused(sha256, true).await?;
        self.inner.emit(vec![Change::Outbox]);
        Ok(())
    }

    /// Resumes a paused upload where it stopped.
    pub async fn resume_upload(&self, sha256: &str) -> Result<(), EngineError> {
        self.inner.db.set_paused(sha256, false).await?;
        self.inner.transfer_wake.notify_one();
        self.inner.emit(vec![Change::Outbox]);
        Ok(())
    }

    /// Cancels a file message whose file is still uploading: the message leaves the
    /// outbox and the timeline. A message already handed to the server cannot be
    /// cancelled (recall it instead).
    pub async fn cancel(&self, txn_id: &TxnId) -> Result<(), EngineError> {
        let touched = self.inner.db.cancel_unsent_file(txn_id).await?;
        self.inner.emit_touched(&touched);
        Ok(())
    }

    /// Sets the file cache's size limit (kept in the profile). Least recently used files
    /// are evicted beyond it; files waiting to be sent never are.
    pub async fn set_cache_limit(&self, bytes: u64) -> Result<(), EngineError> {
        self.inner
            .db
            .set("cache_limit_bytes", &bytes.to_string())
            .await?;
        crate::transfer::enforce_cache_limit(&self.inner, None).await
    }

    /// A cached preview of an image, if one exists: made when the image was sent from
    /// this profile or fetched by it.
    pub fn preview_path(
        &self,
        sha256: &str,
        size: crate::transfer::PreviewSize,
    ) -> Option<PathBuf> {
        let path = crate::transfer::preview_path(&self.inner.profile_dir, sha256, size);
        path.exists().then_some(path)
    }

    /// The attachment with this hash if a message this profile can see carries it.
    /// Callers serving files to a UI check this first, so a hash alone opens nothing.
    pub async fn attachment(&self, sha256: &str) -> Result<Option<AttachmentRef>, EngineError> {
        self.inner.db.attachment(sha256).await
    }

    /// "Save as": writes the original bytes of a file to `destination`.
    pub async fn save_file_as(&self, sha256: &str, destination: &Path) -> Result<u64, EngineError> {
        let cached = self.fetch_file(sha256).await?;
        tokio::fs::copy(&cached, destination)
            .await
            .map_err(|e| EngineError::File(format!("writing {}: {e}", destination.display())))
    }

    /// Requeues a failed message with its original transaction id.
    pub async fn retry(&self, txn_id: &TxnId) -> Result<(), EngineError> {
        let touched = self.inner.db.retry_send(txn_id).await?;
        self.inner.emit_touched(&touched);
        self.inner.wake.notify_one();
        self.inner.transfer_wake.notify_one();
        Ok(())
    }

    /// Removes a failed message.
    pub async fn discard(&self, txn_id: &TxnId) -> Result<(), EngineError> {
        let touched = self.inner.db.discard_send(txn_id).await?;
        self.inner.emit_touched(&touched);
        Ok(())
    }

    /// Records that the user has seen messages up to `seq` (the UI calls this when a
    /// message is on screen in a focused window). Only this makes a message "read" for
    /// its sender; delivery alone never does.
    pub async fn mark_read(
        &self,
        conversation_id: ConversationId,
        seq: Seq,
    ) -> Result<(), EngineError> {
        if self
            .inner
            .db
            .advance_my_receipt(conversation_id, None, Some(seq))
            .await?
        {
            self.inner.emit(vec![
                Change::Conversations,
                Change::Receipts { conversation_id },
            ]);
            self.inner.wake.notify_one();
        }
        Ok(())
    }

    /// Who has read one of my messages, and when; who has not. Read means the reader's
    /// app showed it in a focused window ([`Engine::mark_read`]), not that it arrived.
    pub async fn read_states(
        &self,
        conversation_id: ConversationId,
        seq: Seq,
    ) -> Result<Vec<ReadState>, EngineError> {
        let me = self.account().ok_or(EngineError::NotSignedIn)?.member.id;
        self.inner.db.read_states(conversation_id, seq, me).await
    }

    /// "Remind now": nudges the members who have not read one of my messages. The
    /// server allows one reminder per message every five minutes (`rate_limited`
    /// otherwise) and refuses when everyone has read it (`conflict`).
    pub async fn remind(
        &self,
        conversation_id: ConversationId,
        message_id: MessageId,
    ) -> Result<Reminder, EngineError> {
        self.api()?.remind(conversation_id, message_id).await
    }

    /// Reminders sent to me that have not been taken yet; each is returned once.
    pub async fn take_reminders(&self) -> Result<Vec<Reminder>, EngineError> {
        let me = self.account().ok_or(EngineError::NotSignedIn)?.member.id;
        self.inner.db.take_reminders(me).await
    }

    /// Deadline alerts due at `now` with `lead` warning time, each returned once: to
    /// the sender, who has not read a message yet; to a recipient, that a message they
    /// have not read is due. `now` is a parameter so that a UI passes the wall clock
    /// and tests a clock of their own.
    pub async fn take_deadline_alerts(
        &self,
        now: UnixMillis,
        lead: Duration,
    ) -> Result<Vec<DeadlineAlert>, EngineError> {
        let me = self.account().ok_or(EngineError::NotSignedIn)?.member.id;
        let lead_ms = i64::try_from(lead.as_millis()).unwrap_or(i64::MAX);
        self.inner.db.take_deadline_alerts(me, now, lead_ms).await
    }

    /// Turns new-message notifications for a conversation off (or back on).
    pub async fn set_muted(
        &self,
        conversation_id: ConversationId,
        muted: bool,
    ) -> Result<(), EngineError> {
        self.inner.db.set_muted(conversation_id, muted).await?;
        self.inner.emit(vec![Change::Conversations]);
        Ok(())
    }

    /// Conversations, most recent activity first, with unread counts.
    pub async fn conversations(&self) -> Result<Vec<ConversationSummary>, EngineError> {
        let me = self.account().ok_or(EngineError::NotSignedIn)?.member.id;
        self.inner.db.conversations(me).await
    }

    /// A page of a conversation's timeline (see [`LocalDb::messages`]).
    pub async fn messages(
        &self,
        conversation_id: ConversationId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<LocalMessage>, EngineError> {
        self.inner.db.messages(conversation_id, before, limit).await
    }

    /// Every member's receipt in a conversation, as last synced.
    pub async fn receipts(
        &self,
        conversation_id: ConversationId,
    ) -> Result<Vec<Receipt>, EngineError> {
        self.inner.db.receipts(conversation_id).await
    }

    /// An order's record: every spec-sheet card with all its revisions and answers,
    /// stage changes, progress updates and shipments, folded from the confirmed
    /// messages this profile holds (the server folds the same messages to check them).
    pub async fn order_record(
        &self,
        conversation_id: ConversationId,
    ) -> Result<order::OrderRecord, EngineError> {
        let messages = self.inner.db.order_messages(conversation_id).await?;
        let mut members = self.inner.db.members().await?;
        let unknown = |members: &[Member]| {
            messages
                .iter()
                .any(|m| !members.iter().any(|known| known.id == m.sender_id))
        };
        let online = matches!(*self.inner.status.borrow(), ConnectionState::Online);
        if unknown(&members) && online {
            // A colleague or customer who joined after the directory was fetched. (Offline,
            // the record is folded with what is known rather than waiting for the network.)
            if let Ok(fresh) = self.refresh_members().await {
                members = fresh;
            }
        }
        let side = |id: MemberId| {
            members
                .iter()
                .find(|m| m.id == id)
                .map_or(order::Side::Customer, |m| order::Side::from(m.role))
        };
        Ok(order::OrderRecord::from_messages(
            messages.iter().filter_map(LocalMessage::recorded),
            side,
        ))
    }

    /// The conversation's photos and videos, grouped by the order's stage and round when
    /// each was sent, with the annotations on them (see [`review::Album`]).
    pub async fn album(
        &self,
        conversation_id: ConversationId,
    ) -> Result<review::Album, EngineError> {
        let messages = self.inner.db.review_messages(conversation_id).await?;
        Ok(review::Album::from_messages(
            messages.iter().filter_map(LocalMessage::recorded),
        ))
    }

    /// Refuses at once what the server would refuse later: order messages outside
    /// order conversations, and anything the order's rules forbid as the record stands.
    async fn check_order_message(
        &self,
        conversation_id: ConversationId,
        me: &Member,
        body: &MessageBody,
    ) -> Result<(), EngineError> {
        let conversation = self
            .inner
            .db
            .conversation(conversation_id)
            .await?
            .ok_or(EngineError::NotFound("conversation"))?;
        if conversation.kind != ConversationKind::Order {
            return Err(order::OrderRuleError::NotAnOrder {
                kind: body.kind_name().to_owned(),
            }
            .into());
        }
        let record = self.order_record(conversation_id).await?;
        record.check(me.id, order::Side::from(me.role), body)?;
        Ok(())
    }

    /// Searches this profile's history (see [`crate::search`]): Chinese terms of any
    /// length, Latin words as prefixes, numbers; filtered and ordered as asked.
    /// Messages that arrived since the last sync batch are indexed first.
    pub async fn search(
        &self,
        query: &crate::local::SearchQuery,
    ) -> Result<Vec<crate::local::SearchHit>, EngineError> {
        self.inner.db.index_pending().await?;
        self.inner.db.search(query).await
    }

    /// Breaks found in the server's hash chain, for one conversation or all. Each is
    /// kept for good; the UI shows them until the history is explained.
    pub async fn chain_alarms(
        &self,
        conversation_id: Option<ConversationId>,
    ) -> Result<Vec<crate::integrity::ChainAlarm>, EngineError> {
        self.inner.db.chain_alarms(conversation_id).await
    }

    /// Exports a conversation's record as evidence — a readable page, every
    /// attachment's original bytes and a manifest with the hash chain — into
    /// `destination` (a new folder, or a new ZIP file). Online, the server's copy of the
    /// whole history is fetched once more first: it fills any gap, and a message the
    /// server now presents differently from what this device received raises an alarm
    /// (which the export then lists). Every attachment is fetched and verified.
    pub async fn export_order(
        &self,
        conversation_id: ConversationId,
        destination: &Path,
        format: crate::export::ExportFormat,
    ) -> Result<crate::export::ExportSummary, EngineError> {
        use satchel_protocol::export as ex;
        let account = self.account().ok_or(EngineError::NotSignedIn)?;
        let db = &self.inner.db;
        let conversation = db
            .conversation(conversation_id)
            .await?
            .ok_or(EngineError::NotFound("conversation"))?;
        let online = matches!(*self.inner.status.borrow(), ConnectionState::Online);
        let mut organisation = None;
        if online {
            crate::sync::backfill(&self.inner, conversation_id).await?;
            if let (Some(org), Ok(orgs)) = (conversation.org_id, self.api()?.orgs().await) {
                organisation = orgs.into_iter().find(|o| o.id == org).map(|o| o.name);
            }
        }
        let messages = db.chained_messages(conversation_id).await?;
        let (verified, head) = db.verified_head(conversation_id).await?;
        let last = messages.last().map_or(Seq(0), |m| m.seq);
        if verified != last || messages.len() != usize::try_from(last.0).unwrap_or(0) {
            return Err(EngineError::Export(format!(
                "this device holds the record verified up to message {verified} of {last};                  connect to the server so the rest arrives, then export again"
            )));
        }
        let directory = db.members().await?;
        let exported = |id: MemberId| {
            let known = directory.iter().find(|m| m.id == id);
            ex::ExportedMember {
                id,
                name: known.map_or_else(|| format!("#{id}"), |m| m.display_name.clone()),
                role: known.map_or(Role::Customer, |m| m.role),
            }
        };
        let mut sources = Vec::new();
        let mut files: Vec<ex::ExportedFile> = Vec::new();
        for message in &messages {
            let Ok(body) = serde_json::from_str::<MessageBody>(&message.body) else {
                continue;
            };
            let Some(attachment) = body.attachment() else {
                continue;
            };
            if files.iter().any(|f| f.sha256 == attachment.sha256) {
                continue;
            }
            let cached = self.fetch_file(&attachment.sha256).await?;
            let path = crate::export::file_path(&attachment.sha256, &attachment.name);
            files.push(ex::ExportedFile {
                sha256: attachment.sha256.clone(),
                size: attachment.size,
                name: attachment.name.clone(),
                path: path.clone(),
            });
            sources.push((path, cached));
        }
        let alarms = db
            .chain_alarms(Some(conversation_id))
            .await?
            .into_iter()
            .map(|a| ex::ExportedAlarm {
                seq: a.seq,
                problem: a.problem.as_str().to_owned(),
                detail: a.detail,
                detected_at: a.detected_at,
            })
            .collect();
        let receipts = db
            .receipts(conversation_id)
            .await?
            .into_iter()
            .map(|r| ex::ExportedReceipt {
                member_id: r.member_id,
                delivered_up_to: r.delivered_up_to,
                read_up_to: r.read_up_to,
                updated_at: r.updated_at,
            })
            .collect();
        let record = match conversation.kind {
            ConversationKind::Order => Some(self.order_record(conversation_id).await?),
            _ => None,
        };
        let manifest = ex::Manifest {
            format: ex::FORMAT.to_owned(),
            exported_at: crate::local::now_millis(),
            exported_by: exported(account.member.id),
            server: account.server_url.clone(),
            conversation: ex::ExportedConversation {
                id: conversation.id,
                title: conversation.title.clone(),
                order_number: conversation.order_number.clone(),
                organisation,
                order: conversation.order.clone(),
                members: conversation.members.iter().map(|&m| exported(m)).collect(),
            },
            head: ex::Head {
                seq: verified,
                chain: head.clone(),
            },
            messages,
            files,
            receipts,
            alarms,
            rendering: ex::ExportedRendering {
                path: ex::RENDERING.to_owned(),
                sha256: String::new(),
            },
        };
        let mut gathered = crate::export::Gathered {
            manifest,
            record,
            read_log: db.read_log(conversation_id).await?,
            sources,
        };
        let destination = destination.to_owned();
        let (gathered, written) = tokio::task::spawn_blocking(move || {
            let written = crate::export::write(&mut gathered, &destination, format)
                .map(|bytes| (destination, bytes));
            (gathered, written)
        })
        .await
        .map_err(|e| EngineError::Export(format!("the export stopped: {e}")))?;
        let (path, file_bytes) = written.map_err(EngineError::Export)?;
        Ok(crate::export::ExportSummary {
            path,
            messages: gathered.manifest.messages.len(),
            files: gathered.manifest.files.len(),
            file_bytes,
            head_seq: verified,
            head,
        })
    }

    /// The workspace's members as last fetched.
    pub async fn members(&self) -> Result<Vec<Member>, EngineError> {
        self.inner.db.members().await
    }

    /// Re-fetches the member directory.
    pub async fn refresh_members(&self) -> Result<Vec<Member>, EngineError> {
        let members = self.api()?.members().await?;
        self.inner.db.store_members(&members).await?;
        Ok(members)
    }

    /// The local database, for read-only inspection (tests, export).
    pub fn local(&self) -> &LocalDb {
        &self.inner.db
    }

    /// Changes after each local commit.
    pub fn subscribe(&self) -> broadcast::Receiver<ChangeBatch> {
        self.inner.changes.subscribe()
    }

    /// The connection state.
    pub fn status(&self) -> watch::Receiver<ConnectionState> {
        self.inner.status.subscribe()
    }

    /// Waits until the connection is caught up, nothing queued remains to send (failed
    /// messages wait for the user) and no own receipt awaits the server; `false` on
    /// timeout.
    pub async fn wait_until_idle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.subscribe();
        loop {
            let online = matches!(*self.inner.status.borrow(), ConnectionState::Online);
            if online
                && self.inner.db.queued_len().await.unwrap_or(1) == 0
                && self
                    .inner
                    .db
                    .pending_receipts()
                    .await
                    .map(|p| p.is_empty())
                    .unwrap_or(false)
            {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            // Poll as well as listen: a receipt confirmed by the server changes no row
            // the UI shows, so it may come without a change event.
            let tick = tokio::time::Instant::now() + Duration::from_millis(200);
            match tokio::time::timeout_at(deadline.min(tick), changes.recv()).await {
                Err(_) => {}
                Ok(Err(broadcast::error::RecvError::Closed)) => return false,
                Ok(_) => {}
            }
        }
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .or_else(|_| std::env::var("COMPUTERNAME"))
        .unwrap_or_else(|_| "Satchel".to_owned())
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect()
}
