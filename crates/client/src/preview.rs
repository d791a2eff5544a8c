//! Previews of images, made on the sender's machine for an instant local echo.
//!
//! Two sizes: one for the chat (long edge ≤ [`CHAT_EDGE`]) and one for lists (≤
//! [`THUMB_EDGE`]), JPEG-encoded, never upscaled, with the EXIF orientation applied so a
//! phone photo taken upright shows upright.
//!
//! Colour: a preview is sRGB, which is what every webview assumes of a JPEG without a
//! profile. A photo that embeds another RGB profile (Display P3 from phones, Adobe RGB
//! from cameras) has its preview converted from that profile, so a brown shows as the
//! brown the camera saw instead of a duller or redder one.
//!
//! JPEGs — most sample photos — decode at a reduced DCT scale (1/2, 1/4 or 1/8), which
//! skips most of the work of a full 24 MP decode. Everything else goes through the
//! `image` crate with decode limits, so a decompression bomb fails cleanly instead of
//! taking the machine's memory.

use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};

/// Long edge of the chat preview.
pub const CHAT_EDGE: u32 = 1024;
/// Long edge of the list thumbnail.
pub const THUMB_EDGE: u32 = 256;
/// Long edge of the screen level: the whole photo at fit on a 2560×1440 screen.
pub const SCREEN_EDGE: u32 = satchel_protocol::MAX_PREVIEW_EDGE;
/// Largest image (in pixels) a preview is made of: 200 MP covers every camera.
pub const MAX_PIXELS: u64 = 200_000_000;
/// Most memory one decode may allocate.
pub const MAX_DECODE_BYTES: u64 = 1 << 30;

/// Why no preview could be made. The file itself is still sent as it is.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("not an image this build can read")]
    Unsupported,
    #[error("image is too large to preview ({width}×{height})")]
    TooLarge { width: u32, height: u32 },
    #[error("image data is damaged: {0}")]
    Damaged(String),
}

/// One encoded preview.
#[derive(Debug, Clone)]
pub struct Preview {
    pub width: u32,
    pub height: u32,
    /// JPEG bytes.
    pub jpeg: Vec<u8>,
}

/// The previews of one image, and the image's own size as displayed (after orientation).
#[derive(Debug, Clone)]
pub struct Previews {
    pub width: u32,
    pub height: u32,
    pub chat: Preview,
    pub thumb: Preview,
    /// The screen level ([`make_with_screen`] only, and only of an image larger than it).
    pub screen: Option<Preview>,
}

/// Makes the chat and list previews of an image file's bytes.
pub fn make(bytes: &[u8]) -> Result<Previews, PreviewError> {
    make_up_to(bytes, CHAT_EDGE)
}

/// Makes the chat and list previews and, of an image larger than [`SCREEN_EDGE`], the
/// screen level the viewer shows at fit instead of decoding the original. One decode
/// (at the DCT scale the screen level needs) serves all three.
pub fn make_with_screen(bytes: &[u8]) -> Result<Previews, PreviewError> {
    make_up_to(bytes, SCREEN_EDGE)
}

fn make_up_to(bytes: &[u8], largest: u32) -> Result<Previews, PreviewError> {
    let orientation = exif_orientation(bytes);
    let Decoded {
        image,
        width: full_width,
        height: full_height,
        icc,
    } = match decode_jpeg_scaled(bytes, largest) {
        Some(result) => result?,
        None => decode_generic(bytes)?,
    };
    // Shrink before converting colours and turning upright: both are cheaper on the
    // smaller image.
    let mut image = into_srgb(shrink(&image, largest), icc.as_deref());
    image.apply_orientation(orientation);
    let (width, height) = if orientation_swaps(orientation) {
        (full_height, full_width)
    } else {
        (full_width, full_height)
    };
    let screen = if largest > CHAT_EDGE && full_width.max(full_height) > largest {
        Some(encode(&image)?)
    } else {
        None
    };
    let chat = shrink(&image, CHAT_EDGE);
    let thumb = shrink(&chat, THUMB_EDGE);
    Ok(Previews {
        width,
        height,
        chat: encode(&chat)?,
        thumb: encode(&thumb)?,
        screen,
    })
}

