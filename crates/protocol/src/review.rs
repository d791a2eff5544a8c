//! Photo review, folded from a conversation's messages: the album of its photos and
//! videos (grouped by the order's stage and round when each was sent, with the cards
//! that attach it) and the annotations on them (replies, resolved or open). Pure: the
//! client folds what it has stored, the same way for every member.

use serde::{Deserialize, Serialize};

use crate::domain::{AttachmentRef, Mark, MessageBody, Stage};
use crate::ids::{MemberId, MessageId, Seq};
use crate::order::Recorded;
use crate::UnixMillis;

/// A comment on a region of a photo and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AnnotationThread {
    /// The annotation message.
    pub id: MessageId,
    pub image: MessageId,
    pub mark: Mark,
    /// The comment as last edited.
    pub comment: String,
    pub author: MemberId,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub at: UnixMillis,
    /// Text messages replying to it, in order.
    pub replies: Vec<MessageId>,
    /// Who resolved it and when; `None` while open (or reopened).
    pub resolved: Option<Resolution>,
}

/// Who closed an annotation, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Resolution {
    pub by: MemberId,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub at: UnixMillis,
}

/// Whether an album item is a photo or a video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum MediaKind {
    Photo,
    Video,
}

/// One photo or video of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AlbumItem {
    pub message: MessageId,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub seq: Seq,
    pub sender: MemberId,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub sent_at: UnixMillis,
    pub kind: MediaKind,
    pub attachment: AttachmentRef,
    pub caption: String,
    /// The order's stage when it was sent.
    pub stage: Stage,
    /// Which stretch of that stage: 1 the first time the order is in it, 2 after it
    /// came back to it (a second sample round), …
    pub round: u32,
    /// Confirmation requests that attach it.
    pub cards: Vec<MessageId>,
    /// Annotations on it, and how many of them are still open.
    pub annotations: u32,
    pub open_annotations: u32,
}

/// An order's photos and videos in the order they were sent, and every annotation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Album {
    pub items: Vec<AlbumItem>,
    pub annotations: Vec<AnnotationThread>,
}

