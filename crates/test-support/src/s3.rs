//! A real S3-compatible server for tests: `s3s-fs` (from crates.io, installed by
//! `scripts/setup.sh`), serving a temporary folder on an ephemeral port with its own
//! credentials. Each bucket is a sub-folder.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};

/// The bucket every test server has.
pub const BUCKET: &str = "satchel-test";

/// A running `s3s-fs`, stopped when dropped.
pub struct S3Server {
    child: tokio::process::Child,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    access_key: String,
    secret_key: String,
    /// The served folder; `root/<bucket>/<key>` is an object.
    pub root: tempfile::TempDir,
}

/// `s3s-fs` on `PATH` or in cargo's bin folder.
fn binary() -> anyhow::Result<PathBuf> {
    let name = format!("s3s-fs{}", std::env::consts::EXE_SUFFIX);
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(&name)).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("CARGO_HOME").or_else(|| {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo").into_os_string())
    }) {
        candidates.push(PathBuf::from(home).join("bin").join(&name));
    }
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .context("s3s-fs is not installed; run scripts/setup.sh")
}

impl S3Server {
    /// Starts a server with fresh credentials and an empty bucket [`BUCKET`], and waits
    /// until it accepts connections.
    pub async fn start() -> anyhow::Result<S3Server> {
        let root = tempfile::tempdir()?;
        std::fs::create_dir(root.path().join(BUCKET))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let access_key = format!("satchel{:08x}", rand::random::<u32>());
        let secret_key = format!("{:032x}", rand::random::<u128>());
        let mut child = tokio::process::Command::new(binary()?)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", &access_key, "--secret-key", &secret_key])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting s3s-fs")?;
        let addr = format!("127.0.0.1:{port}");
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                return Ok(S3Server {
                    child,
                    endpoint: format!("http://{addr}"),
                    access_key,
                    secret_key,
                    root,
                });
            }
            if let Some(status) = child.try_wait()? {
                bail!("s3s-fs exited with {status}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("s3s-fs did not listen on {addr}")
    }

    /// `s3://bucket/prefix` for `--blob-url`.
    pub fn blob_url(&self, prefix: &str) -> String {
        format!("s3://{BUCKET}/{prefix}")
    }

    /// The `AWS_*` settings a client needs: endpoint, plain HTTP, credentials, region.
    pub fn options(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", self.access_key.as_str()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_key.as_str()),
            ("AWS_REGION", "us-east-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// Stops the server (a test of outages).
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }
}
