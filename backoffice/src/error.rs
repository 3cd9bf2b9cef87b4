//! The back office's one error type. Its variants say what went wrong in business terms; the HTTP
//! surface maps each to a status, the CLI to a message. Database failures caused by a request
//! (a unique value taken, a missing reference, a refused value) become their business variant here,
//! where the query runs; the rest are internal.

use serde::Serialize;
use utoipa::ToSchema;

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field, as named in the request (`password`, `stages[1].position`).
    pub field: String,
    /// What is wrong with it, for people.
    pub message: String,
}

/// Everything a back-office service can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request cannot be read (a file that is not CSV, an unreadable value).
    #[error("{0}")]
    BadRequest(String),
    /// No valid credentials: a sign-in refused, a token unknown, expired or revoked.
    #[error("{detail}")]
    Unauthenticated {
        /// `invalid_credentials`, `invalid_token`, `token_expired`.
        code: &'static str,
        /// For people.
        detail: String,
    },
    /// Too many failed sign-ins: the next try must wait.
    #[error("too many failed sign-ins: try again in {retry_after} s")]
    Throttled {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// The actor may not do this.
    #[error("{detail}")]
    Forbidden {
        /// `forbidden`, `maker_cannot_approve`, `cannot_grant`...
        code: &'static str,
        /// For people.
        detail: String,
    },
    /// No such record, or one outside the actor's region.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request conflicts with the record's state (stale version, duplicate, wrong state).
    #[error("{detail}")]
    Conflict {
        /// `version_conflict`, `duplicate`, `invalid_state`.
        code: &'static str,
        /// For people.
        detail: String,
    },
    /// The values are not acceptable; every bad field is listed.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// A dependency is down or not part of this process; try again later.
    #[error("{0}")]
    Unavailable(String),
    /// A database or internal failure.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Invalid input for one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError { field: field.to_owned(), message: message.into() }])
    }

    /// A missing permission.
    pub fn missing_permission(permission: &str) -> Self {
        Self::Forbidden { code: "forbidden", detail: format!("this needs the permission `{permission}`") }
    }

    /// An update made against an older version of the record.
    pub fn stale(current: i32) -> Self {
        Self::Conflict {
            code: "version_conflict",
            detail: format!("the record changed since it was read; its version is now {current}"),
        }
    }

    /// An action the record's state does not allow.
    pub fn invalid_state(detail: impl Into<String>) -> Self {
        Self::Conflict { code: "invalid_state", detail: detail.into() }
    }
}

/// Named constraints become business errors where a request can cause them; the rest is internal.
impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            let constraint = db.constraint().unwrap_or("a constraint").to_owned();
            match db.code().as_deref() {
                Some("23505") => {
                    return Self::Conflict {
                        code: "duplicate",
                        detail: format!("a record with this value exists ({constraint})"),
                    };
                }
                Some("23503") => {
                    return Self::invalid(
                        &constraint,
                        "refers to a record that does not exist, or is still referred to",
                    );
                }
                Some("23514") => return Self::invalid(&constraint, "value not allowed"),
                _ => {}
            }
        }
        Self::Internal(e.to_string())
    }
}

/// Collects field errors so that a request learns everything wrong with it at once.
#[derive(Debug, Default)]
pub struct Checks(Vec<FieldError>);

impl Checks {
    /// Records `message` against `field` unless `ok`.
    pub fn check(&mut self, ok: bool, field: &str, message: impl Into<String>) -> &mut Self {
        if !ok {
            self.0.push(FieldError { field: field.to_owned(), message: message.into() });
        }
        self
    }

    /// A required text field: trimmed non-empty, at most `max` characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> &mut Self {
        let len = value.trim().chars().count();
        self.check(len > 0, field, "must not be empty");
        self.check(len <= max, field, format!("must be at most {max} characters"))
    }

    /// A code (of a position, a tier, a state): 1 to 64 lower-case letters, digits or `_`.
    pub fn code(&mut self, field: &str, value: &str) -> &mut Self {
        self.check(
            (1..=64).contains(&value.len())
                && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            field,
            "must be 1 to 64 lower-case letters, digits or `_`",
        )
    }

    /// A user name: 3 to 64 letters, digits, `.`, `_` or `-`.
    pub fn username(&mut self, username: &str) -> &mut Self {
        self.check(
            (3..=64).contains(&username.chars().count())
                && username.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')),
            "username",
            "must be 3 to 64 letters, digits, `.`, `_` or `-`",
        )
    }

    /// A phone number: 5 to 20 digits, optionally with `+`, `-` or spaces.
    pub fn phone(&mut self, field: &str, phone: &str) -> &mut Self {
        let digits = phone.chars().filter(char::is_ascii_digit).count();
        self.check(
            (5..=20).contains(&digits) && phone.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ')),
            field,
            "must be 5 to 20 digits, optionally with +, - or spaces",
        )
    }

    /// `Ok` when nothing failed, else every failure at once.
    pub fn finish(&mut self) -> Result<(), Error> {
        if self.0.is_empty() { Ok(()) } else { Err(Error::Validation(std::mem::take(&mut self.0))) }
    }
}