impl Album {
    /// Folds messages (any kinds, ascending `seq`). Recalled photos and annotations
    /// are left out; an edit of an annotation changes its comment.
    pub fn from_messages<'a>(messages: impl IntoIterator<Item = Recorded<'a>>) -> Album {
        let mut album = Album::default();
        // The stage the order is in, which stretch of it this is, and how often each
        // stage has been entered.
        let (mut stage, mut round) = (Stage::default(), 1);
        let mut entered: Vec<(Stage, u32)> = vec![(stage, 1)];
        for m in messages {
            match m.body {
                MessageBody::StageChange { to, .. } => {
                    stage = *to;
                    round = match entered.iter_mut().find(|(s, _)| s == to) {
                        Some((_, times)) => {
                            *times += 1;
                            *times
                        }
                        None => {
                            entered.push((*to, 1));
                            1
                        }
                    };
                }
                MessageBody::Image {
                    attachment,
                    caption,
                }
                | MessageBody::Video {
                    attachment,
                    caption,
                } => album.items.push(AlbumItem {
                    message: m.id,
                    seq: m.seq,
                    sender: m.sender,
                    sent_at: m.sent_at,
                    kind: if matches!(m.body, MessageBody::Video { .. }) {
                        MediaKind::Video
                    } else {
                        MediaKind::Photo
                    },
                    attachment: attachment.clone(),
                    caption: caption.clone(),
                    stage,
                    round,
                    cards: Vec::new(),
                    annotations: 0,
                    open_annotations: 0,
                }),
                MessageBody::ConfirmationRequest { attachments, .. } => {
                    for item in album
                        .items
                        .iter_mut()
                        .filter(|i| attachments.contains(&i.message))
                    {
                        item.cards.push(m.id);
                    }
                }
                MessageBody::Annotation {
                    image,
                    mark,
                    comment,
                } => album.annotations.push(AnnotationThread {
                    id: m.id,
                    image: *image,
                    mark: *mark,
                    comment: comment.clone(),
                    author: m.sender,
                    at: m.sent_at,
                    replies: Vec::new(),
                    resolved: None,
                }),
                MessageBody::AnnotationStatus {
                    annotation,
                    resolved,
                } => {
                    if let Some(thread) = album.annotation_mut(*annotation) {
                        thread.resolved = resolved.then_some(Resolution {
                            by: m.sender,
                            at: m.sent_at,
                        });
                    }
                }
                MessageBody::Text {
                    reply_to: Some(target),
                    ..
                } => {
                    if let Some(thread) = album.annotation_mut(*target) {
                        thread.replies.push(m.id);
                    }
                }
                MessageBody::Edit { target, text } => {
                    if let Some(thread) = album.annotation_mut(*target) {
                        thread.comment.clone_from(text);
                    }
                }
                MessageBody::Recall { target } => {
                    album.items.retain(|i| i.message != *target);
                    album.annotations.retain(|a| a.id != *target);
                }
                _ => {}
            }
        }
        // Annotations on a photo that is not (or no longer) in the album go with it.
        let items = &album.items;
        album
            .annotations
            .retain(|a| items.iter().any(|i| i.message == a.image));
        for item in &mut album.items {
            for thread in album.annotations.iter().filter(|a| a.image == item.message) {
                item.annotations += 1;
                if thread.resolved.is_none() {
                    item.open_annotations += 1;
                }
            }
        }
        album
    }

    fn annotation_mut(&mut self, id: MessageId) -> Option<&mut AnnotationThread> {
        self.annotations.iter_mut().find(|a| a.id == id)
    }

    /// The annotations on one photo, oldest first.
    pub fn annotations_on(&self, image: MessageId) -> impl Iterator<Item = &AnnotationThread> {
        self.annotations.iter().filter(move |a| a.image == image)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Point, Region};

    fn photo(n: i64) -> MessageBody {
        MessageBody::Image {
            attachment: AttachmentRef {
                sha256: format!("{n:064x}"),
                size: 1,
                mime: "image/jpeg".into(),
                name: format!("IMG_{n}.jpg"),
                width: Some(6000),
                height: Some(4000),
                preview: None,
                screen: None,
            },
            caption: String::new(),
        }
    }

    fn stage(from: Stage, to: Stage) -> MessageBody {
        MessageBody::StageChange {
            from,
            to,
            reason: String::new(),
            waived: vec![],
        }
    }

    fn fold(bodies: &[(i64, MessageBody)]) -> Album {
        Album::from_messages(bodies.iter().enumerate().map(|(i, (sender, body))| {
            let n = i64::try_from(i).unwrap_or(0) + 1;
            Recorded {
                id: MessageId(n),
                seq: Seq(n),
                sender: MemberId(*sender),
                sent_at: 1_790_000_000_000 + n,
                body,
            }
        }))
    }

    #[test]
    fn photos_are_grouped_by_the_stage_and_round_they_were_sent_in() {
        let album = fold(&[
            (1, photo(1)),                                // 1: inquiry
            (1, stage(Stage::Inquiry, Stage::Sample)),    // 2
            (1, photo(3)),                                // 3: sample, round 1
            (1, stage(Stage::Sample, Stage::Production)), // 4
            (1, stage(Stage::Production, Stage::Sample)), // 5: back for a new sample
            (2, photo(6)),                                // 6: sample, round 2
        ]);
        let groups: Vec<(MessageId, Stage, u32)> = album
            .items
            .iter()
            .map(|i| (i.message, i.stage, i.round))
            .collect();
        assert_eq!(
            groups,
            [
                (MessageId(1), Stage::Inquiry, 1),
                (MessageId(3), Stage::Sample, 1),
                (MessageId(6), Stage::Sample, 2),
            ]
        );
    }

    #[test]
    fn annotations_collect_replies_edits_and_their_latest_status() {
        let mark = Mark::Box {
            region: Region {
                x: 0.25,
                y: 0.5,
                w: 0.1,
                h: 0.05,
            },
        };
        let album = fold(&[
            (1, photo(1)),
            (
                2,
                MessageBody::Annotation {
                    image: MessageId(1),
                    mark,
                    comment: "车线歪了".into(),
                },
            ),
            (
                1,
                MessageBody::Text {
                    text: "大货会改".into(),
                    reply_to: Some(MessageId(2)),
                    needs_confirmation: false,
                    deadline: None,
                },
            ),
            (
                2,
                MessageBody::Edit {
                    target: MessageId(2),
                    text: "左侧车线歪了".into(),
                },
            ),
            (
                2,
                MessageBody::AnnotationStatus {
                    annotation: MessageId(2),
                    resolved: true,
                },
            ),
            (
                2,
                MessageBody::Annotation {
                    image: MessageId(1),
                    mark: Mark::Pin {
                        at: Point { x: 0.9, y: 0.1 },
                    },
                    comment: "logo".into(),
                },
            ),
        ]);
        let threads: Vec<&AnnotationThread> = album.annotations_on(MessageId(1)).collect();
        assert_eq!(threads.len(), 2);
        assert_eq!(threads[0].mark, mark);
        assert_eq!(threads[0].comment, "左侧车线歪了");
        assert_eq!(threads[0].replies, [MessageId(3)]);
        assert_eq!(
            threads[0].resolved.map(|r| r.by),
            Some(MemberId(2)),
            "resolved by the customer"
        );
        assert_eq!(threads[1].resolved, None);
        assert_eq!(
            (album.items[0].annotations, album.items[0].open_annotations),
            (2, 1)
        );
    }

    #[test]
    fn a_recalled_photo_leaves_the_album_with_its_annotations() {
        let album = fold(&[
            (1, photo(1)),
            (1, photo(2)),
            (
                2,
                MessageBody::Annotation {
                    image: MessageId(1),
                    mark: Mark::Pin {
                        at: Point { x: 0.5, y: 0.5 },
                    },
                    comment: "?".into(),
                },
            ),
            (
                1,
                MessageBody::Recall {
                    target: MessageId(1),
                },
            ),
        ]);
        assert_eq!(album.items.len(), 1);
        assert_eq!(album.items[0].message, MessageId(2));
        assert!(album.annotations.is_empty());
    }

    #[test]
    fn cards_that_attach_a_photo_are_listed_on_it() {
        let album = fold(&[
            (1, photo(1)),
            (
                1,
                MessageBody::ConfirmationRequest {
                    item: "颜色".into(),
                    value: "深棕".into(),
                    attachments: vec![MessageId(1)],
                    needs_confirmation: true,
                    deadline: None,
                },
            ),
        ]);
        assert_eq!(album.items[0].cards, [MessageId(2)]);
    }
}
