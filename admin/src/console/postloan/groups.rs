//! Collection groups (催收组别) with their members (催收组员): the list, a page that adds one, and a
//! group's page where its name, region, buckets, the regions it works, its members (who leads, who
//! is absent) and whether it gets work are changed.

use askama::Template;
use axum::extract::{OriginalUri, State};
use axum::response::Response;
use backoffice::Error;
use backoffice::kit::list::PageParams;
use backoffice::postloan::groups::{self, BALANCES, GroupFilter, GroupUpdate, MAX_BUCKET, MemberSpec, NewGroup};
use backoffice::system::users::{self, UserFilter};
use sqlx::PgConnection;

use super::TABS;
use crate::console::editor::Editor;
use crate::console::error::PageError;
use crate::console::form::{Fields, Problems};
use crate::console::list::{self, Cell, Column, ListQuery, ListSpec};
use crate::console::page::Shell;
use crate::console::session::Staff;
use crate::console::system::region_choices;
use crate::state::AppState;

/// `GET /postloan/groups`.
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    staff.require("postloan.read")?;
    let query: ListQuery<GroupFilter> = ListQuery::from_uri(&uri)?;
    let lang = staff.lang;
    let spec = ListSpec {
        path: "/postloan/groups",
        title: "nav.postloan",
        filters: vec![query.field("bucket", lang.t("field.bucket"), "number")],
        columns: vec![
            Column::plain(lang.t("group.code")).sorted("code"),
            Column::plain(lang.t("group.name")).sorted("name"),
            Column::plain(lang.t("group.region")),
            Column::plain(lang.t("group.buckets")),
            Column::plain(lang.t("group.members")),
            Column::plain(lang.t("group.active")),
        ],
        tabs: TABS,
        create: staff.can("postloan.configure").then_some("/postloan/groups/new"),
        ..ListSpec::default()
    };
    let (pool, actor, filter) = (&state.pool, &staff.caller.actor, &query.filter);
    list::respond(
        &staff,
        spec,
        &query,
        |page| Box::pin(async move { groups::list(pool, actor, &page, filter).await }),
        |g| {
            let members: Vec<String> = g.members.iter().map(|m| m.display_name.clone()).collect();
            let cells = vec![
                Cell::link(g.code.clone(), format!("/postloan/groups/{}", g.id)),
                Cell::text(g.name.clone()),
                Cell::text(g.region_name.clone()),
                Cell::text(buckets_text(&g.buckets)),
                Cell::text(members.join("、")),
                Cell::text(lang.yes_no(g.active)),
            ];
            (g.id, cells)
        },
    )
    .await
}

/// Buckets as collectors name them: `M1 M2`.
fn buckets_text(buckets: &[i32]) -> String {
    buckets.iter().map(|b| format!("M{b}")).collect::<Vec<_>>().join(" ")
}

/// A collection group's form.
#[derive(Template)]
#[template(path = "postloan_group.html")]
pub struct GroupPage {
    shell: Shell,
    /// `None` while being added.
    id: Option<i64>,
    version: i32,
    code: String,
    group_name: String,
    region: String,
    regions: Vec<(String, String)>,
    active: bool,
    /// (value, label, ticked) for each box group.
    buckets: Vec<(String, String, bool)>,
    worked: Vec<(String, String, bool)>,
    members: Vec<(String, String, bool)>,
    absent: Vec<(String, String, bool)>,
    leaders: Vec<(String, String)>,
    leader: String,
    /// (value, label) of each way of sharing work, and the one chosen.
    balances: Vec<(String, String)>,
    balance: String,
    may_edit: bool,
    problems: Problems,
    general: Vec<String>,
    done: String,
}

/// What the form shows: the group as stored, or what was typed.
#[derive(Default)]
pub struct GroupForm {
    code: String,
    name: String,
    region: String,
    active: bool,
    buckets: Vec<String>,
    worked: Vec<String>,
    members: Vec<String>,
    absent: Vec<String>,
    leader: String,
    balance: String,
}

impl GroupForm {
    /// The buckets, the regions worked and the members as the service takes them; `problems` hears
    /// of what is not a number.
    fn numbers(&self, problems: &mut Problems) -> (Vec<i32>, Vec<i64>, Vec<MemberSpec>) {
        let buckets = numbers(&self.buckets, "buckets", problems);
        let regions = numbers(&self.worked, "regions", problems);
        (buckets, regions, self.member_specs(problems))
    }

    /// The members as the service takes them; `problems` hears of what is not a number.
    fn member_specs(&self, problems: &mut Problems) -> Vec<MemberSpec> {
        let mut specs = Vec::new();
        for member in &self.members {
            match member.parse() {
                Ok(user_id) => specs.push(MemberSpec {
                    user_id,
                    leader: *member == self.leader,
                    active: !self.absent.contains(member),
                }),
                Err(_) => problems.add("members", format!("`{member}` is not a user")),
            }
        }
        specs
    }
}

/// Numbers ticked in a box group; `problems` hears of what is not one.
fn numbers<T: std::str::FromStr>(values: &[String], field: &str, problems: &mut Problems) -> Vec<T> {
    let parsed: Vec<T> = values.iter().filter_map(|v| v.parse().ok()).collect();
    if parsed.len() != values.len() {
        problems.add(field, "holds a value that is not a number");
    }
    parsed
}

impl Editor for GroupForm {
    type New = NewGroup;
    type Update = GroupUpdate;
    type Page = GroupPage;
    const PATH: &'static str = "/postloan/groups";
    const READ: &'static str = "postloan.read";
    const WRITE: &'static str = "postloan.configure";

