//! The one way to write a list page: filters in a form (GET, so a list can be bookmarked and
//! shared), sortable columns, keyset paging ("next page" starts after the last row shown, as fast
//! on the thousandth page as the first), and CSV or XLSX export of everything the filters match. A page
//! module names its filters and columns and turns each record into cells; this module does the
//! rest, with `templates/list.html`.

use askama::Template;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::Uri;
use axum::response::Response;
use backoffice::kit::list::{PageParams, Paged};
use chrono::NaiveDate;
use futures_util::future::BoxFuture;
use leasewatch_finance::Decimal;
use rust_xlsxwriter::{Format, Workbook, XlsxError};
use serde::de::DeserializeOwned;

use super::error::PageError;
use super::format;
use super::page::{Shell, render};
use super::session::Staff;

/// Rows one CSV export may hold; a wider export asks for narrower filters.
pub const EXPORT_LIMIT: usize = 100_000;

/// A filter field of the form.
#[derive(Debug, Clone)]
pub struct FilterField {
    /// Query parameter.
    pub name: &'static str,
    /// Label, in the user's language.
    pub label: &'static str,
    /// `text`, `number` or `date`; ignored when there are options.
    pub input: &'static str,
    /// Choices (value, label) for a select; empty for a free field.
    pub options: Vec<(String, String)>,
    /// The value sent.
    pub value: String,
}

/// A column: its label, and the sort key when it can be sorted by.
#[derive(Debug, Clone)]
pub struct Column {
    /// Label, in the user's language.
    pub label: &'static str,
    /// Sort key, if sortable.
    pub sort: Option<&'static str>,
    /// Numbers are right-aligned.
    pub numeric: bool,
}

impl Column {
    /// A column that cannot be sorted by.
    pub const fn plain(label: &'static str) -> Self {
        Self { label, sort: None, numeric: false }
    }

    /// Sortable by `key`.
    pub const fn sorted(self, key: &'static str) -> Self {
        Self { sort: Some(key), ..self }
    }

    /// Right-aligned.
    pub const fn numeric(self) -> Self {
        Self { numeric: true, ..self }
    }
}

/// What a cell holds, typed, so that an export keeps numbers as numbers and dates as dates.
#[derive(Debug, Clone)]
pub enum Value {
    /// Text.
    Text(String),
    /// Money, shown as ¥1,234.56.
    Amount(Decimal),
    /// A count or a number of days.
    Number(i64),
    /// A day, or none.
    Date(Option<NaiveDate>),
}

/// One cell: its value, and where it links to.
#[derive(Debug, Clone)]
pub struct Cell {
    /// The value.
    pub value: Value,
    /// A link, if the cell opens something.
    pub href: Option<String>,
}

impl Cell {
    /// A cell of text.
    pub fn text(text: impl Into<String>) -> Self {
        Self { value: Value::Text(text.into()), href: None }
    }

    /// A cell of money.
    pub fn amount(amount: Decimal) -> Self {
        Self { value: Value::Amount(amount), href: None }
    }

    /// A cell of a number.
    pub fn number(number: impl Into<i64>) -> Self {
        Self { value: Value::Number(number.into()), href: None }
    }

    /// A cell of a day.
    pub fn date(day: Option<NaiveDate>) -> Self {
        Self { value: Value::Date(day), href: None }
    }

    /// A cell of text that links to `href`.
    pub fn link(text: impl Into<String>, href: String) -> Self {
        Self { value: Value::Text(text.into()), href: Some(href) }
    }

    /// As shown on the page.
    pub fn shown(&self) -> String {
        match &self.value {
            Value::Text(text) => text.clone(),
            Value::Amount(amount) => format::money(amount),
            Value::Number(n) => n.to_string(),
            Value::Date(day) => format::date(day),
        }
    }

