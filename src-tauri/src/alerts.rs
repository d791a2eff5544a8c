//! Desktop notifications. Two kinds:
//!
//! - **New messages** from others, unless the window has focus and shows that
//!   conversation. A burst becomes one notification per conversation ("3 条新消息").
//! - **Read**: a message its sender marked *needs confirmation* was read by a recipient.
//!
//! What has been notified is kept in the profile, so a restart neither repeats old
//! notifications nor loses ones that happened while the app was closed.

use std::collections::{BTreeSet, HashMap};

use satchel_client::{Change, Engine, LocalMessage};
use satchel_protocol::{ConversationId, MemberId, MessageBody, Seq};
use tauri::{AppHandle, Manager, Runtime};
#[cfg(not(target_os = "linux"))]
use tauri_plugin_notification::NotificationExt;
use tokio::sync::broadcast::error::RecvError;

use crate::shell::Shell;

const NOTIFIED_KEY: &str = "desktop.notified_up_to";
const READ_ALERTS_KEY: &str = "desktop.read_alerts";
/// Read alerts remembered (oldest forgotten first).
const READ_ALERTS_KEPT: usize = 5000;

struct Alerts {
    /// Per conversation, the newest seq already notified.
    notified: HashMap<ConversationId, Seq>,
    /// `(message id, reader)` pairs already announced as read.
    read_alerts: BTreeSet<(i64, i64)>,
}

/// How long to gather changes into one round of notifications, so that catching up
/// after a night offline gives one notification, not one per conversation.
const GATHER: std::time::Duration = std::time::Duration::from_millis(400);

/// New messages in one conversation, ready to announce.
struct Fresh {
    conversation: ConversationId,
    title: String,
    count: usize,
    line: String,
}

pub async fn run<R: Runtime>(app: AppHandle<R>, engine: Engine) {
    let mut changes = engine.subscribe();
    let mut alerts = Alerts::load(&engine).await;
    loop {
        let mut touched_messages = BTreeSet::new();
        let mut touched_receipts = BTreeSet::new();
        let mut collect = |batch: &[Change]| {
            for change in batch {
                match change {
                    Change::Messages { conversation_id } => {
                        touched_messages.insert(*conversation_id);
                    }
                    Change::Receipts { conversation_id } => {
                        touched_receipts.insert(*conversation_id);
                    }
                    _ => {}
                }
            }
        };
        match changes.recv().await {
            Ok(batch) => collect(&batch),
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        }
        let deadline = tokio::time::Instant::now() + GATHER;
        while let Ok(Ok(batch)) = tokio::time::timeout_at(deadline, changes.recv()).await {
            collect(&batch);
        }
        let Some(me) = engine.account().map(|a| a.member.id) else {
            continue;
        };
        let mut fresh = Vec::new();
        for conversation in touched_messages {
            match alerts.new_messages(&app, &engine, me, conversation).await {
                Ok(Some(f)) => fresh.push(f),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "preparing a notification failed"),
            }
        }
        announce_new_messages(&app, &fresh);
        for conversation in touched_receipts {
            if let Err(e) = alerts.reads(&app, &engine, me, conversation).await {
                tracing::warn!(error = %e, "preparing a notification failed");
            }
        }
    }
}

/// One notification for one conversation; one summary for several.
fn announce_new_messages<R: Runtime>(app: &AppHandle<R>, fresh: &[Fresh]) {
    match fresh {
        [] => {}
        [one] => {
            let body = if one.count == 1 {
                one.line.clone()
            } else {
                format!("{} 条新消息 · {}", one.count, one.line)
            };
            show(app, &one.title, &body, Some(one.conversation));
        }
        several => {
            let total: usize = several.iter().map(|f| f.count).sum();
            let title = format!("{} 个会话有 {total} 条新消息", several.len());
            let mut lines: Vec<String> = several
                .iter()
                .take(4)
                .map(|f| format!("{} — {}", f.title, f.line))
                .collect();
            if several.len() > 4 {
                lines.push(format!("… +{}", several.len() - 4));
            }
            show(app, &title, &lines.join("\n"), None);
        }
    }
}

impl Alerts {
    async fn load(engine: &Engine) -> Alerts {
        let get = |key| async move { engine.local().get(key).await.ok().flatten() };
        let notified: HashMap<i64, i64> = get(NOTIFIED_KEY)
            .await
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default();
        let read_alerts: Vec<(i64, i64)> = get(READ_ALERTS_KEY)
            .await
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default();
        Alerts {
            notified: notified
                .into_iter()
                .map(|(c, s)| (ConversationId(c), Seq(s)))
                .collect(),
            read_alerts: read_alerts.into_iter().collect(),
        }
    }

    async fn save(&self, engine: &Engine) -> Result<(), satchel_client::EngineError> {
        let notified: HashMap<i64, i64> = self.notified.iter().map(|(c, s)| (c.0, s.0)).collect();
        let json = serde_json::to_string(&notified).unwrap_or_default();
        engine.local().set(NOTIFIED_KEY, &json).await?;
        let kept: Vec<&(i64, i64)> = self
            .read_alerts
            .iter()
            .rev()
            .take(READ_ALERTS_KEPT)
            .collect();
        let json = serde_json::to_string(&kept).unwrap_or_default();
        engine.local().set(READ_ALERTS_KEY, &json).await
    }

