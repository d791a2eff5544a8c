//! A demo workspace: a bag factory, its staff, three customers and orders in several
//! stages with real conversations in Chinese and English. Used by `satchel-server demo`
//! (and, later, the desktop app's first run) so a newcomer sees a lived-in workspace.

use satchel_protocol::*;

use sha2::{Digest, Sha256};

use crate::auth;
use crate::blobs::BlobError;
use crate::store::{BlobInfo, NewMember, Outcome, StoreError, Upload, Write};
use crate::AppState;

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "satchel-demo";

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hash(#[from] auth::AuthError),
    #[error("writing the demo conversation failed: {0}")]
    Commit(#[from] crate::committer::CommitError),
    #[error("storing a demo photo failed: {0}")]
    Blob(#[from] BlobError),
    #[error("encoding a demo photo failed: {0}")]
    Encode(String),
}

/// A full-resolution sample photo posted into an order's conversation after one of its
/// lines: (order index, after line, speaker, file name, leather colour as RGB).
type Photo = (usize, usize, usize, &'static str, [u8; 3]);

const PHOTOS: [Photo; 4] = [
    (1, 0, 1, "BP-007 样品v2 正面 front.jpg", [122, 78, 46]),
    (1, 0, 1, "BP-007 样品v2 侧袋 side pocket.jpg", [104, 66, 40]),
    (1, 2, 2, "BP-007 自然光复拍 daylight.jpg", [138, 92, 58]),
    (2, 2, 2, "WL-112 QC 抽检 车线.jpg", [150, 28, 44]),
];

/// Demo photos are 12 megapixels, like a phone camera's.
const PHOTO_SIZE: (u32, u32) = (4000, 3000);

struct Person {
    username: &'static str,
    name: &'static str,
    role: Role,
    org: Option<usize>,
}

const ORGS: [&str; 3] = [
    "Acme Bags (US)",
    "曼谷皮具 Bangkok Leather",
    "小雨包包 (淘宝店)",
];

const PEOPLE: [Person; 6] = [
    Person {
        username: "boss",
        name: "张总 Zhang",
        role: Role::Admin,
        org: None,
    },
    Person {
        username: "wang",
        name: "王丽 (业务)",
        role: Role::Staff,
        org: None,
    },
    Person {
        username: "chen",
        name: "陈刚 (QC)",
        role: Role::Staff,
        org: None,
    },
    Person {
        username: "alice",
        name: "Alice Moore (Acme)",
        role: Role::Customer,
        org: Some(0),
    },
    Person {
        username: "somchai",
        name: "Somchai (Bangkok Leather)",
        role: Role::Customer,
        org: Some(1),
    },
    Person {
        username: "xiaoyu",
        name: "小雨 (淘宝店主)",
        role: Role::Customer,
        org: Some(2),
    },
];

/// (order number, title, organisation, [(speaker index into PEOPLE, text)])
type Script = (
    &'static str,
    &'static str,
    usize,
    &'static [(usize, &'static str)],
);

const ORDERS: [Script; 6] = [
    (
        "TB-2026-031",
        "托特包 Tote bag — inquiry",
        0,
        &[
            (3, "Hi Wang, we need a quote for 2,000 canvas totes with leather handles. Target FOB $8.50."),
            (1, "Hi Alice! Canvas 16oz or 20oz? And do you want YKK zippers on the inner pocket?"),
            (3, "20oz, natural colour. Yes, YKK please — our last supplier used generic zippers and they failed."),
            (1, "明白。20oz 帆布，头层牛皮手柄，YKK 拉链。Quote by tomorrow 10:00 your time."),
        ],
    ),
    (
        "BP-2026-007",
        "双肩包 Backpack — sample round 2",
        1,
        &[
            (1, "Somchai, sample v2 is ready: the laptop pocket is now 2 cm deeper as you asked."),
            (4, "Thank you. The brown in the last photo looks darker than the swatch. Can you check under daylight?"),
            (2, "已在自然光下复拍，色号 PANTONE 18-1031，和色卡一致。Re-shot in daylight: matches swatch 18-1031."),
            (4, "OK, colour approved. Please confirm the metal hardware is copper, not alloy."),
            (1, "五金是铜的 — copper hardware confirmed, antique brass finish."),
        ],
    ),
    (
        "WL-2026-112",
        "女士钱包 Wallet — mass production",
        2,
        &[
            (5, "王姐，大货什么时候能出？双十一要上架。"),
            (1, "料子已到位，明天开始裁剪。预计 11 月 30 日完成 3,000 个。"),
            (2, "今天 QC 抽检 200 个，车线密度合格，2 个有胶水印已返工。"),
            (5, "好的，辛苦了！包装盒上的 logo 用烫金还是丝印？"),
            (1, "按确认的样品，烫金。"),
        ],
    ),
    (
        "LG-2026-044",
        "登机箱 Carry-on — QC & packing",
        1,
        &[
            (2, "QC 抽检 125 个：拉杆顺滑，3 个万向轮有异响，已更换。"),
            (4, "Thanks Chen. Please send the QC report and carton photos before packing is sealed."),
            (2, "OK. 每箱 4 个，五层瓦楞纸箱，明天封箱前拍照发你。"),
        ],
    ),
    (
        "CB-2025-210",
        "化妆包 Cosmetic bag — done",
        2,
        &[
            (5, "货已收到，质量很好，谢谢王姐！"),
            (1, "收到就好！返单的话提前两周说，料子好备。"),
        ],
    ),
    (
        "TB-2026-018",
        "旅行袋 Duffel — shipping",
        0,
        &[
            (1, "Alice, 1,200 duffels shipped today by sea. Tracking: MAEU 224466880."),
            (3, "Great, thanks! ETA Long Beach?"),
            (1, "ETA December 18. Packing list and QC report follow."),
        ],
    ),
];

/// Quantity and due date (days from seeding; negative is overdue) of each order.
const ORDER_DETAILS: [(u32, i64); 6] = [
    (2_000, 45),
    (800, 60),
    (3_000, -1),
    (500, 10),
    (1_000, -20),
    (1_200, 17),
];

const DAY: i64 = 24 * 60 * 60 * 1000;

/// One step of an order's record in the demo. References point back at earlier steps
/// (by index) and at the order's demo photos (by index).
enum Step {
    Propose(&'static str, &'static str, &'static [usize]),
    Answer(usize, bool, &'static str),
    Move(Stage, Stage),
    Progress(Stage, &'static str, &'static [usize]),
    Ship(&'static str, &'static str),
    /// A comment on a region of one of the order's photos.
    Annotate(usize, Mark, &'static str),
    /// Resolves the annotation made at an earlier step.
    Resolve(usize),
}

impl Step {
    fn body(&self, sent: &[MessageId], photos: &[MessageId]) -> MessageBody {
        let step = |i: &usize| sent.get(*i).copied().unwrap_or(MessageId(0));
        let photo_ids =
            |ids: &[usize]| ids.iter().filter_map(|i| photos.get(*i).copied()).collect();
        match self {
            Step::Propose(item, value, with) => MessageBody::ConfirmationRequest {
                item: (*item).into(),
                value: (*value).into(),
                attachments: photo_ids(with),
                needs_confirmation: false,
                deadline: None,
            },
            Step::Answer(request, approved, comment) => MessageBody::ConfirmationAnswer {
                request: step(request),
                approved: *approved,
                comment: (*comment).into(),
            },
            Step::Move(from, to) => MessageBody::StageChange {
                from: *from,
                to: *to,
                reason: String::new(),
                waived: Vec::new(),
            },
            Step::Progress(stage, text, with) => MessageBody::ProgressUpdate {
                stage: *stage,
                text: (*text).into(),
                attachments: photo_ids(with),
            },
            Step::Ship(carrier, number) => MessageBody::Shipment {
                carrier: (*carrier).into(),
                tracking_numbers: vec![(*number).into()],
            },
            Step::Annotate(photo, mark, comment) => MessageBody::Annotation {
                image: photos.get(*photo).copied().unwrap_or(MessageId(0)),
                mark: *mark,
                comment: (*comment).into(),
            },
            Step::Resolve(annotation) => MessageBody::AnnotationStatus {
                annotation: step(annotation),
                resolved: true,
            },
        }
    }
}

/// The record of demo order `index`: (speaker index into PEOPLE, step).
fn order_story(index: usize) -> Vec<(usize, Step)> {
    use Stage::*;
    use Step::*;
    // Wang moves the order forward, stage by stage, up to `to`.
    let moves_to = |to: Stage| -> Vec<(usize, Step)> {
        Stage::ALL
            .windows(2)
            .take_while(|w| w[0] < to)
            .map(|w| (1, Move(w[0], w[1])))
            .collect()
    };
    match index {
        0 => vec![
            (
                1,
                Propose(
                    "material",
                    "20oz 帆布 + 头层牛皮手柄 20oz canvas, full-grain leather handles",
                    &[],
                ),
            ),
            (3, Answer(0, true, "Yes, natural colour.")),
            (
                3,
                Propose("zipper", "YKK #5 内袋拉链 YKK #5 on the inner pocket", &[]),
            ),
            (3, Propose("FOB 单价 FOB price", "$8.50 / pc", &[])),
        ],
        1 => vec![
            (1, Move(Inquiry, Sample)),
            (1, Propose("colour", "PANTONE 18-1031 棕色 brown", &[2])),
            (4, Answer(1, true, "Colour approved.")),
            (
                4,
                Annotate(
                    1,
                    Mark::Box {
                        region: Region {
                            x: 0.58,
                            y: 0.34,
                            w: 0.2,
                            h: 0.18,
                        },
                    },
                    "侧袋拉链头请换成古铜色 Side-pocket puller in antique brass, please",
                ),
            ),
            (
                4,
                Annotate(
                    0,
                    Mark::Pin {
                        at: Point { x: 0.5, y: 0.28 },
                    },
                    "Logo 再往下 1 cm Move the logo 1 cm lower",
                ),
            ),
            (4, Resolve(3)),
            (
                1,
                Propose(
                    "hardware",
                    "铜五金，古铜色 copper, antique brass finish",
                    &[0, 1],
                ),
            ),
        ],
        2 => {
            let mut steps = vec![
                (1, Propose("logo", "烫金 hot-stamped gold foil", &[])),
                (5, Answer(0, true, "烫金")),
            ];
            steps.extend(moves_to(Production));
            steps.push((
                1,
                Progress(
                    Production,
                    "料子已到位，明天开始裁剪。预计完成 3,000 个。",
                    &[],
                ),
            ));
            steps.push((
                2,
                Progress(
                    Production,
                    "QC 抽检 200 个，车线密度合格，2 个胶水印已返工。",
                    &[0],
                ),
            ));
            steps
        }
        3 => {
            let mut steps = vec![
                (
                    2,
                    Propose(
                        "packaging",
                        "每箱 4 个，五层瓦楞纸箱 4 per carton, 5-ply",
                        &[],
                    ),
                ),
                (4, Answer(0, true, "OK")),
            ];
            steps.extend(moves_to(Production));
            steps.push((1, Move(Production, QcPacking)));
            steps.push((
                2,
                Progress(QcPacking, "QC 抽检 125 个：3 个万向轮有异响，已更换。", &[]),
            ));
            steps
        }
        4 => {
            let mut steps = moves_to(Shipping);
            steps.push((1, Ship("顺丰 SF Express", "SF1402883722016")));
            steps.push((5, Move(Shipping, Done)));
            steps
        }
        _ => {
            let mut steps = moves_to(Shipping);
            steps.push((1, Ship("Maersk 马士基", "MAEU224466880")));
            steps
        }
    }
}

/// Fills an empty store with the demo workspace. Does nothing (and returns `false`) if
/// a workspace already exists.
pub async fn seed(state: &AppState) -> Result<bool, DemoError> {
    if state.store.workspace().await?.is_some() {
        return Ok(false);
    }
    let password_hash = auth::hash_password(DEMO_PASSWORD.to_owned()).await?;
    let admin = &PEOPLE[0];
    let boss = state
        .store
        .init_workspace(
            "宏达箱包厂 Hongda Bag Factory",
            NewMember {
                username: admin.username.into(),
                display_name: admin.name.into(),
                role: admin.role,
                org_id: None,
                password_hash: password_hash.clone(),
            },
        )
        .await?;
    let mut orgs = Vec::new();
    for name in ORGS {
        orgs.push(state.store.create_org(name).await?);
    }
    let mut members = vec![boss];
    for p in &PEOPLE[1..] {
        members.push(
            state
                .store
                .create_member(NewMember {
                    username: p.username.into(),
                    display_name: p.name.into(),
                    role: p.role,
                    org_id: p.org.map(|i| orgs[i].id),
                    password_hash: password_hash.clone(),
                })
                .await?,
        );
    }
    let staff: Vec<MemberId> = members
        .iter()
        .filter(|m| m.role.is_staff())
        .map(|m| m.id)
        .collect();
    let now = crate::clock::now_millis();
    for (index, (number, title, org, lines)) in ORDERS.into_iter().enumerate() {
        let (quantity, due_in_days) = ORDER_DETAILS[index];
        let customers = members
            .iter()
            .filter(|m| m.org_id == Some(orgs[org].id))
            .map(|m| m.id);
        let outcome = state
            .committer
            .commit(Write::CreateConversation {
                creator: members[1].id,
                kind: ConversationKind::Order,
                title: title.into(),
                org_id: Some(orgs[org].id),
                order_number: Some(number.into()),
                order: Some(order::OrderInfo::new(
                    Some(quantity),
                    Some(now + due_in_days * DAY),
                    Some(members[1].id),
                )),
                member_ids: staff.iter().copied().chain(customers).collect(),
            })
            .await?;
        let Outcome::Conversation(conversation) = outcome else {
            continue;
        };
        let mut photos = Vec::new();
        for (i, (speaker, text)) in lines.iter().enumerate() {
            state
                .committer
                .commit(Write::Send {
                    sender: members[*speaker].id,
                    device: DeviceId("demo-seed-device".into()),
                    conversation_id: conversation.id,
                    txn_id: TxnId(format!("demo-{number}-{i:03}")),
                    body: MessageBody::Text {
                        text: (*text).into(),
                        reply_to: None,
                        needs_confirmation: false,
                        deadline: None,
                    },
                })
                .await?;
            let order = ORDERS.iter().position(|o| o.0 == number).unwrap_or(0);
            for (p, (_, _, photographer, name, colour)) in PHOTOS
                .iter()
                .enumerate()
                .filter(|(_, ph)| ph.0 == order && ph.1 == i)
            {
                let attachment =
                    store_photo(state, members[*photographer].id, name, *colour).await?;
                let sent = state
                    .committer
                    .commit(Write::Send {
                        sender: members[*photographer].id,
                        device: DeviceId("demo-seed-device".into()),
                        conversation_id: conversation.id,
                        txn_id: TxnId(format!("demo-{number}-photo-{p}")),
                        body: MessageBody::Image {
                            attachment,
                            caption: String::new(),
                        },
                    })
                    .await?;
                if let Outcome::Sent(ack) = sent {
                    photos.push(ack.message_id);
                }
            }
        }
        // The order's record: agreements, stages, progress and shipping, so every
        // stage of the board has an order in it.
        let mut sent: Vec<MessageId> = Vec::new();
        for (k, (speaker, step)) in order_story(index).into_iter().enumerate() {
            let body = step.body(&sent, &photos);
            let outcome = state
                .committer
                .commit(Write::Send {
                    sender: members[speaker].id,
                    device: DeviceId("demo-seed-device".into()),
                    conversation_id: conversation.id,
                    txn_id: TxnId(format!("demo-{number}-order-{k:03}")),
                    body,
                })
                .await?;
            if let Outcome::Sent(ack) = outcome {
                sent.push(ack.message_id);
            }
        }
    }
    state
        .committer
        .commit(Write::CreateConversation {
            creator: members[1].id,
            kind: ConversationKind::Group,
            title: "业务部 Sales & QC".into(),
            org_id: None,
            order_number: None,
            order: None,
            member_ids: staff.clone(),
        })
        .await?;
    Ok(true)
}

/// Renders a leather-swatch photo, its chat preview and its screen level, stores them
/// as verified blobs uploaded by `member`, and returns the attachment that references
/// them.
async fn store_photo(
    state: &AppState,
    member: MemberId,
    name: &str,
    colour: [u8; 3],
) -> Result<AttachmentRef, DemoError> {
    let [jpeg, preview, screen] = tokio::task::spawn_blocking(move || render_swatch(colour))
        .await
        .map_err(|e| DemoError::Encode(e.to_string()))??;
    let (sha256, size) = store_blob(state, member, jpeg.bytes).await?;
    let (preview_sha256, preview_size) = store_blob(state, member, preview.bytes).await?;
    let screen = if screen.bytes.len() as u64 <= MAX_PREVIEW_BYTES {
        let (width, height) = (screen.width, screen.height);
        let (sha256, size) = store_blob(state, member, screen.bytes).await?;
        Some(PreviewRef {
            sha256,
            size,
            width,
            height,
        })
    } else {
        None
    };
    Ok(AttachmentRef {
        sha256,
        size,
        mime: "image/jpeg".into(),
        name: name.into(),
        width: Some(jpeg.width),
        height: Some(jpeg.height),
        preview: Some(PreviewRef {
            sha256: preview_sha256,
            size: preview_size,
            width: preview.width,
            height: preview.height,
        }),
        screen,
    })
}

/// Stores JPEG bytes as a complete, verified blob uploaded by `member`.
async fn store_blob(
    state: &AppState,
    member: MemberId,
    jpeg: Vec<u8>,
) -> Result<(String, u64), DemoError> {
    let sha256 = hex::encode(Sha256::digest(&jpeg));
    let size = jpeg.len() as u64;
    let upload = state
        .store
        .create_upload(
            Upload {
                id: auth::new_hex_id(),
                member_id: member,
                sha256: sha256.clone(),
                size,
                offset: 0,
                synced_offset: 0,
                expires_at: crate::clock::now_millis() + 3_600_000,
                complete: false,
            },
            u64::MAX,
        )
        .await?;
    if !upload.complete {
        state.blobs.append(&upload.id, 0, &jpeg).await?;
        state.blobs.commit(&upload.id, &sha256).await?;
        let blob = BlobInfo {
            sha256: sha256.clone(),
            size,
            mime: "image/jpeg".into(),
        };
        state
            .store
            .complete_upload(&upload.id, &blob, crate::clock::now_millis())
            .await?;
    }
    Ok((sha256, size))
}

/// An encoded JPEG and its size.
struct Jpeg {
    bytes: Vec<u8>,
    width: u32,
    height: u32,
}

fn encode_jpeg(pixels: &[u8], width: u32, height: u32, quality: u8) -> Result<Jpeg, DemoError> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode(pixels, width, height, image::ExtendedColorType::Rgb8)
        .map_err(|e| DemoError::Encode(e.to_string()))?;
    Ok(Jpeg {
        bytes,
        width,
        height,
    })
}

/// A 12 MP JPEG of grained leather with a stitched seam (enough fine detail that a
/// compressed copy would visibly differ from the original), its 1024 px preview and its
/// screen level, as a sender's app would make them.
fn render_swatch(colour: [u8; 3]) -> Result<[Jpeg; 3], DemoError> {
    let (w, h) = PHOTO_SIZE;
    let seam = h / 3;
    let mut pixels = vec![0u8; (w * h * 3) as usize];
    for (row, line) in pixels.chunks_exact_mut((w * 3) as usize).enumerate() {
        let y = row as u32;
        for (x, px) in line.chunks_exact_mut(3).enumerate() {
            let x = x as u32;
            // Grain: hashed noise at two scales, plus soft light from the top left.
            let fine = hash(x, y) % 23;
            let coarse = hash(x / 9, y / 9) % 31;
            let light = 40 - ((x + y) * 40 / (w + h)) as i32;
            let mut shade = fine as i32 + coarse as i32 + light - 45;
            // The seam: dashes of pale thread 6 px thick every 40 px.
            let on_seam = y.abs_diff(seam) < 3 && x % 40 < 26;
            if on_seam {
                shade = 0;
            }
            for (c, base) in px.iter_mut().zip(colour) {
                *c = if on_seam {
                    228
                } else {
                    (base as i32 + shade).clamp(0, 255) as u8
                };
            }
        }
    }
    let original = encode_jpeg(&pixels, w, h, 88)?;
    let full = image::RgbImage::from_raw(w, h, pixels)
        .ok_or_else(|| DemoError::Encode("short pixel buffer".into()))?;
    let shrunk = |edge: u32| {
        let (sw, sh) = (edge, edge * h / w);
        let small = image::imageops::resize(&full, sw, sh, image::imageops::FilterType::Triangle);
        encode_jpeg(small.as_raw(), sw, sh, 85)
    };
    Ok([original, shrunk(1024)?, shrunk(MAX_PREVIEW_EDGE)?])
}

fn hash(x: u32, y: u32) -> u32 {
    let mut v = x.wrapping_mul(0x9E37_79B1) ^ y.wrapping_mul(0x85EB_CA77);
    v ^= v >> 15;
    v = v.wrapping_mul(0x2C1B_3C6D);
    v ^ (v >> 12)
}