    /// As written to CSV: plain figures (`1234.50`) that spreadsheets read as numbers.
    fn plain(&self) -> String {
        match &self.value {
            Value::Amount(amount) => {
                let mut amount = *amount;
                amount.rescale(2);
                amount.to_string()
            }
            Value::Date(None) => String::new(),
            _ => self.shown(),
        }
    }
}

/// A column header as rendered: the link that sorts by it, and the current direction.
struct Header {
    label: &'static str,
    numeric: bool,
    href: Option<String>,
    direction: &'static str,
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    shell: Shell,
    action: String,
    filters: Vec<FilterField>,
    headers: Vec<Header>,
    numeric: Vec<bool>,
    rows: Vec<Vec<Cell>>,
    total: String,
    next: Option<String>,
    first: Option<String>,
    export_csv: String,
    export_xlsx: String,
    script: Option<&'static str>,
    /// (path, title, whether this page).
    tabs: Vec<(&'static str, String, bool)>,
    create: Option<&'static str>,
}

/// What a list page is: where it lives, its title, filters and columns.
#[derive(Default)]
pub struct ListSpec {
    /// Its path (`/contracts`).
    pub path: &'static str,
    /// Its title key.
    pub title: &'static str,
    /// The filter form.
    pub filters: Vec<FilterField>,
    /// The columns.
    pub columns: Vec<Column>,
    /// A script of the page's own under `/assets/` (the alert board's live feed), if any.
    pub script: Option<&'static str>,
    /// Sibling pages of one area (path, title key), shown as tabs above the filters.
    pub tabs: &'static [(&'static str, &'static str)],
    /// The page that adds an item, when the reader may add one.
    pub create: Option<&'static str>,
}

/// The query of a list page: paging and sort, the page's own filters, and the export format.
pub struct ListQuery<F> {
    /// Paging and sort.
    pub page: PageParams,
    /// The page's filters.
    pub filter: F,
    /// `csv` to export.
    pub format: Option<String>,
    /// The filters and sort, without paging, as sent.
    pairs: Vec<(String, String)>,
}

#[derive(serde::Deserialize)]
struct FormatParam {
    format: Option<String>,
}

impl<F: DeserializeOwned> ListQuery<F> {
    /// Reads the query of `uri`. Empty fields (as a form sends them) count as absent; a value of
    /// the wrong kind is refused with the field named.
    pub fn from_uri(uri: &Uri) -> Result<Self, PageError> {
        let sent: Vec<(String, String)> = serde_urlencoded::from_str(uri.query().unwrap_or(""))
            .map_err(|e| PageError::Invalid(format!("query: {e}")))?;
        let given: Vec<(String, String)> = sent.into_iter().filter(|(_, v)| !v.trim().is_empty()).collect();
        let encoded = serde_urlencoded::to_string(&given).map_err(|e| PageError::Invalid(format!("query: {e}")))?;
        // Axum's reading names the field in its message.
        let cleaned: Uri = format!("/?{encoded}").parse().map_err(|_| PageError::Invalid("query".to_owned()))?;
        let read = |e: QueryRejection| PageError::Invalid(e.body_text());
        let page = Query::<PageParams>::try_from_uri(&cleaned).map_err(read)?.0;
        let filter = Query::<F>::try_from_uri(&cleaned).map_err(read)?.0;
        let format = Query::<FormatParam>::try_from_uri(&cleaned).map_err(read)?.0.format;
        let pairs = given.into_iter().filter(|(k, _)| !matches!(k.as_str(), "after" | "page" | "format")).collect();
        Ok(Self { page, filter, format, pairs })
    }
}

impl<F> ListQuery<F> {
    /// The query string with `changes` applied (a value of `None` drops the parameter).
    fn with(&self, changes: &[(&str, Option<&str>)]) -> String {
        let mut pairs: Vec<(&str, &str)> = self
            .pairs
            .iter()
            .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.extend(changes.iter().filter_map(|(k, v)| v.map(|v| (*k, v))));
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    }

