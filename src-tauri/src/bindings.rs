//! TypeScript types for the UI, generated from the Rust types it receives, and
//! committed in `ui/src/lib/backend/bindings/`. The test below regenerates them and
//! fails when the committed files differ (run it with `SATCHEL_UPDATE_BINDINGS=1` to
//! rewrite them).

use std::path::Path;

use ts_rs::TS;

/// Writes every type the UI receives (and what they reference) into `dir`.
pub fn export(dir: &Path) -> Result<(), ts_rs::ExportError> {
    crate::shell::SessionInfo::export_all_to(dir)?;
    crate::events::ChangeEvent::export_all_to(dir)?;
    crate::DroppedFiles::export_all_to(dir)?;
    crate::host::BackupSummary::export_all_to(dir)?;
    crate::viewer::ViewerTarget::export_all_to(dir)?;
    crate::error::UiError::export_all_to(dir)?;
    satchel_client::ConversationSummary::export_all_to(dir)?;
    satchel_client::LocalMessage::export_all_to(dir)?;
    satchel_protocol::Member::export_all_to(dir)?;
    satchel_protocol::Receipt::export_all_to(dir)?;
    satchel_protocol::Organisation::export_all_to(dir)?;
    satchel_protocol::api::Invite::export_all_to(dir)?;
    satchel_protocol::Reminder::export_all_to(dir)?;
    satchel_client::ReadState::export_all_to(dir)?;
    crate::alerts::InAppNotification::export_all_to(dir)?;
    crate::alerts::NotificationSettings::export_all_to(dir)?;
    crate::alerts::OpenTarget::export_all_to(dir)?;
    satchel_protocol::order::OrderRecord::export_all_to(dir)?;
    satchel_protocol::review::Album::export_all_to(dir)?;
    satchel_client::preview::PhotoDetails::export_all_to(dir)?;
    crate::commands::NewOrder::export_all_to(dir)?;
    satchel_client::SearchQuery::export_all_to(dir)?;
    satchel_client::SearchHit::export_all_to(dir)?;
    crate::commands::ChainStatus::export_all_to(dir)?;
    satchel_client::export::ExportSummary::export_all_to(dir)?;
    satchel_client::export::ExportFormat::export_all_to(dir)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    fn read_dir(dir: &std::path::Path) -> BTreeMap<String, String> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".ts"))
                    .map(|e| {
                        (
                            e.file_name().to_string_lossy().into_owned(),
                            std::fs::read_to_string(e.path()).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn committed_typescript_bindings_match_the_rust_types() {
        let committed_dir =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/backend/bindings");
        let fresh_dir = tempfile::tempdir().expect("temp dir");
        super::export(fresh_dir.path()).expect("export bindings");
        let fresh = read_dir(fresh_dir.path());
        if std::env::var_os("SATCHEL_UPDATE_BINDINGS").is_some() {
            let _ = std::fs::remove_dir_all(&committed_dir);
            std::fs::create_dir_all(&committed_dir).expect("create bindings dir");
            for (name, text) in &fresh {
                std::fs::write(committed_dir.join(name), text).expect("write binding");
            }
        }
        let committed = read_dir(&committed_dir);
        let differing: Vec<&String> = fresh
            .keys()
            .chain(committed.keys())
            .filter(|name| fresh.get(*name) != committed.get(*name))
            .collect();
        assert!(
            differing.is_empty(),
            "ui/src/lib/backend/bindings is stale ({differing:?}); \
             regenerate with SATCHEL_UPDATE_BINDINGS=1 cargo test -p satchel-desktop bindings"
        );
    }
}
