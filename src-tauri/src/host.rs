//! Host mode: the app runs `satchel-server` in-process, listening on the office LAN, so a
//! small factory needs no separate machine. The server keeps its data beside the app's
//! profiles; colleagues connect to the LAN address shown in the app.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use ts_rs::TS;

/// Why hosting failed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("creating the server folder {0} failed: {1}")]
    CreateDir(PathBuf, std::io::Error),
    #[error("opening the server's database failed: {0}")]
    Open(#[from] satchel_server::OpenError),
    #[error("no port to listen on: {0}")]
    Bind(std::io::Error),
    #[error("creating the demo workspace failed: {0}")]
    Demo(#[from] satchel_server::demo::DemoError),
    #[error("creating the workspace failed: {0}")]
    Init(String),
    #[error("another Satchel on this machine already hosts this workspace, on port {0}")]
    AlreadyHosted(u16),
    #[error("the backup failed: {0}")]
    Backup(#[from] satchel_server::backup::BackupError),
}

/// What a backup of the hosted workspace holds.
#[derive(Debug, Clone, Serialize, TS)]
pub struct BackupSummary {
    pub path: String,
    #[ts(type = "number")]
    pub messages: u64,
    #[ts(type = "number")]
    pub conversations: u64,
    #[ts(type = "number")]
    pub files: u64,
    #[ts(type = "number")]
    pub bytes: u64,
}

/// Backs up the hosted workspace into the new folder `dest` while it keeps serving
/// (see `satchel_server::backup`; `satchel-server restore` puts it back).
pub async fn backup(
    server: &satchel_server::AppState,
    dest: &Path,
) -> Result<BackupSummary, HostError> {
    let manifest =
        satchel_server::backup::backup(server.store.as_ref(), server.blobs.as_ref(), dest).await?;
    Ok(BackupSummary {
        path: dest.to_string_lossy().into_owned(),
        messages: manifest.counts.messages,
        conversations: manifest.counts.conversations,
        files: manifest.counts.blobs,
        bytes: manifest.blob_bytes,
    })
}

/// What the app shows about the server it hosts.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct HostInfo {
    /// The address colleagues on the LAN type in, e.g. `http://192.168.1.20:7878`.
    pub lan_url: String,
    /// The address this app itself uses.
    pub local_url: String,
    pub port: u16,
    pub data_dir: String,
}

/// A running embedded server. Dropping it stops the server.
pub struct HostedServer {
    pub info: HostInfo,
    pub state: satchel_server::AppState,
    _stop: oneshot::Sender<()>,
    /// Held while hosting: one server per data folder, even across processes.
    _lock: std::fs::File,
}

/// Starts the server on `data_dir` (created if needed), listening on all interfaces at
/// `port`, or on any free port if that one is taken.
pub async fn start(data_dir: &Path, port: u16) -> Result<HostedServer, HostError> {
    std::fs::create_dir_all(data_dir).map_err(|e| HostError::CreateDir(data_dir.into(), e))?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(data_dir.join("server.lock"))
        .map_err(|e| HostError::CreateDir(data_dir.into(), e))?;
    let port_file = data_dir.join("server.port");
    if lock.try_lock().is_err() {
        let running = std::fs::read_to_string(&port_file)
            .ok()
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(port);
        return Err(HostError::AlreadyHosted(running));
    }
    let db = format!("sqlite://{}", data_dir.join("satchel.db").display());
    let app = satchel_server::App::open(&db, &data_dir.join("files")).await?;
    let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let listener = match tokio::net::TcpListener::bind(SocketAddr::new(any, port)).await {
        Ok(listener) => listener,
        Err(_) => tokio::net::TcpListener::bind(SocketAddr::new(any, 0))
            .await
            .map_err(HostError::Bind)?,
    };
    let port = listener.local_addr().map_err(HostError::Bind)?.port();
    std::fs::write(&port_file, port.to_string())
        .map_err(|e| HostError::CreateDir(data_dir.into(), e))?;
    let state = app.state().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        if let Err(e) = satchel_server::serve(listener, app, shutdown).await {
            tracing::error!(error = ?e, "the embedded server stopped");
        }
    });
    let lan_ip = lan_address().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    tracing::info!(port, lan = %lan_ip, "hosting the workspace");
    Ok(HostedServer {
        info: HostInfo {
            lan_url: format!("http://{lan_ip}:{port}"),
            local_url: format!("http://127.0.0.1:{port}"),
            port,
            data_dir: data_dir.to_string_lossy().into_owned(),
        },
        state,
        _stop: stop,
        _lock: lock,
    })
}

/// Creates the workspace of a freshly hosted server with its first admin.
pub async fn init_workspace(
    server: &HostedServer,
    factory: &str,
    display_name: &str,
    username: &str,
    password: &str,
) -> Result<(), HostError> {
    let bad = |e: satchel_protocol::validate::FieldError| HostError::Init(e.to_string());
    satchel_protocol::validate::username(username).map_err(bad)?;
    satchel_protocol::validate::password(password).map_err(bad)?;
    satchel_protocol::validate::label("display_name", display_name, 100).map_err(bad)?;
    satchel_protocol::validate::label("factory", factory, 100).map_err(bad)?;
    let hash = satchel_server::auth::hash_password(password.to_owned())
        .await
        .map_err(|e| HostError::Init(e.to_string()))?;
    server
        .state
        .store
        .init_workspace(
            factory,
            satchel_server::store::NewMember {
                username: username.into(),
                display_name: display_name.into(),
                role: satchel_protocol::Role::Admin,
                org_id: None,
                password_hash: hash,
            },
        )
        .await
        .map_err(|e| HostError::Init(e.to_string()))?;
    Ok(())
}

/// The machine's address on the LAN: the source address the OS would use to reach a
/// private network. Connecting a UDP socket sends nothing.
fn lan_address() -> Option<IpAddr> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect((Ipv4Addr::new(10, 255, 255, 255), 1)).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}
