//! Preview benchmark: a 24 MP camera JPEG (shot sideways) to a 1024 px chat preview,
//! against `vipsthumbnail` (Debian's libvips-tools) on the same file in the same run.
//! Prints time and peak memory; asserts nothing.
//!
//! Run: `cargo bench -p satchel-tests --bench previews`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};

const RUNS: usize = 7;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Peak resident memory of this process in KiB (Linux), from /proc.
fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A 6000×4000 photo-like JPEG (smooth gradients and fine texture) with EXIF
/// orientation 6.
fn camera_jpeg(path: &Path) {
    let img = RgbImage::from_fn(6000, 4000, |x, y| {
        let n = (x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503)) >> 28;
        Rgb([
            ((x / 24) % 256) as u8 ^ n as u8,
            ((y / 16) % 256) as u8,
            (((x + y) / 40) % 256) as u8,
        ])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 92)
        .encode_image(&img)
        .unwrap();
    let mut tiff = b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\0\0\0\0".to_vec();
    let mut app1 = b"Exif\0\0".to_vec();
    app1.append(&mut tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&u16::try_from(app1.len() + 2).unwrap().to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    std::fs::write(path, out).unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Child modes, so peak memory is measured in a fresh process.
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let path = &args[i + 1];
        let bytes = std::fs::read(path).unwrap();
        let base = peak_kib().unwrap_or(0);
        if args.get(i + 2).map(String::as_str) == Some("preview") {
            let p = satchel_client::preview::make(&bytes).unwrap();
            assert!(p.chat.width.max(p.chat.height) == 1024);
        }
        println!("{} {}", base, peak_kib().unwrap_or(0));
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("IMG_24MP.jpg");
    camera_jpeg(&photo);
    let size = std::fs::metadata(&photo).unwrap().len();
    println!(
        "Satchel preview benchmark: 6000×4000 JPEG ({:.1} MB), EXIF orientation 6 → 1024 px",
        size as f64 / 1e6
    );

    let bytes = std::fs::read(&photo).unwrap();
    let ours = median(
        (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                satchel_client::preview::make(&bytes).unwrap();
                start.elapsed()
            })
            .collect(),
    );
    // What a send of such a photo costs: the same, plus the 2560 px screen level the
    // viewer shows at fit, from one decode at a larger DCT scale.
    let with_screen = median(
        (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                let p = satchel_client::preview::make_with_screen(&bytes).unwrap();
                assert!(p.screen.is_some());
                start.elapsed()
            })
            .collect(),
    );
    let exe = std::env::current_exe().unwrap();
    let child = |mode: &str| -> (u64, u64) {
        let out = Command::new(&exe)
            .args(["--child", photo.to_str().unwrap(), mode])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let mut it = text
            .split_whitespace()
            .map(|v| v.parse::<u64>().unwrap_or(0));
        (it.next().unwrap_or(0), it.next().unwrap_or(0))
    };
    let (_, read_only_peak) = child("read");
    let (_, preview_peak) = child("preview");
    let ours_mem_mb = preview_peak.saturating_sub(read_only_peak) as f64 / 1024.0;
    println!(
        "satchel preview          {:>8.1} ms   peak memory above reading the file {:>6.1} MB   target ≤ 40 MB",
        ours.as_secs_f64() * 1000.0,
        ours_mem_mb
    );

    println!(
        "  with the screen level    {:>8.1} ms = {:.2}× the previews alone (what sending a photo costs)",
        with_screen.as_secs_f64() * 1000.0,
        with_screen.as_secs_f64() / ours.as_secs_f64()
    );

    let out = dir.path().join("vips.jpg");
    let vips = Command::new("vipsthumbnail").arg("--version").output();
    if vips.map(|o| o.status.success()).unwrap_or(false) {
        let times: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                let status = Command::new("vipsthumbnail")
                    .arg(&photo)
                    .args(["--size", "1024", "-o"])
                    .arg(&out)
                    .status()
                    .unwrap();
                assert!(status.success());
                start.elapsed()
            })
            .collect();
        let theirs = median(times);
        let vips_mem = Command::new("/usr/bin/time")
            .args(["-f", "%M", "vipsthumbnail"])
            .arg(&photo)
            .args(["--size", "1024", "-o"])
            .arg(&out)
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stderr)
                    .trim()
                    .lines()
                    .last()?
                    .trim()
                    .parse::<f64>()
                    .ok()
            });
        println!(
            "vipsthumbnail (process)  {:>8.1} ms   peak RSS of the process {:>6}",
            theirs.as_secs_f64() * 1000.0,
            vips_mem.map_or_else(|| "n/a".to_owned(), |k| format!("{:.1} MB", k / 1024.0))
        );
        println!(
            "ratio                    {:>8.2}×  (target ≤ 0.75× vipsthumbnail's time; vipsthumbnail includes process start)",
            ours.as_secs_f64() / theirs.as_secs_f64()
        );
    } else {
        println!(
            "vipsthumbnail not installed (apt-get install libvips-tools): no baseline this run"
        );
    }
}
