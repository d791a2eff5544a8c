//! Desktop notifications, and the in-app list that keeps every one of them.
//!
//! Kinds:
//! - **New messages** from others, unless the conversation is muted or the window has
//!   focus and shows it. A burst becomes one notification per conversation ("3 条新消息"),
//!   several conversations one summary.
//! - **Read**: a message its sender marked *needs confirmation* was read by a recipient.
//! - **Deadline**: to a sender, who still has not read a message with a deadline; to a
//!   recipient, that a message with a deadline is still unread. Checked every few
//!   seconds against the wall clock, with the lead time from the settings.
//! - **Reminder**: the sender pressed "remind now" and this user had not read it.
//!
//! Deadlines and reminders are addressed to one person about one message, so they are
//! shown even in muted conversations. During quiet hours nothing pops up; everything
//! still goes to the in-app list. Where the desktop cannot show a notification, the
//! tray icon flashes until the window is looked at.
//!
//! What has been notified is kept in the profile, so a restart neither repeats old
//! notifications nor loses ones that happened while the app was closed.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use satchel_client::{Change, DeadlineAlert, DeadlineAlertKind, Engine, LocalMessage};
use satchel_protocol::{order, ConversationId, MemberId, MessageBody, Seq, Stage, UnixMillis};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter, Manager, Runtime};
#[cfg(not(target_os = "linux"))]
use tauri_plugin_notification::NotificationExt;
use tokio::sync::broadcast::error::RecvError;
use ts_rs::TS;

use crate::shell::Shell;

const NOTIFIED_KEY: &str = "desktop.notified_up_to";
const READ_ALERTS_KEY: &str = "desktop.read_alerts";
const INBOX_KEY: &str = "desktop.inbox";
const SETTINGS_KEY: &str = "desktop.notification_settings";
/// Read alerts remembered (oldest forgotten first).
const READ_ALERTS_KEPT: usize = 5000;
/// Entries the in-app list keeps (oldest dropped first).
const INBOX_KEPT: usize = 200;

/// How long to gather changes into one round of notifications, so that catching up
/// after a night offline gives one notification, not one per conversation.
const GATHER: Duration = Duration::from_millis(400);
/// How often deadlines are checked against the clock when nothing else happens.
const DEADLINE_TICK: Duration = Duration::from_secs(5);

/// What a notification is about, for the in-app list's icons and filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    Messages,
    Read,
    Deadline,
    Reminder,
    /// A conversation's history failed verification.
    Integrity,
}

/// One notification as the in-app list keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct InAppNotification {
    #[ts(type = "number")]
    pub id: i64,
    #[ts(type = "number")]
    pub at: UnixMillis,
    pub kind: NotificationKind,
    pub title: String,
    pub body: String,
    pub conversation_id: Option<ConversationId>,
    /// The message to show when it is clicked.
    pub seq: Option<Seq>,
    /// Whether it also popped up on the desktop (not in quiet hours, and the desktop
    /// could show it).
    pub popped_up: bool,
    /// Whether the user has opened the list since it arrived.
    pub seen: bool,
}

/// Quiet hours in local time, as minutes after midnight; `from > to` spans midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct QuietHours {
    pub from_minute: u16,
    pub to_minute: u16,
}

impl QuietHours {
    /// Whether `minute` (after local midnight) falls inside.
    pub fn contains(&self, minute: u16) -> bool {
        if self.from_minute <= self.to_minute {
            (self.from_minute..self.to_minute).contains(&minute)
        } else {
            minute >= self.from_minute || minute < self.to_minute
        }
    }
}

/// The user's notification preferences (per profile).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct NotificationSettings {
    pub quiet_hours: Option<QuietHours>,
    /// How long before a deadline to warn.
    pub deadline_lead_minutes: u32,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        NotificationSettings {
            quiet_hours: None,
            deadline_lead_minutes: 60,
        }
    }
}

impl NotificationSettings {
    /// Checks values a user typed.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(q) = self.quiet_hours {
            if q.from_minute >= 24 * 60 || q.to_minute >= 24 * 60 || q.from_minute == q.to_minute {
                return Err("quiet hours must be two different times of day".into());
            }
        }
        if !(1..=7 * 24 * 60).contains(&self.deadline_lead_minutes) {
            return Err("the deadline warning must come 1 minute to 7 days ahead".into());
        }
        Ok(())
    }
}