    /// The value sent for filter `name`.
    pub fn value(&self, name: &str) -> String {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    }

    /// A free filter field (`input`: `text`, `number` or `date`) with the value sent.
    pub fn field(&self, name: &'static str, label: &'static str, input: &'static str) -> FilterField {
        FilterField { name, label, input, options: Vec::new(), value: self.value(name) }
    }

    /// A filter that chooses among `options` (value, label), with the value sent.
    pub fn choice(&self, name: &'static str, label: &'static str, options: Vec<(String, String)>) -> FilterField {
        FilterField { options, ..self.field(name, label, "text") }
    }
}

/// A page of records on its way from the back office.
pub type Fetch<'a, T> = BoxFuture<'a, Result<Paged<T>, backoffice::Error>>;

/// Answers a list page: the page of rows `fetch` returns for the query, as HTML, or every row
/// the filters match as CSV (`format=csv`) or XLSX (`format=xlsx`). `cells` turns a record into its row.
pub async fn respond<'a, T, F>(
    staff: &Staff,
    spec: ListSpec,
    query: &ListQuery<F>,
    fetch: impl Fn(PageParams) -> Fetch<'a, T>,
    cells: impl Fn(&T) -> (i64, Vec<Cell>),
) -> Result<Response, PageError> {
    match query.format.as_deref() {
        None => {}
        Some("csv") => return export(spec, query, Export::Csv, fetch, cells).await,
        Some("xlsx") => return export(spec, query, Export::Xlsx, fetch, cells).await,
        Some(other) => return Err(PageError::Invalid(format!("format: {other} is not csv or xlsx"))),
    }
    let page = fetch(query.page.clone()).await?;
    let limit = page.limit as usize;
    let full = page.items.len() == limit;
    let rows: Vec<(i64, Vec<Cell>)> = page.items.iter().map(&cells).collect();
    let last = rows.last().map(|(id, _)| *id);
    let sort = query.page.sort.clone().unwrap_or_default();
    let headers = spec
        .columns
        .iter()
        .map(|c| {
            let (href, direction) = match c.sort {
                Some(key) => {
                    let (next, direction) = if sort == key {
                        (format!("-{key}"), "ascending")
                    } else if sort == format!("-{key}") {
                        (key.to_owned(), "descending")
                    } else {
                        (key.to_owned(), "none")
                    };
                    (Some(format!("{}?{}", spec.path, query.with(&[("sort", Some(&next))]))), direction)
                }
                None => (None, "none"),
            };
            Header { label: c.label, numeric: c.numeric, href, direction }
        })
        .collect();
    let paged = query.page.after.is_some() || query.page.page.is_some_and(|p| p > 1);
    let page = ListPage {
        shell: Shell::new(staff, spec.path, spec.title),
        action: spec.path.to_owned(),
        filters: spec.filters,
        headers,
        numeric: spec.columns.iter().map(|c| c.numeric).collect(),
        rows: rows.into_iter().map(|(_, cells)| cells).collect(),
        total: if page.total_is_more { format!("{}+", page.total) } else { page.total.to_string() },
        next: last
            .filter(|_| full)
            .map(|id| format!("{}?{}", spec.path, query.with(&[("after", Some(&id.to_string()))]))),
        first: paged.then(|| format!("{}?{}", spec.path, query.with(&[]))),
        export_csv: format!("{}?{}", spec.path, query.with(&[("format", Some("csv"))])),
        export_xlsx: format!("{}?{}", spec.path, query.with(&[("format", Some("xlsx"))])),
        script: spec.script,
        tabs: spec.tabs.iter().map(|(path, key)| (*path, staff.lang.t(key).to_owned(), *path == spec.path)).collect(),
        create: spec.create,
    };
    Ok(render(&page))
}

