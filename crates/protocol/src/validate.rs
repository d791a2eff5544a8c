//! Rules for every user-supplied field. The server applies them to every request;
//! clients apply them before queueing, so a message that could never be accepted is
//! refused at once instead of failing later in the outbox.

use crate::domain::{Mark, MessageBody};

/// Longest text message, in characters (a long quote or spec list fits; a pasted
/// novel does not).
pub const MAX_TEXT_CHARS: usize = 20_000;
/// Longest title of a conversation, name of an organisation, order number.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest display name.
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;
/// Most tracking numbers one shipment lists.
pub const MAX_TRACKING_NUMBERS: usize = 50;
/// Shortest and longest password, in bytes.
pub const PASSWORD_BYTES: std::ops::RangeInclusive<usize> = 8..=256;

/// A field that failed validation, with a reason fit to show a user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub field: &'static str,
    pub reason: String,
}

fn fail(field: &'static str, reason: impl Into<String>) -> FieldError {
    FieldError {
        field,
        reason: reason.into(),
    }
}

/// Login names: 3–32 characters of `a-z`, `0-9`, `.`, `_`, `-`, starting with a letter
/// or digit. Lower case only, so "Wang" and "wang" cannot be two accounts.
pub fn username(s: &str) -> Result<(), FieldError> {
    let len = s.chars().count();
    if !(3..=32).contains(&len) {
        return Err(fail("username", "must be 3 to 32 characters"));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c))
    {
        return Err(fail(
            "username",
            "may contain only a-z, 0-9, '.', '_' and '-'",
        ));
    }
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(fail("username", "must start with a letter or digit"));
    }
    Ok(())
}

/// Passwords: 8–256 bytes, anything else goes (argon2 handles any bytes).
pub fn password(s: &str) -> Result<(), FieldError> {
    if !PASSWORD_BYTES.contains(&s.len()) {
        return Err(fail("password", "must be 8 to 256 bytes"));
    }
    Ok(())
}