/// The profile's notification settings; the defaults when none were saved (or they no
/// longer parse).
pub async fn load_settings(engine: &Engine) -> NotificationSettings {
    engine
        .local()
        .get(SETTINGS_KEY)
        .await
        .ok()
        .flatten()
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default()
}

/// Stores the settings in the profile (the caller validates them first).
pub async fn save_settings(
    engine: &Engine,
    settings: &NotificationSettings,
) -> Result<(), satchel_client::EngineError> {
    let json = serde_json::to_string(settings).unwrap_or_default();
    engine.local().set(SETTINGS_KEY, &json).await
}

/// The in-app notification list, shared by the notifier and the UI's commands.
#[derive(Default)]
pub struct Inbox {
    entries: Mutex<Option<Vec<InAppNotification>>>,
}

impl Inbox {
    /// Every kept notification, newest first.
    pub async fn list(&self, engine: &Engine) -> Vec<InAppNotification> {
        self.ensure_loaded(engine).await;
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.clone().unwrap_or_default()
    }

    /// Marks everything seen (the user opened the list).
    pub async fn mark_seen(&self, engine: &Engine) -> Result<(), satchel_client::EngineError> {
        self.ensure_loaded(engine).await;
        let json = {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            let list = entries.get_or_insert_with(Vec::new);
            list.iter_mut().for_each(|n| n.seen = true);
            serde_json::to_string(list).unwrap_or_default()
        };
        engine.local().set(INBOX_KEY, &json).await
    }

    async fn push(
        &self,
        engine: &Engine,
        notification: InAppNotification,
    ) -> Result<(), satchel_client::EngineError> {
        self.ensure_loaded(engine).await;
        let json = {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            let list = entries.get_or_insert_with(Vec::new);
            list.insert(0, notification);
            list.truncate(INBOX_KEPT);
            serde_json::to_string(list).unwrap_or_default()
        };
        engine.local().set(INBOX_KEY, &json).await
    }

    async fn ensure_loaded(&self, engine: &Engine) {
        if self
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
        {
            return;
        }
        let stored: Vec<InAppNotification> = engine
            .local()
            .get(INBOX_KEY)
            .await
            .ok()
            .flatten()
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.is_none() {
            *entries = Some(stored);
        }
    }
}

struct Alerts {
    /// Per conversation, the newest seq already notified.
    notified: HashMap<ConversationId, Seq>,
    /// `(message id, reader)` pairs already announced as read.
    read_alerts: BTreeSet<(i64, i64)>,
}

/// New messages in one conversation, ready to announce.
struct Fresh {
    conversation: ConversationId,
    seq: Option<Seq>,
    title: String,
    count: usize,
    line: String,
}

/// A notification about to be shown and listed.
struct Note {
    kind: NotificationKind,
    title: String,
    body: String,
    conversation: Option<ConversationId>,
    seq: Option<Seq>,
}

pub async fn run<R: Runtime>(app: AppHandle<R>, engine: Engine) {
    let mut changes = engine.subscribe();
    let mut alerts = Alerts::load(&engine).await;
    loop {
        let mut touched_messages = BTreeSet::new();
        let mut touched_receipts = BTreeSet::new();
        let mut reminders = false;
        let mut alarmed = BTreeSet::new();
        let mut collect = |batch: &[Change]| {
            for change in batch {
                match change {
                    Change::Messages { conversation_id } => {
                        touched_messages.insert(*conversation_id);
                    }
                    Change::Receipts { conversation_id } => {
                        touched_receipts.insert(*conversation_id);
                    }
                    Change::Reminders { .. } => reminders = true,
                    Change::ChainAlarm { conversation_id } => {
                        alarmed.insert(*conversation_id);
                    }
                    _ => {}
                }
            }
        };
        match tokio::time::timeout(DEADLINE_TICK, changes.recv()).await {
            Ok(Ok(batch)) => collect(&batch),
            Ok(Err(RecvError::Lagged(_))) => {}
            Ok(Err(RecvError::Closed)) => return,
            // Nothing happened: only the clock moved.
            Err(_) => {}
        }
        let deadline = tokio::time::Instant::now() + GATHER;
        while let Ok(Ok(batch)) = tokio::time::timeout_at(deadline, changes.recv()).await {
            collect(&batch);
        }
        let Some(me) = engine.account().map(|a| a.member.id) else {
            continue;
        };
        let settings = load_settings(&engine).await;
        let mut notes = Vec::new();
        let mut fresh = Vec::new();
        for conversation in touched_messages {
            match alerts.new_messages(&app, &engine, me, conversation).await {
                Ok(Some(f)) => fresh.push(f),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "preparing a notification failed"),
            }
        }
        notes.extend(new_messages_note(&fresh));
        for conversation in touched_receipts {
            match alerts.reads(&engine, me, conversation).await {
                Ok(note) => notes.extend(note),
                Err(e) => tracing::warn!(error = %e, "preparing a notification failed"),
            }
        }
        if reminders {
            match reminder_notes(&engine).await {
                Ok(more) => notes.extend(more),
                Err(e) => tracing::warn!(error = %e, "preparing a reminder failed"),
            }
        }
        for conversation in alarmed {
            notes.push(integrity_note(&engine, conversation).await);
        }
        let lead = Duration::from_secs(u64::from(settings.deadline_lead_minutes) * 60);
        match engine
            .take_deadline_alerts(chrono::Utc::now().timestamp_millis(), lead)
            .await
        {
            Ok(due) => notes.extend(deadline_notes(&engine, &due).await),
            Err(e) => tracing::warn!(error = %e, "checking deadlines failed"),
        }
        for note in notes {
            deliver(&app, &engine, &settings, note).await;
        }
    }
}

