//! The desktop the app runs on in end-to-end tests: a virtual X display, a D-Bus
//! session with a notification daemon (and a monitor recording every `Notify` call),
//! and one `tauri-driver` per app instance. Every process is killed when the harness is
//! dropped.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fantoccini::{Client, ClientBuilder, Locator};

/// A running process killed on drop, with every process in its process group (a
/// tauri-driver's WebKitWebDriver and the app it launched).
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Desktop {
    pub display: String,
    pub dbus_address: String,
    pub notifications_log: PathBuf,
    pub artifacts: PathBuf,
    root: tempfile::TempDir,
    processes: Vec<Guard>,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn which(name: &str) -> anyhow::Result<PathBuf> {
    let home_bin = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin").join(name));
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .chain(home_bin)
        .find(|p| p.exists())
        .with_context(|| format!("`{name}` is not installed (scripts/test.sh installs it)"))
}

impl Desktop {
    /// Starts Xvfb (3000×1000, room for two windows side by side), a D-Bus session, the
    /// dunst notification daemon and a D-Bus monitor.
    pub fn start() -> anyhow::Result<Desktop> {
        let artifacts = std::env::var_os("SATCHEL_E2E_ARTIFACTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-artifacts")
            });
        std::fs::create_dir_all(&artifacts)?;
        let root = tempfile::tempdir()?;
        let mut processes = Vec::new();

        let number = (90..200)
            .find(|n| !Path::new(&format!("/tmp/.X{n}-lock")).exists())
            .context("no free X display number")?;
        let display = format!(":{number}");
        processes.push(Guard(
            Command::new(which("Xvfb")?)
                .args([&display, "-screen", "0", "3000x1000x24", "-nolisten", "tcp"])
                .stderr(Stdio::null())
                .spawn()?,
        ));
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
        wait_for(Duration::from_secs(10), || socket.exists()).context("Xvfb did not start")?;

        let mut dbus = Command::new(which("dbus-daemon")?)
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(dbus.stdout.take().context("dbus stdout")?).read_line(&mut line)?;
        let dbus_address = line.trim().to_owned();
        processes.push(Guard(dbus));
        if dbus_address.is_empty() {
            bail!("dbus-daemon printed no address");
        }

        let notifications_log = artifacts.join("notifications.log");
        let log = std::fs::File::create(&notifications_log)?;
        processes.push(Guard(
            Command::new(which("dbus-monitor")?)
                .args([
                    "--session",
                    "interface='org.freedesktop.Notifications',member='Notify'",
                ])
                .env("DBUS_SESSION_BUS_ADDRESS", &dbus_address)
                .stdout(log)
                .spawn()?,
        ));
        processes.push(Guard(
            Command::new(which("dunst")?)
                .env("DISPLAY", &display)
                .env("DBUS_SESSION_BUS_ADDRESS", &dbus_address)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        ));
        Ok(Desktop {
            display,
            dbus_address,
            notifications_log,
            artifacts,
            root,
            processes,
        })
    }

    /// A command with this desktop's environment.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("DISPLAY", &self.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.dbus_address)
            // The apps register themselves as the handler of satchel:// links: in this
            // desktop's own folders, not the machine user's.
            .env("XDG_DATA_HOME", self.root.path().join("xdg-data"))
            .env("XDG_CONFIG_HOME", self.root.path().join("xdg-config"));
        cmd
    }

    /// Launches the app (through its own tauri-driver) with a fresh profile folder and
    /// returns the WebDriver session driving it.
    pub async fn launch_app(&mut self, name: &str) -> anyhow::Result<App> {
        self.launch_app_with(name, &[]).await
    }

    /// [`Desktop::launch_app`] with command-line arguments for the app.
    pub async fn launch_app_with(&mut self, name: &str, args: &[&str]) -> anyhow::Result<App> {
        let data_dir = self.root.path().join(name);
        self.launch(
            name,
            &satchel_test_support::binary("satchel")?,
            &data_dir,
            args,
        )
        .await
    }

    /// Opens a link through the desktop (`gio open`, as GNOME's file manager or browser
    /// would) while the app `name` runs: the desktop finds the handler the app
    /// registered and starts a second process with the link on the same profile, which
    /// hands the link over and exits.
    pub fn open_link_in(&self, name: &str, link: &str) -> anyhow::Result<()> {
        let handler = self
            .command("gio")
            .args(["mime", "x-scheme-handler/satchel"])
            .output()?;
        let handler = String::from_utf8_lossy(&handler.stdout).into_owned();
        anyhow::ensure!(
            handler.contains("satchel-handler.desktop"),
            "the app did not register itself for satchel:// links: {handler}"
        );
        let opened = self
            .command("gio")
            .args(["open", link])
            .env("SATCHEL_DATA_DIR", self.root.path().join(name))
            .env("SATCHEL_TOKEN_FILE", "1")
            .stderr(std::fs::File::create(
                self.artifacts.join(format!("{name}-open-link.log")),
            )?)
            .status()?;
        anyhow::ensure!(opened.success(), "gio open failed: {opened}");
        Ok(())
    }

    /// Launches `app_binary` with `data_dir` as its data folder (`SATCHEL_DATA_DIR`).
    pub async fn launch(
        &mut self,
        name: &str,
        app_binary: &Path,
        data_dir: &Path,
        args: &[&str],
    ) -> anyhow::Result<App> {
        let data_dir = data_dir.to_owned();
        std::fs::create_dir_all(&data_dir)?;
        let exports = self.artifacts.join(format!("{name}-exports"));
        // Left from an earlier run: an export never overwrites, so start empty.
        let _ = std::fs::remove_dir_all(&exports);
        std::fs::create_dir_all(&exports)?;
        let (port, native_port) = (free_port()?, free_port()?);
        let driver = self
            .command(which("tauri-driver")?)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .args(["--native-driver", "/usr/bin/WebKitWebDriver"])
            .env("SATCHEL_DATA_DIR", &data_dir)
            // No keychain daemon runs on the test desktop; keep tokens in the profile.
            .env("SATCHEL_TOKEN_FILE", "1")
            // WebDriver cannot answer a native save dialog: exports go here instead.
            .env("SATCHEL_EXPORT_DIR", &exports)
            .env("RUST_LOG", "info,tao=warn,wry=warn")
            .env(
                "SATCHEL_LOG_FILE",
                self.artifacts.join(format!("{name}-satchel.log")),
            )
            .process_group(0)
            .stdout(std::fs::File::create(
                self.artifacts.join(format!("{name}-app.log")),
            )?)
            .stderr(std::fs::File::create(
                self.artifacts.join(format!("{name}-driver.log")),
            )?)
            .spawn()?;
        let driver_pid = driver.id();
        self.processes.push(Guard(driver));
        let url = format!("http://127.0.0.1:{port}");
        wait_for(Duration::from_secs(20), || {
            TcpListener::bind(("127.0.0.1", port)).is_err()
        })
        .context("tauri-driver did not listen")?;
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), "wry".into());
        capabilities.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": app_binary, "args": args }),
        );
        let started = Instant::now();
        let client = loop {
            // A session waits for the app's window; an app that exits at once would
            // leave it waiting forever.
            let mut builder = ClientBuilder::rustls()?;
            let connect = builder.capabilities(capabilities.clone()).connect(&url);
            let connected = tokio::time::timeout(Duration::from_secs(60), connect)
                .await
                .with_context(|| {
                    format!("{name}: the app did not open a window (see {name}-app.log)")
                })?;
            match connected {
                Ok(client) => break client,
                Err(e) if started.elapsed() < Duration::from_secs(30) => {
                    tracing_log(&format!("session not ready yet: {e}"));
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        Ok(App {
            name: name.to_owned(),
            client,
            driver_pid,
            data_dir,
            artifacts: self.artifacts.clone(),
            shots: 0,
        })
    }

    /// Drags `files` from a file-manager-like window at `from` onto the screen point `to`,
    /// as a user would from Explorer or Finder.
    pub fn drag_files(
        &mut self,
        files: &[&Path],
        from: (i32, i32),
        to: (i32, i32),
    ) -> anyhow::Result<()> {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("e2e/drag_source.py");
        let mut source = self
            // Debian's Python: python3-gi is installed for it, not for other Pythons on PATH.
            .command("/usr/bin/python3")
            .arg(script)
            .args([from.0.to_string(), from.1.to_string()])
            .args(files)
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(source.stdout.take().context("drag source stdout")?).read_line(&mut line)?;
        let _source = Guard(source);
        if line.trim() != "ready" {
            bail!("the drag source window did not come up");
        }
        let xdotool = |args: &[String]| -> anyhow::Result<()> {
            let status = self.command("xdotool").args(args).status()?;
            if !status.success() {
                bail!("xdotool {args:?} failed");
            }
            Ok(())
        };
        let (sx, sy) = (from.0 + 60, from.1 + 60);
        xdotool(&["mousemove".into(), sx.to_string(), sy.to_string()])?;
        xdotool(&["mousedown".into(), "1".into()])?;
        // Move in steps: toolkits start a drag only after the pointer moves a little.
        for step in 1..=20 {
            let x = sx + (to.0 - sx) * step / 20;
            let y = sy + (to.1 - sy) * step / 20;
            xdotool(&["mousemove".into(), x.to_string(), y.to_string()])?;
            std::thread::sleep(Duration::from_millis(40));
        }
        std::thread::sleep(Duration::from_millis(300));
        xdotool(&["mouseup".into(), "1".into()])?;
        std::thread::sleep(Duration::from_millis(500));
        Ok(())
    }

    /// Moves the pointer over a point, gives the app window there keyboard focus and
    /// clicks, as a window manager would on a click. (There is no window manager here:
    /// once an app has taken the focus itself, a bare click would not move it.)
    pub fn click_at(&self, x: i32, y: i32) -> anyhow::Result<()> {
        let window = self
            .app_window_at(x, y)?
            .with_context(|| format!("no app window at ({x}, {y})"))?;
        let status = self
            .command("xdotool")
            .args(["mousemove", "--sync", &x.to_string(), &y.to_string()])
            .args(["windowfocus", "--sync", &window, "click", "1"])
            .status()?;
        if !status.success() {
            bail!("xdotool focus and click failed");
        }
        Ok(())
    }

    /// The top-level window of an app (titled "… Satchel") that contains a point.
    fn app_window_at(&self, x: i32, y: i32) -> anyhow::Result<Option<String>> {
        let found = self
            .command("xdotool")
            .args(["search", "--onlyvisible", "--name", "Satchel"])
            .output()?;
        for window in String::from_utf8_lossy(&found.stdout).split_whitespace() {
            let geometry = self
                .command("xdotool")
                .args(["getwindowgeometry", "--shell", window])
                .output()?;
            let text = String::from_utf8_lossy(&geometry.stdout);
            let value = |key: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(key))
                    .and_then(|v| v.parse::<i32>().ok())
                    .unwrap_or(0)
            };
            let (wx, wy) = (value("X="), value("Y="));
            let (w, h) = (value("WIDTH="), value("HEIGHT="));
            if (wx..wx + w).contains(&x) && (wy..wy + h).contains(&y) {
                return Ok(Some(window.to_owned()));
            }
        }
        Ok(None)
    }

    /// Clicks the newest notification on screen (its default action), as a user would.
    pub fn click_newest_notification(&self) -> anyhow::Result<()> {
        let status = self
            .command(which("dunstctl")?)
            .args(["action", "0"])
            .status()?;
        if !status.success() {
            bail!("dunstctl action failed");
        }
        Ok(())
    }

    /// Waits until a notification containing `text` has been sent over D-Bus.
    pub async fn wait_for_notification(&self, text: &str, timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        while !self.notifications().contains(text) {
            if start.elapsed() > timeout {
                bail!(
                    "no notification containing {text:?} within {timeout:?}; D-Bus saw:\n{}",
                    self.notifications()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    }

    /// Everything the notification monitor has recorded so far.
    pub fn notifications(&self) -> String {
        std::fs::read_to_string(&self.notifications_log).unwrap_or_default()
    }
}

fn tracing_log(message: &str) {
    eprintln!("[e2e] {message}");
}

fn wait_for(timeout: Duration, mut ready: impl FnMut() -> bool) -> anyhow::Result<()> {
    let start = Instant::now();
    while !ready() {
        if start.elapsed() > timeout {
            bail!("timed out after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// One running app instance and its WebDriver session.
pub struct App {
    pub name: String,
    pub client: Client,
    /// The tauri-driver serving this session; the app and its WebKit processes run
    /// beneath it.
    pub driver_pid: u32,
    pub data_dir: PathBuf,
    artifacts: PathBuf,
    shots: u32,
}

impl App {
    /// Proportional memory (PSS, bytes) of the app and every process it started (the
    /// WebKit web and network processes).
    pub fn pss_bytes(&self) -> anyhow::Result<u64> {
        pss_under(self.driver_pid)
    }

    /// Saves a screenshot as `<artifacts>/<app>-<nn>-<step>.png`.
    pub async fn screenshot(&mut self, step: &str) -> anyhow::Result<PathBuf> {
        self.shots += 1;
        let png = self.client.screenshot().await?;
        let path = self
            .artifacts
            .join(format!("{}-{:02}-{step}.png", self.name, self.shots));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Waits until a CSS selector matches, and returns the element.
    pub async fn wait_for(
        &self,
        css: &str,
        timeout: Duration,
    ) -> anyhow::Result<fantoccini::elements::Element> {
        self.client
            .wait()
            .at_most(timeout)
            .for_element(Locator::Css(css))
            .await
            .with_context(|| format!("{}: `{css}` did not appear within {timeout:?}", self.name))
    }

    /// Waits until a script returns `true`.
    pub async fn wait_until(
        &self,
        what: &str,
        script: &str,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            let value = self.client.execute(script, vec![]).await?;
            if value == serde_json::Value::Bool(true) {
                return Ok(());
            }
            if start.elapsed() > timeout {
                bail!("{}: {what} did not happen within {timeout:?}", self.name);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.wait_for(css, Duration::from_secs(15))
            .await?
            .click()
            .await?;
        Ok(())
    }

    /// Moves the pointer over an element (actions that show on hover).
    pub async fn hover(&self, css: &str) -> anyhow::Result<()> {
        use fantoccini::actions::{InputSource, MouseActions, PointerAction};
        let element = self.wait_for(css, Duration::from_secs(15)).await?;
        // Pointer actions do not scroll; the element must be on screen.
        self.client
            .execute(
                "arguments[0].scrollIntoView({ block: 'center' })",
                vec![serde_json::to_value(&element)?],
            )
            .await?;
        let actions = MouseActions::new("mouse".into()).then(PointerAction::MoveToElement {
            element,
            duration: None,
            x: 0.0,
            y: 0.0,
        });
        self.client.perform_actions(actions).await?;
        Ok(())
    }

    /// Presses the mouse at one point of an element and releases it at another (offsets
    /// in CSS pixels from the element's centre), through WebDriver's pointer actions.
    pub async fn drag(&self, css: &str, from: (f64, f64), to: (f64, f64)) -> anyhow::Result<()> {
        use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
        let element = self.wait_for(css, Duration::from_secs(15)).await?;
        let actions = MouseActions::new("mouse".into())
            .then(PointerAction::MoveToElement {
                element: element.clone(),
                duration: None,
                x: from.0,
                y: from.1,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::MoveToElement {
                element: element.clone(),
                duration: Some(Duration::from_millis(200)),
                x: (from.0 + to.0) / 2.0,
                y: (from.1 + to.1) / 2.0,
            })
            .then(PointerAction::MoveToElement {
                element,
                duration: Some(Duration::from_millis(200)),
                x: to.0,
                y: to.1,
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            });
        self.client.perform_actions(actions).await?;
        self.client.release_actions().await?;
        Ok(())
    }

    pub async fn type_into(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let element = self.wait_for(css, Duration::from_secs(15)).await?;
        element.click().await?;
        element.send_keys(text).await?;
        Ok(())
    }
}

/// Proportional memory (PSS, bytes) of every process under a tauri-driver (an app and
/// the WebKit web and network processes it started), read from `/proc/<pid>/smaps_rollup`.
pub fn pss_under(driver_pid: u32) -> anyhow::Result<u64> {
    let mut parent_of = std::collections::HashMap::new();
    let mut name_of = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc")?.filter_map(Result::ok) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may contain spaces, so split at the last ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let comm = head
            .split_once('(')
            .map(|(_, c)| c.to_owned())
            .unwrap_or_default();
        let ppid = rest
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parent_of.insert(pid, ppid);
            name_of.insert(pid, comm);
        }
    }
    let descends = |mut pid: u32| loop {
        match parent_of.get(&pid) {
            Some(&p) if p == driver_pid => return true,
            Some(&p) if p > 1 => pid = p,
            _ => return false,
        }
    };
    let mut total = 0;
    for (&pid, name) in &name_of {
        if !descends(pid) || name.starts_with("WebKitWebDrive") || name == "tauri-driver" {
            continue;
        }
        let rollup =
            std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        for line in rollup.lines() {
            if let Some(kb) = line.strip_prefix("Pss:") {
                total += kb
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .unwrap_or(0)
                    * 1024;
            }
        }
    }
    Ok(total)
}

/// For the benchmarks: the release builds of the app and of the minimal Tauri app it is
/// compared with.
pub fn release_apps() -> (PathBuf, PathBuf) {
    let satchel =
        satchel_test_support::binary("satchel").expect("build satchel-desktop --release first");
    let minimal =
        satchel_test_support::binary("tauri-minimal").expect("build tauri-minimal --release first");
    (satchel, minimal)
}

/// For the benchmarks: the middle value of a run's measurements.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