/// A decoded image (possibly at reduced scale), the full size, and its ICC profile.
struct Decoded {
    image: DynamicImage,
    width: u32,
    height: u32,
    icc: Option<Vec<u8>>,
}

/// Converts pixels described by an embedded ICC profile into sRGB. No profile, a
/// damaged one, or one that is not RGB (a CMYK JPEG's: the decoder has already turned
/// those pixels into RGB) leaves the pixels as they are, which shows them as sRGB.
fn into_srgb(image: DynamicImage, icc: Option<&[u8]>) -> DynamicImage {
    use moxcms::{ColorProfile, DataColorSpace, Layout, TransformOptions};
    let Some(icc) = icc else {
        return image;
    };
    let Ok(source) = ColorProfile::new_from_slice(icc) else {
        tracing::debug!("ignoring an unreadable ICC profile");
        return image;
    };
    if source.color_space != DataColorSpace::Rgb || !image.color().has_color() {
        return image;
    }
    let Ok(transform) = source.create_transform_8bit(
        Layout::Rgb,
        &ColorProfile::new_srgb(),
        Layout::Rgb,
        TransformOptions::default(),
    ) else {
        return image;
    };
    let rgb = image.to_rgb8();
    let (width, height) = rgb.dimensions();
    let mut converted = vec![0u8; rgb.as_raw().len()];
    if transform.transform(rgb.as_raw(), &mut converted).is_err() {
        return image;
    }
    RgbImage::from_raw(width, height, converted).map_or(image, DynamicImage::ImageRgb8)
}

fn orientation_swaps(o: image::metadata::Orientation) -> bool {
    use image::metadata::Orientation::*;
    matches!(o, Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH)
}

/// The EXIF orientation, or "no transformation" when absent or unreadable.
fn exif_orientation(bytes: &[u8]) -> image::metadata::Orientation {
    let mut cursor = std::io::Cursor::new(bytes);
    exif::Reader::new()
        .read_from_container(&mut cursor)
        .ok()
        .and_then(|e| {
            e.get_field(exif::Tag::Orientation, exif::In::PRIMARY)
                .and_then(|f| f.value.get_uint(0))
        })
        .and_then(|v| u8::try_from(v).ok())
        .and_then(image::metadata::Orientation::from_exif)
        .unwrap_or(image::metadata::Orientation::NoTransforms)
}

/// What the camera recorded about a photo, for the viewer's header.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PhotoDetails {
    /// Make and model, e.g. "Canon EOS R6".
    pub camera: Option<String>,
    /// When it was taken, as the camera wrote it (its local time, no zone).
    pub taken: Option<String>,
    /// Exposure, the parts present: "1/125 s · f/2.8 · ISO 200 · 26 mm".
    pub exposure: Option<String>,
}

