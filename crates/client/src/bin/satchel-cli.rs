//! `satchel-cli`: a headless Satchel client on the sync engine, for scripts, demos and
//! the tests that kill a client process; and `satchel-cli verify`, which checks an
//! exported order record without any server or profile.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use satchel_client::{Change, Engine};
use satchel_protocol::api::CreateConversationRequest;
use satchel_protocol::*;

#[derive(Parser)]
#[command(name = "satchel-cli", version, about = "Headless Satchel client")]
struct Cli {
    /// Profile folder (one account's local history and token). Every command but
    /// `verify` needs one.
    #[arg(long, env = "SATCHEL_PROFILE")]
    profile: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in and remember the server.
    Login {
        #[arg(long)]
        server: String,
        #[arg(long)]
        username: String,
        #[arg(long, env = "SATCHEL_PASSWORD")]
        password: String,
    },
    /// Revoke the session and forget the token.
    Logout,
    /// List conversations with unread counts.
    Conversations,
    /// Create a conversation (staff).
    CreateConversation {
        #[arg(long, value_parser = parse_kind)]
        kind: ConversationKind,
        #[arg(long)]
        title: String,
        #[arg(long)]
        org: Option<i64>,
        #[arg(long)]
        order_number: Option<String>,
        /// Pieces ordered (orders).
        #[arg(long)]
        quantity: Option<u32>,
        /// Member ids besides yourself.
        #[arg(long = "member")]
        members: Vec<i64>,
    },
    /// Queue a text message, then sync until it is acknowledged or `--wait` passes
    /// (it stays in the outbox either way and goes out on the next sync).
    Send {
        #[arg(long)]
        conversation: i64,
        #[arg(long, default_value_t = 30)]
        wait: u64,
        text: Vec<String>,
    },
    /// Send a file at full resolution (uploads resumably; waits up to `--wait`).
    SendFile {
        #[arg(long)]
        conversation: i64,
        #[arg(long, default_value = "")]
        caption: String,
        #[arg(long, default_value_t = 600)]
        wait: u64,
        path: PathBuf,
    },
    /// Download a file by its SHA-256, verify it, and save it.
    SaveFile {
        sha256: String,
        destination: PathBuf,
    },
    /// Queue `count` numbered messages `<prefix>-<n>`, then sync until idle.
    SendMany {
        #[arg(long)]
        conversation: i64,
        #[arg(long)]
        count: u32,
        #[arg(long)]
        prefix: String,
        #[arg(long, default_value_t = 120)]
        wait: u64,
    },
    /// Sync until caught up with an empty outbox (or forever with --forever).
    Sync {
        #[arg(long, default_value_t = 60)]
        wait: u64,
        #[arg(long)]
        forever: bool,
    },
    /// Print new messages as they arrive.
    Tail,
    /// Sync, then print a conversation's history.
    History {
        #[arg(long)]
        conversation: i64,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Sync, then export a conversation's record (page, originals, manifest with the
    /// hash chain) to a new folder, or a ZIP file with --zip.
    Export {
        #[arg(long)]
        conversation: i64,
        #[arg(long)]
        zip: bool,
        destination: PathBuf,
    },
    /// Check an exported record (folder or ZIP) offline. Exit status 0 when it
    /// verifies, 1 when something in it is wrong (each problem is printed), 2 when it
    /// cannot be read at all.
    Verify {
        /// The record must end in this link (the "record fingerprint" the other
        /// party's app shows), so that nothing was cut from its end.
        #[arg(long)]
        expect_head: Option<String>,
        export: PathBuf,
    },
    /// Mark messages read up to a sequence number.
    Read {
        #[arg(long)]
        conversation: i64,
        #[arg(long)]
        up_to: i64,
    },
}

fn parse_kind(s: &str) -> Result<ConversationKind, String> {
    ConversationKind::parse(s).ok_or_else(|| format!("unknown kind `{s}` (order, direct, group)"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Command::Verify {
        expect_head,
        export,
    } = &cli.command
    {
        std::process::exit(verify(export, expect_head.clone()));
    }
    let Some(profile) = &cli.profile else {
        bail!("--profile (or SATCHEL_PROFILE) is required for this command");
    };
    let engine = Engine::open(profile, None)
        .await
        .context("opening the profile")?;
    let result = run(&engine, cli.command).await;
    engine.close().await;
    result
}

/// Runs `verify` and returns the process's exit status.
fn verify(export: &std::path::Path, expected_head: Option<String>) -> i32 {
    let options = satchel_protocol::export::CheckOptions { expected_head };
    match satchel_client::export::verify(export, &options) {
        Err(e) => {
            eprintln!("cannot read {}: {e}", export.display());
            2
        }
        Ok(report) if report.is_valid() => {
            println!(
                "OK: {} messages and {} files verified; record fingerprint seq {} {}",
                report.messages, report.files, report.head.seq, report.head.chain
            );
            0
        }
        Ok(report) => {
            println!(
                "FAILED: {} problem(s) in {} ({} messages, {} files):",
                report.problems.len(),
                export.display(),
                report.messages,
                report.files
            );
            for problem in &report.problems {
                println!("- {problem}");
            }
            1
        }
    }
}

async fn run(engine: &Engine, command: Command) -> anyhow::Result<()> {
    match command {
        // Normally answered before a profile is opened; the same answer here.
        Command::Verify {
            expect_head,
            export,
        } => std::process::exit(verify(&export, expect_head)),
        Command::Export {
            conversation,
            zip,
            destination,
        } => {
            sync_until_idle(engine, 60).await?;
            let format = if zip {
                satchel_client::export::ExportFormat::Zip
            } else {
                satchel_client::export::ExportFormat::Folder
            };
            let summary = engine
                .export_order(ConversationId(conversation), &destination, format)
                .await?;
            println!(
                "exported {} messages and {} files to {}; record fingerprint seq {} {}",
                summary.messages,
                summary.files,
                summary.path.display(),
                summary.head_seq,
                summary.head
            );
        }
        Command::Login {
            server,
            username,
            password,
        } => {
            let account = engine.login(&server, &username, &password).await?;
            println!(
                "signed in to {} as {} ({})",
                account.workspace.name,
                account.member.display_name,
                account.member.role.as_str()
            );
        }
        Command::Logout => {
            engine.logout().await?;
            println!("signed out");
        }
        Command::Conversations => {
            sync_until_idle(engine, 30).await?;
            for s in engine.conversations().await? {
                let last = s.last_message.map(|m| m.body.summary()).unwrap_or_default();
                println!(
                    "{}\t{}\t{:?}\tunread {}\t{}",
                    s.conversation.id, s.conversation.title, s.conversation.kind, s.unread, last
                );
            }
        }
        Command::CreateConversation {
            kind,
            title,
            org,
            order_number,
            quantity,
            members,
        } => {
            let conversation = engine
                .api()?
                .create_conversation(&CreateConversationRequest {
                    kind,
                    title,
                    org_id: org.map(OrgId),
                    order_number,
                    quantity,
                    due_date: None,
                    assignee: None,
                    member_ids: members.into_iter().map(MemberId).collect(),
                })
                .await?;
            println!("{}", conversation.id);
        }
        Command::Send {
            conversation,
            wait,
            text,
        } => {
            let message = engine
                .send_text(ConversationId(conversation), &text.join(" "), None)
                .await?;
            println!("queued {}", message.txn_id);
            sync_until_idle(engine, wait).await?;
        }
        Command::SendFile {
            conversation,
            caption,
            wait,
            path,
        } => {
            let message = engine
                .send_file(ConversationId(conversation), &path, &caption)
                .await?;
            if let Some(a) = message.body.attachment() {
                println!("queued {} ({} bytes, {})", a.sha256, a.size, a.mime);
            }
            sync_until_idle(engine, wait).await?;
        }
        Command::SaveFile {
            sha256,
            destination,
        } => {
            let bytes = engine.save_file_as(&sha256, &destination).await?;
            println!("saved {bytes} bytes to {}", destination.display());
        }
        Command::SendMany {
            conversation,
            count,
            prefix,
            wait,
        } => {
            for n in 1..=count {
                engine
                    .send_text(ConversationId(conversation), &format!("{prefix}-{n}"), None)
                    .await?;
            }
            println!("queued {count}");
            sync_until_idle(engine, wait).await?;
        }
        Command::Sync { wait, forever } => {
            if forever {
                engine.start().await?;
                std::future::pending::<()>().await;
            }
            sync_until_idle(engine, wait).await?;
        }
        Command::Tail => {
            let names = names(engine).await;
            let mut changes = engine.subscribe();
            engine.start().await?;
            let mut shown: std::collections::HashMap<ConversationId, Option<i64>> =
                Default::default();
            loop {
                let batch = changes.recv().await?;
                for change in batch.iter() {
                    if let Change::Messages { conversation_id } = change {
                        let after = shown.get(conversation_id).copied().flatten();
                        for m in engine.messages(*conversation_id, None, 200).await? {
                            if m.seq.is_some() && after.is_none_or(|a| m.seq.map(|s| s.0) > Some(a))
                            {
                                println!(
                                    "{}#{}\t{}\t{}",
                                    conversation_id,
                                    m.seq.map_or(0, |s| s.0),
                                    names
                                        .get(&m.sender_id)
                                        .cloned()
                                        .unwrap_or_else(|| m.sender_id.to_string()),
                                    m.body.summary()
                                );
                                shown.insert(*conversation_id, m.seq.map(|s| s.0));
                            }
                        }
                    }
                }
            }
        }
        Command::History {
            conversation,
            limit,
        } => {
            // Best effort: show what is local even when the server is unreachable.
            if let Err(e) = sync_until_idle(engine, 15).await {
                eprintln!("showing local history only: {e}");
            }
            let names = names(engine).await;
            for m in engine
                .messages(ConversationId(conversation), None, limit)
                .await?
            {
                let seq = m.seq.map_or_else(|| "-".to_owned(), |s| s.to_string());
                println!(
                    "{seq}\t{}\t{:?}\t{}",
                    names
                        .get(&m.sender_id)
                        .cloned()
                        .unwrap_or_else(|| m.sender_id.to_string()),
                    m.state,
                    m.body.summary()
                );
            }
        }
        Command::Read {
            conversation,
            up_to,
        } => {
            engine
                .mark_read(ConversationId(conversation), Seq(up_to))
                .await?;
            sync_until_idle(engine, 30).await?;
        }
    }
    Ok(())
}

/// Display names by member id, from the engine's cached directory.
async fn names(engine: &Engine) -> std::collections::HashMap<MemberId, String> {
    engine
        .members()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|m| (m.id, m.display_name))
        .collect()
}

async fn sync_until_idle(engine: &Engine, wait: u64) -> anyhow::Result<()> {
    engine.start().await?;
    if !engine.wait_until_idle(Duration::from_secs(wait)).await {
        let state = engine.status().borrow().clone();
        engine.stop().await;
        bail!(
            "not idle after {wait} s (connection: {state:?}); unsent messages stay in the outbox"
        );
    }
    engine.stop().await;
    Ok(())
}