    fn typed(fields: &Fields) -> Self {
        Self {
            code: fields.one("code").trim().to_owned(),
            name: fields.one("name").to_owned(),
            region: fields.one("region_id").to_owned(),
            active: fields.one("active") != "false",
            buckets: fields.all("buckets"),
            worked: fields.all("regions"),
            members: fields.all("members"),
            absent: fields.all("absent"),
            leader: fields.one("leader").to_owned(),
            balance: fields.one("balance").to_owned(),
        }
    }

    async fn page(
        state: &AppState,
        staff: &Staff,
        id: Option<i64>,
        typed: Option<GroupForm>,
        problems: Problems,
        done: &str,
    ) -> Result<GroupPage, PageError> {
        let lang = staff.lang;
        let mut shell = Shell::new(staff, "/postloan/groups", "nav.postloan");
        let (version, stored) = match id {
            Some(id) => {
                let g = groups::get(&mut *state.pool.acquire().await?, staff, id).await?;
                shell.title = format!("{} {}", lang.t("group.title"), g.name);
                let stored = GroupForm {
                    code: g.code,
                    name: g.name,
                    region: g.region_id.to_string(),
                    active: g.active,
                    buckets: g.buckets.iter().map(ToString::to_string).collect(),
                    worked: g.regions.iter().map(ToString::to_string).collect(),
                    members: g.members.iter().map(|m| m.user_id.to_string()).collect(),
                    absent: g.members.iter().filter(|m| !m.active).map(|m| m.user_id.to_string()).collect(),
                    leader: g.members.iter().find(|m| m.leader).map(|m| m.user_id.to_string()).unwrap_or_default(),
                    balance: g.balance,
                };
                (g.version, stored)
            }
            None => {
                shell.title = lang.t("group.new").to_owned();
                let region = staff.caller.actor.region_id.to_string();
                (0, GroupForm { region, active: true, balance: "contracts".to_owned(), ..GroupForm::default() })
            }
        };
        let shown = match typed {
            // A group's code is fixed once given.
            Some(typed) if id.is_some() => GroupForm { code: stored.code, ..typed },
            Some(typed) => typed,
            None => stored,
        };
        let regions = region_choices(state, staff).await?;
        let all = PageParams { limit: Some(200), ..PageParams::default() };
        let staff_filter = UserFilter { active: Some(true), ..UserFilter::default() };
        let people = users::list(&state.pool, &state.vault, staff, &all, &staff_filter).await?.items;
        let people: Vec<(String, String)> = people
            .into_iter()
            .map(|u| (u.id.to_string(), format!("{} ({}, {})", u.display_name, u.username, u.region_name)))
            .collect();
        let ticks = |options: &[(String, String)], ticked: &[String]| -> Vec<(String, String, bool)> {
            options.iter().map(|(v, l)| (v.clone(), l.clone(), ticked.contains(v))).collect()
        };
        let bucket_options: Vec<(String, String)> =
            (1..=MAX_BUCKET).map(|b| (b.to_string(), format!("M{b}"))).collect();
        let mut leaders = vec![(String::new(), lang.t("group.no_leader").to_owned())];
        leaders.extend(people.iter().filter(|(v, _)| shown.members.contains(v)).cloned());
        Ok(GroupPage {
            shell,
            id,
            version,
            buckets: ticks(&bucket_options, &shown.buckets),
            worked: ticks(&regions, &shown.worked),
            members: ticks(&people, &shown.members),
            absent: ticks(&people, &shown.absent).into_iter().filter(|(v, _, _)| shown.members.contains(v)).collect(),
            leaders,
            leader: shown.leader,
            balances: BALANCES.iter().map(|b| ((*b).to_owned(), lang.word("group.balance", b))).collect(),
            balance: shown.balance,
            code: shown.code,
            group_name: shown.name,
            region: shown.region,
            regions,
            active: shown.active,
            may_edit: staff.can("postloan.configure"),
            general: problems.others(&[
                "code",
                "name",
                "region_id",
                "buckets",
                "regions",
                "members",
                "leader",
                "active",
                "balance",
            ]),
            problems,
            done: done.to_owned(),
        })
    }

    fn to_new(fields: &Fields, shown: &GroupForm, problems: &mut Problems) -> Option<NewGroup> {
        let region_id = fields.number("region_id", problems);
        let (buckets, regions, members) = shown.numbers(problems);
        if region_id.is_none() && problems.is_empty() {
            problems.add("region_id", "is required");
        }
        Some(NewGroup {
            code: shown.code.clone(),
            name: shown.name.clone(),
            region_id: region_id?,
            buckets,
            regions,
            members,
            balance: shown.balance.clone(),
        })
    }

    fn to_update(fields: &Fields, shown: &GroupForm, version: i32, problems: &mut Problems) -> Option<GroupUpdate> {
        let region_id = fields.number("region_id", problems);
        let (buckets, regions, members) = shown.numbers(problems);
        Some(GroupUpdate {
            version,
            name: Some(shown.name.clone()),
            region_id,
            buckets: Some(buckets),
            regions: Some(regions),
            active: Some(shown.active),
            balance: Some(shown.balance.clone()),
            members: Some(members),
        })
    }

    async fn insert(db: &mut PgConnection, _: &AppState, staff: &Staff, new: NewGroup) -> Result<i64, Error> {
        Ok(groups::create(db, staff, &new).await?.id)
    }

    async fn save(
        db: &mut PgConnection,
        _: &AppState,
        staff: &Staff,
        id: i64,
        update: GroupUpdate,
    ) -> Result<(), Error> {
        groups::update(db, staff, id, &update).await.map(drop)
    }
}
