//! Rule thresholds (规则阈值): every rule the monitor runs, and a rule's page with each version of its
//! settings and the form that sets its thresholds for the company or for a region (the narrowest
//! setting wins; a change is a new version, the old ones stay).

use askama::Template;
use axum::Form;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::response::Response;
use backoffice::kit::list::Paged;
use backoffice::risk::rules::{self, NewSetting, RuleInfo, RuleSetting, SettingFilter};
use serde_json::{Map, Number, Value};

use super::TABS;
use crate::console::error::PageError;
use crate::console::form::{self, Done, Fields, Problems};
use crate::console::format::local_time;
use crate::console::i18n::Lang;
use crate::console::list::{self, Cell, Column, ListQuery, ListSpec};
use crate::console::page::{Shell, render};
use crate::console::session::Staff;
use crate::console::system::{NoFilter, region_choices};
use crate::state::AppState;

/// `GET /monitor/rules`: every rule, with how many settings in reach change it.
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    staff.require("monitor.read")?;
    let query: ListQuery<NoFilter> = ListQuery::from_uri(&uri)?;
    let lang = staff.lang;
    let spec = ListSpec {
        path: "/monitor/rules",
        title: "nav.monitor",
        columns: vec![
            Column::plain(lang.t("rule.rule")),
            Column::plain(lang.t("rule.severity")),
            Column::plain(lang.t("rule.payment_aware")),
            Column::plain(lang.t("rule.params")),
            Column::plain(lang.t("rule.settings")).numeric(),
        ],
        tabs: TABS,
        ..ListSpec::default()
    };
    let settings = rules::list(&state.pool, &staff, &SettingFilter { rule: None, history: None }).await?;
    let settings = &settings;
    list::respond(
        &staff,
        spec,
        &query,
        // The monitor's rules are a fixed catalogue: one page holds them all.
        |_| {
            Box::pin(async move {
                let items: Vec<(i64, RuleInfo)> = (1..).zip(rules::catalogue()).collect();
                let total = i64::try_from(items.len()).unwrap_or(i64::MAX);
                Ok(Paged { items, total, total_is_more: false, page: 1, limit: 1000 })
            })
        },
        |(n, r)| {
            let set = settings.iter().filter(|s| s.rule == r.rule).count();
            let cells = vec![
                Cell::link(rule_name(lang, r.rule), format!("/monitor/rules/{}", r.rule)),
                Cell::text(lang.word("severity", r.base_severity)),
                Cell::text(lang.yes_no(r.payment_aware)),
                Cell::text(thresholds(lang, &r.defaults)),
                Cell::number(i64::try_from(set).unwrap_or(i64::MAX)),
            ];
            (*n, cells)
        },
    )
    .await
}

/// A rule's name in words, with its code.
fn rule_name(lang: Lang, rule: &str) -> String {
    format!("{} ({rule})", lang.word("rule.name", rule))
}

/// Thresholds as `name = value` in words.
fn thresholds(lang: Lang, params: &Value) -> String {
    let Some(params) = params.as_object() else { return String::new() };
    params.iter().map(|(k, v)| format!("{} = {v}", lang.word("rule.param", k))).collect::<Vec<_>>().join("; ")
}

/// A row of the settings table.
struct SettingRow {
    scope: String,
    version: i32,
    enabled: String,
    params: String,
    created_at: String,
}

/// A threshold field: its name in the form, its label (with the built-in default), what was typed.
struct ParamField {
    name: String,
    label: String,
    value: String,
}

#[derive(Template)]
#[template(path = "monitor_rule.html")]
struct RulePage {
    shell: Shell,
    rule: String,
    description: String,
    severity: String,
    payment_aware: String,
    settings: Vec<SettingRow>,
    scopes: Vec<(String, String)>,
    scope: String,
    enabled: bool,
    params: Vec<ParamField>,
    may_edit: bool,
    problems: Problems,
    general: Vec<String>,
    done: String,
}

/// What was typed: the scope (`global` or `region:ID`), whether the rule runs there, the thresholds.
struct Typed {
    scope: String,
    enabled: bool,
    params: Vec<(String, String)>,
}

/// The form field of threshold `param`.
fn param_field(param: &str) -> String {
    format!("param_{param}")
}

