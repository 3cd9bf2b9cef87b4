//! Reading a resource the one way: a [`Table`] names a resource's columns, tables, region path and
//! sortable fields; it loads one row or a page of rows, always within the actor's region subtree
//! (a row outside it does not exist for them). Lists take `?page=2&limit=50&sort=-created_at`, or
//! `?after=<id>` for keyset paging, and typed filters pushed through a [`Filter`].

use std::marker::PhantomData;

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{Encode, FromRow, PgConnection, PgPool, Postgres, QueryBuilder, Type};
use utoipa::{IntoParams, ToSchema};

use crate::actor::Actor;
use crate::error::Error;

/// Page and sort parameters of a list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page number, from 1 (default 1).
    #[param(minimum = 1)]
    pub page: Option<u32>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// A sort field, `-` in front for descending (each list names its fields).
    pub sort: Option<String>,
    /// Keyset paging: the `id` of the last item of the previous page; the page starts after it in
    /// the same sort (stable while rows are added, and as fast on the thousandth page as the first).
    /// Not with `page`.
    #[param(minimum = 1)]
    pub after: Option<i64>,
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Items matching the filters, over all pages, counted up to 10,000 (`total_is_more` says when
    /// there are more): counting a million rows would cost more than the page.
    pub total: i64,
    /// Whether more items than `total` match.
    pub total_is_more: bool,
    /// This page's number.
    pub page: u32,
    /// Items per page.
    pub limit: u32,
}

/// A validated page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Rows per page.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
    /// The page number.
    pub page: u32,
    /// The sort column (from the list's own whitelist).
    pub column: String,
    /// `ASC` or `DESC`.
    pub direction: &'static str,
    /// The primary key, which breaks ties so pages are stable.
    pub tie: String,
    /// Keyset paging: start after the row with this id.
    pub after: Option<i64>,
}

impl Window {
    /// The SQL `ORDER BY` expression.
    pub fn order_by(&self) -> String {
        format!("{column} {dir}, {tie} {dir}", column = self.column, dir = self.direction, tie = self.tie)
    }
}

impl PageParams {
    /// Validates the parameters against the list's sortable `fields` (API name → SQL column);
    /// `default` is used when no sort is given; `tie` (the primary key) breaks ties.
    pub fn window(&self, fields: &[(&str, &str)], default: &str, tie: &str) -> Result<Window, Error> {
        let page = self.page.unwrap_or(1);
        let limit = self.limit.unwrap_or(50);
        if page == 0 {
            return Err(Error::invalid("page", "must be at least 1"));
        }
        if self.after.is_some() && page != 1 {
            return Err(Error::invalid("after", "goes without `page`: it says where the page starts"));
        }
        if !(1..=200).contains(&limit) {
            return Err(Error::invalid("limit", "must be between 1 and 200"));
        }
        let sort = self.sort.as_deref().unwrap_or(default);
        let (name, direction) = match sort.strip_prefix('-') {
            Some(name) => (name, "DESC"),
            None => (sort, "ASC"),
        };
        let Some((_, column)) = fields.iter().find(|(api, _)| *api == name) else {
            let names: Vec<_> = fields.iter().map(|(api, _)| *api).collect();
            return Err(Error::invalid("sort", format!("must be one of {} (with - for descending)", names.join(", "))));
        };
        Ok(Window {
            limit: limit.into(),
            offset: i64::from(page - 1) * i64::from(limit),
            page,
            column: (*column).to_owned(),
            direction,
            tie: tie.to_owned(),
            after: self.after,
        })
    }
}

/// How far a list counts the rows that match.
pub const COUNT_UP_TO: i64 = 10_000;

impl<T> Paged<T> {
    /// The page of `items` within `total`.
    pub fn new(items: Vec<T>, counted: i64, window: &Window) -> Self {
        Self {
            items,
            total: counted.min(COUNT_UP_TO),
            total_is_more: counted > COUNT_UP_TO,
            page: window.page,
            limit: u32::try_from(window.limit).unwrap_or(200),
        }
    }

