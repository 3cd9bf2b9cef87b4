//! Workflow definitions and what an action does at a stage: pure rules, no database.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::Checks;

/// What the person at a stage can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Pass the request to the next stage, or finish it approved at the last.
    Approve,
    /// Finish the request rejected.
    Reject,
    /// Send the request back to an earlier stage.
    Return,
    /// Hand the task to another user of the same position (转件).
    Transfer,
    /// Add a note without moving the request.
    Note,
}

impl Action {
    /// Its name in the API and the history.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::Return => "return",
            Self::Transfer => "transfer",
            Self::Note => "note",
        }
    }
}

/// One stage of a definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Its name (初审, 复审...).
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// The code of the position whose members act at this stage.
    #[schema(min_length = 1, max_length = 64, pattern = r"\S")]
    pub position: String,
    /// The actions allowed here.
    pub actions: Vec<Action>,
    /// Hours a task may wait before it is overdue.
    pub sla_hours: Option<u32>,
}

/// How an instance ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Approved at the last stage.
    Approved,
    /// Rejected at some stage.
    Rejected,
}

impl Outcome {
    /// Its name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }
}

/// What an action does to an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Open a task at this later stage.
    Advance(usize),
    /// Finish the instance.
    Finish(Outcome),
    /// Open a task at this earlier stage.
    Back(usize),
    /// Reassign the open task.
    Reassign,
    /// Record a note only.
    Noted,
}

/// Why an action cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// The stage does not allow it.
    #[error("the stage `{stage}` does not allow `{action}`")]
    NotAllowed {
        /// The stage's name.
        stage: String,
        /// The action.
        action: &'static str,
    },
    /// `return` needs an earlier stage.
    #[error("`return` needs `to_stage`, an earlier stage (0 to {max})")]
    BadReturn {
        /// The latest stage one can return to.
        max: usize,
    },
    /// The instance's stage is not in its definition.
    #[error("the instance is at a stage its definition does not have")]
    NoSuchStage,
}

/// What `action` at stage `current` does; `to_stage` is the target of a return.
pub fn step(stages: &[Stage], current: usize, action: Action, to_stage: Option<usize>) -> Result<Step, StepError> {
    let stage = stages.get(current).ok_or(StepError::NoSuchStage)?;
    if !stage.actions.contains(&action) {
        return Err(StepError::NotAllowed { stage: stage.name.clone(), action: action.as_str() });
    }
    Ok(match action {
        Action::Approve if current + 1 == stages.len() => Step::Finish(Outcome::Approved),
        Action::Approve => Step::Advance(current + 1),
        Action::Reject => Step::Finish(Outcome::Rejected),
        Action::Return => match to_stage {
            Some(to) if to < current => Step::Back(to),
            _ => return Err(StepError::BadReturn { max: current.saturating_sub(1) }),
        },
        Action::Transfer => Step::Reassign,
        Action::Note => Step::Noted,
    })
}

/// Checks a definition's stages: 1 to 20 of them, each named, with a position and a way forward.
pub fn validate(checks: &mut Checks, stages: &[Stage]) {
    checks.check((1..=20).contains(&stages.len()), "stages", "must have 1 to 20 stages");
    for (i, stage) in stages.iter().enumerate() {
        checks.text(&format!("stages[{i}].name"), &stage.name, 100);
        checks.text(&format!("stages[{i}].position"), &stage.position, 64);
        checks.check(
            stage.actions.contains(&Action::Approve) || stage.actions.contains(&Action::Reject),
            &format!("stages[{i}].actions"),
            "must include approve or reject, or no request could leave this stage",
        );
        checks.check(
            i > 0 || !stage.actions.contains(&Action::Return),
            &format!("stages[{i}].actions"),
            "the first stage has no earlier stage to return to",
        );
        checks.check(
            stage.sla_hours.is_none_or(|h| (1..=8760).contains(&h)),
            &format!("stages[{i}].sla_hours"),
            "must be between 1 and 8760",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> Vec<Stage> {
        let all = vec![Action::Approve, Action::Reject, Action::Return, Action::Transfer, Action::Note];
        ["初审", "复审", "终审"]
            .iter()
            .enumerate()
            .map(|(i, name)| Stage {
                name: (*name).to_owned(),
                position: format!("p{i}"),
                actions: if i == 0 { vec![Action::Approve, Action::Reject, Action::Note] } else { all.clone() },
                sla_hours: Some(24),
            })
            .collect()
    }

    #[test]
    fn approve_advances_then_finishes_at_the_last_stage() {
        let s = three();
        assert_eq!(step(&s, 0, Action::Approve, None), Ok(Step::Advance(1)));
        assert_eq!(step(&s, 1, Action::Approve, None), Ok(Step::Advance(2)));
        assert_eq!(step(&s, 2, Action::Approve, None), Ok(Step::Finish(Outcome::Approved)));
    }

    #[test]
    fn reject_finishes_from_any_stage() {
        assert_eq!(step(&three(), 1, Action::Reject, None), Ok(Step::Finish(Outcome::Rejected)));
    }

    #[test]
    fn return_goes_only_to_an_earlier_stage() {
        let s = three();
        assert_eq!(step(&s, 2, Action::Return, Some(0)), Ok(Step::Back(0)));
        assert!(matches!(step(&s, 2, Action::Return, Some(2)), Err(StepError::BadReturn { max: 1 })));
        assert!(matches!(step(&s, 2, Action::Return, None), Err(StepError::BadReturn { .. })));
    }

    #[test]
    fn actions_a_stage_does_not_list_are_refused() {
        assert!(matches!(step(&three(), 0, Action::Transfer, None), Err(StepError::NotAllowed { .. })));
        assert_eq!(step(&three(), 5, Action::Approve, None), Err(StepError::NoSuchStage));
    }

    #[test]
    fn definitions_without_a_way_forward_or_returning_from_the_first_stage_are_invalid() {
        let mut s = three();
        assert!(Checks::default().finish().is_ok());
        let mut checks = Checks::default();
        validate(&mut checks, &s);
        assert!(checks.finish().is_ok());
        s[1].actions = vec![Action::Note];
        s[0].actions.push(Action::Return);
        let mut checks = Checks::default();
        validate(&mut checks, &s);
        let Err(crate::error::Error::Validation(errors)) = checks.finish() else { panic!("accepted") };
        assert_eq!(errors.len(), 2);
        let mut checks = Checks::default();
        validate(&mut checks, &[]);
        assert!(checks.finish().is_err());
    }
}
