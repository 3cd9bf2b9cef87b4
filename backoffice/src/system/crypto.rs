//! Secrets at rest and in transit: the vault that seals sensitive fields (national ID, phone and
//! bank card numbers) with AES-256-GCM, their masks for list and detail views, and the random
//! bearer tokens whose SHA-256 is all the database keeps.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Errors of the vault.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The configured key is not 32 bytes of base64.
    #[error("the data key must be 32 bytes, base64-encoded")]
    BadKey,
    /// The operating system's random generator failed.
    #[error("the operating system's random generator failed")]
    Random,
    /// A value could not be sealed.
    #[error("a value could not be sealed")]
    Seal,
    /// A sealed value did not open: wrong key or damaged data.
    #[error("a sealed value could not be opened (wrong data key or damaged data)")]
    Open,
}

/// Seals and opens sensitive values with the data key. Sealed layout: 12-byte nonce, ciphertext and tag.
#[derive(Clone)]
pub struct Vault {
    cipher: Aes256Gcm,
    /// Key of the blind index, derived from the data key.
    index_key: [u8; 32],
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(..)")
    }
}

const NONCE_LEN: usize = 12;

impl Vault {
    /// A vault from a base64-encoded 32-byte key.
    pub fn from_base64(key: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD.decode(key.trim()).map_err(|_| CryptoError::BadKey)?;
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| CryptoError::BadKey)?;
        let index_key = Sha256::new().chain_update(b"leasewatch blind index").chain_update(&bytes).finalize().into();
        Ok(Self { cipher, index_key })
    }

    /// A new random key, base64-encoded.
    pub fn generate_key() -> Result<String, CryptoError> {
        Ok(STANDARD.encode(random_bytes::<32>()?))
    }

    /// Seals `plain` under a fresh nonce.
    pub fn seal(&self, plain: &str) -> Result<Vec<u8>, CryptoError> {
        let nonce = Nonce::try_from(&random_bytes::<NONCE_LEN>()?[..]).map_err(|_| CryptoError::Seal)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&self.cipher.encrypt(&nonce, plain.as_bytes()).map_err(|_| CryptoError::Seal)?);
        Ok(out)
    }

    /// A keyed digest of `value` (upper-cased, spaces removed) that finds a record by a sealed
    /// number without storing the number: equal numbers give equal digests.
    pub fn index(&self, value: &str) -> Vec<u8> {
        let normalized: String = value.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_uppercase).collect();
        // HMAC takes keys of any length: the error branch cannot happen.
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.index_key) else { return Vec::new() };
        mac.update(normalized.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// Opens a value sealed by [`Vault::seal`].
    pub fn open(&self, sealed: &[u8]) -> Result<String, CryptoError> {
        if sealed.len() < NONCE_LEN {
            return Err(CryptoError::Open);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| CryptoError::Open)?;
        let plain = self.cipher.decrypt(&nonce, ciphertext).map_err(|_| CryptoError::Open)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Open)
    }
}

/// The kinds of sensitive value, each with its mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sensitive {
    /// National ID: the first 3 and last 4 characters shown (`110***********1234`).
    NationalId,
    /// Phone: the first 3 and last 4 digits shown (`138****5678`).
    Phone,
    /// Bank card: the first 4 and last 4 digits shown (`6222********1234`).
    BankCard,
}

impl Sensitive {
    /// The masked form of `value` for list and detail views.
    pub fn mask(self, value: &str) -> String {
        let chars: Vec<char> = value.chars().collect();
        let (head, tail) = match self {
            Self::NationalId | Self::Phone => (3, 4),
            Self::BankCard => (4, 4),
        };
        if chars.len() <= head + tail {
            return "*".repeat(chars.len());
        }
        let mut out: String = chars[..head].iter().collect();
        out.extend(std::iter::repeat_n('*', chars.len() - head - tail));
        out.extend(&chars[chars.len() - tail..]);
        out
    }
}

/// `N` bytes from the operating system's generator.
fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| CryptoError::Random)?;
    Ok(bytes)
}

/// A fresh bearer token: `prefix` then 256 random bits, URL-safe.
pub fn new_token(prefix: &str) -> Result<String, CryptoError> {
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()?)))
}

/// What the database keeps of a token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A digest of anything, for comparing requests (idempotency keys).
pub fn digest(parts: &[&[u8]]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_with_its_key_only() {
        let vault = Vault::from_base64(&Vault::generate_key().unwrap()).unwrap();
        let sealed = vault.seal("13812345678").unwrap();
        assert!(!sealed.windows(11).any(|w| w == b"13812345678"));
        assert_eq!(vault.open(&sealed).unwrap(), "13812345678");
        let other = Vault::from_base64(&Vault::generate_key().unwrap()).unwrap();
        assert!(other.open(&sealed).is_err());
        assert!(vault.open(&sealed[..5]).is_err());
    }

    #[test]
    fn sealing_twice_gives_different_bytes() {
        let vault = Vault::from_base64(&Vault::generate_key().unwrap()).unwrap();
        assert_ne!(vault.seal("x").unwrap(), vault.seal("x").unwrap());
    }

    #[test]
    fn the_blind_index_finds_equal_numbers_only() {
        let vault = Vault::from_base64(&Vault::generate_key().unwrap()).unwrap();
        assert_eq!(vault.index("11010119900307123x"), vault.index("110101 19900307123X"));
        assert_ne!(vault.index("110101199003071234"), vault.index("110101199003071235"));
        assert_eq!(vault.index("x").len(), 32);
    }

    #[test]
    fn keys_of_the_wrong_size_are_refused() {
        assert!(Vault::from_base64("c2hvcnQ=").is_err());
        assert!(Vault::from_base64("not base64!").is_err());
    }

    #[test]
    fn masks_show_only_the_ends() {
        assert_eq!(Sensitive::NationalId.mask("110101199003071234"), "110***********1234");
        assert_eq!(Sensitive::Phone.mask("13812345678"), "138****5678");
        assert_eq!(Sensitive::BankCard.mask("6222021234567891234"), "6222***********1234");
        assert_eq!(Sensitive::Phone.mask("1234"), "****");
    }

    #[test]
    fn tokens_are_long_random_and_prefixed() {
        let a = new_token("lwa_").unwrap();
        assert!(a.starts_with("lwa_") && a.len() == 4 + 43);
        assert_ne!(a, new_token("lwa_").unwrap());
        assert_eq!(token_hash(&a).len(), 32);
    }
}
