// No console window next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::path::PathBuf;

use clap::Parser;

/// 包讯 Satchel — order chat for bag factories and their customers.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Profile folder (default: one under the app's data folder). Each profile is one
    /// account; run two profiles to see both sides of a conversation.
    #[arg(long, env = "SATCHEL_PROFILE")]
    profile: Option<PathBuf>,
    /// Run the demo workspace (hosted by this app), signed in as `wang` (factory staff).
    #[arg(long)]
    demo: bool,
    /// Run the demo workspace signed in as this account: boss, wang, chen (staff) or
    /// alice, somchai, xiaoyu (customers).
    #[arg(long, value_name = "USER")]
    demo_as: Option<String>,
    /// A join link (`satchel://join?server=…&code=…`), as the OS passes it when a link
    /// is opened with the app.
    link: Option<String>,
    /// Port of the server this app hosts.
    #[arg(long, default_value_t = 7878, env = "SATCHEL_PORT")]
    port: u16,
}

fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,tao=warn,wry=warn".into());
    // A log file on request (support, and the end-to-end tests, where the webview's
    // driver swallows the app's output).
    match std::env::var_os("SATCHEL_LOG_FILE").map(std::fs::File::create) {
        Some(Ok(file)) => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .init(),
        _ => tracing_subscriber::fmt().with_env_filter(filter).init(),
    }
    let args = Args::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    tauri::async_runtime::set(runtime.handle().clone());
    let launch = satchel_desktop::LaunchOptions {
        profile: args.profile,
        demo_as: args.demo_as.or(args.demo.then(|| "wang".to_owned())),
        port: args.port,
        join: args
            .link
            .as_deref()
            .and_then(satchel_desktop::shell::JoinLink::parse),
    };
    match satchel_desktop::run(launch) {
        Err(satchel_desktop::StartError::AlreadyRunning) => {
            eprintln!(
                "Satchel is already running on this profile; its window was brought forward."
            );
            Ok(())
        }
        other => Ok(other?),
    }
}
