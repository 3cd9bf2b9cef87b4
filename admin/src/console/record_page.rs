//! A record's page: its facts, its photos, and the forms that act on it (dispatch, register,
//! review...). Each form posts back to the page with an `action` field; a refused form is shown
//! again with what was typed and each message beside its field, the other forms left as they were.
//! The forms are sent as `multipart/form-data`, so any of them can carry photos.

use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use backoffice::system::attachments;
use sqlx::{Postgres, Transaction};

use super::error::PageError;
use super::form::{Fields, Problems};
use super::page::Shell;
use super::session::Staff;
use crate::state::AppState;

/// One control of a form.
pub struct Input {
    /// The field's name (also the service's field, so refusals land beside it).
    pub name: &'static str,
    /// Its label.
    pub label: String,
    /// `text`, `number`, `date`, `datetime-local`, `tel`, `textarea`, `select`, `checks` or `file`.
    pub kind: &'static str,
    /// What it shows (the ticked values of `checks`, comma-separated).
    pub value: String,
    /// A select's or checks' (value, label) choices.
    pub options: Vec<(String, String)>,
}

impl Input {
    /// A plain input of `kind`.
    pub fn new(name: &'static str, label: &str, kind: &'static str) -> Self {
        Self { name, label: label.to_owned(), kind, value: String::new(), options: Vec::new() }
    }

    /// A select among `options`.
    pub fn select(name: &'static str, label: &str, options: Vec<(String, String)>) -> Self {
        Self { options, ..Self::new(name, label, "select") }
    }

    /// Boxes to tick among `options`, `ticked` already.
    pub fn checks(name: &'static str, label: &str, options: Vec<(String, String)>, ticked: &[String]) -> Self {
        Self { options, value: ticked.join(","), ..Self::new(name, label, "checks") }
    }

    /// The boxes of `checks`: (value, label, ticked), as the `checks` macro of `form.html` takes them.
    pub fn ticks(&self) -> Vec<(String, String, &'static bool)> {
        let ticked: Vec<&str> = self.value.split(',').collect();
        let on = |v: &str| if ticked.contains(&v) { &true } else { &false };
        self.options.iter().map(|(v, l)| (v.clone(), l.clone(), on(v))).collect()
    }

    /// With `value` shown.
    pub fn value(mut self, value: impl Into<String>) -> Self {
        self.value = value.into();
        self
    }
}

/// A form acting on the record.
pub struct ActionForm {
    /// The `action` it posts.
    pub action: &'static str,
    /// Its heading.
    pub title: String,
    /// Its controls.
    pub inputs: Vec<Input>,
    /// Its button.
    pub button: String,
    /// What was refused, when it was the one posted.
    pub problems: Problems,
}

impl ActionForm {
    /// A form posting `action`.
    pub fn new(action: &'static str, title: &str, button: &str, inputs: Vec<Input>) -> Self {
        Self { action, title: title.to_owned(), inputs, button: button.to_owned(), problems: Problems::default() }
    }

    /// The refusals no control of the form shows.
    pub fn unplaced(&self) -> Vec<String> {
        let names: Vec<&str> = self.inputs.iter().map(|i| i.name).collect();
        self.problems.others(&names)
    }
}

/// A section of facts.
pub struct Facts {
    /// Its heading.
    pub title: String,
    /// (label, value) lines.
    pub lines: Vec<(String, String)>,
}

/// The page.
#[derive(Template)]
#[template(path = "record.html")]
pub struct RecordPage {
    /// The layout.
    pub shell: Shell,
    /// What the last action did.
    pub done: String,
    /// Links to related pages: (label, href).
    pub links: Vec<(String, String)>,
    /// The facts.
    pub facts: Vec<Facts>,
    /// Photos (SHA-256 of each).
    pub photos: Vec<String>,
    /// Lines of a history table: headings, rows.
    pub history: Option<(String, Vec<String>, Vec<Vec<String>>)>,
    /// The forms the user may use now.
    pub forms: Vec<ActionForm>,
    /// Where the forms post.
    pub post_to: String,
}

impl RecordPage {
    /// A page of `shell` whose forms post to `post_to`, saying `done`, with nothing on it yet.
    pub fn new(shell: Shell, done: String, post_to: String) -> Self {
        Self {
            shell,
            done,
            links: Vec::new(),
            facts: Vec::new(),
            photos: Vec::new(),
            history: None,
            forms: Vec::new(),
            post_to,
        }
    }

