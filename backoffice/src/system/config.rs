//! The back office's configuration (the `[admin]` section): whether the API is served, the data key
//! that seals sensitive fields, the password hashing cost, the letters' font and the SMS gateway. The daemon, the CLI and the demo
//! read it alike.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::postloan::letters::pdf::LetterFont;
use crate::postloan::reminders::channel::{MessageChannel, Simulator};
use crate::postloan::reminders::gateway::HttpGateway;
use crate::system::crypto::Vault;
use crate::system::password::HashCost;

/// Settings of the back office.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct BackOfficeConfig {
    /// Serve the admin API (under `/api/v1`, with `/docs` and `/api/openapi.json`).
    pub enabled: bool,
    /// The AES-256 data key, base64; overrides `data_key_file`. Losing it loses every sealed field.
    pub data_key: Option<String>,
    /// Where the data key is kept when `data_key` is not set; created (mode 0600) when missing.
    pub data_key_file: PathBuf,
    /// Argon2id cost of password hashes.
    pub password_hash: HashCost,
    /// A map tile server of the company's own (`https://tiles.example.com/{z}/{x}/{y}.png`), drawn
    /// under the console's map; without it the map draws the shipped province outlines alone.
    pub tile_url: Option<String>,
    /// The CJK font default-notice letters embed: a TrueType/OpenType file or collection.
    pub letter_font: PathBuf,
    /// The face of `letter_font` to use (2: Simplified Chinese in Noto Sans CJK's collection).
    pub letter_font_index: u32,
    /// The SMS gateway reminders go out through: its base URL (see `postloan/reminders/gateway.rs`),
    /// or `simulator` for the shipped simulator (the demo). None: no reminders are sent.
    pub sms_gateway: Option<String>,
    /// The secret the gateway's requests are signed with.
    pub sms_gateway_secret: Option<String>,
}

impl Default for BackOfficeConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            data_key: None,
            data_key_file: PathBuf::from("leasewatch.key"),
            password_hash: HashCost::default(),
            tile_url: None,
            letter_font: PathBuf::from(LetterFont::DEFAULT_PATH),
            letter_font_index: LetterFont::DEFAULT_INDEX,
            sms_gateway: None,
            sms_gateway_secret: None,
        }
    }
}

impl BackOfficeConfig {
    /// The channel reminders go out through, if one is configured.
    pub fn message_channel(&self) -> Result<Option<Arc<dyn MessageChannel>>, String> {
        match self.sms_gateway.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some("simulator") => Ok(Some(Arc::new(Simulator::default()))),
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                let secret = self.sms_gateway_secret.as_deref().filter(|s| s.len() >= 16).ok_or(
                    "admin.sms_gateway_secret must be set (16 characters or more) to sign the gateway's requests",
                )?;
                Ok(Some(Arc::new(HttpGateway::new(url, secret)?)))
            }
            Some(other) => Err(format!("admin.sms_gateway {other:?} is neither an http(s) URL nor `simulator`")),
        }
    }
}

/// Why the data key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or creating the key file failed.
    #[error("data key file {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key is malformed.
    #[error("data key: {0}")]
    Key(#[from] crate::system::crypto::CryptoError),
}

impl BackOfficeConfig {
    /// The vault for sensitive fields, from `data_key` or the key file (created on first start).
    pub fn vault(&self) -> Result<Vault, KeyError> {
        if let Some(key) = &self.data_key {
            return Ok(Vault::from_base64(key)?);
        }
        let path = &self.data_key_file;
        let file_error = |source| KeyError::File { path: path.clone(), source };
        match std::fs::read_to_string(path) {
            Ok(key) => Ok(Vault::from_base64(&key)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Vault::generate_key()?;
                write_private(path, &key).map_err(file_error)?;
                tracing::warn!(path = %path.display(), "created a new data key: back it up, sealed fields cannot be read without it");
                Ok(Vault::from_base64(&key)?)
            }
            Err(e) => Err(file_error(e)),
        }
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_key_file_is_created_once_and_then_reused() {
        let dir = std::env::temp_dir().join(format!("leasewatch-key-{}", std::process::id()));
        let config = BackOfficeConfig { data_key_file: dir.join("k"), ..BackOfficeConfig::default() };
        let sealed = config.vault().unwrap().seal("secret").unwrap();
        assert_eq!(config.vault().unwrap().open(&sealed).unwrap(), "secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("k")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
