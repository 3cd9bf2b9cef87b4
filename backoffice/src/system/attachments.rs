//! Attachments: photos, scans and PDF documents kept by the SHA-256 of their content (one copy however often they
//! are referenced), with their type read from the bytes themselves, not from what the sender said.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::actor::Actor;
use crate::error::Error;

/// The largest attachment accepted: 5 MiB.
pub const MAX_BYTES: usize = 5 * 1024 * 1024;

/// The types accepted: photos and PDF documents (statements, contracts).
pub const ACCEPTED: &[&str] = &["image/jpeg", "image/png", "image/webp", "application/pdf"];

/// A stored attachment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Stored {
    /// Its SHA-256, hex: how records refer to it.
    pub sha256: String,
    /// What the bytes are.
    pub content_type: String,
    /// Its size in bytes.
    pub size: i32,
    /// When first stored.
    pub created_at: DateTime<Utc>,
}

/// The type of `bytes` by their signature, if it is one accepted.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

/// Checks `bytes` as an attachment: not empty, not over the limit, a JPEG, PNG, WebP or PDF that is what
/// `declared` (the sender's content type, when given) says. Returns its type.
pub fn check(bytes: &[u8], declared: Option<&str>) -> Result<&'static str, Error> {
    if bytes.is_empty() {
        return Err(Error::invalid("file", "is empty"));
    }
    if bytes.len() > MAX_BYTES {
        return Err(Error::invalid(
            "file",
            format!("is {} bytes; at most {} MiB is accepted", bytes.len(), MAX_BYTES / (1024 * 1024)),
        ));
    }
    let Some(kind) = sniff(bytes) else {
        return Err(Error::invalid("file", "must be a photo or a PDF: JPEG, PNG, WebP or PDF"));
    };
    let declared = declared.map(|d| d.split(';').next().unwrap_or(d).trim().to_ascii_lowercase());
    if declared.as_deref().is_some_and(|d| d != kind && d != "application/octet-stream") {
        return Err(Error::invalid(
            "file",
            format!("is a {kind}, not the {} it was sent as", declared.unwrap_or_default()),
        ));
    }
    Ok(kind)
}

/// Stores `bytes` after [`check`]; storing the same content again returns the first copy.
pub async fn store(
    db: &mut PgConnection,
    actor: &Actor,
    bytes: &[u8],
    declared: Option<&str>,
) -> Result<Stored, Error> {
    let kind = check(bytes, declared)?;
    let sha = Sha256::digest(bytes).to_vec();
    let size = i32::try_from(bytes.len()).map_err(|_| Error::invalid("file", "is too large"))?;
    sqlx::query(
        "INSERT INTO attachments (sha256, content_type, size, bytes, uploaded_by) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (sha256) DO NOTHING",
    )
    .bind(&sha)
    .bind(kind)
    .bind(size)
    .bind(bytes)
    .bind(actor.user_id)
    .execute(&mut *db)
    .await?;
    let (content_type, size, created_at): (String, i32, DateTime<Utc>) =
        sqlx::query_as("SELECT content_type, size, created_at FROM attachments WHERE sha256 = $1")
            .bind(&sha)
            .fetch_one(&mut *db)
            .await?;
    Ok(Stored { sha256: hex::encode(&sha), content_type, size, created_at })
}

/// The digests of `hashes` (hex), each stored; else which one is not, against `field`.
pub async fn existing(db: &mut PgConnection, field: &str, hashes: &[String]) -> Result<Vec<Vec<u8>>, Error> {
    if hashes.len() > 50 {
        return Err(Error::invalid(field, "at most 50 photos"));
    }
    let mut digests = Vec::with_capacity(hashes.len());
    for hash in hashes {
        match hex::decode(hash.trim()) {
            Ok(d) if d.len() == 32 => digests.push(d),
            _ => return Err(Error::invalid(field, format!("`{hash}` is not the SHA-256 of an uploaded photo"))),
        }
    }
    let found: i64 = sqlx::query_scalar("SELECT count(*) FROM attachments WHERE sha256 = ANY($1)")
        .bind(&digests)
        .fetch_one(&mut *db)
        .await?;
    let mut unique = digests.clone();
    unique.sort();
    unique.dedup();
    if usize::try_from(found).unwrap_or(0) != unique.len() {
        return Err(Error::invalid(field, "names a photo that was not uploaded (POST /api/v1/attachments first)"));
    }
    Ok(unique)
}

/// The content type and bytes of the attachment `hash`, when stored.
pub async fn fetch(db: &mut PgConnection, hash: &str) -> Result<(String, Vec<u8>), Error> {
    let sha = hex::decode(hash).map_err(|_| Error::NotFound("attachment"))?;
    sqlx::query_as("SELECT content_type, bytes FROM attachments WHERE sha256 = $1")
        .bind(sha)
        .fetch_optional(db)
        .await?
        .ok_or(Error::NotFound("attachment"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn a_photo_is_known_by_its_bytes_not_its_label() {
        assert_eq!(check(PNG, Some("image/png")).ok(), Some("image/png"));
        assert_eq!(check(&[0xFF, 0xD8, 0xFF, 0xE0], None).ok(), Some("image/jpeg"));
        assert_eq!(check(b"RIFF\0\0\0\0WEBPVP8 ", Some("image/webp; q=1")).ok(), Some("image/webp"));
        let message = |r: Result<&str, Error>| match r {
            Err(Error::Validation(e)) => e[0].message.clone(),
            other => format!("{other:?}"),
        };
        assert_eq!(check(b"%PDF-1.7\n", Some("application/pdf")).ok(), Some("application/pdf"));
        assert!(message(check(b"GIF89a", Some("image/gif"))).contains("JPEG, PNG, WebP or PDF"));
        assert!(message(check(b"%PDF-1.7", Some("image/jpeg"))).contains("not the image/jpeg"));
        assert!(message(check(PNG, Some("image/jpeg"))).contains("not the image/jpeg"));
        assert!(message(check(&[], None)).contains("empty"));
        let big = [PNG, &vec![0u8; MAX_BYTES][..]].concat();
        assert!(message(check(&big, None)).contains("at most 5 MiB"));
    }
}
