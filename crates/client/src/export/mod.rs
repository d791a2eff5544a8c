//! Exporting an order's record as evidence, and checking an export offline.
//!
//! [`crate::Engine::export_order`] gathers the record (see
//! [`satchel_protocol::export`] for what it contains) and [`write`] puts it in a folder
//! or a ZIP file; [`verify`] opens either and checks it with
//! [`satchel_protocol::export::check`]. Writing goes to a temporary name beside the
//! destination and is renamed into place at the end, so an interrupted export never
//! leaves something that looks complete.

mod html;

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use satchel_protocol::export::{self, CheckOptions, Manifest, Report};
use satchel_protocol::order::OrderRecord;
use satchel_protocol::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Largest `manifest.json` [`verify`] reads: far above any real order's (a million
/// messages of a few hundred bytes), far below what would exhaust memory.
const MAX_MANIFEST_BYTES: u64 = 1 << 30;

/// A folder (open `record.html` in a browser) or one ZIP file (to send or archive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ExportFormat {
    Folder,
    Zip,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExportSummary {
    pub path: PathBuf,
    pub messages: usize,
    pub files: usize,
    /// Bytes of attachments copied.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub file_bytes: u64,
    pub head_seq: Seq,
    /// The record's fingerprint: the last message's chain link.
    pub head: String,
}

/// Why an export could not be read.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("{0} is neither an export folder nor a ZIP file: {1}")]
    NotAnExport(PathBuf, String),
    #[error("manifest.json cannot be read (cut short or altered?): {0}")]
    Manifest(String),
}

/// A record gathered by the engine, ready to be written.
pub(crate) struct Gathered {
    pub manifest: Manifest,
    pub record: Option<OrderRecord>,
    pub read_log: Vec<(MemberId, Seq, UnixMillis)>,
    /// `(path inside the export, cached original)` per file in `manifest.files`.
    pub sources: Vec<(String, PathBuf)>,
}

/// `name` with what some file system refuses (`/ \ : * ? " < > |`, control
/// characters, leading dots and spaces) replaced or trimmed, cut to at most 180 bytes so
/// a prefix still fits in 255. Empty when nothing usable is left.
pub fn safe_file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    let mut short = String::new();
    for c in cleaned.chars() {
        if short.len() + c.len_utf8() > 180 {
            break;
        }
        short.push(c);
    }
    short
}

/// The path of a file inside an export: its hash prefix keeps names unique, and the
/// sender's name (made safe by [`safe_file_name`]) keeps it findable.
pub(crate) fn file_path(sha256: &str, name: &str) -> String {
    let prefix = sha256.get(..12).unwrap_or(sha256);
    let name = safe_file_name(name);
    if name.is_empty() {
        format!("{}/{prefix}", export::FILES_DIR)
    } else {
        format!("{}/{prefix}-{name}", export::FILES_DIR)
    }
}

enum Sink {
    Folder(PathBuf),
    Zip(Box<zip::ZipWriter<File>>),
}

impl Sink {
    fn add(&mut self, path: &str, source: &mut dyn Read, compress: bool) -> io::Result<u64> {
        match self {
            Sink::Folder(root) => {
                let target = root.join(path);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                let mut file = File::create(&target)?;
                let copied = io::copy(source, &mut file)?;
                file.sync_all()?;
                Ok(copied)
            }
            Sink::Zip(zip) => {
                let method = if compress {
                    zip::CompressionMethod::Deflated
                } else {
                    // Photos, videos and archives are compressed already.
                    zip::CompressionMethod::Stored
                };
                let options = zip::write::SimpleFileOptions::default()
                    .compression_method(method)
                    .large_file(true);
                zip.start_file(path, options).map_err(io::Error::other)?;
                io::copy(source, zip.as_mut())
            }
        }
    }

    fn finish(self) -> io::Result<()> {
        match self {
            Sink::Folder(_) => Ok(()),
            Sink::Zip(zip) => {
                let file = zip.finish().map_err(io::Error::other)?;
                file.sync_all()
            }
        }
    }
}