/// Lists a notification and, outside quiet hours, pops it up.
async fn deliver<R: Runtime>(
    app: &AppHandle<R>,
    engine: &Engine,
    settings: &NotificationSettings,
    note: Note,
) {
    let now = chrono::Local::now();
    let minute = u16::try_from(chrono::Timelike::hour(&now) * 60 + chrono::Timelike::minute(&now))
        .unwrap_or(0);
    let quiet = settings.quiet_hours.is_some_and(|q| q.contains(minute));
    let at = now.timestamp_millis();
    let entry = InAppNotification {
        id: at.saturating_mul(1000) + i64::from(next_suffix()),
        at,
        kind: note.kind,
        title: note.title.clone(),
        body: note.body.clone(),
        conversation_id: note.conversation,
        seq: note.seq,
        popped_up: !quiet,
        seen: false,
    };
    if let Some(inbox) = app.try_state::<Inbox>() {
        if let Err(e) = inbox.push(engine, entry.clone()).await {
            tracing::warn!(error = %e, "keeping a notification failed");
        }
    }
    let _ = app.emit_to("main", "notification", &entry);
    if !quiet {
        show(app, &note.title, &note.body, note.conversation, note.seq);
    }
}

/// "This conversation's history failed verification", naming the messages.
async fn integrity_note(engine: &Engine, conversation: ConversationId) -> Note {
    let title = engine
        .local()
        .conversation(conversation)
        .await
        .ok()
        .flatten()
        .map(|c| c.title)
        .unwrap_or_default();
    let seqs: BTreeSet<i64> = engine
        .chain_alarms(Some(conversation))
        .await
        .unwrap_or_default()
        .iter()
        .map(|a| a.seq.0)
        .collect();
    let seqs: Vec<String> = seqs.iter().map(i64::to_string).collect();
    Note {
        kind: NotificationKind::Integrity,
        title: format!("⚠ 记录校验失败 History failed verification · {title}"),
        body: format!(
            "服务器上的第 {} 条消息与哈希链不符 Message {} on the server does not match its hash chain",
            seqs.join("、"),
            seqs.join(", ")
        ),
        conversation: Some(conversation),
        seq: seqs.first().and_then(|s| s.parse().ok()).map(Seq),
    }
}

/// A counter (mod 1000) that keeps ids of notifications made in the same millisecond apart.
fn next_suffix() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed) % 1000
}

/// One notification for one conversation; one summary for several.
fn new_messages_note(fresh: &[Fresh]) -> Option<Note> {
    match fresh {
        [] => None,
        [one] => {
            let body = if one.count == 1 {
                one.line.clone()
            } else {
                format!("{} 条新消息 · {}", one.count, one.line)
            };
            Some(Note {
                kind: NotificationKind::Messages,
                title: one.title.clone(),
                body,
                conversation: Some(one.conversation),
                seq: one.seq,
            })
        }
        several => {
            let total: usize = several.iter().map(|f| f.count).sum();
            let mut lines: Vec<String> = several
                .iter()
                .take(4)
                .map(|f| format!("{} — {}", f.title, f.line))
                .collect();
            if several.len() > 4 {
                lines.push(format!("… +{}", several.len() - 4));
            }
            Some(Note {
                kind: NotificationKind::Messages,
                title: format!("{} 个会话有 {total} 条新消息", several.len()),
                body: lines.join("\n"),
                conversation: None,
                seq: None,
            })
        }
    }
}