/// Every row the filters match, fetched page by page after the last row, as CSV or XLSX.
async fn export<'a, T, F>(
    spec: ListSpec,
    query: &ListQuery<F>,
    format: Export,
    fetch: impl Fn(PageParams) -> Fetch<'a, T>,
    cells: impl Fn(&T) -> (i64, Vec<Cell>),
) -> Result<Response, PageError> {
    let mut rows = Vec::new();
    let mut params = PageParams { page: None, limit: Some(200), sort: query.page.sort.clone(), after: None };
    loop {
        let page = fetch(params.clone()).await?;
        let count = page.items.len();
        for item in &page.items {
            let (id, row) = cells(item);
            rows.push(row);
            params.after = Some(id);
        }
        if count < 200 || rows.len() >= EXPORT_LIMIT {
            break;
        }
    }
    let labels: Vec<&str> = spec.columns.iter().map(|c| c.label).collect();
    let failed = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "export failed");
        PageError::Failed
    };
    let (bytes, media_type, extension) = match format {
        Export::Csv => (csv_file(&labels, &rows).map_err(|e| failed(&e))?, "text/csv; charset=utf-8", "csv"),
        Export::Xlsx => (
            xlsx_file(&labels, &rows).map_err(|e| failed(&e))?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
    };
    let name = spec.path.trim_start_matches('/').replace('/', "-");
    Ok(crate::download::attachment(media_type, &format!("{name}.{extension}"), bytes))
}

/// The formats a list exports to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Export {
    Csv,
    Xlsx,
}

/// CSV in UTF-8 with a byte-order mark, which spreadsheet programs need to read Chinese.
fn csv_file(labels: &[&str], rows: &[Vec<Cell>]) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    out.write_record(labels)?;
    for row in rows {
        out.write_record(row.iter().map(Cell::plain))?;
    }
    out.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// A workbook of one sheet: money as numbers in yuan, days as dates, the header row frozen.
fn xlsx_file(labels: &[&str], rows: &[Vec<Cell>]) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("¥#,##0.00");
    let day = Format::new().set_num_format("yyyy-mm-dd");
    for (column, label) in (0u16..).zip(labels) {
        sheet.write_string_with_format(0, column, *label, &bold)?;
        sheet.set_column_width(column, 14)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    for (row, cells) in (1u32..).zip(rows) {
        for (column, cell) in (0u16..).zip(cells) {
            match &cell.value {
                Value::Text(text) => sheet.write_string(row, column, text).map(|_| ())?,
                // A workbook holds numbers as binary floating point: the cents survive, to 15 digits.
                Value::Amount(amount) => sheet
                    .write_number_with_format(row, column, f64::try_from(*amount).unwrap_or(f64::NAN), &money)
                    .map(|_| ())?,
                Value::Number(n) => sheet.write_number(row, column, *n as f64).map(|_| ())?,
                Value::Date(Some(d)) => sheet.write_date_with_format(row, column, d, &day).map(|_| ())?,
                Value::Date(None) => {}
            }
        }
    }
    book.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Filter {
        number: Option<String>,
        bucket: Option<i32>,
    }

    #[test]
    fn empty_fields_are_absent_and_links_keep_the_filters() {
        let uri: Uri = "/contracts?number=GD%202&status=&bucket=&sort=-dpd&after=9".parse().unwrap();
        let query = ListQuery::<Filter>::from_uri(&uri).unwrap();
        assert_eq!(query.filter.number.as_deref(), Some("GD 2"));
        assert_eq!(query.filter.bucket, None);
        assert_eq!(query.page.after, Some(9));
        assert_eq!(query.with(&[("after", Some("12"))]), "number=GD+2&sort=-dpd&after=12");
        assert_eq!(query.value("number"), "GD 2");
        let wrong: Uri = "/contracts?bucket=first".parse().unwrap();
        assert!(matches!(ListQuery::<Filter>::from_uri(&wrong), Err(PageError::Invalid(m)) if m.contains("bucket")));
    }
}
