//! Helpers for Satchel's tests and benchmarks. Everything here is real: servers listen
//! on ephemeral loopback ports, databases are files in temporary folders, processes
//! are the real binaries.
//!
//! - [`TestServer`]: an in-process server with an initialised workspace.
//! - [`ServerProcess`]: the `satchel-server` binary, which tests can SIGKILL and restart.
//! - [`ChaosProxy`]: a byte-level TCP proxy that cuts, resets and refuses connections.
//! - [`Workspace`]: a factory with staff and two customer organisations, for tests.
//! - [`postgres::TestDatabase`]: an empty PostgreSQL database of a test's own.
//! - [`corpus`]: a generated mixed Chinese/English chat history for search.
//! - [`video_clip`]: a short real MP4, made with ffmpeg.

pub mod corpus;
pub mod postgres;
mod proxy;
pub mod s3;
mod server;

pub use proxy::ChaosProxy;
pub use server::*;

/// Writes a 3-second 640×360 MP4 test pattern (as a QC station's camera might record)
/// to `path`, with the machine's `ffmpeg`, which `scripts/setup.sh` installs.
pub fn video_clip(path: &std::path::Path) -> anyhow::Result<()> {
    let made = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=640x360:rate=10",
        ])
        .args(["-t", "3", "-pix_fmt", "yuv420p"])
        .arg(path)
        .status()
        .map_err(|e| anyhow::anyhow!("ffmpeg is needed (scripts/setup.sh installs it): {e}"))?;
    anyhow::ensure!(made.success(), "ffmpeg made no clip: {made}");
    Ok(())
}
