//! `satchel-server`: parses settings, opens the store, serves. Also the headless set-up
//! commands (`init`, `create-org`, `create-member`) for an office PC without a UI.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use satchel_protocol::api::CreateMemberRequest;
use satchel_protocol::{validate, OrgId, Role};
use satchel_server::blobs::{BlobStore, LocalBlobStore};
use satchel_server::config::{FileConfig, LogFormat, Settings};
use satchel_server::object_blobs::ObjectBlobStore;
use satchel_server::store::NewMember;
use satchel_server::{auth, backup, App, Limits};

#[derive(Parser)]
#[command(name = "satchel-server", version, about = "Satchel sync server")]
struct Cli {
    /// TOML settings file.
    #[arg(long, global = true, env = "SATCHEL_CONFIG")]
    config: Option<PathBuf>,
    /// Folder for the database (and, later, files).
    #[arg(long, global = true, env = "SATCHEL_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL; defaults to `sqlite://<data-dir>/satchel.db`.
    #[arg(long, global = true, env = "SATCHEL_DATABASE_URL")]
    database_url: Option<String>,
    /// NATS server (`nats://host:4222`) through which several nodes sharing one
    /// PostgreSQL store wake each other; leave unset for a single node.
    #[arg(long, global = true, env = "SATCHEL_NATS_URL")]
    nats_url: Option<String>,
    /// S3-compatible storage for files (`s3://bucket/prefix`), with credentials and
    /// endpoint from the `AWS_*` variables; default: `<data-dir>/files`.
    #[arg(long, global = true, env = "SATCHEL_BLOB_URL")]
    blob_url: Option<String>,
    #[arg(long, global = true, env = "SATCHEL_LOG_FORMAT")]
    log_format: Option<LogFormat>,
    /// Bearer token that lets another machine scrape `/metrics` (loopback always may).
    #[arg(
        long,
        global = true,
        env = "SATCHEL_METRICS_TOKEN",
        hide_env_values = true
    )]
    metrics_token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP and WebSocket clients.
    Serve {
        /// Address to listen on (default 127.0.0.1:7878; use 0.0.0.0:7878 for the LAN).
        #[arg(long, env = "SATCHEL_LISTEN")]
        listen: Option<SocketAddr>,
        /// PEM certificate chain; serves HTTPS together with --tls-key.
        #[arg(long, env = "SATCHEL_TLS_CERT")]
        tls_cert: Option<PathBuf>,
        #[arg(long, env = "SATCHEL_TLS_KEY")]
        tls_key: Option<PathBuf>,
        /// Print `listening on ADDR` on stdout once bound (for scripts using port 0).
        #[arg(long)]
        print_addr: bool,
    },
    /// Serve a demo workspace, creating it first if the data folder is empty.
    Demo {
        #[arg(long, env = "SATCHEL_LISTEN")]
        listen: Option<SocketAddr>,
        #[arg(long)]
        print_addr: bool,
    },
    /// Create the workspace and its first admin.
    Init {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        admin: String,
        #[arg(long, default_value = "Admin")]
        display_name: String,
        #[arg(long, env = "SATCHEL_ADMIN_PASSWORD")]
        password: String,
    },
    /// Copy the database and every file into a new folder, consistently, while the
    /// server keeps serving. Verify it with `restore --check`.
    Backup {
        /// The new folder for the backup (must not exist).
        #[arg(long)]
        to: PathBuf,
    },
    /// Check a backup completely and put it into an empty data folder.
    Restore {
        /// The backup folder.
        #[arg(long)]
        from: PathBuf,
        /// Only verify the backup (database integrity, counts, every file's hash).
        #[arg(long)]
        check: bool,
    },
    /// Copy the whole workspace into another, empty database (SQLite → PostgreSQL, or
    /// back) and verify the copy: counts, every conversation's hash chain, every file's
    /// hash. Stop the server first. Files stay where they are (the data folder or the
    /// bucket of --blob-url).
    MigrateStore {
        /// The database the workspace is in now (default: the configured one).
        #[arg(long)]
        from: Option<String>,
        /// The empty database to copy it into.
        #[arg(long)]
        to: String,
    },
    /// Create a customer organisation.
    CreateOrg { name: String },
    /// Create a staff or customer account.
    CreateMember {
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: String,
        #[arg(long, env = "SATCHEL_MEMBER_PASSWORD")]
        password: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Organisation id, for customers.
        #[arg(long)]
        org: Option<i64>,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("unknown role `{s}` (admin, staff, customer)"))
}

