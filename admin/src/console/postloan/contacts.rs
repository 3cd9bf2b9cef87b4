//! The contract page's collection record (催收记录): the contacts made about the contract and, for a
//! collector, the form that records a call, message or visit with any promise to pay. The form posts
//! back to the contract page (`contracts::record_contact`); what is built here is its section.

use backoffice::kit::list::PageParams;
use backoffice::postloan::codes::{self, CodeFilter};
use backoffice::postloan::contacts::{self, CHANNELS, NewContact, PARTIES, RESULTS};
use backoffice::postloan::distribution;
use leasewatch_finance::Decimal;

use crate::console::error::PageError;
use crate::console::form::{Fields, Problems};
use crate::console::format::{local_time, money};
use crate::console::i18n::Lang;
use crate::console::session::Staff;
use crate::state::AppState;

/// One contact as the history shows it.
pub struct ContactLine {
    /// When, in the company's time.
    pub at: String,
    /// Who.
    pub who: String,
    /// Channel and party, in words.
    pub how: String,
    /// The result, in words.
    pub result: String,
    /// The collection state it left.
    pub state: String,
    /// The promise: amount and date.
    pub promise: String,
    /// What was said.
    pub note: String,
}

/// What the record form shows: empty, or what was typed when it was refused.
#[derive(Default)]
pub struct Typed {
    /// Channel.
    pub channel: String,
    /// Party.
    pub party: String,
    /// Result.
    pub result: String,
    /// Collection state code.
    pub state_code: String,
    /// Note.
    pub note: String,
    /// Amount promised.
    pub promise_amount: String,
    /// Date promised.
    pub promise_date: String,
}

impl Typed {
    /// The form's fields as sent.
    pub fn of(fields: &Fields) -> Self {
        let one = |name| fields.one(name).trim().to_owned();
        Self {
            channel: one("channel"),
            party: one("party"),
            result: one("result"),
            state_code: one("state_code"),
            note: one("note"),
            promise_amount: one("promise_amount"),
            promise_date: one("promise_date"),
        }
    }

    /// The contact to record; `problems` hears of an amount or date that cannot be read.
    pub fn contact(&self, problems: &mut Problems) -> NewContact {
        let amount = Some(self.promise_amount.replace([',', '¥'], "")).filter(|a| !a.is_empty());
        let promise_amount = amount.and_then(|a| match a.parse::<Decimal>() {
            Ok(amount) => Some(amount),
            Err(_) => {
                problems.add("promise_amount", "must be an amount");
                None
            }
        });
        let date = Some(self.promise_date.as_str()).filter(|d| !d.is_empty());
        let promise_date = date.and_then(|d| match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(day) => Some(day),
            Err(_) => {
                problems.add("promise_date", "must be a date (YYYY-MM-DD)");
                None
            }
        });
        NewContact {
            channel: self.channel.clone(),
            party: self.party.clone(),
            result: self.result.clone(),
            state_code: Some(self.state_code.clone()).filter(|s| !s.is_empty()),
            note: self.note.clone(),
            promise_amount,
            promise_date,
        }
    }
}

/// The record form: its choices, what it shows and what was refused.
pub struct ContactForm {
    /// (value, words) of each choice.
    pub channels: Vec<(String, String)>,
    /// Parties.
    pub parties: Vec<(String, String)>,
    /// Results.
    pub results: Vec<(String, String)>,
    /// The collection states in use, with none first.
    pub states: Vec<(String, String)>,
    /// What it shows.
    pub typed: Typed,
    /// What was refused.
    pub problems: Problems,
    /// Refusals said at the top.
    pub general: Vec<String>,
}

/// The section: who works the contract, the history, and the form for a collector.
pub struct ContactSection {
    /// The collector working it, if any.
    pub collector: String,
    /// Whether the reader may take it (a collector, and no one has it).
    pub may_claim: bool,
    /// The collectors the reader may give it to (a leader of a group working it, or who configures
    /// post-loan): (user, name).
    pub assignable: Vec<(String, String)>,
    /// Newest first.
    pub lines: Vec<ContactLine>,
    /// For those who may record contacts.
    pub form: Option<ContactForm>,
}

fn words(lang: Lang, group: &str, values: &[&str]) -> Vec<(String, String)> {
    values.iter().map(|v| ((*v).to_owned(), lang.word(group, v))).collect()
}

/// The section of the contract `id` for `staff`, or `None` when they may not read collections.
pub async fn section(
    state: &AppState,
    staff: &Staff,
    id: i64,
    typed: Option<Typed>,
    problems: Problems,
) -> Result<Option<ContactSection>, PageError> {
    if !staff.can("postloan.read") {
        return Ok(None);
    }
    let lang = staff.lang;
    let mut db = state.pool.acquire().await?;
    let made = contacts::of_contract(&mut db, staff, id).await?;
    let collector: Option<Option<String>> = sqlx::query_scalar(
        "SELECT u.display_name FROM collection_assignments a LEFT JOIN users u ON u.id = a.collector_id
         WHERE a.contract_id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *db)
    .await?;
    let candidates = distribution::candidates(&mut db, id).await?;
    drop(db);
    let collector = collector.flatten();
    let leads = candidates.iter().any(|(user, _, leader)| *leader && *user == staff.caller.actor.user_id);
    let assignable = if staff.can("postloan.collect") && (leads || staff.can("postloan.configure")) {
        candidates.into_iter().map(|(user, name, _)| (user.to_string(), name)).collect()
    } else {
        Vec::new()
    };
    let lines = made
        .into_iter()
        .map(|c| ContactLine {
            at: local_time(&c.at, state.utc_offset_hours),
            who: c.user_name,
            how: format!("{} · {}", lang.word("contact.channel", &c.channel), lang.word("contact.party", &c.party)),
            result: lang.word("contact.result", &c.result),
            state: c.state_code.unwrap_or_default(),
            promise: match (c.promise_amount, c.promise_date) {
                (Some(amount), Some(day)) => format!("{} · {}", money(&amount), day.format("%Y-%m-%d")),
                _ => String::new(),
            },
            note: c.note,
        })
        .collect();
    let form = if staff.can("postloan.collect") {
        let all = PageParams { limit: Some(200), ..PageParams::default() };
        let filter = CodeFilter { kind: Some("state".to_owned()), active: Some(true) };
        let in_use = codes::list(&state.pool, staff, &all, &filter).await?.items;
        let mut states = vec![(String::new(), lang.t("contact.no_state").to_owned())];
        states.extend(in_use.into_iter().map(|c| (c.code, c.name)));
        let general =
            problems.others(&["channel", "party", "result", "state_code", "note", "promise_amount", "promise_date"]);
        Some(ContactForm {
            channels: words(lang, "contact.channel", CHANNELS),
            parties: words(lang, "contact.party", PARTIES),
            results: words(lang, "contact.result", RESULTS),
            states,
            typed: typed.unwrap_or_else(|| Typed {
                channel: "phone".into(),
                party: "customer".into(),
                result: "connected".into(),
                ..Typed::default()
            }),
            problems,
            general,
        })
    } else {
        None
    };
    Ok(Some(ContactSection {
        may_claim: collector.is_none() && staff.can("postloan.collect"),
        assignable,
        collector: collector.unwrap_or_default(),
        lines,
        form,
    }))
}
