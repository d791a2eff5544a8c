//! Session tokens in the OS keychain (Keychain on macOS, Credential Manager on Windows,
//! the Secret Service on Linux). Where no keychain answers — a headless Linux session,
//! a CI machine — the token falls back to a file in the profile, readable only by the
//! owner, and the log says so once.

use std::path::Path;
use std::sync::Arc;

use satchel_client::token::{FileTokenStore, TokenStore};

const SERVICE: &str = "app.satchel.desktop";

struct KeychainTokenStore {
    entry: keyring::Entry,
}

impl TokenStore for KeychainTokenStore {
    fn load(&self) -> Result<Option<String>, String> {
        match self.entry.get_password() {
            Ok(token) => Ok(Some(token)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn save(&self, token: &str) -> Result<(), String> {
        self.entry.set_password(token).map_err(|e| e.to_string())
    }

    fn clear(&self) -> Result<(), String> {
        match self.entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The token store for the profile in `profile_dir`: the keychain if it works here,
/// else the file `profile_dir/token`.
pub fn token_store(profile_dir: &Path) -> Arc<dyn TokenStore> {
    let file = FileTokenStore::new(profile_dir.join("token"));
    if std::env::var_os("SATCHEL_TOKEN_FILE").is_some() {
        tracing::info!(
            "SATCHEL_TOKEN_FILE is set: the session token is kept in the profile folder"
        );
        return Arc::new(file);
    }
    // One keychain entry per profile folder, so two profiles never share a token.
    let account = profile_dir.to_string_lossy().into_owned();
    let probe =
        keyring::Entry::new(SERVICE, &account).and_then(|entry| match entry.get_password() {
            Ok(_) | Err(keyring::Error::NoEntry) => Ok(entry),
            Err(e) => Err(e),
        });
    match probe {
        Ok(entry) => {
            // A token left in the file by an earlier keychain-less run moves over.
            if let Ok(Some(token)) = file.load() {
                if entry.set_password(&token).is_ok() {
                    let _ = file.clear();
                }
            }
            Arc::new(KeychainTokenStore { entry })
        }
        Err(e) => {
            tracing::warn!(
                error = %e,
                "no OS keychain is available; keeping the session token in {}",
                profile_dir.join("token").display()
            );
            Arc::new(file)
        }
    }
}
