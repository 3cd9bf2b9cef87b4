//! The API's one error type. Every variant documents its HTTP status; each becomes an RFC 9457
//! `application/problem+json` body with a stable `code`. Database and internal errors are logged
//! and answered with a bare 500: no detail leaks to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
pub use backoffice::error::{Checks, FieldError};
use serde::Serialize;
use utoipa::ToSchema;

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type (`about:blank` for plain HTTP statuses).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the status.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened, for people.
    pub detail: String,
    /// A stable, machine-readable reason (`validation_failed`, `version_conflict`...).
    pub code: String,
    /// Per-field messages, for `validation_failed`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be read (bad JSON, bad parameter).
    #[error("{0}")]
    BadRequest(String),
    /// 401: no valid credentials, or a login refused; `code` says which.
    #[error("{detail}")]
    Unauthenticated {
        /// `unauthenticated`, `invalid_credentials`, `account_locked`, `token_expired`.
        code: &'static str,
        /// For people.
        detail: String,
    },
    /// 429: too many failed sign-ins; `Retry-After` says when to try again.
    #[error("too many failed sign-ins: try again in {0} s")]
    TooManyRequests(u64),
    /// 403: authenticated, but not allowed.
    #[error("{detail}")]
    Forbidden {
        /// `forbidden`, `maker_cannot_approve`...
        code: &'static str,
        /// For people.
        detail: String,
    },
    /// 404: no such record, or one outside the caller's region.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 409: the request conflicts with the record's state (stale version, duplicate, wrong state).
    #[error("{detail}")]
    Conflict {
        /// `version_conflict`, `duplicate`, `invalid_state`, `idempotency_in_progress`.
        code: &'static str,
        /// For people.
        detail: String,
    },
    /// 415: the body is not JSON.
    #[error("expected a JSON body (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// 422: the request is well-formed but its values are not acceptable.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// 503: a dependency is down or not part of this process; try again later.
    #[error("{0}")]
    Unavailable(String),
    /// 500: a database or internal failure; logged, never detailed to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 422 for one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        backoffice::Error::invalid(field, message).into()
    }

    /// A 403 for a missing permission.
    pub fn missing_permission(permission: &str) -> Self {
        backoffice::Error::missing_permission(permission).into()
    }

    /// A 409 for an update made against an older version of the record.
    pub fn stale(current: i32) -> Self {
        backoffice::Error::stale(current).into()
    }

    /// A 409 for an action the record's state does not allow.
    pub fn invalid_state(detail: impl Into<String>) -> Self {
        backoffice::Error::invalid_state(detail).into()
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthenticated { code, .. } | Self::Forbidden { code, .. } | Self::Conflict { code, .. } => code,
            Self::NotFound(_) => "not_found",
            Self::TooManyRequests(_) => "too_many_attempts",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Validation(_) => "validation_failed",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal_error",
        }
    }
}

/// Named constraints become 4xx where they can be caused by a request; the rest is a 500.
impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        backoffice::Error::from(e).into()
    }
}

/// Each business failure answers with its status: missing → 404, refused → 403, conflicting → 409,
/// invalid → 422.
impl From<backoffice::Error> for ApiError {
    fn from(e: backoffice::Error) -> Self {
        use backoffice::Error as E;
        match e {
            E::BadRequest(detail) => Self::BadRequest(detail),
            E::Unauthenticated { code, detail } => Self::Unauthenticated { code, detail },
            E::Throttled { retry_after } => Self::TooManyRequests(retry_after),
            E::Forbidden { code, detail } => Self::Forbidden { code, detail },
            E::NotFound(what) => Self::NotFound(what),
            E::Conflict { code, detail } => Self::Conflict { code, detail },
            E::Validation(errors) => Self::Validation(errors),
            E::Unavailable(detail) => Self::Unavailable(detail),
            E::Internal(detail) => Self::Internal(detail),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match &self {
            Self::Internal(message) => {
                tracing::error!(error = %message, "request failed");
                "the server could not complete the request; it has been logged".to_owned()
            }
            other => other.to_string(),
        };
        let code = self.code().to_owned();
        let retry_after = match &self {
            Self::TooManyRequests(seconds) => Some(*seconds),
            _ => None,
        };
        let errors = match self {
            Self::Validation(errors) => errors,
            _ => Vec::new(),
        };
        let problem = Problem {
            kind: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            code,
            errors,
        };
        let mut response = (status, axum::Json(problem)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
