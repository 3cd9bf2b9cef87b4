//! Passwords: the policy a new password must meet, setting a user's password, and argon2id hashing (run off the async
//! threads, since a hash costs tens of milliseconds by design).

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use serde_json::json;
use sqlx::PgPool;

use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};
use crate::system::settings;

/// The rules a new password must meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Fewest characters.
    pub min_length: usize,
}

impl Policy {
    /// Checks `password` for the user `username`; the messages say what to change.
    pub fn check(&self, username: &str, password: &str) -> Result<(), Error> {
        let classes = [
            password.chars().any(|c| c.is_lowercase()),
            password.chars().any(|c| c.is_uppercase()),
            password.chars().any(|c| c.is_ascii_digit()),
            password.chars().any(|c| !c.is_alphanumeric()),
        ];
        let lowered = password.to_lowercase();
        Checks::default()
            .check(
                password.chars().count() >= self.min_length,
                "password",
                format!("must have at least {} characters", self.min_length),
            )
            .check(password.chars().count() <= 128, "password", "must have at most 128 characters")
            .check(
                classes.iter().filter(|&&c| c).count() >= 3,
                "password",
                "must mix at least three of: lower case, upper case, digits, symbols",
            )
            .check(
                username.chars().count() < 3 || !lowered.contains(&username.to_lowercase()),
                "password",
                "must not contain the user name",
            )
            .finish()
    }
}

/// The argon2id cost; the defaults are OWASP's (19 MiB, 2 passes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HashCost {
    /// Memory per hash, in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
}

impl Default for HashCost {
    fn default() -> Self {
        Self { memory_kib: 19 * 1024, iterations: 2 }
    }
}

fn hasher(cost: HashCost) -> Result<Argon2<'static>, Error> {
    let params = Params::new(cost.memory_kib, cost.iterations, 1, None)
        .map_err(|e| Error::Internal(format!("bad argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The PHC string (`$argon2id$v=19$...`) of `password` under a fresh salt.
pub async fn hash(password: String, cost: HashCost) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || {
        hasher(cost)?
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("cannot hash a password: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(format!("hashing task failed: {e}")))?
}

/// Whether `password` matches `phc`. An unreadable stored hash never matches.
pub async fn verify(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&phc)
            .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so that a login for an unknown name
/// takes as long as one for a known name.
pub const DECOY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0oTUhXFDJl3HTNFzmyBN0K4Hh0zVvGdbA8AjvhkEdWw";

/// The actor changes their own password, proving the current one; their other sessions end.
pub async fn change_own(
    pool: &PgPool,
    cost: HashCost,
    actor: &Actor,
    session_id: i64,
    current_password: String,
    new_password: String,
) -> Result<(), Error> {
    let current: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1").bind(actor.user_id).fetch_one(pool).await?;
    if !verify(current_password, current).await {
        return Err(Error::invalid("current_password", "is not the current password"));
    }
    set(pool, cost, actor, actor.user_id, &actor.username, new_password, Some(session_id)).await
}

/// Replaces the password of `user_id` after the policy check, revoking their sessions except `keep`.
pub async fn set(
    pool: &PgPool,
    cost: HashCost,
    actor: &Actor,
    user_id: i64,
    username: &str,
    new_password: String,
    keep: Option<i64>,
) -> Result<(), Error> {
    let min_length = settings::get_int(pool, settings::PASSWORD_MIN_LENGTH).await?;
    Policy { min_length: usize::try_from(min_length).unwrap_or(10) }.check(username, &new_password)?;
    let hash = hash(new_password, cost).await?;
    let mut tx = pool.begin().await?;
    let region_id: i64 = sqlx::query_scalar(
        "UPDATE users SET password_hash = $2, failed_logins = 0, locked_until = NULL, version = version + 1,
             updated_at = now() WHERE id = $1 RETURNING region_id",
    )
    .bind(user_id)
    .bind(hash)
    .fetch_one(&mut *tx)
    .await?;
    crate::system::sessions::revoke_all(&mut tx, user_id, keep).await?;
    audit::record(
        &mut *tx,
        actor.author(),
        Change::new("set_password", "user", user_id, Some(region_id)).after(json!({"password": "(changed)"})),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy { min_length: 10 }
    }

    #[test]
    fn a_long_mixed_password_is_accepted() {
        assert!(policy().check("zhangsan", "Correct-Horse-9").is_ok());
    }

    #[test]
    fn short_plain_or_name_bearing_passwords_are_refused_with_reasons() {
        let Err(Error::Validation(errors)) = policy().check("zhangsan", "abc") else { panic!("accepted") };
        assert_eq!(errors.len(), 2);
        assert!(policy().check("zhangsan", "alllowercaseletters").is_err());
        assert!(policy().check("zhangsan", "Zhangsan-2026!").is_err());
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let cost = HashCost { memory_kib: 1024, iterations: 1 };
        let phc = hash("Correct-Horse-9".into(), cost).await.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify("Correct-Horse-9".into(), phc.clone()).await);
        assert!(!verify("correct-horse-9".into(), phc).await);
        assert!(!verify("x".into(), "not a hash".into()).await);
    }

    #[tokio::test]
    async fn the_decoy_hash_parses_and_matches_nothing_likely() {
        assert!(PasswordHash::new(DECOY_HASH).is_ok());
        assert!(!verify("Correct-Horse-9".into(), DECOY_HASH.into()).await);
    }
}