    async fn new_messages<R: Runtime>(
        &mut self,
        app: &AppHandle<R>,
        engine: &Engine,
        me: MemberId,
        conversation: ConversationId,
    ) -> Result<Option<Fresh>, satchel_client::EngineError> {
        let read = engine.local().my_read_up_to(conversation).await?;
        let notified = self.notified.get(&conversation).copied().unwrap_or(Seq(0));
        let baseline = read.max(notified);
        let fresh: Vec<LocalMessage> = engine
            .messages(conversation, None, 50)
            .await?
            .into_iter()
            .filter(|m| m.sender_id != me && m.seq.is_some_and(|s| s > baseline))
            .filter(|m| {
                !matches!(
                    m.body,
                    MessageBody::Edit { .. } | MessageBody::Recall { .. }
                )
            })
            .collect();
        let Some(newest) = fresh.last() else {
            return Ok(None);
        };
        self.notified
            .insert(conversation, newest.seq.unwrap_or(baseline));
        self.save(engine).await?;
        let shell = app.try_state::<Shell>();
        if crate::window_focused(app) && shell.is_some_and(|s| s.active() == Some(conversation)) {
            return Ok(None);
        }
        let sender = member_name(engine, newest.sender_id).await;
        Ok(Some(Fresh {
            conversation,
            title: conversation_title(engine, conversation).await,
            count: fresh.len(),
            line: format!("{sender}: {}", newest.body.summary()),
        }))
    }

    async fn reads<R: Runtime>(
        &mut self,
        app: &AppHandle<R>,
        engine: &Engine,
        me: MemberId,
        conversation: ConversationId,
    ) -> Result<(), satchel_client::EngineError> {
        let wanted: Vec<LocalMessage> = engine
            .messages(conversation, None, 200)
            .await?
            .into_iter()
            .filter(|m| {
                m.sender_id == me
                    && m.seq.is_some()
                    && matches!(
                        m.body,
                        MessageBody::Text {
                            needs_confirmation: true,
                            ..
                        }
                    )
            })
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let receipts = engine.receipts(conversation).await?;
        let mut announcements = Vec::new();
        for message in &wanted {
            let (Some(id), Some(seq)) = (message.id, message.seq) else {
                continue;
            };
            for receipt in receipts
                .iter()
                .filter(|r| r.member_id != me && r.read_up_to >= seq)
            {
                if self.read_alerts.insert((id.0, receipt.member_id.0)) {
                    announcements.push((receipt.member_id, message.body.summary()));
                }
            }
        }
        if announcements.is_empty() {
            return Ok(());
        }
        self.save(engine).await?;
        let title = format!(
            "已读 Read · {}",
            conversation_title(engine, conversation).await
        );
        let mut lines = Vec::new();
        for (reader, summary) in announcements.iter().take(5) {
            lines.push(format!(
                "{} 已读: {summary}",
                member_name(engine, *reader).await
            ));
        }
        if announcements.len() > 5 {
            lines.push(format!("… +{}", announcements.len() - 5));
        }
        show(app, &title, &lines.join("\n"), Some(conversation));
        Ok(())
    }
}

async fn conversation_title(engine: &Engine, id: ConversationId) -> String {
    match engine.local().conversation(id).await {
        Ok(Some(c)) => match c.order_number {
            Some(number) => format!("{number} {}", c.title),
            None => c.title,
        },
        _ => "包讯 Satchel".to_owned(),
    }
}

async fn member_name(engine: &Engine, id: MemberId) -> String {
    engine
        .members()
        .await
        .ok()
        .and_then(|ms| ms.into_iter().find(|m| m.id == id))
        .map(|m| m.display_name)
        .unwrap_or_else(|| format!("#{id}"))
}

/// Shows a notification; clicking it brings the window forward on `conversation`.
///
/// On Linux the notification goes straight to the desktop's notification service
/// (notify-rust, which the notification plugin uses underneath) with a default action,
/// because the plugin offers no click callback on desktop platforms. Elsewhere the plugin
/// shows it, and a click activates the app as the OS does for its toasts.
fn show<R: Runtime>(
    app: &AppHandle<R>,
    title: &str,
    body: &str,
    conversation: Option<ConversationId>,
) {
    let app = app.clone();
    let (title, body) = (title.to_owned(), body.to_owned());
    // The platform call may block (D-Bus), and waiting for a click does.
    tauri::async_runtime::spawn_blocking(move || {
        #[cfg(target_os = "linux")]
        {
            let shown = notify_rust::Notification::new()
                .appname("包讯 Satchel")
                .summary(&title)
                .body(&body)
                .action("default", "打开 Open")
                .show();
            match shown {
                Ok(handle) => handle.wait_for_action(|action| {
                    if action == "default" {
                        open_conversation(&app, conversation);
                    }
                }),
                Err(e) => tracing::warn!(error = %e, "showing a notification failed"),
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = conversation;
            if let Err(e) = app
                .notification()
                .builder()
                .title(&title)
                .body(&body)
                .show()
            {
                tracing::warn!(error = %e, "showing a notification failed");
            }
        }
    });
}

/// Brings the window forward and asks the UI to show `conversation`.
fn open_conversation<R: Runtime>(app: &AppHandle<R>, conversation: Option<ConversationId>) {
    crate::show_main_window(app);
    if let Some(id) = conversation {
        let _ = tauri::Emitter::emit_to(app, "main", "open-conversation", id);
    }
}