    /// The same page with each item turned into a view.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            total_is_more: self.total_is_more,
            page: self.page,
            limit: self.limit,
        }
    }
}

/// The WHERE clause of a list: the region scope first, then each filter as `AND …`.
pub struct Filter<'q, 'b> {
    query: &'b mut QueryBuilder<'q, Postgres>,
}

impl<'q> Filter<'q, '_> {
    /// `AND column = value` when `value` is given.
    pub fn eq<T>(&mut self, column: &str, value: Option<T>) -> &mut Self
    where
        T: 'q + Encode<'q, Postgres> + Type<Postgres> + Send,
    {
        self.compare(column, "=", value)
    }

    /// `AND column >= value` when `value` is given.
    pub fn at_least<T>(&mut self, column: &str, value: Option<T>) -> &mut Self
    where
        T: 'q + Encode<'q, Postgres> + Type<Postgres> + Send,
    {
        self.compare(column, ">=", value)
    }

    /// `AND column <= value` when `value` is given.
    pub fn at_most<T>(&mut self, column: &str, value: Option<T>) -> &mut Self
    where
        T: 'q + Encode<'q, Postgres> + Type<Postgres> + Send,
    {
        self.compare(column, "<=", value)
    }

    /// `AND column < value` when `value` is given.
    pub fn before<T>(&mut self, column: &str, value: Option<T>) -> &mut Self
    where
        T: 'q + Encode<'q, Postgres> + Type<Postgres> + Send,
    {
        self.compare(column, "<", value)
    }

    fn compare<T>(&mut self, column: &str, op: &str, value: Option<T>) -> &mut Self
    where
        T: 'q + Encode<'q, Postgres> + Type<Postgres> + Send,
    {
        if let Some(value) = value {
            self.query.push(format!(" AND {column} {op} ")).push_bind(value);
        }
        self
    }

    /// A clause of the list's own (`AND …`, with binds) for what `eq` and its kin cannot say.
    pub fn and(&mut self) -> &mut QueryBuilder<'q, Postgres> {
        self.query.push(" AND ");
        self.query
    }
}

/// How a resource of rows `T` is read: its columns and tables, where its region path is, what it
/// sorts by.
#[derive(Debug)]
pub struct Table<T> {
    /// The resource's name in "not found" answers (`dealer`).
    pub name: &'static str,
    /// `SELECT …` of the resource's columns.
    pub select: &'static str,
    /// `FROM …` with the joins that reach the region (`JOIN regions g ON g.id = d.region_id`).
    pub from: &'static str,
    /// The primary key column (`d.id`).
    pub id: &'static str,
    /// The region path column that scopes rows (`g.path`); `None` for company-wide records that
    /// every reader sees (roles, positions, products).
    pub region_path: Option<&'static str>,
    /// Rows that every actor sees beside their region's (`r.contract_id IS NULL`: unclaimed receipts).
    pub also_visible: Option<&'static str>,
    /// Rows that actors at the root of the region tree also see (`a.region_id IS NULL`: company-wide records).
    pub root_also_sees: Option<&'static str>,
    /// The dealer column (`a.dealer_id`) of records a dealer's staff see only their dealer's of.
    pub dealer: Option<&'static str>,
    /// Sortable fields: API name → SQL column.
    pub sorts: &'static [(&'static str, &'static str)],
    /// The sort when none is asked for.
    pub default_sort: &'static str,
    /// The row type (`PhantomData`).
    pub row: PhantomData<fn() -> T>,
}

impl<T> Table<T> {
    /// A resource named `name` (in "not found" answers), read with `select` from `from` and keyed
    /// by `id`; company-wide (every reader sees every row) until [`Table::scoped`].
    pub const fn new(name: &'static str, select: &'static str, from: &'static str, id: &'static str) -> Self {
        Self {
            name,
            select,
            from,
            id,
            region_path: None,
            also_visible: None,
            root_also_sees: None,
            dealer: None,
            sorts: &[],
            default_sort: "",
            row: PhantomData,
        }
    }

    /// Rows seen only within the reader's region subtree, by this region path column.
    pub const fn scoped(self, region_path: &'static str) -> Self {
        Self { region_path: Some(region_path), ..self }
    }