/// The store, the files, and — with a NATS URL — the bus to the other nodes.
async fn open_app(settings: &Settings) -> anyhow::Result<App> {
    let store = satchel_server::open_store(&settings.database_url)
        .await
        .context("opening the store")?;
    let blobs = open_blobs(settings).await?;
    let bus = match &settings.nats_url {
        Some(url) => {
            if settings.database_url.starts_with("sqlite:") {
                bail!(
                    "several nodes share a PostgreSQL store; a SQLite file belongs to one node \
                     (drop --nats-url, or use --database-url postgres://…)"
                );
            }
            Some(satchel_server::cluster::Bus::connect(url).await?)
        }
        None => None,
    };
    Ok(App::new(store, blobs, Limits::default(), bus)?)
}

/// Where files live: the S3 bucket of `blob_url`, or the data folder's `files`.
async fn open_blobs(settings: &Settings) -> anyhow::Result<Arc<dyn BlobStore>> {
    Ok(match &settings.blob_url {
        Some(url) => Arc::new(ObjectBlobStore::open(url).await?),
        None => Arc::new(LocalBlobStore::open(&settings.data_dir.join("files")).await?),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let file = match &cli.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let (listen, tls_cert, tls_key) = match &cli.command {
        Command::Serve {
            listen,
            tls_cert,
            tls_key,
            ..
        } => (*listen, tls_cert.clone(), tls_key.clone()),
        Command::Demo { listen, .. } => (*listen, None, None),
        _ => (None, None, None),
    };
    let flags = FileConfig {
        listen,
        data_dir: cli.data_dir,
        database_url: cli.database_url,
        tls_cert,
        tls_key,
        log_format: cli.log_format,
        metrics_token: cli.metrics_token,
        nats_url: cli.nats_url,
        blob_url: cli.blob_url,
    };
    let settings = Settings::resolve(flags, file)?;
    init_logging(settings.log_format);
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data folder {}", settings.data_dir.display()))?;
    match &cli.command {
        Command::Backup { to } => {
            // Only the store and the files: no writer task, so a backup taken beside a
            // serving process changes nothing.
            let store = satchel_server::open_store(&settings.database_url)
                .await
                .context("opening the store")?;
            let blobs = open_blobs(&settings).await?;
            let manifest = backup::backup(store.as_ref(), blobs.as_ref(), to)
                .await
                .with_context(|| format!("backing up into {}", to.display()))?;
            print_manifest("backed up", to, &manifest);
            return Ok(());
        }
        Command::MigrateStore { from, to } => {
            let from = from.as_deref().unwrap_or(&settings.database_url);
            let blobs = open_blobs(&settings).await?;
            let report = satchel_server::migrate::migrate_store(from, to, blobs.as_ref())
                .await
                .context("migrating the store")?;
            let c = &report.counts;
            println!(
                "migrated and verified: {} messages in {} conversations ({} hash chains match), \
                 {} members, {} events, {} files ({} bytes) intact",
                c.messages,
                c.conversations,
                report.chains,
                c.members,
                c.events,
                report.blobs,
                report.blob_bytes
            );
            return Ok(());
        }
        Command::Restore { from, check: true } => {
            let manifest = backup::verify(from)
                .await
                .with_context(|| format!("checking {}", from.display()))?;
            print_manifest("verified", from, &manifest);
            return Ok(());
        }
        Command::Restore { from, check: false } => {
            let blobs = open_blobs(&settings).await?;
            let manifest = backup::restore(from, &settings.database_url, blobs.as_ref())
                .await
                .with_context(|| format!("restoring {}", from.display()))?;
            print_manifest("restored", from, &manifest);
            return Ok(());
        }
        _ => {}
    }
    let app = open_app(&settings).await?;

    match cli.command {
        Command::Serve { print_addr, .. } => serve(app, &settings, print_addr).await,
        Command::Demo { print_addr, .. } => {
            if satchel_server::demo::seed(app.state()).await? {
                eprintln!(
                    "demo workspace created in {}; every account's password is `{}` \
                     (staff: boss, wang, chen; customers: alice, somchai, xiaoyu)",
                    settings.data_dir.display(),
                    satchel_server::demo::DEMO_PASSWORD
                );
            }
            serve(app, &settings, print_addr).await
        }
        Command::Init {
            workspace,
            admin,
            display_name,
            password,
        } => {
            validate::label("workspace", &workspace, validate::MAX_TITLE_CHARS)?;
            validate::username(&admin)?;
            validate::label(
                "display_name",
                &display_name,
                validate::MAX_DISPLAY_NAME_CHARS,
            )?;
            validate::password(&password)?;
            let password_hash = auth::hash_password(password).await?;
            let member = app
                .state()
                .store
                .init_workspace(
                    &workspace,
                    NewMember {
                        username: admin,
                        display_name,
                        role: Role::Admin,
                        org_id: None,
                        password_hash,
                    },
                )
                .await?;
            println!(
                "workspace `{workspace}` created; admin `{}` has id {}",
                member.username, member.id
            );
            Ok(())
        }
        Command::Backup { .. } | Command::Restore { .. } | Command::MigrateStore { .. } => Ok(()),
        Command::CreateOrg { name } => {
            validate::label("name", &name, validate::MAX_TITLE_CHARS)?;
            let org = app.state().store.create_org(name.trim()).await?;
            println!("organisation `{}` has id {}", org.name, org.id);
            Ok(())
        }
        Command::CreateMember {
            username,
            display_name,
            password,
            role,
            org,
        } => {
            let request = CreateMemberRequest {
                username,
                display_name,
                password,
                role,
                org_id: org.map(OrgId),
            };
            match satchel_server::http::accounts::create_member_checked(app.state(), request).await
            {
                Ok(member) => {
                    println!(
                        "member `{}` ({}) has id {}",
                        member.username,
                        member.role.as_str(),
                        member.id
                    );
                    Ok(())
                }
                Err(e) => bail!("{:?}: {}", e.0.code, e.0.message),
            }
        }
    }
}

fn print_manifest(what: &str, folder: &std::path::Path, manifest: &backup::Manifest) {
    let c = &manifest.counts;
    println!(
        "{what} {}: {} messages in {} conversations, {} members, {} files ({} bytes)",
        folder.display(),
        c.messages,
        c.conversations,
        c.members,
        c.blobs,
        manifest.blob_bytes
    );
}

async fn serve(app: App, settings: &Settings, print_addr: bool) -> anyhow::Result<()> {
    if app.state().store.workspace().await?.is_none() {
        bail!("the workspace is not initialised; run `satchel-server init` first");
    }
    if let Some(token) = &settings.metrics_token {
        let _ = app.state().metrics_token.set(token.clone());
    }
    let listener = std::net::TcpListener::bind(settings.listen)
        .with_context(|| format!("binding {}", settings.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    if print_addr {
        println!("listening on {addr}");
    }
    tracing::info!(%addr, tls = settings.tls.is_some(), "serving");
    match &settings.tls {
        Some((cert, key)) => {
            satchel_server::serve_tls(listener, app, cert, key, shutdown_signal()).await?
        }
        None => {
            satchel_server::serve(
                tokio::net::TcpListener::from_std(listener)?,
                app,
                shutdown_signal(),
            )
            .await?
        }
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