/// Reads the camera's EXIF record from an image file (only its header is read).
/// Anything absent or unreadable is left out.
pub fn details(file: &mut (impl std::io::BufRead + std::io::Seek)) -> PhotoDetails {
    let Ok(exif) = exif::Reader::new().read_from_container(file) else {
        return PhotoDetails::default();
    };
    let field = |tag| exif.get_field(tag, exif::In::PRIMARY);
    let text = |tag| {
        field(tag).and_then(|f| match &f.value {
            exif::Value::Ascii(parts) => parts
                .first()
                .map(|p| {
                    String::from_utf8_lossy(p)
                        .trim()
                        .trim_end_matches('\0')
                        .trim()
                        .to_owned()
                })
                .filter(|s| !s.is_empty()),
            _ => None,
        })
    };
    let camera = match (text(exif::Tag::Make), text(exif::Tag::Model)) {
        // Many cameras repeat the make in the model.
        (Some(make), Some(model)) if model.to_lowercase().starts_with(&make.to_lowercase()) => {
            Some(model)
        }
        (Some(make), Some(model)) => Some(format!("{make} {model}")),
        (make, model) => make.or(model),
    };
    let taken = text(exif::Tag::DateTimeOriginal)
        .or_else(|| text(exif::Tag::DateTime))
        // EXIF writes "2026:11:20 14:03:05".
        .map(|t| t.replacen(':', "-", 2));
    let with_unit = |tag| field(tag).map(|f| f.display_value().with_unit(&exif).to_string());
    let iso = field(exif::Tag::PhotographicSensitivity)
        .and_then(|f| f.value.get_uint(0))
        .map(|v| format!("ISO {v}"));
    let parts: Vec<String> = [
        with_unit(exif::Tag::ExposureTime),
        with_unit(exif::Tag::FNumber),
        iso,
        with_unit(exif::Tag::FocalLength),
    ]
    .into_iter()
    .flatten()
    .collect();
    PhotoDetails {
        camera,
        taken,
        exposure: (!parts.is_empty()).then(|| parts.join(" · ")),
    }
}

/// Decodes an RGB or greyscale JPEG at the smallest DCT scale that still yields at
/// least `edge` on the long edge. `None` for anything that is not such a JPEG (CMYK
/// JPEGs go the generic way, which converts them properly).
fn decode_jpeg_scaled(bytes: &[u8], edge: u32) -> Option<Result<Decoded, PreviewError>> {
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return None;
    }
    let mut decoder = jpeg_decoder::Decoder::new(std::io::Cursor::new(bytes));
    decoder.read_info().ok()?;
    let info = decoder.info()?;
    if !matches!(
        info.pixel_format,
        jpeg_decoder::PixelFormat::RGB24 | jpeg_decoder::PixelFormat::L8
    ) {
        return None;
    }
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Some(Err(PreviewError::TooLarge {
            width: w,
            height: h,
        }));
    }
    // Ask for the size at which the long edge is still ≥ `edge`; the decoder picks the
    // smallest DCT scale that meets it.
    let long = w.max(h).max(1);
    let factor = f64::from(edge.min(long)) / f64::from(long);
    let want_w = ((f64::from(w) * factor).ceil() as u32).clamp(1, u32::from(u16::MAX));
    let want_h = ((f64::from(h) * factor).ceil() as u32).clamp(1, u32::from(u16::MAX));
    let (sw, sh) = match decoder.scale(want_w as u16, want_h as u16) {
        Ok(size) => size,
        Err(e) => return Some(Err(PreviewError::Damaged(e.to_string()))),
    };
    let pixels = match decoder.decode() {
        Ok(p) => p,
        Err(e) => return Some(Err(PreviewError::Damaged(e.to_string()))),
    };
    let icc = decoder.icc_profile();
    let image = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => {
            image::GrayImage::from_raw(u32::from(sw), u32::from(sh), pixels)
                .map(DynamicImage::ImageLuma8)
        }
        _ => RgbImage::from_raw(u32::from(sw), u32::from(sh), pixels).map(DynamicImage::ImageRgb8),
    };
    Some(
        image
            .map(|image| Decoded {
                image,
                width: w,
                height: h,
                icc,
            })
            .ok_or_else(|| PreviewError::Damaged("short pixel buffer".into())),
    )
}

fn decode_generic(bytes: &[u8]) -> Result<Decoded, PreviewError> {
    let mut reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| PreviewError::Damaged(e.to_string()))?;
    if reader.format().is_none() {
        return Err(PreviewError::Unsupported);
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(60_000);
    limits.max_image_height = Some(60_000);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| PreviewError::Damaged(e.to_string()))?;
    let (w, h) = decoder.dimensions();
    let icc = decoder.icc_profile().ok().flatten();
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(PreviewError::TooLarge {
            width: w,
            height: h,
        });
    }
    let image = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        image::ImageError::Limits(_) => PreviewError::TooLarge {
            width: w,
            height: h,
        },
        other => PreviewError::Damaged(other.to_string()),
    })?;
    Ok(Decoded {
        image,
        width: w,
        height: h,
        icc,
    })
}