/// "HH:MM" today, or "MM-DD HH:MM" on another day, in local time.
fn local_time(at: UnixMillis) -> String {
    use chrono::TimeZone;
    match chrono::Local.timestamp_millis_opt(at).single() {
        Some(t) if t.date_naive() == chrono::Local::now().date_naive() => {
            t.format("%H:%M").to_string()
        }
        Some(t) => t.format("%m-%d %H:%M").to_string(),
        None => String::new(),
    }
}

/// Deadline alerts: one notification per message, or a summary for a burst.
async fn deadline_notes(engine: &Engine, due: &[DeadlineAlert]) -> Vec<Note> {
    let now = chrono::Utc::now().timestamp_millis();
    let mut notes = Vec::new();
    for alert in due.iter().take(3) {
        let message = &alert.message;
        let passed = alert.deadline <= now;
        let when = local_time(alert.deadline);
        let conversation = conversation_title(engine, message.conversation_id).await;
        let summary = message.body.summary();
        let (title, body) = match alert.kind {
            DeadlineAlertKind::Unread => {
                let mut names = Vec::new();
                for id in alert.unread.iter().take(6) {
                    names.push(member_name(engine, *id).await);
                }
                if alert.unread.len() > 6 {
                    names.push(format!("+{}", alert.unread.len() - 6));
                }
                let title = if passed {
                    format!("已过截止 {when} · {conversation}")
                } else {
                    format!("{when} 截止 · {conversation}")
                };
                (
                    title,
                    format!(
                        "{} 人未读 Unread: {}\n「{summary}」",
                        alert.unread.len(),
                        names.join("、")
                    ),
                )
            }
            DeadlineAlertKind::Reminder => {
                let sender = member_name(engine, message.sender_id).await;
                (
                    format!("请在 {when} 前阅读 · {conversation}"),
                    format!("{sender}: {summary}"),
                )
            }
        };
        notes.push(Note {
            kind: NotificationKind::Deadline,
            title,
            body,
            conversation: Some(message.conversation_id),
            seq: message.seq,
        });
    }
    if due.len() > 3 {
        notes.push(Note {
            kind: NotificationKind::Deadline,
            title: format!("另有 {} 条消息临近截止", due.len() - 3),
            body: due[3..]
                .iter()
                .take(4)
                .map(|a| a.message.body.summary())
                .collect::<Vec<_>>()
                .join("\n"),
            conversation: None,
            seq: None,
        });
    }
    notes
}

/// "Remind now" nudges addressed to this user.
async fn reminder_notes(engine: &Engine) -> Result<Vec<Note>, satchel_client::EngineError> {
    let mut notes = Vec::new();
    for reminder in engine.take_reminders().await? {
        let from = member_name(engine, reminder.from).await;
        let message = engine.local().message(reminder.message_id).await?;
        let summary = message.map(|m| m.body.summary()).unwrap_or_default();
        notes.push(Note {
            kind: NotificationKind::Reminder,
            title: format!(
                "{from} 提醒你查看 · {}",
                conversation_title(engine, reminder.conversation_id).await
            ),
            body: summary,
            conversation: Some(reminder.conversation_id),
            seq: Some(reminder.seq),
        });
    }
    Ok(notes)
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
        if engine.local().is_muted(conversation).await? {
            return Ok(None);
        }
        let sender = member_name(engine, newest.sender_id).await;
        Ok(Some(Fresh {
            conversation,
            // Clicking opens the conversation at the first message not notified before.
            seq: fresh.first().and_then(|m| m.seq),
            title: conversation_title(engine, conversation).await,
            count: fresh.len(),
            line: format!("{sender}: {}", describe(engine, &newest.body).await),
        }))
    }

    async fn reads(
        &mut self,
        engine: &Engine,
        me: MemberId,
        conversation: ConversationId,
    ) -> Result<Option<Note>, satchel_client::EngineError> {
        let wanted: Vec<LocalMessage> = engine
            .messages(conversation, None, 200)
            .await?
            .into_iter()
            .filter(|m| m.sender_id == me && m.seq.is_some() && m.body.needs_confirmation())
            .collect();
        if wanted.is_empty() {
            return Ok(None);
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
                    announcements.push((receipt.member_id, seq, message.body.summary()));
                }
            }
        }
        let Some(&(_, first_seq, _)) = announcements.first() else {
            return Ok(None);
        };
        self.save(engine).await?;
        let mut lines = Vec::new();
        for (reader, _, summary) in announcements.iter().take(5) {
            lines.push(format!(
                "{} 已读: {summary}",
                member_name(engine, *reader).await
            ));
        }
        if announcements.len() > 5 {
            lines.push(format!("… +{}", announcements.len() - 5));
        }
        Ok(Some(Note {
            kind: NotificationKind::Read,
            title: format!(
                "已读 Read · {}",
                conversation_title(engine, conversation).await
            ),
            body: lines.join("\n"),
            conversation: Some(conversation),
            seq: Some(first_seq),
        }))
    }
}

