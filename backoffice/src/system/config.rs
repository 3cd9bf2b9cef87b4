//! The back office's configuration (the `[admin]` section): whether the API is served, the data key
//! that seals sensitive fields, the password hashing cost, the letters' font and the SMS gateway. The daemon, the CLI and the demo
//! read it alike.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::kit::pdf::LetterFont;
use crate::kit::signed_http::SignedClient;
use crate::origination::partners::Partners;
use crate::origination::partners::bureau::{CreditBureau, HttpBureau, IdentityCheck};
use crate::origination::partners::esign::{ESign, HttpESign};
use crate::origination::partners::insurer::{HttpInsurer, Insurer};
use crate::origination::partners::simulator::Simulator as PartnerSimulator;
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
    /// This server's public base URL (`https://lease.example.com`): where the insurer and the
    /// e-signature service call back.
    pub public_url: Option<String>,
    /// The credit bureau (征信): its base URL (`origination/partners/bureau.rs`) or `simulator`.
    /// None: reports are not asked for.
    pub credit_bureau: Option<String>,
    /// The secret the bureau's requests are signed with.
    pub credit_bureau_secret: Option<String>,
    /// The identity check (three-factor): its base URL or `simulator`. None: not asked.
    pub identity_check: Option<String>,
    /// The secret the identity check's requests are signed with.
    pub identity_check_secret: Option<String>,
    /// The guarantee insurer: its base URL (`origination/partners/insurer.rs`) or `simulator`.
    pub insurer: Option<String>,
    /// The secret shared with the insurer, both ways.
    pub insurer_secret: Option<String>,
    /// The e-signature service: its base URL (`origination/partners/esign.rs`) or `simulator`.
    pub esign: Option<String>,
    /// The secret shared with the e-signature service, both ways.
    pub esign_secret: Option<String>,
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
            public_url: None,
            credit_bureau: None,
            credit_bureau_secret: None,
            identity_check: None,
            identity_check_secret: None,
            insurer: None,
            insurer_secret: None,
            esign: None,
            esign_secret: None,
        }
    }
}

/// How one partner is reached.
enum Endpoint {
    Simulator,
    Http(SignedClient),
}

/// The endpoint `url` names for `name` (`config` is its key), signed with `secret`.
fn endpoint(
    name: &'static str,
    config: &str,
    url: Option<&String>,
    secret: Option<&String>,
) -> Result<Option<Endpoint>, String> {
    match url.map(|u| u.trim()) {
        None | Some("") => Ok(None),
        Some("simulator") => Ok(Some(Endpoint::Simulator)),
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
            let secret = secret
                .filter(|s| s.len() >= 16)
                .ok_or(format!("admin.{config}_secret must be set (16 characters or more) to sign its requests"))?;
            Ok(Some(Endpoint::Http(SignedClient::new(name, url, secret)?)))
        }
        Some(other) => Err(format!("admin.{config} {other:?} is neither an http(s) URL nor `simulator`")),
    }
}

impl BackOfficeConfig {
    /// The partners applications meet, as configured; one simulator serves every one set to it.
    /// A simulator calls back to `local_url` (this process) when no public URL is set.
    pub fn partners(&self, local_url: &str) -> Result<Partners, String> {
        let simulator = Arc::new(PartnerSimulator::default());
        let bureau = endpoint(
            "credit bureau",
            "credit_bureau",
            self.credit_bureau.as_ref(),
            self.credit_bureau_secret.as_ref(),
        )?;
        let identity = endpoint(
            "identity check",
            "identity_check",
            self.identity_check.as_ref(),
            self.identity_check_secret.as_ref(),
        )?;
        let insurer = endpoint("insurer", "insurer", self.insurer.as_ref(), self.insurer_secret.as_ref())?;
        let esign = endpoint("e-signature service", "esign", self.esign.as_ref(), self.esign_secret.as_ref())?;
        Ok(Partners {
            bureau: bureau.map(|e| -> Arc<dyn CreditBureau> {
                match e {
                    Endpoint::Simulator => simulator.clone(),
                    Endpoint::Http(client) => Arc::new(HttpBureau(client)),
                }
            }),
            identity: identity.map(|e| -> Arc<dyn IdentityCheck> {
                match e {
                    Endpoint::Simulator => simulator.clone(),
                    Endpoint::Http(client) => Arc::new(HttpBureau(client)),
                }
            }),
            insurer: insurer.map(|e| -> Arc<dyn Insurer> {
                match e {
                    Endpoint::Simulator => simulator.clone(),
                    Endpoint::Http(client) => Arc::new(HttpInsurer(client)),
                }
            }),
            esign: esign.map(|e| -> Arc<dyn ESign> {
                match e {
                    Endpoint::Simulator => simulator.clone(),
                    Endpoint::Http(client) => Arc::new(HttpESign(client)),
                }
            }),
            public_url: self.public_url.clone().filter(|u| !u.trim().is_empty()).or_else(|| {
                let simulated = |v: &Option<String>| v.as_deref().map(str::trim) == Some("simulator");
                (simulated(&self.insurer) || simulated(&self.esign)).then(|| local_url.to_owned())
            }),
        })
    }

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
