//! `record.html`: the readable side of an export. One self-contained page (inline
//! style, no script, no network) in Chinese and English, that prints well. It is a
//! rendering of the manifest; the manifest and the files are the evidence.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, Local};
use satchel_protocol::export::{ExportedFile, ExportedMessage, Manifest};
use satchel_protocol::order::{self, CardState, OrderRecord};
use satchel_protocol::*;

/// Everything the page shows beyond the manifest.
pub(crate) struct Extras<'a> {
    pub record: Option<&'a OrderRecord>,
    /// `(member, read_up_to, at)`, oldest first.
    pub read_log: &'a [(MemberId, Seq, UnixMillis)],
}

pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `: “comment”` (or with another separator), or nothing for an empty text.
fn quoted(separator: &str, text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!("{separator}“{}”", escape(text))
    }
}

/// ` · #3, #5` for the messages a card or progress update points at, or nothing.
fn references(messages: &[ExportedMessage], ids: &[MessageId]) -> String {
    if ids.is_empty() {
        String::new()
    } else {
        let seqs: Vec<String> = ids.iter().map(|id| seq_of(messages, *id)).collect();
        format!(" · {}", seqs.join(", "))
    }
}

/// A time as the exporter's clock shows it, with its UTC offset so it is unambiguous
/// to a reader in another time zone.
pub(crate) fn time(at: UnixMillis) -> String {
    DateTime::from_timestamp_millis(at)
        .map(|t| {
            t.with_timezone(&Local)
                .format("%Y-%m-%d %H:%M:%S (UTC%:z)")
                .to_string()
        })
        .unwrap_or_else(|| at.to_string())
}

fn role_label(role: Role) -> &'static str {
    match role {
        Role::Admin => "管理员 admin",
        Role::Staff => "员工 staff",
        Role::Customer => "客户 customer",
    }
}

fn state_label(state: CardState) -> &'static str {
    match state {
        CardState::Proposed => "待确认 Proposed",
        CardState::Approved => "已确认 Approved",
        CardState::Rejected => "已拒绝 Rejected",
        CardState::Superseded => "已被修订 Superseded",
        CardState::Waived => "放行 Waived",
    }
}

