//! Where a profile's session token is kept. The desktop app stores it in the OS
//! keychain; the engine itself only needs this trait. [`FileTokenStore`] is the
//! fallback for headless use and systems without a keychain.

use std::path::PathBuf;

/// Keeps one secret: the session token of one profile.
pub trait TokenStore: Send + Sync + 'static {
    /// The stored token, if any.
    fn load(&self) -> Result<Option<String>, String>;
    /// Replaces the stored token.
    fn save(&self, token: &str) -> Result<(), String>;
    /// Forgets the token (sign-out).
    fn clear(&self) -> Result<(), String>;
}

/// A token in a file readable only by the owner (on Unix; on Windows the profile
/// folder's ACL applies).
pub struct FileTokenStore {
    path: PathBuf,
}

impl FileTokenStore {
    /// Keeps the token at `path`.
    pub fn new(path: PathBuf) -> Self {
        FileTokenStore { path }
    }
}

impl TokenStore for FileTokenStore {
    fn load(&self) -> Result<Option<String>, String> {
        match std::fs::read_to_string(&self.path) {
            Ok(t) if !t.trim().is_empty() => Ok(Some(t.trim().to_owned())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("reading {}: {e}", self.path.display())),
        }
    }

    fn save(&self, token: &str) -> Result<(), String> {
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, token).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| format!("protecting {}: {e}", tmp.display()))?;
        }
        std::fs::rename(&tmp, &self.path)
            .map_err(|e| format!("replacing {}: {e}", self.path.display()))
    }

    fn clear(&self) -> Result<(), String> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(format!("removing {}: {e}", self.path.display()))
            }
            _ => Ok(()),
        }
    }
}
