//! The Satchel sync server, as a library (the `satchel-server` binary wires it up).
//!
//! Map:
//! - [`store`]: persistence behind the [`store::Store`] trait; [`store::sqlite`] is the
//!   default implementation.
//! - [`committer`]: group commit; the single writer of the event log, which answers a
//!   send only once it is on disk.
//! - [`http`]: JSON routes, one router per resource, and the error type.
//! - [`ws`]: the live WebSocket connection (auth, subscribe-with-resume, pipelined sends).
//! - [`blobs`]: file bytes (content-addressed blobs, upload staging) behind
//!   [`blobs::BlobStore`]; [`blobs::LocalBlobStore`] is the default.
//! - [`auth`]: argon2id passwords, session tokens, login throttling.
//! - [`config`]: settings from file, environment and flags.
//! - [`metrics`]: Prometheus counters at `/metrics`.
//! - [`demo`]: a lived-in demo workspace for first runs.
//! - [`backup`]: consistent backups while serving, verified restores.
//!
//! Tests and embedders start a server with [`App::open`] and [`serve`] on a listener
//! they bound themselves (for example `127.0.0.1:0`).

pub mod auth;
pub mod backup;
pub mod blobs;
pub mod clock;
pub mod cluster;
pub mod committer;
pub mod config;
pub mod demo;
pub mod http;
pub mod metrics;
pub mod migrate;
pub mod object_blobs;
pub mod store;
pub mod ws;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{Json, Router};
use satchel_protocol::*;
use tokio::sync::{broadcast, watch};

use crate::auth::LoginLimiter;
use crate::committer::{Committer, EventBatch};
use crate::http::ApiError;
use crate::store::{Session, Store, StoreError, Write};

/// Shared state of a running server. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// What [`AppState`] holds.
pub struct Inner {
    pub store: Arc<dyn Store>,
    pub blobs: Arc<dyn blobs::BlobStore>,
    pub limits: Limits,
    pub upload_locks: http::files::UploadLocks,
    pub committer: Committer,
    pub events: broadcast::Sender<EventBatch>,
    pub limiter: LoginLimiter,
    pub shutdown: watch::Receiver<bool>,
    pub metrics: Arc<metrics::Metrics>,
    /// Lets `/metrics` answer beyond loopback; set once at start-up.
    pub metrics_token: std::sync::OnceLock<String>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// The session for a bearer token, or `unauthenticated`.
    pub async fn authenticate(&self, token: &str) -> Result<(Session, String), ApiError> {
        let hash = auth::token_hash(token);
        match self.store.session(&hash, clock::now_millis()).await? {
            Some(session) => Ok((session, hash)),
            None => Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "the token is unknown, expired or revoked",
            )),
        }
    }

    /// The workspace; `internal` if the server was never initialised.
    pub async fn workspace(&self) -> Result<Workspace, ApiError> {
        self.store
            .workspace()
            .await?
            .ok_or_else(|| ApiError::new(ErrorCode::Internal, "the workspace is not initialised"))
    }
}

/// Checks a send from a session and turns it into a [`Write`]: the body must be valid
/// (which refuses the server's own `system` kind). Membership and references are
/// checked by the store inside the commit.
pub fn send_write(
    session: &Session,
    conversation_id: ConversationId,
    txn_id: TxnId,
    body: MessageBody,
) -> Result<Write, ApiError> {
    validate::client_id("txn_id", txn_id.as_str())?;
    validate::message_body(&body)?;
    Ok(Write::Send {
        sender: session.member.id,
        device: session.device_id.clone(),
        conversation_id,
        txn_id,
        body,
    })
}

/// Size limits of files.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest single file.
    pub max_file_bytes: u64,
    /// Total bytes one member may upload.
    pub quota_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 8 << 30,
            quota_bytes: 200 << 30,
        }
    }
}

/// Why a server could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blobs(#[from] blobs::BlobError),
    #[error("setting up metrics failed")]
    Metrics(#[from] prometheus::Error),
}

/// A server ready to serve: its store opened and its writer running.
pub struct App {
    state: AppState,
    stop: watch::Sender<bool>,
}

