//! The settings store: tunable parameters with a type, bounds and a default, declared here and
//! changed through the API and the console (validated and audited). Code reads them with [`get_int`].

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgExecutor, PgPool};
use utoipa::ToSchema;

use leasewatch_monitor::risk::Weights;

use crate::actor::Actor;
use crate::error::Error;
use crate::kit::audit::{self, Change};

/// One tunable parameter.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// Its key (`auth.max_failed_logins`).
    pub key: &'static str,
    /// What it controls.
    pub description: &'static str,
    /// The value used until someone sets it.
    pub default: i64,
    /// Smallest allowed value.
    pub min: i64,
    /// Largest allowed value.
    pub max: i64,
}

/// Every setting.
pub const CATALOGUE: &[Setting] = &[
    Setting {
        key: "auth.max_failed_logins",
        description: "Failed sign-ins to one account from one address before each further try must wait (1 s, 2 s, 4 s...)",
        default: 5,
        min: 3,
        max: 20,
    },
    Setting {
        key: "auth.lockout_minutes",
        description: "The longest wait between sign-in tries from an address that keeps failing",
        default: 15,
        min: 1,
        max: 1440,
    },
    Setting {
        key: "auth.access_token_minutes",
        description: "Lifetime of an access token",
        default: 15,
        min: 1,
        max: 120,
    },
    Setting {
        key: "auth.refresh_token_hours",
        description: "Lifetime of a refresh token",
        default: 12,
        min: 1,
        max: 720,
    },
    Setting {
        key: "auth.password_min_length",
        description: "Fewest characters in a new password",
        default: 10,
        min: 8,
        max: 64,
    },
    Setting {
        key: "postloan.contact_from_hour",
        description: "The first hour of the customer's day in which they or a third party may be contacted",
        default: 8,
        min: 0,
        max: 23,
    },
    Setting {
        key: "postloan.contact_until_hour",
        description: "The hour of the customer's day from which no one may be contacted any more",
        default: 21,
        min: 1,
        max: 24,
    },
    Setting {
        key: "postloan.contacts_per_day",
        description: "Contacts a day with one contract's customer, or with each kind of third party",
        default: 3,
        min: 1,
        max: 20,
    },
    Setting {
        key: "origination.min_age",
        description: "The youngest an individual applicant may be on the day of applying",
        default: 18,
        min: 16,
        max: 30,
    },
    Setting {
        key: "origination.max_age_at_end",
        description: "The oldest an individual applicant may be on the last day of the term",
        default: 65,
        min: 50,
        max: 80,
    },
    Setting {
        key: "origination.final_review_above",
        description: "Financed amounts (yuan) above which an application goes on to the final review (终审)",
        default: 200_000,
        min: 0,
        max: 100_000_000,
    },
    Setting {
        key: "origination.shared_phone_limit",
        description: "Applicants sharing one phone from which an application is flagged for the review",
        default: 3,
        min: 2,
        max: 20,
    },
    Setting {
        key: "origination.documents_due_days",
        description: "Days after disbursement within which its documents are due (贷后审核)",
        default: 30,
        min: 1,
        max: 365,
    },
    risk_points(
        "risk.points.days_past_due",
        "Risk score: points per 5 days past due (counted up to 90 days)",
        Weights::DEFAULT.days_past_due,
    ),
    risk_points(
        "risk.points.repossession_bucket",
        "Risk score: points for a contract in the repossession bucket (M2 and later)",
        Weights::DEFAULT.repossession_bucket,
    ),
    risk_points(
        "risk.points.partial_payments",
        "Risk score: points per installment paid in part (up to 3)",
        Weights::DEFAULT.partial_payments,
    ),
    risk_points(
        "risk.points.broken_promises",
        "Risk score: points per broken promise to pay (up to 2)",
        Weights::DEFAULT.broken_promises,
    ),
    risk_points(
        "risk.points.device_integrity",
        "Risk score: points per tracker integrity alert in 90 days (up to 2)",
        Weights::DEFAULT.device_integrity,
    ),
    risk_points(
        "risk.points.risk_locations",
        "Risk score: points per risk-location alert in 90 days (up to 2)",
        Weights::DEFAULT.risk_locations,
    ),
    risk_points(
        "risk.points.routine_breaks",
        "Risk score: points per break in routine in 90 days (up to 2)",
        Weights::DEFAULT.routine_breaks,
    ),
    risk_points(
        "risk.points.silences",
        "Risk score: points per tracker silence in 90 days (up to 2)",
        Weights::DEFAULT.silences,
    ),
];

/// A risk-score weight: points from 0 to [`Weights::MAX`], the monitor's default until set.
const fn risk_points(key: &'static str, description: &'static str, default: i32) -> Setting {
    Setting { key, description, default: default as i64, min: 0, max: Weights::MAX as i64 }
}

/// The declaration of `key`.
pub fn find(key: &str) -> Option<&'static Setting> {
    CATALOGUE.iter().find(|s| s.key == key)
}