fn size_label(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

const STYLE: &str = "
body{font-family:-apple-system,'Segoe UI','PingFang SC','Microsoft YaHei','Noto Sans CJK SC',sans-serif;
  margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1d2330;line-height:1.5}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d8dce4;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%}td,th{text-align:left;vertical-align:top;padding:.25rem .5rem;border-bottom:1px solid #eceef2}
th{width:12rem;color:#566;font-weight:600}.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85em;word-break:break-all}
.msg{border-bottom:1px solid #eceef2;padding:.5rem 0;break-inside:avoid}.meta{color:#566;font-size:.85em}
.body{white-space:pre-wrap;margin:.2rem 0}.card{border:1px solid #c9d3e6;border-radius:6px;padding:.4rem .6rem;background:#f5f8fd}
.alarm{border:2px solid #c0392b;background:#fdecea;color:#8e1d12;padding:.6rem 1rem;border-radius:6px}
img{max-width:24rem;max-height:18rem;display:block;margin:.3rem 0;border:1px solid #d8dce4}
.state-approved{color:#1e7d3a}.state-rejected{color:#b3261e}.state-superseded{color:#777}.state-waived{color:#9a6700}
.read{color:#1e7d3a}.unread{color:#9a6700}footer{margin-top:3rem;color:#566;font-size:.85em}
";

pub(crate) fn render(manifest: &Manifest, extras: &Extras<'_>) -> String {
    let names: HashMap<MemberId, &str> = manifest
        .conversation
        .members
        .iter()
        .map(|m| (m.id, m.name.as_str()))
        .collect();
    let name = |id: MemberId| -> String {
        names
            .get(&id)
            .map_or_else(|| format!("#{id}"), |n| escape(n))
    };
    let files: HashMap<&str, &ExportedFile> = manifest
        .files
        .iter()
        .map(|f| (f.sha256.as_str(), f))
        .collect();
    let c = &manifest.conversation;
    let mut html = String::new();
    let title = match &c.order_number {
        Some(number) => format!("{} · {}", escape(&c.title), escape(number)),
        None => escape(&c.title),
    };
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>订单记录 Order record — {title}</title><style>{STYLE}</style></head><body>\
         <h1>订单记录 Order record — {title}</h1>"
    );

    html.push_str("<table>");
    let mut row = |label: &str, value: String| {
        let _ = write!(html, "<tr><th>{label}</th><td>{value}</td></tr>");
    };
    if let Some(org) = &c.organisation {
        row("客户 Customer", escape(org));
    }
    if let Some(order) = &c.order {
        row("阶段 Stage", Stage::display(order.stage).to_owned());
        if let Some(q) = order.quantity {
            row("数量 Quantity", q.to_string());
        }
        if let Some(due) = order.due_date {
            row("交期 Due", time(due));
        }
        if let Some(shipping) = &order.shipping {
            row(
                "物流 Shipping",
                format!(
                    "{} {}",
                    escape(&shipping.carrier),
                    escape(&shipping.tracking_numbers.join(", "))
                ),
            );
        }
    }
    row(
        "导出 Exported",
        format!(
            "{} · {}",
            time(manifest.exported_at),
            escape(&manifest.exported_by.name)
        ),
    );
    row("服务器 Server", escape(&manifest.server));
    row(
        "消息 Messages",
        format!(
            "{} · 文件 files: {}",
            manifest.messages.len(),
            manifest.files.len()
        ),
    );
    row(
        "记录指纹 Record fingerprint",
        format!(
            "seq {} · <span class=\"mono\">{}</span>",
            manifest.head.seq,
            escape(&manifest.head.chain)
        ),
    );
    html.push_str("</table>");

    if !manifest.alarms.is_empty() {
        html.push_str(
            "<h2>校验警告 Verification alarms</h2><div class=\"alarm\"><p>导出设备在同步时发现服务器上的历史与哈希链不符。\
             The exporting device found the server's history inconsistent with its hash chain while syncing.</p><ul>",
        );
        for alarm in &manifest.alarms {
            let _ = write!(
                html,
                "<li>seq {} · {} · {} · <span class=\"mono\">{}</span></li>",
                alarm.seq,
                escape(&alarm.problem),
                time(alarm.detected_at),
                escape(&alarm.detail)
            );
        }
        html.push_str("</ul></div>");
    }

    if let Some(record) = extras.record {
        render_record(&mut html, record, &name);
    }

    html.push_str("<h2>对话 Conversation</h2>");
    // Who had read each message, and when they first had.
    for message in &manifest.messages {
        let body: Option<MessageBody> = serde_json::from_str(&message.body).ok();
        let _ = write!(
            html,
            "<div class=\"msg\" id=\"seq-{seq}\"><div class=\"meta\">#{seq} · {when} · <b>{who}</b></div>",
            seq = message.seq,
            when = time(message.sent_at),
            who = name(message.sender_id)
        );
        match &body {
            Some(body) => render_body(&mut html, body, &files, &manifest.messages),
            None => html.push_str("<p class=\"body\">(无法读取 unreadable)</p>"),
        }
        let readers: Vec<String> = c
            .members
            .iter()
            .filter(|m| m.id != message.sender_id)
            .map(|m| {
                let first = extras
                    .read_log
                    .iter()
                    .find(|(who, up_to, _)| *who == m.id && *up_to >= message.seq);
                match first {
                    Some((_, _, at)) => format!(
                        "<span class=\"read\">{} ✓ {}</span>",
                        escape(&m.name),
                        time(*at)
                    ),
                    None => {
                        let read = manifest
                            .receipts
                            .iter()
                            .any(|r| r.member_id == m.id && r.read_up_to >= message.seq);
                        if read {
                            format!("<span class=\"read\">{} ✓</span>", escape(&m.name))
                        } else {
                            format!(
                                "<span class=\"unread\">{} 未读 unread</span>",
                                escape(&m.name)
                            )
                        }
                    }
                }
            })
            .collect();
        if !readers.is_empty() {
            let _ = write!(
                html,
                "<div class=\"meta\">已读 Read: {}</div>",
                readers.join(" · ")
            );
        }
        html.push_str("</div>");
    }

    html.push_str("<h2>成员 Members</h2><table>");
    for m in &c.members {
        let _ = write!(
            html,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(&m.name),
            role_label(m.role)
        );
    }
    html.push_str("</table>");

    let _ = write!(
        html,
        "<footer>本记录由包讯 Satchel 导出。核对方法 To verify: <span class=\"mono\">satchel-cli verify &lt;此文件夹或 ZIP this folder or ZIP&gt;</span>。\
         每条消息都通过哈希链与之前的消息相连（格式见 docs/export-format.md）；manifest.json 与 files/ 是证据，本页只是其可读版本。\
         Every message is linked to the ones before it by a hash chain (format: docs/export-format.md); manifest.json and files/ are the evidence, this page is their readable form.</footer>\
         </body></html>"
    );
    html
}

fn render_record(html: &mut String, record: &OrderRecord, name: &dyn Fn(MemberId) -> String) {
    if !record.cards.is_empty() {
        html.push_str("<h2>规格确认 Spec sheet</h2>");
        for card in &record.cards {
            let _ = write!(
                html,
                "<div class=\"card\"><b>{}</b><ol>",
                escape(&order::item_display(&card.item))
            );
            for revision in &card.revisions {
                let state = format!("{:?}", revision.state).to_lowercase();
                let _ = write!(
                    html,
                    "<li><a href=\"#seq-{seq}\">#{seq}</a> {value} — {who}, {when} — <span class=\"state-{state}\">{label}</span>",
                    seq = revision.seq,
                    value = escape(&revision.value),
                    who = name(revision.proposer),
                    when = time(revision.proposed_at),
                    label = state_label(revision.state),
                );
                if let Some(answer) = &revision.answer {
                    let _ = write!(
                        html,
                        "<br>{} {} {}{}",
                        if answer.approved {
                            "✓ 确认 approved by"
                        } else {
                            "✗ 拒绝 rejected by"
                        },
                        name(answer.by),
                        time(answer.at),
                        quoted(": ", &answer.comment)
                    );
                }
                if let Some(waiver) = &revision.waiver {
                    let _ = write!(
                        html,
                        "<br>放行 waived by {} {}: “{}”",
                        name(waiver.by),
                        time(waiver.at),
                        escape(&waiver.reason)
                    );
                }
                html.push_str("</li>");
            }
            html.push_str("</ol></div>");
        }
    }
    if !record.stages.is_empty() {
        html.push_str("<h2>阶段 Stages</h2><table>");
        for step in &record.stages {
            let _ = write!(
                html,
                "<tr><th>{}</th><td>{} → {} · {}{}</td></tr>",
                time(step.at),
                Stage::display(step.from),
                Stage::display(step.to),
                name(step.by),
                quoted(" · ", &step.reason)
            );
        }
        html.push_str("</table>");
    }
    if !record.shipments.is_empty() {
        html.push_str("<h2>发货 Shipments</h2><table>");
        for shipment in &record.shipments {
            let _ = write!(
                html,
                "<tr><th>{}</th><td>{} {} · {}</td></tr>",
                time(shipment.at),
                escape(&shipment.shipping.carrier),
                escape(&shipment.shipping.tracking_numbers.join(", ")),
                name(shipment.by)
            );
        }
        html.push_str("</table>");
    }
}

fn seq_of(messages: &[ExportedMessage], id: MessageId) -> String {
    messages
        .iter()
        .find(|m| m.id == id)
        .map_or_else(|| format!("id {id}"), |m| format!("#{}", m.seq))
}

fn render_body(
    html: &mut String,
    body: &MessageBody,
    files: &HashMap<&str, &ExportedFile>,
    messages: &[ExportedMessage],
) {
    let text = |html: &mut String, t: &str| {
        if !t.is_empty() {
            let _ = write!(html, "<p class=\"body\">{}</p>", escape(t));
        }
    };
    match body {
        MessageBody::Text { text: t, .. } | MessageBody::System { text: t } => text(html, t),
        MessageBody::Edit { target, text: t } => {
            let _ = write!(
                html,
                "<p class=\"meta\">修改了 edited {}</p>",
                seq_of(messages, *target)
            );
            text(html, t);
        }
        MessageBody::Recall { target } => {
            let _ = write!(
                html,
                "<p class=\"meta\">撤回了 recalled {} (原文保留在上方 the original stays above)</p>",
                seq_of(messages, *target)
            );
        }
        MessageBody::Image {
            attachment,
            caption,
        }
        | MessageBody::Video {
            attachment,
            caption,
        }
        | MessageBody::File {
            attachment,
            caption,
        } => {
            if let Some(file) = files.get(attachment.sha256.as_str()) {
                let href = escape(&file.path);
                if matches!(body, MessageBody::Image { .. }) {
                    let _ = write!(
                        html,
                        "<a href=\"{href}\"><img loading=\"lazy\" src=\"{href}\" alt=\"{}\"></a>",
                        escape(&attachment.name)
                    );
                }
                let _ = write!(
                    html,
                    "<p class=\"meta\"><a href=\"{href}\">{}</a> · {} · {} · SHA-256 <span class=\"mono\">{}</span></p>",
                    escape(&attachment.name),
                    size_label(attachment.size),
                    escape(&attachment.mime),
                    escape(&attachment.sha256)
                );
            }
            text(html, caption);
        }
        MessageBody::Voice {
            attachment,
            duration_ms,
        } => {
            let href = files
                .get(attachment.sha256.as_str())
                .map(|f| escape(&f.path))
                .unwrap_or_default();
            let _ = write!(
                html,
                "<p class=\"meta\">语音 voice {}s · <a href=\"{href}\">{}</a></p>",
                duration_ms / 1000,
                escape(&attachment.name)
            );
        }
        MessageBody::ConfirmationRequest {
            item,
            value,
            attachments,
            ..
        } => {
            let _ = write!(
                html,
                "<div class=\"card\">确认项 Proposal · <b>{}</b>: {}{}</div>",
                escape(&order::item_display(item)),
                escape(value),
                references(messages, attachments)
            );
        }
        MessageBody::ConfirmationAnswer {
            request,
            approved,
            comment,
        } => {
            let _ = write!(
                html,
                "<div class=\"card\">{} {}{}</div>",
                if *approved {
                    "✓ 确认 Approved"
                } else {
                    "✗ 拒绝 Rejected"
                },
                seq_of(messages, *request),
                quoted(": ", comment)
            );
        }
        MessageBody::StageChange {
            from, to, reason, ..
        } => {
            let _ = write!(
                html,
                "<div class=\"card\">阶段 Stage: {} → {}{}</div>",
                Stage::display(*from),
                Stage::display(*to),
                quoted(" · ", reason)
            );
        }
        MessageBody::ProgressUpdate {
            stage,
            text: t,
            attachments,
        } => {
            let _ = write!(
                html,
                "<div class=\"card\">进度 Progress ({}){}</div>",
                Stage::display(*stage),
                references(messages, attachments)
            );
            text(html, t);
        }
        MessageBody::Shipment {
            carrier,
            tracking_numbers,
        } => {
            let _ = write!(
                html,
                "<div class=\"card\">发货 Shipped: {} {}</div>",
                escape(carrier),
                escape(&tracking_numbers.join(", "))
            );
        }
        MessageBody::Annotation {
            image,
            mark,
            comment,
        } => {
            let region = mark.bounds();
            let _ = write!(
                html,
                "<div class=\"card\">标注 Annotation · {} ({:.0}%, {:.0}% – {:.0}% × {:.0}%)</div>",
                seq_of(messages, *image),
                region.x * 100.0,
                region.y * 100.0,
                region.w * 100.0,
                region.h * 100.0
            );
            text(html, comment);
        }
        MessageBody::AnnotationStatus {
            annotation,
            resolved,
        } => {
            let _ = write!(
                html,
                "<div class=\"card\">{} {}</div>",
                if *resolved {
                    "✓ 标注已解决 Annotation resolved"
                } else {
                    "标注重新打开 Annotation reopened"
                },
                seq_of(messages, *annotation)
            );
        }
        MessageBody::OrderEdit { .. } => {
            text(html, &body.summary());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_user_text_is_shown_not_run() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