impl App {
    /// Starts the committer over an opened store and blob store: as the only node, or
    /// as one of several sharing the store when given the `bus` (see [`cluster`]).
    pub fn new(
        store: Arc<dyn Store>,
        blobs: Arc<dyn blobs::BlobStore>,
        limits: Limits,
        bus: Option<cluster::Bus>,
    ) -> Result<App, OpenError> {
        let (events, _) = broadcast::channel(1024);
        let metrics = Arc::new(metrics::Metrics::new()?);
        let (stop, shutdown) = watch::channel(false);
        let fanout = match bus {
            Some(bus) => cluster::start(bus, store.clone(), events.clone(), shutdown.clone()),
            None => cluster::Fanout::Local(events.clone()),
        };
        let committer = Committer::spawn(store.clone(), fanout, metrics.clone());
        let limiter = LoginLimiter::new(5, Duration::from_secs(60));
        let app = App {
            state: AppState(Arc::new(Inner {
                store,
                blobs,
                limits,
                upload_locks: Default::default(),
                committer,
                events,
                limiter,
                shutdown,
                metrics,
                metrics_token: Default::default(),
            })),
            stop,
        };
        app.spawn_upload_sweeper();
        Ok(app)
    }

    /// Every ten minutes, discards uploads that have expired.
    fn spawn_upload_sweeper(&self) {
        let state = self.state.clone();
        let mut shutdown = self.state.shutdown.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(600));
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if let Err(e) = http::files::sweep_expired_uploads(&state, clock::now_millis()).await {
                            tracing::warn!(error = ?e.0, "sweeping expired uploads failed");
                        }
                    }
                    _ = shutdown.changed() => return,
                }
            }
        });
    }

    /// Opens the store named by a database URL (`sqlite://…`) and keeps files in
    /// `files_dir`.
    pub async fn open(database_url: &str, files_dir: &std::path::Path) -> Result<App, OpenError> {
        App::open_with(database_url, files_dir, Limits::default()).await
    }

    /// [`App::open`] with other file limits.
    pub async fn open_with(
        database_url: &str,
        files_dir: &std::path::Path,
        limits: Limits,
    ) -> Result<App, OpenError> {
        let store = open_store(database_url).await?;
        let blobs = Arc::new(blobs::LocalBlobStore::open(files_dir).await?);
        App::new(store, blobs, limits, None)
    }

    /// The shared state, for embedding and CLI subcommands.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The routes: `/healthz`, `/metrics` and everything under `/api/v1`.
    pub fn router(&self) -> Router {
        let api = Router::new()
            .merge(http::accounts::router())
            .merge(http::conversations::router())
            .merge(http::events::router())
            .merge(http::files::router())
            .merge(http::invites::router())
            .route("/ws", get(ws::upgrade));
        Router::new()
            .route("/healthz", get(healthz))
            .route("/metrics", get(metrics::serve))
            .nest("/api/v1", api)
            .layer(axum::middleware::from_fn_with_state(
                self.state.clone(),
                metrics::count_server_errors,
            ))
            .layer(DefaultBodyLimit::max(MAX_HTTP_BODY_BYTES))
            .layer(tower_http::trace::TraceLayer::new_for_http())
            .with_state(self.state.clone())
    }
}

/// Opens a store from a URL: `sqlite://…` or `postgres://…`.
pub async fn open_store(database_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(store::sql::SqlStore::open(database_url).await?))
}

async fn healthz() -> Json<api::Health> {
    Json(api::Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// Why serving stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("accepting connections failed")]
    Io(#[from] std::io::Error),
    #[error("loading the TLS certificate or key failed")]
    Tls(#[source] std::io::Error),
}

/// Serves plain HTTP on `listener` until `shutdown` resolves, then closes live
/// connections and waits for in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let router = app.router();
    let stop = app.stop;
    // The peer address tells `/metrics` whether a caller is local.
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stop.send(true);
    })
    .await?;
    Ok(())
}

/// Serves HTTPS (rustls) on `listener` with a PEM certificate chain and key.
pub async fn serve_tls(
    listener: std::net::TcpListener,
    app: App,
    cert: &std::path::Path,
    key: &std::path::Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    // One crypto provider (ring) is compiled in; make it the process default. An error
    // only means a provider is already installed, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
        .await
        .map_err(ServeError::Tls)?;
    let router = app.router();
    let stop = app.stop;
    let handle = axum_server::Handle::new();
    let on_shutdown = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
        on_shutdown.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    axum_server::from_tcp_rustls(listener, tls)
        .handle(handle)
        .serve(router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .await?;
    Ok(())
}