    /// Rows a dealer's staff see only of their own dealer, by this dealer column.
    pub const fn dealer_scoped(self, dealer: &'static str) -> Self {
        Self { dealer: Some(dealer), ..self }
    }

    /// Rows every reader sees beside their region's (`r.contract_id IS NULL`).
    pub const fn also_visible(self, clause: &'static str) -> Self {
        Self { also_visible: Some(clause), ..self }
    }

    /// Rows readers at the root of the region tree also see (`a.region_id IS NULL`).
    pub const fn root_also_sees(self, clause: &'static str) -> Self {
        Self { root_also_sees: Some(clause), ..self }
    }

    /// The sortable fields (API name → SQL column) and the sort when none is asked for.
    pub const fn sorted(self, sorts: &'static [(&'static str, &'static str)], default_sort: &'static str) -> Self {
        Self { sorts, default_sort, ..self }
    }
}

impl<T> Table<T>
where
    T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    fn scope(&self, q: &mut QueryBuilder<'_, Postgres>, actor: &Actor) {
        let Some(path) = self.region_path else {
            q.push(" WHERE true");
            return;
        };
        q.push(" WHERE (starts_with(").push(path).push(", ").push_bind(actor.region_path.clone()).push(")");
        if let Some(also) = self.also_visible {
            q.push(" OR ").push(also);
        }
        if let Some(also) = self.root_also_sees.filter(|_| actor.at_root()) {
            q.push(" OR ").push(also);
        }
        q.push(")");
        if let (Some(column), Some(dealer)) = (self.dealer, actor.dealer_id) {
            q.push(format!(" AND {column} = ")).push_bind(dealer);
        }
    }

    async fn one(&self, db: &mut PgConnection, actor: &Actor, id: i64, lock: &str) -> Result<T, Error> {
        let mut q = QueryBuilder::new(format!("{} {}", self.select, self.from));
        self.scope(&mut q, actor);
        q.push(format!(" AND {} = ", self.id)).push_bind(id).push(lock);
        q.build_query_as().fetch_optional(db).await?.ok_or(Error::NotFound(self.name))
    }

    /// The row `id`, if it is in the actor's region subtree.
    pub async fn load(&self, db: &mut PgConnection, actor: &Actor, id: i64) -> Result<T, Error> {
        self.one(db, actor, id, "").await
    }

    /// The row `id`, if it is in the actor's region subtree, locked for an update.
    pub async fn lock(&self, db: &mut PgConnection, actor: &Actor, id: i64) -> Result<T, Error> {
        self.one(db, actor, id, &format!(" FOR UPDATE OF {}", self.id.split('.').next().unwrap_or(self.id))).await
    }

    /// The row `id` of the actor's region subtree, locked to change it: only if it is still at the
    /// version the change was read at (`read`) and in one of `states`.
    pub async fn lock_in(
        &self,
        db: &mut PgConnection,
        actor: &Actor,
        id: i64,
        read: i32,
        states: &[&str],
    ) -> Result<T, Error>
    where
        T: super::version::Stateful,
    {
        let row = self.lock(db, actor, id).await?;
        super::version::check(read, row.version())?;
        if !states.contains(&row.status()) {
            return Err(Error::invalid_state(format!(
                "the {} is {}; this needs it {}",
                self.name,
                row.status(),
                states.join(" or ")
            )));
        }
        Ok(row)
    }

    /// The row `id` wherever it is, locked: for a hook carrying out a request its approval already
    /// scoped.
    pub async fn lock_for_hook(&self, db: &mut PgConnection, id: i64) -> Result<T, Error> {
        let table = self.id.split('.').next().unwrap_or(self.id);
        let mut q = QueryBuilder::new(format!("{} {} WHERE {} = ", self.select, self.from, self.id));
        q.push_bind(id).push(format!(" FOR UPDATE OF {table}"));
        q.build_query_as().fetch_optional(db).await?.ok_or(Error::NotFound(self.name))
    }

    /// How many rows in the actor's region subtree pass `filters`, counting no further than `cap`.
    pub async fn count_up_to(
        &self,
        pool: &PgPool,
        actor: &Actor,
        cap: i64,
        filters: impl for<'q, 'b> Fn(&mut Filter<'q, 'b>),
    ) -> Result<i64, Error> {
        let mut count = QueryBuilder::new(format!("SELECT count(*) FROM (SELECT 1 {}", self.from));
        self.scope(&mut count, actor);
        filters(&mut Filter { query: &mut count });
        count.push(" LIMIT ").push_bind(cap).push(") matching");
        Ok(count.build_query_scalar().fetch_one(pool).await?)
    }

    /// A page of the rows in the actor's region subtree that pass `filters`.
    pub async fn list(
        &self,
        pool: &PgPool,
        actor: &Actor,
        page: &PageParams,
        filters: impl for<'q, 'b> Fn(&mut Filter<'q, 'b>),
    ) -> Result<Paged<T>, Error> {
        let window = page.window(self.sorts, self.default_sort, self.id)?;
        let counted = self.count_up_to(pool, actor, COUNT_UP_TO + 1, &filters).await?;
        let mut rows = QueryBuilder::new(format!("{} {}", self.select, self.from));
        self.scope(&mut rows, actor);
        filters(&mut Filter { query: &mut rows });
        if let Some(after) = window.after {
            let cmp = if window.direction == "DESC" { "<" } else { ">" };
            // The anchor row is read through the same tables, so it sorts by the same values.
            rows.push(format!(
                " AND ({}, {}) {cmp} (SELECT {}, {} {} WHERE {} = ",
                window.column, self.id, window.column, self.id, self.from, self.id
            ))
            .push_bind(after)
            .push(")");
        }
        rows.push(format!(" ORDER BY {} LIMIT ", window.order_by())).push_bind(window.limit);
        if window.after.is_none() {
            rows.push(" OFFSET ").push_bind(window.offset);
        }
        let items = rows.build_query_as().fetch_all(pool).await?;
        Ok(Paged::new(items, counted, &window))
    }
}

