//! Server settings. Each comes from, in order of precedence: a command-line flag, an
//! environment variable (`SATCHEL_*`), the TOML config file, a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The settings file (`--config satchel.toml`). Every field is optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub log_format: Option<LogFormat>,
    /// Lets Prometheus scrape `/metrics` from another machine with
    /// `Authorization: Bearer <token>`; without it only loopback peers may.
    pub metrics_token: Option<String>,
    /// NATS for several nodes over one PostgreSQL store (see `satchel_server::cluster`).
    pub nats_url: Option<String>,
    /// `s3://bucket/prefix` to keep files in S3-compatible storage instead of
    /// `<data_dir>/files` (see `satchel_server::object_blobs`).
    pub blob_url: Option<String>,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Why the config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path} failed")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("tls_cert and tls_key must be given together")]
    TlsPair,
}

impl FileConfig {
    /// Reads and parses a TOML settings file; unknown keys are an error, so a typo does
    /// not silently fall back to a default.
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }
}

/// The resolved settings a server runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub log_format: LogFormat,
    pub metrics_token: Option<String>,
    pub nats_url: Option<String>,
    pub blob_url: Option<String>,
}

/// Default port: 7878 ("Satchel" has no registered port; this one is rarely taken).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";

impl Settings {
    /// Combines flag/env values (already merged by the argument parser, given in the
    /// shape of the file) with the file's.
    pub fn resolve(flags: FileConfig, file: FileConfig) -> Result<Settings, ConfigError> {
        let FileConfig {
            listen,
            data_dir,
            database_url,
            tls_cert,
            tls_key,
            log_format,
            metrics_token,
            nats_url,
            blob_url,
        } = flags;
        let data_dir = data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("satchel-data"));
        let database_url = database_url
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("satchel.db").display()));
        let tls = match (tls_cert.or(file.tls_cert), tls_key.or(file.tls_key)) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => return Err(ConfigError::TlsPair),
        };
        let default_listen: SocketAddr =
            DEFAULT_LISTEN.parse().map_err(|_| ConfigError::Parse {
                path: PathBuf::from("<default>"),
                message: "bad default listen address".into(),
            })?;
        Ok(Settings {
            listen: listen.or(file.listen).unwrap_or(default_listen),
            data_dir,
            database_url,
            tls,
            log_format: log_format.or(file.log_format).unwrap_or(LogFormat::Text),
            metrics_token: metrics_token
                .or(file.metrics_token)
                .filter(|t| !t.trim().is_empty()),
            nats_url: nats_url.or(file.nats_url).filter(|u| !u.trim().is_empty()),
            blob_url: blob_url.or(file.blob_url).filter(|u| !u.trim().is_empty()),
        })
    }
}