async fn rule_page(
    state: &AppState,
    staff: &Staff,
    info: &RuleInfo,
    typed: Option<Typed>,
    problems: Problems,
    done: &str,
) -> Result<RulePage, PageError> {
    let lang = staff.lang;
    let filter = SettingFilter { rule: Some(info.rule.to_owned()), history: Some(true) };
    let found = rules::list(&state.pool, staff, &filter).await?;
    let regions = region_choices(state, staff).await?;
    let scope_label = |s: &RuleSetting| match s.scope.as_str() {
        "global" => lang.t("rule.scope.global").to_owned(),
        "region" => {
            let id = s.scope_id.to_string();
            let name = regions.iter().find(|(r, _)| *r == id).map_or(id.as_str(), |(_, n)| n.as_str());
            format!("{} {}", lang.t("rule.scope.region"), name.trim_start_matches("· "))
        }
        other => format!("{} {}", lang.word("rule.scope", other), s.scope_id),
    };
    let settings = found
        .iter()
        .map(|s| SettingRow {
            scope: scope_label(s),
            version: s.version,
            enabled: lang.yes_no(s.enabled),
            params: thresholds(lang, &s.params),
            created_at: local_time(&s.created_at, state.utc_offset_hours),
        })
        .collect();
    // Company-wide settings are set at the head office only.
    let mut scopes = Vec::new();
    if staff.caller.actor.at_root() {
        scopes.push(("global".to_owned(), lang.t("rule.scope.global").to_owned()));
    }
    scopes.extend(
        regions.iter().map(|(id, name)| (format!("region:{id}"), format!("{} {name}", lang.t("rule.scope.region")))),
    );
    let typed = typed.unwrap_or_else(|| Typed {
        scope: scopes.first().map(|(v, _)| v.clone()).unwrap_or_default(),
        enabled: true,
        params: Vec::new(),
    });
    let params = info
        .defaults
        .as_object()
        .into_iter()
        .flatten()
        .map(|(param, default)| {
            let name = param_field(param);
            let value = typed.params.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()).unwrap_or_default();
            let label = format!("{} ({} {default})", lang.word("rule.param", param), lang.t("rule.default"));
            ParamField { label, name, value }
        })
        .collect::<Vec<_>>();
    let mut shown: Vec<&str> = vec!["scope", "enabled"];
    shown.extend(params.iter().map(|p| p.name.as_str()));
    let general = problems.others(&shown);
    let mut shell = Shell::new(staff, "/monitor/rules", "nav.monitor");
    shell.title = rule_name(lang, info.rule);
    Ok(RulePage {
        shell,
        rule: info.rule.to_owned(),
        description: lang.word("rule.describe", info.rule),
        severity: lang.word("severity", info.base_severity),
        payment_aware: lang.yes_no(info.payment_aware),
        settings,
        scopes,
        scope: typed.scope,
        enabled: typed.enabled,
        params,
        may_edit: staff.can("monitor.write"),
        general,
        problems,
        done: done.to_owned(),
    })
}

/// The catalogue's entry for `rule`.
fn info(rule: &str) -> Result<RuleInfo, PageError> {
    rules::catalogue().into_iter().find(|r| r.rule == rule).ok_or(PageError::NotFound)
}

/// `GET /monitor/rules/{rule}`.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Path(rule): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    staff.require("monitor.read")?;
    let done = done.said(staff.lang);
    Ok(render(&rule_page(&state, &staff, &info(&rule)?, None, Problems::default(), &done).await?))
}

/// A typed threshold as the JSON number the rule takes: whole where its default is whole; refused
/// beside its field otherwise. Empty: not set at this scope (the wider setting or default holds).
fn threshold(text: &str, default: &Value, field: &str, problems: &mut Problems) -> Option<Value> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let number = if default.is_f64() {
        text.parse::<f64>().ok().and_then(Number::from_f64)
    } else {
        text.parse::<i64>().ok().map(Number::from)
    };
    match number {
        Some(n) if n.as_f64().is_some_and(|v| v > 0.0 && v < 1e9) => Some(Value::Number(n)),
        Some(_) => {
            problems.add(field, "must be above 0 and below 1,000,000,000");
            None
        }
        None if default.is_f64() => {
            problems.add(field, "must be a number");
            None
        }
        None => {
            problems.add(field, "must be a whole number");
            None
        }
    }
}

/// `POST /monitor/rules/{rule}`: sets the typed thresholds at the chosen scope as its next version.
pub async fn set(
    State(state): State<AppState>,
    staff: Staff,
    Path(rule): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields: Fields = form::accept(&staff, fields, "monitor.write")?;
    let info = info(&rule)?;
    let mut problems = Problems::default();
    let mut params = Map::new();
    let mut typed =
        Typed { scope: fields.one("scope").to_owned(), enabled: fields.one("enabled") != "false", params: Vec::new() };
    for (param, default) in info.defaults.as_object().into_iter().flatten() {
        let name = param_field(param);
        let text = fields.one(&name);
        if let Some(value) = threshold(text, default, &name, &mut problems) {
            params.insert(param.clone(), value);
        }
        typed.params.push((name, text.to_owned()));
    }
    let (scope, scope_id) = match typed.scope.split_once(':') {
        None if typed.scope == "global" => ("global".to_owned(), None),
        Some(("region", id)) => match id.parse() {
            Ok(id) => ("region".to_owned(), Some(id)),
            Err(_) => {
                problems.add("scope", "choose the company or a region");
                (String::new(), None)
            }
        },
        _ => {
            problems.add("scope", "choose the company or a region");
            (String::new(), None)
        }
    };
    if !problems.is_empty() {
        return Ok(form::refused(&rule_page(&state, &staff, &info, Some(typed), problems, "").await?));
    }
    let new = NewSetting { rule: rule.clone(), scope, scope_id, enabled: Some(typed.enabled), params: Some(params) };
    let mut tx = state.pool.begin().await?;
    let outcome = rules::create(&mut tx, &staff, &new).await;
    match form::finish(tx, outcome, |_| format!("/monitor/rules/{rule}?done=saved")).await? {
        Ok(saved) => Ok(saved),
        Err(problems) => Ok(form::refused(&rule_page(&state, &staff, &info, Some(typed), problems, "").await?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn thresholds_take_the_type_of_their_default() {
        let mut problems = Problems::default();
        assert_eq!(threshold(" 3600 ", &json!(86400), "a", &mut problems), Some(json!(3600)));
        assert_eq!(threshold("2.5", &json!(500.0), "b", &mut problems), Some(json!(2.5)));
        assert_eq!(threshold("", &json!(1), "c", &mut problems), None);
        assert!(problems.is_empty());
        assert_eq!(threshold("2.5", &json!(3), "d", &mut problems), None);
        assert_eq!(problems.on("d"), "must be a whole number");
        assert_eq!(threshold("0", &json!(3), "e", &mut problems), None);
        assert_eq!(problems.on("e"), "must be above 0 and below 1,000,000,000");
        assert_eq!(threshold("far", &json!(1.5), "f", &mut problems), None);
        assert_eq!(problems.on("f"), "must be a number");
    }
}
