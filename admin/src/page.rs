//! Pagination and sorting shared by every list: `?page=2&limit=50&sort=-created_at`, answered
//! with the items and the total.

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgPool, Postgres, QueryBuilder};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

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
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Items matching the filters, over all pages.
    pub total: i64,
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
    /// The SQL `ORDER BY` expression, built only from the list's own column names.
    pub order_by: String,
}

impl PageParams {
    /// Validates the parameters against the list's sortable `fields` (API name → SQL column);
    /// `default` is used when no sort is given. The primary key breaks ties so pages are stable.
    pub fn window(&self, fields: &[(&str, &str)], default: &str, tie: &str) -> Result<Window, ApiError> {
        let page = self.page.unwrap_or(1);
        let limit = self.limit.unwrap_or(50);
        if page == 0 {
            return Err(ApiError::invalid("page", "must be at least 1"));
        }
        if !(1..=200).contains(&limit) {
            return Err(ApiError::invalid("limit", "must be between 1 and 200"));
        }
        let sort = self.sort.as_deref().unwrap_or(default);
        let (name, direction) = match sort.strip_prefix('-') {
            Some(name) => (name, "DESC"),
            None => (sort, "ASC"),
        };
        let Some((_, column)) = fields.iter().find(|(api, _)| *api == name) else {
            let names: Vec<_> = fields.iter().map(|(api, _)| *api).collect();
            return Err(ApiError::invalid(
                "sort",
                format!("must be one of {} (with - for descending)", names.join(", ")),
            ));
        };
        Ok(Window {
            limit: limit.into(),
            offset: i64::from(page - 1) * i64::from(limit),
            page,
            order_by: format!("{column} {direction}, {tie} {direction}"),
        })
    }
}

/// Runs a list query twice over the same filters: `SELECT count(*) {from}` for the total, and
/// `{select} {from}` for the window's rows. `filters` pushes the WHERE clause (with binds).
pub async fn fetch<T>(
    pool: &PgPool,
    select: &str,
    from: &str,
    filters: impl Fn(&mut QueryBuilder<'_, Postgres>),
    window: &Window,
) -> Result<(Vec<T>, i64), sqlx::Error>
where
    T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    let mut count = QueryBuilder::new(format!("SELECT count(*) {from}"));
    filters(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
    let mut rows = QueryBuilder::new(format!("{select} {from}"));
    filters(&mut rows);
    rows.push(format!(" ORDER BY {} LIMIT ", window.order_by)).push_bind(window.limit);
    rows.push(" OFFSET ").push_bind(window.offset);
    Ok((rows.build_query_as().fetch_all(pool).await?, total))
}

impl<T> Paged<T> {
    /// The page of `items` within `total`.
    pub fn new(items: Vec<T>, total: i64, window: &Window) -> Self {
        Self { items, total, page: window.page, limit: u32::try_from(window.limit).unwrap_or(200) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[(&str, &str)] = &[("username", "u.username"), ("created_at", "u.created_at")];

    #[test]
    fn defaults_give_the_first_fifty() {
        let w = PageParams::default().window(FIELDS, "username", "u.id").unwrap();
        assert_eq!((w.limit, w.offset, w.page), (50, 0, 1));
        assert_eq!(w.order_by, "u.username ASC, u.id ASC");
    }

    #[test]
    fn descending_sort_and_later_pages() {
        let p = PageParams { page: Some(3), limit: Some(20), sort: Some("-created_at".into()) };
        let w = p.window(FIELDS, "username", "u.id").unwrap();
        assert_eq!((w.limit, w.offset), (20, 40));
        assert_eq!(w.order_by, "u.created_at DESC, u.id DESC");
    }

    #[test]
    fn unknown_sort_fields_and_bad_sizes_are_refused() {
        let bad = |p: PageParams| p.window(FIELDS, "username", "u.id").is_err();
        assert!(bad(PageParams { sort: Some("password_hash".into()), ..Default::default() }));
        assert!(bad(PageParams { sort: Some("username; DROP TABLE users".into()), ..Default::default() }));
        assert!(bad(PageParams { limit: Some(0), ..Default::default() }));
        assert!(bad(PageParams { limit: Some(201), ..Default::default() }));
        assert!(bad(PageParams { page: Some(0), ..Default::default() }));
    }
}
