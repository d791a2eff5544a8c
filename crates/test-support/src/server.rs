//! Real servers for tests: in-process ([`TestServer`]) or as a child process
//! ([`ServerProcess`]), and a seeded workspace ([`Workspace`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use satchel_client::api::ApiClient;
use satchel_client::Engine;
use satchel_protocol::api::*;
use satchel_protocol::*;
use satchel_server::store::NewMember;
use tokio::io::{AsyncBufReadExt, BufReader};

/// The password of every account the helpers create.
pub const PASSWORD: &str = "correct horse 1";
/// The admin account created by [`init_workspace`].
pub const ADMIN: &str = "admin";

/// Creates the workspace and its admin in the database at `database_url`.
pub async fn init_workspace(database_url: &str) -> anyhow::Result<()> {
    let store = satchel_server::open_store(database_url).await?;
    let password_hash = satchel_server::auth::hash_password(PASSWORD.to_owned()).await?;
    store
        .init_workspace(
            "宏达箱包厂 Hongda Bags",
            NewMember {
                username: ADMIN.into(),
                display_name: "管理员".into(),
                role: Role::Admin,
                org_id: None,
                password_hash,
            },
        )
        .await?;
    Ok(())
}

/// The SQLite URL of a data folder's database.
pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("satchel.db").display())
}

/// A server running inside the test process on `127.0.0.1:0`.
pub struct TestServer {
    pub addr: SocketAddr,
    data_dir: Option<tempfile::TempDir>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server over a fresh, initialised workspace.
    pub async fn start() -> anyhow::Result<TestServer> {
        let data_dir = tempfile::tempdir()?;
        init_workspace(&sqlite_url(data_dir.path())).await?;
        Self::start_in(data_dir).await
    }

    /// Starts a server over a fresh workspace with the given file limits.
    pub async fn start_with(limits: satchel_server::Limits) -> anyhow::Result<TestServer> {
        let data_dir = tempfile::tempdir()?;
        init_workspace(&sqlite_url(data_dir.path())).await?;
        Self::start_in_with(data_dir, limits).await
    }

    /// Starts a server over an existing data folder.
    pub async fn start_in(data_dir: tempfile::TempDir) -> anyhow::Result<TestServer> {
        Self::start_in_with(data_dir, satchel_server::Limits::default()).await
    }

    /// Starts a server over a fresh workspace whose files live in `blobs`.
    pub async fn start_with_blobs(
        blobs: std::sync::Arc<dyn satchel_server::blobs::BlobStore>,
    ) -> anyhow::Result<TestServer> {
        let data_dir = tempfile::tempdir()?;
        let url = sqlite_url(data_dir.path());
        init_workspace(&url).await?;
        let store = satchel_server::open_store(&url).await?;
        let app = satchel_server::App::new(store, blobs, satchel_server::Limits::default(), None)?;
        Self::serve(data_dir, app).await
    }

    async fn start_in_with(
        data_dir: tempfile::TempDir,
        limits: satchel_server::Limits,
    ) -> anyhow::Result<TestServer> {
        let app = satchel_server::App::open_with(
            &sqlite_url(data_dir.path()),
            &data_dir.path().join("files"),
            limits,
        )
        .await?;
        Self::serve(data_dir, app).await
    }

    async fn serve(
        data_dir: tempfile::TempDir,
        app: satchel_server::App,
    ) -> anyhow::Result<TestServer> {
        // Server warnings and errors show in a failing test's output.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .try_init();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = satchel_server::serve(listener, app, async {
                let _ = stopped.await;
            })
            .await;
        });
        Ok(TestServer {
            addr,
            data_dir: Some(data_dir),
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops gracefully and returns the data folder for a restart.
    #[allow(clippy::expect_used)]
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.data_dir
            .take()
            .expect("the data folder is taken only here")
    }

    /// The server's data folder.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.as_ref().map_or(Path::new(""), |d| d.path())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Path of a binary built from this workspace (`satchel-server`, `satchel-cli`).
/// They sit next to the test executable's `deps` folder; `cargo build --workspace`
/// (which the test command runs first) puts them there.
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .context("test executable has no parent folder")?;
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        bail!(
            "{} not found; run `cargo build --workspace` first",
            path.display()
        );
    }
    Ok(path)
}