impl Setting {
    /// Checks a proposed value: an integer within bounds.
    pub fn validate(&self, value: &Value) -> Result<i64, String> {
        let Some(n) = value.as_i64() else { return Err("must be an integer".to_owned()) };
        if n < self.min || n > self.max {
            return Err(format!("must be between {} and {}", self.min, self.max));
        }
        Ok(n)
    }
}

/// The current value of an integer setting: stored, else its default.
pub async fn get_int(db: impl PgExecutor<'_>, setting: &Setting) -> Result<i64, sqlx::Error> {
    let stored: Option<Value> =
        sqlx::query_scalar("SELECT value FROM settings WHERE key = $1").bind(setting.key).fetch_optional(db).await?;
    Ok(stored.and_then(|v| setting.validate(&v).ok()).unwrap_or(setting.default))
}

/// A setting with its current value.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingView {
    /// Its key.
    pub key: String,
    /// What it controls.
    pub description: String,
    /// The value in force.
    pub value: i64,
    /// The value when never set.
    pub default: i64,
    /// Smallest allowed.
    pub min: i64,
    /// Largest allowed.
    pub max: i64,
    /// For optimistic concurrency: 0 while never set.
    pub version: i32,
}

fn view(setting: &Setting, stored: Option<&(String, Value, i32)>) -> SettingView {
    SettingView {
        key: setting.key.to_owned(),
        description: setting.description.to_owned(),
        value: stored.and_then(|(_, v, _)| setting.validate(v).ok()).unwrap_or(setting.default),
        default: setting.default,
        min: setting.min,
        max: setting.max,
        version: stored.map_or(0, |(_, _, v)| *v),
    }
}

/// Every setting and its value in force, in catalogue order.
pub async fn list(pool: &PgPool) -> Result<Vec<SettingView>, Error> {
    let stored: Vec<(String, Value, i32)> =
        sqlx::query_as("SELECT key, value, version FROM settings").fetch_all(pool).await?;
    Ok(CATALOGUE.iter().map(|s| view(s, stored.iter().find(|(k, _, _)| k == s.key))).collect())
}

/// A new value.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingChange {
    /// The value.
    pub value: Value,
    /// The version read (0 for a setting never set).
    pub version: i32,
}

/// Sets the value of `key` (with the version that was read), within its bounds; audited.
pub async fn set(
    db: &mut PgConnection,
    actor: &Actor,
    key: &str,
    change: &SettingChange,
) -> Result<SettingView, Error> {
    let setting = find(key).ok_or(Error::NotFound("setting"))?;
    let value = setting.validate(&change.value).map_err(|m| Error::invalid("value", m))?;
    let before: Option<(String, Value, i32)> =
        sqlx::query_as("SELECT key, value, version FROM settings WHERE key = $1 FOR UPDATE")
            .bind(setting.key)
            .fetch_optional(&mut *db)
            .await?;
    let current = before.as_ref().map_or(0, |(_, _, v)| *v);
    if current != change.version {
        return Err(Error::stale(current));
    }
    let after: (String, Value, i32) = sqlx::query_as(
        "INSERT INTO settings (key, value, updated_by) VALUES ($1, $2, $3)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, version = settings.version + 1,
             updated_by = EXCLUDED.updated_by, updated_at = now()
         RETURNING key, value, version",
    )
    .bind(setting.key)
    .bind(json!(value))
    .bind(actor.user_id)
    .fetch_one(&mut *db)
    .await?;
    let (before, after) = (view(setting, before.as_ref()), view(setting, Some(&after)));
    let entry =
        Change::new("update", "setting", setting.key.to_owned(), None).before(json!(before)).after(json!(after));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(after)
}

/// `auth.max_failed_logins`.
pub const MAX_FAILED_LOGINS: &Setting = &CATALOGUE[0];
/// `auth.lockout_minutes`.
pub const LOCKOUT_MINUTES: &Setting = &CATALOGUE[1];
/// `auth.access_token_minutes`.
pub const ACCESS_TOKEN_MINUTES: &Setting = &CATALOGUE[2];
/// `auth.refresh_token_hours`.
pub const REFRESH_TOKEN_HOURS: &Setting = &CATALOGUE[3];
/// `auth.password_min_length`.
pub const PASSWORD_MIN_LENGTH: &Setting = &CATALOGUE[4];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_constants_point_at_their_keys() {
        assert_eq!(MAX_FAILED_LOGINS.key, "auth.max_failed_logins");
        assert_eq!(LOCKOUT_MINUTES.key, "auth.lockout_minutes");
        assert_eq!(ACCESS_TOKEN_MINUTES.key, "auth.access_token_minutes");
        assert_eq!(REFRESH_TOKEN_HOURS.key, "auth.refresh_token_hours");
        assert_eq!(PASSWORD_MIN_LENGTH.key, "auth.password_min_length");
    }

    #[test]
    fn values_are_integers_within_bounds() {
        assert_eq!(MAX_FAILED_LOGINS.validate(&Value::from(5)), Ok(5));
        assert!(MAX_FAILED_LOGINS.validate(&Value::from(2)).is_err());
        assert!(MAX_FAILED_LOGINS.validate(&Value::from("5")).is_err());
        assert!(CATALOGUE.iter().all(|s| s.validate(&Value::from(s.default)).is_ok()));
    }
}
