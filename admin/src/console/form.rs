//! The one way to write a form: a page posts back to itself; when a service refuses the values,
//! the same page is shown again with what was typed kept and each message beside its field (the
//! `field`, `select` and `problem` macros of `templates/form.html`), with status 422. A refusal that
//! names no field (a stale version, a duplicate, a wrong state) is said at the top of the form.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sqlx::{Postgres, Transaction};

use super::error::PageError;
use super::i18n::Lang;
use super::page::render;
use super::session::Staff;

/// What a refused form says back.
#[derive(Debug, Default, Clone)]
pub struct Problems {
    /// (field, message) for each refused field.
    fields: Vec<(String, String)>,
    /// A refusal of the form as a whole.
    general: Option<String>,
}

impl Problems {
    /// The refusal a user can act on; any other error becomes an error page.
    pub fn of(error: backoffice::Error) -> Result<Self, PageError> {
        match error {
            backoffice::Error::Validation(errors) => {
                Ok(Self { fields: errors.into_iter().map(|e| (e.field, e.message)).collect(), general: None })
            }
            backoffice::Error::Conflict { detail, .. }
            | backoffice::Error::Forbidden { code: "cannot_grant", detail } => Ok(Self::general(detail)),
            other => Err(PageError::from(other)),
        }
    }

    /// Adds a refusal of `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.fields.push((field.to_owned(), message.into()));
    }

    /// A refusal of the whole form.
    pub fn general(message: impl Into<String>) -> Self {
        Self { fields: Vec::new(), general: Some(message.into()) }
    }

    /// The message beside `field`, or an empty string.
    pub fn on(&self, field: &str) -> &str {
        // A field of a list (`stages[0].position`) is reported on the list's own field.
        let matches = |name: &str| name == field || name.split(['[', '.']).next() == Some(field);
        self.fields.iter().find(|(name, _)| matches(name)).map_or("", |(_, m)| m.as_str())
    }

    /// The messages that no field of the form shows: said at its top.
    pub fn others(&self, shown: &[&str]) -> Vec<String> {
        let field_of = |name: &str| name.split(['[', '.']).next().unwrap_or(name).to_owned();
        self.general
            .iter()
            .cloned()
            .chain(
                self.fields
                    .iter()
                    .filter(|(name, _)| !shown.contains(&field_of(name).as_str()))
                    .map(|(name, message)| format!("{name}: {message}")),
            )
            .collect()
    }

    /// Adds every refusal of `other`.
    pub fn extend(&mut self, other: Problems) {
        self.fields.extend(other.fields);
        self.general = self.general.take().or(other.general);
    }

    /// Whether nothing was refused.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_none()
    }
}

/// A posted form accepted from `staff`: its CSRF token checked, then `permission`; its fields.
pub fn accept(staff: &Staff, sent: Vec<(String, String)>, permission: &str) -> Result<Fields, PageError> {
    let fields = Fields(sent);
    staff.check_csrf(fields.one("csrf"))?;
    staff.require(permission)?;
    Ok(fields)
}

/// A posted form's fields as sent, in order; a field may repeat (a group of checkboxes).
#[derive(Debug, Default, Clone)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The value of `name`, or an empty string.
    pub fn one(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }

    /// The number in `name`: `None` when empty, refused beside the field when not a number.
    pub fn number<T: std::str::FromStr>(&self, name: &str, problems: &mut Problems) -> Option<T> {
        let text = self.one(name).trim();
        if text.is_empty() {
            return None;
        }
        let parsed = text.parse().ok();
        if parsed.is_none() {
            problems.fields.push((name.to_owned(), "must be a number".to_owned()));
        }
        parsed
    }
}

impl Fields {
    /// The amount of money in `name` (`2700`, `2,700.50`, `¥2700`); refused beside the field when
    /// it is not one (an empty field included).
    pub fn amount(&self, name: &str, problems: &mut Problems) -> Option<leasewatch_finance::Decimal> {
        let parsed = self.one(name).trim().replace(['¥', ','], "").parse().ok();
        if parsed.is_none() {
            problems.add(name, "must be an amount in yuan, e.g. 2700 or 2700.50");
        }
        parsed
    }
}

/// The outcome a page says after a button sent the user back to it (`?done=saved`).
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    /// `saved`, `asked`, `unlocked` or `signed_out`.
    #[serde(default)]
    done: String,
}

impl Done {
    /// The outcome in words, or an empty string when there is none (or it is not one we say).
    pub fn said(&self, lang: Lang) -> String {
        match self.done.as_str() {
            "saved" | "asked" | "unlocked" | "signed_out" => lang.t(&format!("system.done.{}", self.done)).to_owned(),
            _ => String::new(),
        }
    }
}

/// Ends a form's transaction with what the service made of it: committed, the user is sent on to
/// `to(&saved)`; refused, the problems to show on the form again (the transaction rolled back).
/// Errors that are not the user's to fix are an error page.
pub async fn finish<T>(
    tx: Transaction<'_, Postgres>,
    outcome: Result<T, backoffice::Error>,
    to: impl FnOnce(&T) -> String,
) -> Result<Result<Response, Problems>, PageError> {
    match outcome {
        Ok(saved) => {
            tx.commit().await?;
            Ok(Ok(Redirect::to(&to(&saved)).into_response()))
        }
        Err(e) => {
            drop(tx);
            Ok(Err(Problems::of(e)?))
        }
    }
}

/// The page again, with its problems, as a refusal.
pub fn refused(page: &impl askama::Template) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, render(page)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validation(fields: &[(&str, &str)]) -> backoffice::Error {
        backoffice::Error::Validation(
            fields
                .iter()
                .map(|(f, m)| backoffice::error::FieldError { field: (*f).to_owned(), message: (*m).to_owned() })
                .collect(),
        )
    }

    #[test]
    fn each_message_goes_beside_its_field() {
        let problems = Problems::of(validation(&[("name", "is empty"), ("stages[1].position", "unknown")])).unwrap();
        assert_eq!(problems.on("name"), "is empty");
        assert_eq!(problems.on("stages"), "unknown");
        assert_eq!(problems.on("code"), "");
        assert!(problems.others(&["name", "stages"]).is_empty());
        assert_eq!(problems.others(&["name"]), vec!["stages[1].position: unknown".to_owned()]);
    }

    #[test]
    fn a_conflict_is_said_at_the_top_and_other_errors_are_pages() {
        let stale = backoffice::Error::stale(3);
        let problems = Problems::of(stale).unwrap();
        assert_eq!(problems.on("version"), "");
        assert_eq!(problems.others(&[]).len(), 1);
        assert!(Problems::of(backoffice::Error::NotFound("user")).is_err());
    }
}