/// The `satchel-server` binary as a child process, which a test may kill with SIGKILL
/// and start again on the same data folder and port.
pub struct ServerProcess {
    child: tokio::process::Child,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl ServerProcess {
    /// Starts the server on `listen` (port 0 picks one) and waits until it listens.
    pub async fn start(data_dir: &Path, listen: SocketAddr) -> anyhow::Result<ServerProcess> {
        Self::start_with_args(data_dir, listen, &[], &[]).await
    }

    /// [`ServerProcess::start`] with more options (`--database-url`, `--nats-url`) and
    /// environment variables (`AWS_*`), which a restart keeps.
    pub async fn start_with_args(
        data_dir: &Path,
        listen: SocketAddr,
        args: &[String],
        env: &[(String, String)],
    ) -> anyhow::Result<ServerProcess> {
        let mut child = tokio::process::Command::new(binary("satchel-server")?)
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .args(["serve", "--print-addr", "--listen", &listen.to_string()])
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .context("server did not start in time")??
            .context("server exited before listening")?;
        let addr = line
            .strip_prefix("listening on ")
            .context("unexpected first line")?
            .parse()?;
        Ok(ServerProcess {
            child,
            addr,
            data_dir: data_dir.to_owned(),
            args: args.to_vec(),
            env: env.to_vec(),
        })
    }

    /// SIGKILL (no shutdown, no flush) and wait for the process to be gone.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }

    /// Kills the process and starts a new one on the same port and data.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill().await?;
        // The port is free once the process is gone; retry briefly in case the OS is
        // slow to release it.
        for attempt in 0..50 {
            match ServerProcess::start_with_args(&self.data_dir, self.addr, &self.args, &self.env)
                .await
            {
                Ok(fresh) => {
                    *self = fresh;
                    return Ok(());
                }
                Err(e) if attempt < 49 => {
                    tracing::debug!(%e, "restart attempt failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e),
            }
        }
        bail!("could not restart the server")
    }
}

/// A seeded workspace: two staff, two customer organisations with one customer each,
/// one order conversation per organisation, and an internal staff group.
pub struct Workspace {
    pub url: String,
    pub admin: ApiClient,
    pub staff: Vec<Member>,
    pub org_a: Organisation,
    pub org_b: Organisation,
    pub customer_a: Member,
    pub customer_b: Member,
    pub order_a: Conversation,
    pub order_b: Conversation,
    pub internal: Conversation,
}

/// Signs in over HTTP and returns an authenticated client.
pub async fn sign_in(url: &str, username: &str) -> anyhow::Result<ApiClient> {
    let api = ApiClient::new(url)?;
    let device = DeviceId(format!("test-{username}-{}", rand::random::<u32>()));
    let login = api
        .login(&LoginRequest {
            username: username.into(),
            password: PASSWORD.into(),
            device_id: device,
            device_name: "test".into(),
        })
        .await?;
    Ok(api.with_token(login.token))
}

async fn member(
    admin: &ApiClient,
    username: &str,
    name: &str,
    role: Role,
    org: Option<OrgId>,
) -> anyhow::Result<Member> {
    Ok(admin
        .create_member(&CreateMemberRequest {
            username: username.into(),
            display_name: name.into(),
            password: PASSWORD.into(),
            role,
            org_id: org,
        })
        .await?)
}

impl Workspace {
    /// Seeds a workspace on a server whose admin is [`ADMIN`].
    pub async fn seed(url: &str) -> anyhow::Result<Workspace> {
        let admin = sign_in(url, ADMIN).await?;
        let org_a = admin.create_org("Acme Bags (US)").await?;
        let org_b = admin.create_org("曼谷皮具 Bangkok Leather").await?;
        let staff = vec![
            member(&admin, "wang", "王丽", Role::Staff, None).await?,
            member(&admin, "chen", "陈刚", Role::Staff, None).await?,
        ];
        let customer_a = member(
            &admin,
            "alice",
            "Alice (Acme)",
            Role::Customer,
            Some(org_a.id),
        )
        .await?;
        let customer_b =
            member(&admin, "somchai", "Somchai", Role::Customer, Some(org_b.id)).await?;
        let wang = sign_in(url, "wang").await?;
        let order_a = wang
            .create_conversation(&CreateConversationRequest {
                kind: ConversationKind::Order,
                title: "托特包 Tote TB-001".into(),
                org_id: Some(org_a.id),
                order_number: Some("TB-001".into()),
                quantity: None,
                due_date: None,
                assignee: None,
                member_ids: vec![customer_a.id, staff[1].id],
            })
            .await?;
        let order_b = wang
            .create_conversation(&CreateConversationRequest {
                kind: ConversationKind::Order,
                title: "双肩包 Backpack BP-007".into(),
                org_id: Some(org_b.id),
                order_number: Some("BP-007".into()),
                quantity: None,
                due_date: None,
                assignee: None,
                member_ids: vec![customer_b.id],
            })
            .await?;
        let internal = wang
            .create_conversation(&CreateConversationRequest {
                kind: ConversationKind::Group,
                title: "业务部 Sales team".into(),
                org_id: None,
                order_number: None,
                quantity: None,
                due_date: None,
                assignee: None,
                member_ids: vec![staff[1].id],
            })
            .await?;
        Ok(Workspace {
            url: url.to_owned(),
            admin,
            staff,
            org_a,
            org_b,
            customer_a,
            customer_b,
            order_a,
            order_b,
            internal,
        })
    }
}

/// Opens a profile in `dir` and signs it in as `username`.
pub async fn engine(dir: &Path, url: &str, username: &str) -> anyhow::Result<Engine> {
    let engine = Engine::open(dir, None).await?;
    engine.login(url, username, PASSWORD).await?;
    Ok(engine)
}
