//! Previews of the photos factories actually send: large camera JPEGs shot sideways,
//! CMYK and progressive JPEGs, 16-bit PNGs — and hostile files that must fail cleanly.

use image::{Rgb, RgbImage};
use satchel_client::preview::{self, PreviewError, CHAT_EDGE, THUMB_EDGE};

use crate::support::crc32;

/// A JPEG of `w`×`h` whose top-left quarter is red and the rest blue.
fn marked_jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| {
        if x < w / 2 && y < h / 2 {
            Rgb([220, 20, 20])
        } else {
            Rgb([20, 20, 220])
        }
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .unwrap();
    out
}

/// Inserts an EXIF APP1 segment carrying `orientation` right after the SOI marker.
pub(crate) fn with_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II*\0");
    tiff.extend_from_slice(&8u32.to_le_bytes());
    tiff.extend_from_slice(&1u16.to_le_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&u16::try_from(app1.len() + 2).unwrap().to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn is_red(p: &Rgb<u8>) -> bool {
    p[0] > 150 && p[2] < 100
}

#[test]
fn a_24_megapixel_photo_shot_sideways_previews_upright() {
    let jpeg = with_orientation(&marked_jpeg(6000, 4000), 6);
    let previews = preview::make(&jpeg).unwrap();
    // Orientation 6: the camera was turned; the picture is shown rotated 90° clockwise.
    assert_eq!((previews.width, previews.height), (4000, 6000));
    assert_eq!(previews.chat.height, CHAT_EDGE);
    assert_eq!(previews.chat.width, 683);
    assert_eq!(previews.thumb.height, THUMB_EDGE);
    let chat = image::load_from_memory(&previews.chat.jpeg)
        .unwrap()
        .to_rgb8();
    assert_eq!(
        (chat.width(), chat.height()),
        (previews.chat.width, previews.chat.height)
    );
    // The red corner moved from top-left to top-right.
    assert!(
        is_red(chat.get_pixel(chat.width() - 20, 20)),
        "{:?}",
        chat.get_pixel(chat.width() - 20, 20)
    );
    assert!(!is_red(chat.get_pixel(20, 20)));
}

#[test]
fn cmyk_and_progressive_jpegs_and_16_bit_pngs_preview() {
    let (w, h) = (1600u16, 1200u16);
    let cmyk: Vec<u8> = (0..usize::from(w) * usize::from(h))
        .flat_map(|_| [0u8, 128, 255, 0])
        .collect();
    let mut cmyk_jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut cmyk_jpeg, 90)
        .encode(&cmyk, w, h, jpeg_encoder::ColorType::Cmyk)
        .unwrap();
    let p = preview::make(&cmyk_jpeg).unwrap();
    assert_eq!(
        (p.width, p.height, p.chat.width, p.chat.height),
        (1600, 1200, 1024, 768)
    );

    let rgb: Vec<u8> = (0..usize::from(w) * usize::from(h))
        .flat_map(|i| [(i % 251) as u8, 90, 30])
        .collect();
    let mut progressive = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut progressive, 90);
    encoder.set_progressive(true);
    encoder
        .encode(&rgb, w, h, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    let p = preview::make(&progressive).unwrap();
    assert_eq!((p.chat.width, p.chat.height), (1024, 768));

    let png16 = image::ImageBuffer::<Rgb<u16>, _>::from_fn(3000, 2000, |x, _| {
        Rgb([(x * 20) as u16, 40_000, 1000])
    });
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb16(png16)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let p = preview::make(&png).unwrap();
    assert_eq!(
        (p.width, p.height, p.chat.width, p.chat.height),
        (3000, 2000, 1024, 683)
    );
}

#[test]
fn small_images_are_never_upscaled() {
    let p = preview::make(&marked_jpeg(300, 200)).unwrap();
    assert_eq!((p.chat.width, p.chat.height), (300, 200));
    assert_eq!((p.thumb.width, p.thumb.height), (256, 171));
}

#[test]
fn hostile_images_fail_cleanly() {
    // A PNG that claims 60000×60000 pixels (3.6 GP) in a few bytes.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&60_000u32.to_be_bytes());
    ihdr.extend_from_slice(&60_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    // A valid but short zlib stream as image data: the file is a few dozen bytes.
    let data = [0u8; 5];
    let mut zlib = vec![0x78, 0x01, 0x01, 5, 0, !5u8, 0xFF];
    zlib.extend_from_slice(&data);
    zlib.extend_from_slice(&adler32(&data).to_be_bytes());
    let mut idat = b"IDAT".to_vec();
    idat.extend_from_slice(&zlib);
    png.extend_from_slice(&u32::try_from(zlib.len()).unwrap().to_be_bytes());
    png.extend_from_slice(&idat);
    png.extend_from_slice(&crc32(&idat).to_be_bytes());
    png.extend_from_slice(&0u32.to_be_bytes());
    png.extend_from_slice(b"IEND");
    png.extend_from_slice(&crc32(b"IEND").to_be_bytes());
    assert!(matches!(
        preview::make(&png),
        Err(PreviewError::TooLarge {
            width: 60_000,
            height: 60_000
        })
    ));

    // An HTML page named .jpg, and truncated JPEG data.
    assert!(matches!(
        preview::make(b"<!DOCTYPE html><html></html>"),
        Err(PreviewError::Unsupported)
    ));
    let jpeg = marked_jpeg(800, 600);
    assert!(preview::make(&jpeg[..40]).is_err());
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in bytes {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}