/// A short single-line label (names, titles, order numbers): not blank, no control
/// characters, at most `max` characters.
pub fn label(field: &'static str, s: &str, max: usize) -> Result<(), FieldError> {
    if s.trim().is_empty() {
        return Err(fail(field, "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(fail(field, format!("must be at most {max} characters")));
    }
    if s.chars().any(char::is_control) {
        return Err(fail(field, "must not contain control characters"));
    }
    Ok(())
}

/// Client-chosen ids ([`crate::DeviceId`], [`crate::TxnId`]): 8–64 characters of
/// `A-Z a-z 0-9 - _`.
pub fn client_id(field: &'static str, s: &str) -> Result<(), FieldError> {
    if !(8..=64).contains(&s.len()) {
        return Err(fail(field, "must be 8 to 64 characters"));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(fail(field, "may contain only A-Z, a-z, 0-9, '-' and '_'"));
    }
    Ok(())
}

/// Message text: not blank, at most [`MAX_TEXT_CHARS`], no control characters other
/// than newline and tab.
pub fn text(field: &'static str, s: &str) -> Result<(), FieldError> {
    if s.trim().is_empty() {
        return Err(fail(field, "must not be empty"));
    }
    if s.chars().count() > MAX_TEXT_CHARS {
        return Err(fail(
            field,
            format!("must be at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    if s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(fail(field, "must not contain control characters"));
    }
    Ok(())
}

/// Previews are for photos and videos (a poster frame) only.
fn no_preview(attachment: &crate::AttachmentRef) -> Result<(), FieldError> {
    if attachment.preview.is_some() {
        return Err(fail("preview", "only photos and videos carry a preview"));
    }
    no_screen_level(attachment)
}

/// Screen levels are for photos only.
fn no_screen_level(attachment: &crate::AttachmentRef) -> Result<(), FieldError> {
    match attachment.screen {
        Some(_) => Err(fail("screen", "only photos carry a screen level")),
        None => Ok(()),
    }
}

/// A preview or screen level: a file of its own, 1 to [`crate::MAX_PREVIEW_EDGE`]
/// pixels a side.
fn preview_ref(
    field: &'static str,
    preview: &crate::PreviewRef,
    attachment: &crate::AttachmentRef,
) -> Result<(), FieldError> {
    let edge = 1..=crate::MAX_PREVIEW_EDGE;
    if !edge.contains(&preview.width) || !edge.contains(&preview.height) {
        return Err(fail(
            field,
            format!(
                "a preview is 1 to {} pixels a side",
                crate::MAX_PREVIEW_EDGE
            ),
        ));
    }
    if preview.sha256 == attachment.sha256 {
        return Err(fail(field, "a preview is a file of its own"));
    }
    Ok(())
}

/// The fields of a message body a client may send. The server additionally checks
/// that referenced messages exist in the same conversation.
pub fn message_body(body: &MessageBody) -> Result<(), FieldError> {
    if let Some(at) = body.deadline() {
        deadline(at)?;
    }
    match body {
        MessageBody::Text { text: t, .. } | MessageBody::Edit { text: t, .. } => text("text", t),
        MessageBody::System { .. } => {
            Err(fail("kind", "system messages are written by the server"))
        }
        MessageBody::Recall { .. } => Ok(()),
        MessageBody::Image {
            caption,
            attachment,
        }
        | MessageBody::Video {
            caption,
            attachment,
        } => {
            if let Some(preview) = &attachment.preview {
                preview_ref("preview", preview, attachment)?;
            }
            if let Some(screen) = &attachment.screen {
                if matches!(body, MessageBody::Video { .. }) {
                    no_screen_level(attachment)?;
                }
                preview_ref("screen", screen, attachment)?;
            }
            optional_text("caption", caption)
        }
        MessageBody::File {
            caption,
            attachment,
        } => {
            no_preview(attachment)?;
            optional_text("caption", caption)
        }
        MessageBody::Voice { attachment, .. } => no_preview(attachment),
        MessageBody::ConfirmationRequest { item, value, .. } => {
            label("item", item, MAX_TITLE_CHARS)?;
            text("value", value)
        }
        MessageBody::ConfirmationAnswer { comment, .. } => optional_text("comment", comment),
        MessageBody::StageChange { reason, .. } => optional_text("reason", reason),
        MessageBody::Shipment {
            carrier,
            tracking_numbers,
        } => {
            label("carrier", carrier, 64)?;
            if tracking_numbers.is_empty() || tracking_numbers.len() > MAX_TRACKING_NUMBERS {
                return Err(fail(
                    "tracking_numbers",
                    format!("must list 1 to {MAX_TRACKING_NUMBERS} numbers"),
                ));
            }
            for number in tracking_numbers {
                label("tracking_numbers", number, 64)?;
                if number.chars().any(char::is_whitespace) {
                    return Err(fail(
                        "tracking_numbers",
                        "one number per entry, without spaces",
                    ));
                }
            }
            Ok(())
        }
        MessageBody::OrderEdit {
            title,
            quantity,
            due_date,
            assignee,
        } => {
            if let Some(title) = title {
                label("title", title, MAX_TITLE_CHARS)?;
            }
            if quantity == &Some(0) {
                return Err(fail("quantity", "must be at least 1"));
            }
            if let Some(at) = due_date {
                deadline(*at)
                    .map_err(|_| fail("due_date", "must be a date between 2020 and 2100"))?;
            }
            if title.is_none() && quantity.is_none() && due_date.is_none() && assignee.is_none() {
                return Err(fail("order_edit", "changes nothing"));
            }
            Ok(())
        }
        MessageBody::ProgressUpdate { text: t, .. } => text("text", t),
        MessageBody::Annotation { mark, comment, .. } => {
            let inside = |v: f32| (0.0..=1.0).contains(&v);
            let region = mark.bounds();
            let within = mark.points().iter().all(|p| inside(p.x) && inside(p.y))
                && inside(region.w)
                && inside(region.h);
            if !within {
                return Err(fail("mark", "must lie within the image (0.0 to 1.0)"));
            }
            if matches!(mark, Mark::Box { .. }) && (region.w == 0.0 || region.h == 0.0) {
                return Err(fail("mark", "a box must have an area"));
            }
            text("comment", comment)
        }
        MessageBody::AnnotationStatus { .. } => Ok(()),
    }
}

/// Earliest and latest deadline accepted: 2020-01-01 and 2100-01-01 (UTC). Anything
/// outside is a unit mistake (seconds for milliseconds) rather than a real date.
pub const DEADLINE_RANGE: std::ops::RangeInclusive<crate::UnixMillis> =
    1_577_836_800_000..=4_102_444_800_000;

/// A deadline must be a plausible date. It may already have passed when it reaches the
/// server (a message written offline), so "in the future" is the client's check.
pub fn deadline(at: crate::UnixMillis) -> Result<(), FieldError> {
    if DEADLINE_RANGE.contains(&at) {
        Ok(())
    } else {
        Err(fail("deadline", "must be a date between 2020 and 2100"))
    }
}

fn optional_text(field: &'static str, s: &str) -> Result<(), FieldError> {
    if s.is_empty() {
        Ok(())
    } else {
        text(field, s)
    }
}

/// Longest file name kept, in characters.
pub const MAX_FILE_NAME_CHARS: usize = 200;

/// Makes a file name safe to show and to save on any platform: drops any folder part
/// (`../../x` becomes `x`), control characters and NUL; replaces characters Windows
/// forbids; avoids Windows device names; keeps at most [`MAX_FILE_NAME_CHARS`]
/// characters while keeping the extension; never returns an empty name.
pub fn sanitize_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let mut clean: String = base
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if "<>:\"|?*".contains(c) { '_' } else { c })
        .collect();
    clean = clean
        .trim_matches(|c: char| c == '.' || c.is_whitespace())
        .to_owned();
    if clean.chars().count() > MAX_FILE_NAME_CHARS {
        let (stem, ext) = match clean.rsplit_once('.') {
            Some((stem, ext)) if ext.chars().count() <= 16 && !stem.is_empty() => {
                (stem.to_owned(), format!(".{ext}"))
            }
            _ => (clean.clone(), String::new()),
        };
        let keep = MAX_FILE_NAME_CHARS - ext.chars().count();
        clean = stem.chars().take(keep).collect::<String>() + &ext;
    }
    let stem_upper = clean.split('.').next().unwrap_or("").to_ascii_uppercase();
    let reserved = ["CON", "PRN", "AUX", "NUL"].contains(&stem_upper.as_str())
        || ((stem_upper.starts_with("COM") || stem_upper.starts_with("LPT"))
            && stem_upper.len() == 4
            && stem_upper.as_bytes()[3].is_ascii_digit());
    if reserved {
        clean.insert(0, '_');
    }
    if clean.is_empty() {
        "file".to_owned()
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Point, Region};
    use crate::ids::MessageId;

    fn annotation(mark: Mark) -> MessageBody {
        MessageBody::Annotation {
            image: MessageId(1),
            mark,
            comment: "车线".into(),
        }
    }

    #[test]
    fn marks_lie_within_the_photo_and_boxes_have_an_area() {
        let region = |x, y, w, h| Mark::Box {
            region: Region { x, y, w, h },
        };
        let point = |x, y| Point { x, y };
        assert!(message_body(&annotation(region(0.0, 0.0, 1.0, 1.0))).is_ok());
        assert!(message_body(&annotation(Mark::Pin {
            at: point(1.0, 0.0)
        }))
        .is_ok());
        for bad in [
            region(0.9, 0.1, 0.2, 0.2),
            region(0.5, 0.5, -0.1, 0.2),
            region(0.5, 0.5, 0.0, 0.2),
            region(f32::NAN, 0.5, 0.1, 0.1),
            Mark::Pin {
                at: point(0.5, f32::INFINITY),
            },
            Mark::Arrow {
                from: point(0.5, 0.5),
                to: point(-0.01, 0.5),
            },
        ] {
            let refused = message_body(&annotation(bad)).expect_err("refused");
            assert_eq!(refused.field, "mark", "{bad:?}");
        }
    }

    #[test]
    fn usernames_are_lowercase_ascii_words() {
        assert!(username("wang.li").is_ok());
        assert!(username("Wang").is_err());
        assert!(username("ab").is_err());
        assert!(username("-lead").is_err());
        assert!(username("王丽").is_err());
    }

    #[test]
    fn text_allows_newlines_but_not_other_controls() {
        assert!(text("text", "第一行\n第二行").is_ok());
        assert!(text("text", "bell\u{7}").is_err());
        assert!(text("text", "   ").is_err());
        assert!(text("text", &"好".repeat(MAX_TEXT_CHARS)).is_ok());
        assert!(text("text", &"好".repeat(MAX_TEXT_CHARS + 1)).is_err());
    }

    #[test]
    fn file_names_lose_paths_and_dangerous_characters() {
        assert_eq!(sanitize_file_name("../../x"), "x");
        assert_eq!(
            sanitize_file_name("C:\\Users\\a\\样品 照片.jpg"),
            "样品 照片.jpg"
        );
        assert_eq!(sanitize_file_name("a\0b.png"), "ab.png");
        assert_eq!(sanitize_file_name("what?.pdf"), "what_.pdf");
        assert_eq!(sanitize_file_name("CON.txt"), "_CON.txt");
        assert_eq!(sanitize_file_name(".."), "file");
        let long = format!("{}.jpg", "长".repeat(300));
        let cut = sanitize_file_name(&long);
        assert_eq!(cut.chars().count(), MAX_FILE_NAME_CHARS);
        assert!(cut.ends_with(".jpg"));
    }

    #[test]
    fn deadlines_are_plausible_dates_in_milliseconds() {
        let body = |deadline| MessageBody::Text {
            text: "报价请确认".into(),
            reply_to: None,
            needs_confirmation: false,
            deadline,
        };
        assert!(message_body(&body(None)).is_ok());
        assert!(message_body(&body(Some(1_795_000_000_000))).is_ok());
        // Seconds instead of milliseconds.
        assert!(message_body(&body(Some(1_795_000_000))).is_err());
        assert!(message_body(&body(Some(-1))).is_err());
    }

    #[test]
    fn client_ids_are_url_safe() {
        assert!(client_id("txn_id", "0b6c2f0e-1111-4c1e-9a8a-5d2f4e3c2b1a").is_ok());
        assert!(client_id("txn_id", "short").is_err());
        assert!(client_id("txn_id", "has space in it").is_err());
    }
}
