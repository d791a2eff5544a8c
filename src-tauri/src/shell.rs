//! The shell's state: one profile's engine, the server it may host, and what the window
//! currently shows. Session start-up (demo, host, sign-in) lives here so commands stay
//! thin.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use satchel_client::{Account, ConnectionState, Engine};
use satchel_protocol::ConversationId;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{UiError, UiResult};
use crate::host::{self, HostInfo, HostedServer};

/// How the app was launched (command line or environment).
#[derive(Debug, Clone, Default)]
pub struct LaunchOptions {
    /// The profile folder; by default one under the app's data folder.
    pub profile: Option<PathBuf>,
    /// Run the demo workspace, signed in as this demo account (`wang`, `alice`, …).
    pub demo_as: Option<String>,
    /// The port a hosted server listens on (7878 unless taken).
    pub port: u16,
    /// A join link the app was opened with (`satchel://join?server=…&code=…`).
    pub join: Option<JoinLink>,
}

/// A server and invite code from a join link, for the first-run screen to fill in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct JoinLink {
    pub server: String,
    pub code: String,
}

impl JoinLink {
    /// Parses `satchel://join?server=<url>&code=<code>`; `None` for anything else.
    pub fn parse(link: &str) -> Option<JoinLink> {
        let url = reqwest::Url::parse(link.trim()).ok()?;
        if url.scheme() != "satchel" || url.host_str() != Some("join") {
            return None;
        }
        let get = |key: &str| {
            url.query_pairs()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let server = get("server")?;
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            return None;
        }
        Some(JoinLink {
            server,
            code: get("code")?,
        })
    }
}

/// What the UI needs to decide which screen to show.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SessionInfo {
    /// The signed-in account; `None` shows the first-run screen.
    pub account: Option<Account>,
    /// The server this app hosts, if it hosts one.
    pub host: Option<HostInfo>,
    /// Launched as the demo workspace.
    pub demo: bool,
    pub profile_dir: String,
    pub connection: ConnectionState,
    /// A join link to offer on the first-run screen.
    pub join: Option<JoinLink>,
}

/// A hosted server to restart with the profile: kept in the profile's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Hosting {
    data_dir: PathBuf,
    port: u16,
}

/// Files dropped onto the window, waiting for the UI to say where they go. The UI gets
/// only names and sizes and refers back by id, so it never hands paths to the backend.
#[derive(Default)]
struct DropBox {
    next: u64,
    drops: HashMap<u64, Vec<PathBuf>>,
}

/// Everything the commands share.
pub struct Shell {
    pub engine: Engine,
    pub launch: LaunchOptions,
    /// The app's data folder (profiles and hosted servers live under it).
    pub data_root: PathBuf,
    hosted: tokio::sync::Mutex<Option<HostedServer>>,
    /// Serialises sign-in, hosting and start-up.
    session: tokio::sync::Mutex<()>,
    active: Mutex<Option<ConversationId>>,
    drops: Mutex<DropBox>,
}

const HOSTING_KEY: &str = "desktop.hosting";

impl Shell {
    pub fn new(engine: Engine, launch: LaunchOptions, data_root: PathBuf) -> Shell {
        Shell {
            engine,
            launch,
            data_root,
            hosted: tokio::sync::Mutex::new(None),
            session: tokio::sync::Mutex::new(()),
            active: Mutex::new(None),
            drops: Mutex::new(DropBox::default()),
        }
    }

    /// The profile folder for these launch options.
    pub fn profile_dir_for(launch: &LaunchOptions, data_root: &Path) -> PathBuf {
        match (&launch.profile, &launch.demo_as) {
            (Some(dir), _) => dir.clone(),
            (None, Some(user)) => data_root.join("profiles").join(format!("demo-{user}")),
            (None, None) => data_root.join("profiles").join("default"),
        }
    }

    /// The hosted server's state, if this app hosts one (cloned, so long work such as a
    /// backup does not hold the lock).
    pub async fn hosted_state(&self) -> Option<satchel_server::AppState> {
        self.hosted.lock().await.as_ref().map(|h| h.state.clone())
    }

    pub async fn session_info(&self) -> SessionInfo {
        SessionInfo {
            account: self.engine.account(),
            host: self.hosted.lock().await.as_ref().map(|h| h.info.clone()),
            demo: self.launch.demo_as.is_some(),
            profile_dir: self.engine.profile_dir().to_string_lossy().into_owned(),
            connection: self.engine.status().borrow().clone(),
            join: self.launch.join.clone(),
        }
    }

    /// Brings the session up as far as the profile allows: hosts what it hosts (or the
    /// demo workspace), signs the demo account in, and starts syncing if signed in.
    /// Safe to call again; it does nothing twice.
    pub async fn bootstrap(&self) -> UiResult<SessionInfo> {
        let _guard = self.session.lock().await;
        if let Some(user) = self.launch.demo_as.clone() {
            let url = self.ensure_demo_server().await?;
            if self.engine.account().is_none() || self.engine.api().is_err() {
                self.engine
                    .login(&url, &user, satchel_server::demo::DEMO_PASSWORD)
                    .await?;
            }
        } else if let Some(json) = self.engine.local().get(HOSTING_KEY).await? {
            let hosting: Hosting =
                serde_json::from_str(&json).map_err(|e| UiError::new("internal", e.to_string()))?;
            let mut hosted = self.hosted.lock().await;
            if hosted.is_none() {
                *hosted = Some(host::start(&hosting.data_dir, hosting.port).await?);
            }
        }
        if self.engine.account().is_some() && self.engine.api().is_ok() {
            self.engine.start().await?;
        }
        Ok(self.session_info().await)
    }