/// Writes a gathered record to `destination` (which must not exist yet). Blocking.
pub(crate) fn write(
    gathered: &mut Gathered,
    destination: &Path,
    format: ExportFormat,
) -> Result<u64, String> {
    if destination.exists() {
        return Err(format!("{} exists already", destination.display()));
    }
    let parent = destination
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = destination
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| format!("{} names no file", destination.display()))?;
    let temporary = parent.join(format!(".{file_name}.partial-{}", std::process::id()));
    let result = write_into(gathered, &temporary, format).and_then(|bytes| {
        std::fs::rename(&temporary, destination)
            .map_err(|e| format!("moving the export into place: {e}"))?;
        Ok(bytes)
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&temporary);
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

fn write_into(gathered: &mut Gathered, target: &Path, format: ExportFormat) -> Result<u64, String> {
    let context = |what: &str| {
        let what = what.to_owned();
        move |e: io::Error| format!("{what}: {e}")
    };
    let mut sink = match format {
        ExportFormat::Folder => {
            std::fs::create_dir_all(target).map_err(context("creating the folder"))?;
            Sink::Folder(target.to_owned())
        }
        ExportFormat::Zip => {
            let file = File::create(target).map_err(context("creating the ZIP file"))?;
            Sink::Zip(Box::new(zip::ZipWriter::new(file)))
        }
    };
    let mut file_bytes = 0;
    for (path, source) in &gathered.sources {
        let mut original = File::open(source).map_err(context(path))?;
        file_bytes += sink
            .add(path, &mut original, false)
            .map_err(context(path))?;
    }
    let rendering = html::render(
        &gathered.manifest,
        &html::Extras {
            record: gathered.record.as_ref(),
            read_log: &gathered.read_log,
        },
    );
    gathered.manifest.rendering = export::ExportedRendering {
        path: export::RENDERING.to_owned(),
        sha256: hex::encode(Sha256::digest(rendering.as_bytes())),
    };
    sink.add(export::RENDERING, &mut rendering.as_bytes(), true)
        .map_err(context(export::RENDERING))?;
    let manifest = serde_json::to_vec_pretty(&gathered.manifest)
        .map_err(|e| format!("encoding the manifest: {e}"))?;
    sink.add(export::MANIFEST, &mut manifest.as_slice(), true)
        .map_err(context(export::MANIFEST))?;
    sink.finish().map_err(context("finishing the export"))?;
    Ok(file_bytes)
}

/// Size and SHA-256 of what `reader` yields, reading at most `limit + 1` bytes (a file
/// larger than recorded is reported as such without reading all of it).
fn digest(reader: &mut dyn Read, limit: u64) -> io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut limited = reader.take(limit.saturating_add(1));
    let mut buffer = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = limited.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        total += n as u64;
    }
    Ok((total, hex::encode(hasher.finalize())))
}

enum Source {
    Folder(PathBuf),
    Zip(Box<zip::ZipArchive<File>>),
}

impl Source {
    fn open(path: &Path) -> Result<Source, VerifyError> {
        let metadata = std::fs::metadata(path).map_err(|source| VerifyError::Open {
            path: path.to_owned(),
            source,
        })?;
        if metadata.is_dir() {
            return Ok(Source::Folder(path.to_owned()));
        }
        let file = File::open(path).map_err(|source| VerifyError::Open {
            path: path.to_owned(),
            source,
        })?;
        zip::ZipArchive::new(file)
            .map(|z| Source::Zip(Box::new(z)))
            .map_err(|e| VerifyError::NotAnExport(path.to_owned(), e.to_string()))
    }

    fn with<T>(
        &mut self,
        name: &str,
        read: impl FnOnce(&mut dyn Read) -> io::Result<T>,
    ) -> io::Result<T> {
        match self {
            Source::Folder(root) => {
                let path = root.join(name);
                // A symbolic link could point anywhere; an export holds plain files.
                let metadata = std::fs::symlink_metadata(&path)?;
                if !metadata.is_file() {
                    return Err(io::Error::other("not a plain file"));
                }
                read(&mut File::open(path)?)
            }
            Source::Zip(zip) => {
                let mut entry = zip.by_name(name).map_err(|e| match e {
                    zip::result::ZipError::FileNotFound => {
                        io::Error::new(io::ErrorKind::NotFound, "not in the ZIP file")
                    }
                    other => io::Error::other(other),
                })?;
                read(&mut entry)
            }
        }
    }
}

/// Opens an export (folder or ZIP) and checks it. `Err` only when it cannot be read at
/// all; everything wrong inside it is in the report's problems.
pub fn verify(path: &Path, options: &CheckOptions) -> Result<Report, VerifyError> {
    let mut source = Source::open(path)?;
    let text = source
        .with(export::MANIFEST, |r| {
            let mut text = String::new();
            r.take(MAX_MANIFEST_BYTES).read_to_string(&mut text)?;
            Ok(text)
        })
        .map_err(|e| VerifyError::NotAnExport(path.to_owned(), format!("manifest.json: {e}")))?;
    let manifest: Manifest =
        serde_json::from_str(&text).map_err(|e| VerifyError::Manifest(e.to_string()))?;
    let sizes: std::collections::HashMap<String, u64> = manifest
        .files
        .iter()
        .map(|f| (f.path.clone(), f.size))
        .collect();
    Ok(export::check(&manifest, options, |name| {
        let limit = sizes.get(name).copied().unwrap_or(MAX_MANIFEST_BYTES);
        source
            .with(name, |r| digest(r, limit))
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => "missing from the export".to_owned(),
                _ => format!("cannot be read: {e}"),
            })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_paths_keep_the_name_but_nothing_that_escapes() {
        let sha = "ab12cd34ef56aa00000000000000000000000000000000000000000000000000";
        assert_eq!(
            file_path(sha, "样品 照片.jpg"),
            "files/ab12cd34ef56-样品 照片.jpg"
        );
        assert_eq!(file_path(sha, "../../x"), "files/ab12cd34ef56-_.._x");
        assert_eq!(file_path(sha, "..."), "files/ab12cd34ef56");
        assert_eq!(file_path(sha, "a\0b:c"), "files/ab12cd34ef56-a_b_c");
        for name in [
            "样品 照片.jpg",
            "../../x",
            "...",
            "a\0b:c",
            &"长".repeat(400),
        ] {
            let path = file_path(sha, name);
            assert!(export::is_safe_file_path(&path), "{path}");
            assert!(path.len() < 255);
        }
    }
}
