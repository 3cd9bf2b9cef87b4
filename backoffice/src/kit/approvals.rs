//! Maker-checker: submitting a request on a business object into the workflow of the same key, so
//! that a second person approves it; the area's hook (declared in the area, see
//! `system/workflow/hooks.rs`) carries it out when the last stage approves.

use sqlx::PgConnection;

use crate::actor::Actor;
use crate::error::Error;
use crate::system::workflow::engine::{self, Instance, NewInstance};

/// Submits a request of `kind` on `subject` into the workflow of the same key; 422 when the
/// company has not defined that workflow yet.
pub async fn submit(
    db: &mut PgConnection,
    actor: &Actor,
    kind: &str,
    subject: i64,
    region_id: i64,
    title: &str,
) -> Result<Instance, Error> {
    let pending: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM workflow_instances WHERE subject_type = $1 AND subject_id = $2 AND status = 'active')",
    )
    .bind(kind)
    .bind(subject.to_string())
    .fetch_one(&mut *db)
    .await?;
    if pending {
        return Err(Error::invalid_state("a request on this is already waiting for approval"));
    }
    let new = NewInstance {
        definition_key: kind.to_owned(),
        subject_type: kind.to_owned(),
        subject_id: subject.to_string(),
        title: title.chars().take(200).collect(),
        region_id: Some(region_id),
    };
    engine::start(db, actor, &new).await.map_err(|e| match e {
        Error::Validation(errors) if errors.iter().any(|f| f.field == "definition_key") => Error::invalid_state(
            format!("define the `{kind}` workflow (POST /api/v1/workflow-definitions) before requesting this"),
        ),
        other => other,
    })
}