    /// The demo server's URL: this app hosts it unless another Satchel window on this
    /// machine already does (the customer's side of the demo, say).
    async fn ensure_demo_server(&self) -> UiResult<String> {
        let mut hosted = self.hosted.lock().await;
        if let Some(server) = hosted.as_ref() {
            return Ok(server.info.local_url.clone());
        }
        let dir = self.data_root.join("demo-server");
        match host::start(&dir, self.launch.port).await {
            Ok(server) => {
                if satchel_server::demo::seed(&server.state)
                    .await
                    .map_err(host::HostError::from)?
                {
                    tracing::info!("demo workspace created in {}", dir.display());
                }
                let url = server.info.local_url.clone();
                *hosted = Some(server);
                Ok(url)
            }
            Err(host::HostError::AlreadyHosted(port)) => Ok(format!("http://127.0.0.1:{port}")),
            Err(e) => Err(e.into()),
        }
    }

    /// Signs in to a server and starts syncing.
    pub async fn sign_in(
        &self,
        server_url: &str,
        username: &str,
        password: &str,
    ) -> UiResult<SessionInfo> {
        let _guard = self.session.lock().await;
        self.engine.login(server_url, username, password).await?;
        self.engine.start().await?;
        Ok(self.session_info().await)
    }

    /// Hosts a new workspace on this machine with the user as its admin, signs in, and
    /// remembers to host it again at every start.
    pub async fn host_workspace(
        &self,
        factory: &str,
        display_name: &str,
        username: &str,
        password: &str,
    ) -> UiResult<SessionInfo> {
        let _guard = self.session.lock().await;
        let profile_name = self
            .engine
            .profile_dir()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "default".into());
        let hosting = Hosting {
            data_dir: self.data_root.join("servers").join(profile_name),
            port: self.launch.port,
        };
        let server = host::start(&hosting.data_dir, hosting.port).await?;
        host::init_workspace(&server, factory, display_name, username, password).await?;
        let url = server.info.local_url.clone();
        *self.hosted.lock().await = Some(server);
        self.engine
            .local()
            .set(
                HOSTING_KEY,
                &serde_json::to_string(&hosting)
                    .map_err(|e| UiError::new("internal", e.to_string()))?,
            )
            .await?;
        self.engine.login(&url, username, password).await?;
        self.engine.start().await?;
        Ok(self.session_info().await)
    }

    /// Joins a workspace with an invite code (creating the account) and starts syncing.
    pub async fn join(
        &self,
        server_url: &str,
        code: &str,
        username: &str,
        display_name: &str,
        password: &str,
    ) -> UiResult<SessionInfo> {
        let _guard = self.session.lock().await;
        self.engine
            .join(server_url, code, username, display_name, password)
            .await?;
        self.engine.start().await?;
        Ok(self.session_info().await)
    }

    pub async fn sign_out(&self) -> UiResult<SessionInfo> {
        let _guard = self.session.lock().await;
        self.engine.logout().await?;
        Ok(self.session_info().await)
    }

    /// The conversation the window shows (for notifications: none for the one in view).
    pub fn set_active(&self, conversation: Option<ConversationId>) {
        *self.active.lock().unwrap_or_else(|p| p.into_inner()) = conversation;
    }

    pub fn active(&self) -> Option<ConversationId> {
        *self.active.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps dropped paths and returns the id the UI uses to send them.
    pub fn hold_drop(&self, paths: Vec<PathBuf>) -> u64 {
        let mut drops = self.drops.lock().unwrap_or_else(|p| p.into_inner());
        drops.next += 1;
        let id = drops.next;
        drops.drops.insert(id, paths);
        // Only the latest few drops are kept; an abandoned drop is forgotten.
        drops.drops.retain(|&k, _| k + 8 > id);
        id
    }

    pub fn take_drop(&self, id: u64) -> Option<Vec<PathBuf>> {
        self.drops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drops
            .remove(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::JoinLink;

    #[test]
    fn join_links_carry_a_server_and_a_code() {
        assert_eq!(
            JoinLink::parse(
                "satchel://join?server=http%3A%2F%2F192.168.1.20%3A7878&code=K7QM-2XPA-9RDW"
            ),
            Some(JoinLink {
                server: "http://192.168.1.20:7878".into(),
                code: "K7QM-2XPA-9RDW".into()
            })
        );
        for bad in [
            "https://example.com/join?server=http://x&code=A",
            "satchel://join?code=A",
            "satchel://join?server=file:///etc/passwd&code=A",
            "satchel://other?server=http://x&code=A",
            "not a link",
        ] {
            assert_eq!(JoinLink::parse(bad), None, "{bad}");
        }
    }
}