/// Scales down so the long edge is at most `edge`; never scales up.
fn shrink(image: &DynamicImage, edge: u32) -> DynamicImage {
    if image.width().max(image.height()) <= edge {
        return image.clone();
    }
    image.resize(edge, edge, FilterType::Triangle)
}

fn encode(image: &DynamicImage) -> Result<Preview, PreviewError> {
    // Previews are 8-bit sRGB JPEGs whatever the source (16-bit PNG, alpha, greyscale).
    let rgb = image.to_rgb8();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .encode_image(&rgb)
        .map_err(|e| PreviewError::Damaged(e.to_string()))?;
    Ok(Preview {
        width: rgb.width(),
        height: rgb.height(),
        jpeg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use exif::experimental::Writer;
    use exif::{Field, In, Rational, Tag, Value};

    /// A TIFF-structured EXIF record with the given fields, as a JPEG's APP1 segment
    /// would carry it.
    fn jpeg_with_exif(fields: &[Field]) -> Vec<u8> {
        let mut writer = Writer::new();
        for field in fields {
            writer.push_field(field);
        }
        let mut tiff = std::io::Cursor::new(Vec::new());
        writer.write(&mut tiff, false).expect("exif written");
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(tiff.get_ref());
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
        out.extend_from_slice(&u16::try_from(app1.len() + 2).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(&app1);
        out.extend_from_slice(&[0xFF, 0xD9]);
        out
    }

    fn ascii(tag: Tag, text: &str) -> Field {
        Field {
            tag,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![text.as_bytes().to_vec()]),
        }
    }

    #[test]
    fn camera_time_and_exposure_are_read_from_exif() {
        let jpeg = jpeg_with_exif(&[
            ascii(Tag::Make, "Canon"),
            ascii(Tag::Model, "Canon EOS R6"),
            ascii(Tag::DateTimeOriginal, "2026:11:20 14:03:05"),
            Field {
                tag: Tag::ExposureTime,
                ifd_num: In::PRIMARY,
                value: Value::Rational(vec![Rational { num: 1, denom: 125 }]),
            },
            Field {
                tag: Tag::FNumber,
                ifd_num: In::PRIMARY,
                value: Value::Rational(vec![Rational { num: 28, denom: 10 }]),
            },
            Field {
                tag: Tag::PhotographicSensitivity,
                ifd_num: In::PRIMARY,
                value: Value::Short(vec![200]),
            },
        ]);
        let details = details(&mut std::io::Cursor::new(jpeg));
        assert_eq!(details.camera.as_deref(), Some("Canon EOS R6"));
        assert_eq!(details.taken.as_deref(), Some("2026-11-20 14:03:05"));
        assert_eq!(
            details.exposure.as_deref(),
            Some("1/125 s · f/2.8 · ISO 200")
        );
    }

    #[test]
    fn a_photo_without_exif_has_no_details() {
        let details = details(&mut std::io::Cursor::new(vec![0xFF, 0xD8, 0xFF, 0xD9]));
        assert_eq!(details, PhotoDetails::default());
    }

    /// A flat-coloured 64×48 image encoded by `format`, embedding `icc` if given.
    fn flat(rgb: [u8; 3], icc: Option<Vec<u8>>, format: image::ImageFormat) -> Vec<u8> {
        flat_sized(rgb, icc, format, (64, 48))
    }

    fn flat_sized(
        rgb: [u8; 3],
        icc: Option<Vec<u8>>,
        format: image::ImageFormat,
        (w, h): (u32, u32),
    ) -> Vec<u8> {
        use image::ImageEncoder;
        let pixels = RgbImage::from_pixel(w, h, image::Rgb(rgb));
        let mut out = Vec::new();
        match format {
            image::ImageFormat::Png => {
                let mut encoder = image::codecs::png::PngEncoder::new(&mut out);
                if let Some(icc) = icc {
                    encoder.set_icc_profile(icc).expect("profile accepted");
                }
                encoder
                    .write_image(&pixels, w, h, image::ExtendedColorType::Rgb8)
                    .expect("encoded");
            }
            _ => {
                let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95);
                if let Some(icc) = icc {
                    encoder.set_icc_profile(icc).expect("profile accepted");
                }
                encoder
                    .write_image(&pixels, w, h, image::ExtendedColorType::Rgb8)
                    .expect("encoded");
            }
        }
        out
    }

    /// The centre pixel of a preview as the webview will decode it (no profile: sRGB).
    fn centre(preview: &Preview) -> [i32; 3] {
        let decoded = image::load_from_memory(&preview.jpeg)
            .expect("preview decodes")
            .to_rgb8();
        let p = decoded.get_pixel(decoded.width() / 2, decoded.height() / 2);
        [i32::from(p[0]), i32::from(p[1]), i32::from(p[2])]
    }

    fn assert_near(actual: [i32; 3], expected: [i32; 3]) {
        assert!(
            actual.iter().zip(expected).all(|(a, e)| (a - e).abs() <= 3),
            "{actual:?} is not within 3 of {expected:?}"
        );
    }

    /// Leather brown in Display P3 is, in sRGB, redder and less blue: (150, 90, 50)
    /// → ≈ (160, 86, 40) by the standard P3→sRGB matrix.
    const BROWN: [u8; 3] = [150, 90, 50];
    const BROWN_P3_IN_SRGB: [i32; 3] = [160, 86, 40];

    #[test]
    fn a_display_p3_photo_is_previewed_in_srgb() {
        let p3 = moxcms::ColorProfile::new_display_p3()
            .encode()
            .expect("profile");
        for format in [image::ImageFormat::Jpeg, image::ImageFormat::Png] {
            let tagged = make(&flat(BROWN, Some(p3.clone()), format)).expect("previews");
            assert_near(centre(&tagged.chat), BROWN_P3_IN_SRGB);
            assert_near(centre(&tagged.thumb), BROWN_P3_IN_SRGB);
        }
    }

    #[test]
    fn untagged_srgb_tagged_and_badly_tagged_photos_keep_their_values() {
        let srgb = moxcms::ColorProfile::new_srgb().encode().expect("profile");
        for icc in [None, Some(srgb), Some(b"not a profile at all".to_vec())] {
            let previews = make(&flat(BROWN, icc, image::ImageFormat::Jpeg)).expect("previews");
            assert_near(centre(&previews.chat), BROWN.map(i32::from));
        }
    }

    #[test]
    fn a_photo_larger_than_a_screen_gets_a_screen_level_in_srgb() {
        let p3 = moxcms::ColorProfile::new_display_p3()
            .encode()
            .expect("profile");
        for format in [image::ImageFormat::Jpeg, image::ImageFormat::Png] {
            let large = flat_sized(BROWN, Some(p3.clone()), format, (3000, 2000));
            let previews = make_with_screen(&large).expect("previews");
            let level = previews.screen.as_ref().expect("a screen level");
            assert_eq!((level.width, level.height), (SCREEN_EDGE, 1707));
            assert_near(centre(level), BROWN_P3_IN_SRGB);
            assert_eq!(
                (previews.chat.width, previews.chat.height),
                (CHAT_EDGE, 683)
            );
            assert_eq!((previews.width, previews.height), (3000, 2000));
            assert!(
                make(&large).expect("previews").screen.is_none(),
                "chat previews only"
            );
        }
        // A photo a screen shows whole at 1:1 is its own screen level.
        let small = flat_sized(BROWN, None, image::ImageFormat::Jpeg, (2000, 1500));
        assert!(make_with_screen(&small).expect("previews").screen.is_none());
    }
}
