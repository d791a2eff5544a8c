//! What only a SQLite store has: a file. Naming it in a URL the `Any` driver accepts on
//! every platform, and inspecting a copy of it at rest (backups).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyConnection, Connection};

use super::sql::{count_rows, list_blobs};
use super::{BlobInfo, StoreCounts, StoreError};

/// The file a `sqlite:` URL names, or `None` for other URLs (and in-memory databases).
pub fn database_path(url: &str) -> Option<PathBuf> {
    if !url.starts_with("sqlite:") {
        return None;
    }
    let options = SqliteConnectOptions::from_str(url).ok()?;
    let path = options.get_filename();
    (!path.as_os_str().is_empty() && path != Path::new(":memory:")).then(|| path.to_owned())
}

/// How a database file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Read and write, creating the file if it is missing.
    Create,
    ReadOnly,
    /// Read-only, and promised that nothing else changes the file: a backup at rest.
    Immutable,
}

/// A `sqlite://` URL for `path`. The path is percent-encoded whole: the `Any` driver
/// parses the URL as a URL, and a Windows path (`C:\Users\张三\…`) would otherwise read
/// as a host and a port.
pub fn url_of(path: &Path, mode: Mode) -> Result<String, StoreError> {
    let text = path
        .to_str()
        .ok_or_else(|| StoreError::Invalid(format!("{} is not UTF-8", path.display())))?;
    let mut url = String::from("sqlite://");
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"/._-~".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url.push_str(match mode {
        Mode::Create => "?mode=rwc",
        Mode::ReadOnly => "?mode=ro",
        Mode::Immutable => "?mode=ro&immutable=true",
    });
    Ok(url)
}

/// What a database file holds, read without changing it.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub counts: StoreCounts,
    pub blobs: Vec<BlobInfo>,
}

/// Opens a database file read-only, checks its integrity, and reads its counts and
/// blob list. The file must be at rest (a backup, not a live database).
pub async fn inspect_file(path: &Path) -> Result<Inspection, StoreError> {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(&url_of(path, Mode::Immutable)?)
        .await
        .map_err(StoreError::Open)?;
    let verdict: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await?;
    if verdict != "ok" {
        return Err(StoreError::Corrupt(format!("integrity check: {verdict}")));
    }
    let counts = count_rows(&mut conn).await?;
    let blobs = list_blobs(&mut conn).await?;
    let _ = conn.close().await;
    Ok(Inspection { counts, blobs })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(path: &str) -> PathBuf {
        let url = url_of(Path::new(path), Mode::ReadOnly).expect("a UTF-8 path");
        // The route the `Any` driver takes: parse as a URL, then as SQLite options.
        let parsed = url::Url::parse(&url).expect("a valid URL");
        SqliteConnectOptions::from_str(parsed.as_str())
            .expect("SQLite options")
            .get_filename()
            .to_owned()
    }

    #[test]
    fn unix_paths_survive_the_url() {
        assert_eq!(
            round_trip("/home/工厂/data dir/satchel.db"),
            Path::new("/home/工厂/data dir/satchel.db")
        );
    }

    #[test]
    fn windows_paths_survive_the_url() {
        let path = r"C:\Users\张三\AppData\Roaming\Satchel\server #1\satchel.db";
        assert_eq!(round_trip(path), Path::new(path));
    }
}