    /// Puts `problems` (and what was typed in `fields`) on the form of `action`.
    pub fn refused(mut self, action: &str, fields: &Fields, problems: Problems) -> Self {
        for form in self.forms.iter_mut().filter(|f| f.action == action) {
            for input in form.inputs.iter_mut().filter(|i| i.kind != "file") {
                input.value = if input.kind == "checks" {
                    fields.all(input.name).join(",")
                } else {
                    fields.one(input.name).to_owned()
                };
            }
            form.problems = problems.clone();
        }
        if !self.forms.iter().any(|f| f.action == action)
            && let Some(first) = self.forms.first_mut()
        {
            first.problems = problems;
        }
        self
    }
}

impl RecordPage {
    /// Puts `problems` on the form of `action` as it stands (what it shows kept): for a button whose
    /// refusal names the fields of another form.
    pub fn flagged(mut self, action: &str, problems: Problems) -> Self {
        if let Some(form) = self.forms.iter_mut().find(|f| f.action == action) {
            form.problems = problems;
        }
        self
    }
}

/// A file sent with a form.
pub struct Upload {
    /// The type the browser said.
    pub content_type: Option<String>,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// A multipart form from `staff`: its fields (CSRF checked, then `permission`) and its files.
pub async fn accept_multipart(
    staff: &Staff,
    mut multipart: Multipart,
    permission: &str,
) -> Result<(Fields, Vec<Upload>), PageError> {
    let mut fields = Vec::new();
    let mut uploads = Vec::new();
    loop {
        let field =
            multipart.next_field().await.map_err(|e| PageError::Invalid(format!("the form could not be read: {e}")))?;
        let Some(field) = field else { break };
        let name = field.name().unwrap_or_default().to_owned();
        if field.file_name().is_some() {
            let content_type = field.content_type().map(str::to_owned);
            let bytes = field.bytes().await.map_err(|e| PageError::Invalid(format!("{name}: {e}")))?;
            if !bytes.is_empty() {
                uploads.push(Upload { content_type, bytes: bytes.to_vec() });
            }
        } else {
            let text = field.text().await.map_err(|e| PageError::Invalid(format!("{name}: {e}")))?;
            fields.push((name, text));
        }
    }
    let fields = super::form::accept(staff, fields, permission)?;
    Ok((fields, uploads))
}

/// Stores the photos sent with a form; a refused one (not a photo, too large) is said beside
/// `photos`. Their SHA-256s, in order.
pub async fn store_photos(
    db: &mut sqlx::PgConnection,
    staff: &Staff,
    uploads: &[Upload],
    problems: &mut Problems,
) -> Result<Vec<String>, PageError> {
    let mut photos = Vec::new();
    for upload in uploads {
        match attachments::store(db, staff, &upload.bytes, upload.content_type.as_deref()).await {
            Ok(stored) => photos.push(stored.sha256),
            Err(backoffice::Error::Validation(errors)) => {
                errors.into_iter().for_each(|e| problems.add("photos", e.message))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(photos)
}

/// `GET /attachments/{sha256}`: a photo, to a signed-in user (its hash is the key).
pub async fn attachment(
    State(state): State<AppState>,
    _staff: Staff,
    Path(sha256): Path<String>,
) -> Result<Response, PageError> {
    let mut db = state.pool.acquire().await?;
    let (content_type, bytes) = attachments::fetch(&mut db, &sha256).await?;
    Ok(([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "private, max-age=86400".to_owned())], bytes)
        .into_response())
}

/// Ends an action form's transaction: committed and the user sent on to `to` when the service took
/// it and the form refused nothing of its own; else everything refused (the service's and the
/// form's), to show on the page again. Errors that are not the user's to fix are an error page.
pub async fn settle(
    tx: Transaction<'_, Postgres>,
    outcome: Result<(), backoffice::Error>,
    problems: Problems,
    to: &str,
) -> Result<Result<Response, Problems>, PageError> {
    match outcome {
        Ok(()) if problems.is_empty() => {
            tx.commit().await?;
            Ok(Ok(Redirect::to(to).into_response()))
        }
        Ok(()) => Ok(Err(problems)),
        Err(e) => {
            let mut all = Problems::of(e)?;
            all.extend(problems);
            Ok(Err(all))
        }
    }
}