/// Whether `region` is in the actor's region subtree (a region they may put records in).
pub async fn region_in_scope(db: &mut PgConnection, actor: &Actor, region: i64) -> Result<(), Error> {
    let ok: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM regions WHERE id = $1 AND starts_with(path, $2))")
        .bind(region)
        .bind(&actor.region_path)
        .fetch_one(db)
        .await?;
    if ok { Ok(()) } else { Err(Error::invalid("region_id", "is not a region in your subtree")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[(&str, &str)] = &[("username", "u.username"), ("created_at", "u.created_at")];

    #[test]
    fn defaults_give_the_first_fifty() {
        let w = PageParams::default().window(FIELDS, "username", "u.id").unwrap();
        assert_eq!((w.limit, w.offset, w.page), (50, 0, 1));
        assert_eq!(w.order_by(), "u.username ASC, u.id ASC");
    }

    #[test]
    fn descending_sort_and_later_pages() {
        let p = PageParams { page: Some(3), limit: Some(20), sort: Some("-created_at".into()), after: None };
        let w = p.window(FIELDS, "username", "u.id").unwrap();
        assert_eq!((w.limit, w.offset), (20, 40));
        assert_eq!(w.order_by(), "u.created_at DESC, u.id DESC");
    }

    #[test]
    fn unknown_sort_fields_bad_sizes_and_after_with_a_page_are_refused() {
        let bad = |p: PageParams| p.window(FIELDS, "username", "u.id").is_err();
        assert!(bad(PageParams { sort: Some("password_hash".into()), ..Default::default() }));
        assert!(bad(PageParams { sort: Some("username; DROP TABLE users".into()), ..Default::default() }));
        assert!(bad(PageParams { limit: Some(0), ..Default::default() }));
        assert!(bad(PageParams { limit: Some(201), ..Default::default() }));
        assert!(bad(PageParams { page: Some(0), ..Default::default() }));
        assert!(bad(PageParams { page: Some(2), after: Some(7), ..Default::default() }));
    }
}