/// A message as one notification line: order messages say what happened to which
/// item ("已确认 Approved · 颜色 colour: 浅棕"), others their summary.
async fn describe(engine: &Engine, body: &MessageBody) -> String {
    match body {
        MessageBody::ConfirmationAnswer {
            request,
            approved,
            comment,
        } => {
            let verdict = if *approved {
                "已确认 Approved"
            } else {
                "已拒绝 Rejected"
            };
            let what = match engine.local().message(*request).await {
                Ok(Some(m)) => match m.body {
                    MessageBody::ConfirmationRequest { item, value, .. } => {
                        format!(" · {}: {value}", order::item_display(&item))
                    }
                    _ => String::new(),
                },
                _ => String::new(),
            };
            let comment = if comment.is_empty() {
                String::new()
            } else {
                format!(" — {comment}")
            };
            format!("{verdict}{what}{comment}")
        }
        MessageBody::ConfirmationRequest { item, value, .. } => {
            format!(
                "请确认 Please confirm · {}: {value}",
                order::item_display(item)
            )
        }
        MessageBody::StageChange { from, to, .. }
            if *to == Stage::Done && *from == Stage::Shipping =>
        {
            "已确认收货 Receipt confirmed".to_owned()
        }
        MessageBody::StageChange { from, to, .. } => {
            format!("{} → {}", from.display(), to.display())
        }
        MessageBody::ProgressUpdate { text, .. } => format!("进度 Progress: {text}"),
        MessageBody::Shipment {
            carrier,
            tracking_numbers,
        } => format!("已发货 Shipped: {carrier} {}", tracking_numbers.join(", ")),
        other => other.summary(),
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

/// Where a click on a notification leads.
#[derive(Debug, Clone, Copy, Serialize, TS)]
pub struct OpenTarget {
    pub conversation_id: ConversationId,
    pub seq: Option<Seq>,
}

/// Shows a notification; clicking it brings the window forward on `conversation`, at
/// message `seq`. If the desktop cannot show it, the tray icon flashes instead.
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
    seq: Option<Seq>,
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
                        open_target(&app, conversation, seq);
                    }
                }),
                Err(e) => {
                    tracing::warn!(error = %e, "showing a notification failed; flashing the tray");
                    crate::tray::flash(&app);
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (conversation, seq);
            if let Err(e) = app
                .notification()
                .builder()
                .title(&title)
                .body(&body)
                .show()
            {
                tracing::warn!(error = %e, "showing a notification failed; flashing the tray");
                crate::tray::flash(&app);
            }
        }
    });
}

/// Brings the window forward and asks the UI to show `conversation` at `seq`.
pub fn open_target<R: Runtime>(
    app: &AppHandle<R>,
    conversation: Option<ConversationId>,
    seq: Option<Seq>,
) {
    crate::show_main_window(app);
    if let Some(conversation_id) = conversation {
        let target = OpenTarget {
            conversation_id,
            seq,
        };
        let _ = app.emit_to("main", "open-conversation", target);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_may_span_midnight() {
        let night = QuietHours {
            from_minute: 22 * 60,
            to_minute: 7 * 60,
        };
        assert!(night.contains(23 * 60));
        assert!(night.contains(3 * 60));
        assert!(!night.contains(7 * 60));
        assert!(!night.contains(12 * 60));
        let lunch = QuietHours {
            from_minute: 12 * 60,
            to_minute: 13 * 60 + 30,
        };
        assert!(lunch.contains(12 * 60 + 45));
        assert!(!lunch.contains(14 * 60));
    }

    #[test]
    fn settings_refuse_empty_quiet_hours_and_odd_lead_times() {
        let mut settings = NotificationSettings::default();
        assert!(settings.validate().is_ok());
        settings.quiet_hours = Some(QuietHours {
            from_minute: 600,
            to_minute: 600,
        });
        assert!(settings.validate().is_err());
        settings.quiet_hours = None;
        settings.deadline_lead_minutes = 0;
        assert!(settings.validate().is_err());
    }
}
