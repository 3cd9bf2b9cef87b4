//! Product pages (产品方案): the catalogue of product versions, and one version with its rate
//! table, fees, deposit and residual ratios, and the form that makes the product's next version
//! from it (a contract keeps the version it was signed on).

pub mod table_text;

use askama::Template;
use axum::Form;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::response::Response;
use backoffice::error::FieldError;
use backoffice::products::catalog::{self, NewProduct, Product, ProductFilter};
use leasewatch_finance::{Decimal, Method};

use super::error::PageError;
use super::form::{self, Done, Fields, Problems};
use super::format::{local_time, money};
use super::list::{self, Cell, Column, ListQuery, ListSpec};
use super::page::{Shell, render};
use super::session::Staff;
use crate::state::AppState;
use table_text::percent as exact_percent;

/// `GET /products`.
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    staff.require("products.read")?;
    let query: ListQuery<ProductFilter> = ListQuery::from_uri(&uri)?;
    let lang = staff.lang;
    let spec = ListSpec {
        path: "/products",
        title: "nav.products",
        filters: vec![query.choice(
            "all_versions",
            lang.t("product.all_versions"),
            vec![("true".to_owned(), lang.t("workflow.yes").to_owned())],
        )],
        columns: vec![
            Column::plain(lang.t("product.code")).sorted("code"),
            Column::plain(lang.t("product.version")).numeric(),
            Column::plain(lang.t("product.name")),
            Column::plain(lang.t("product.created_at")).sorted("created_at"),
        ],
        ..ListSpec::default()
    };
    let offset = state.utc_offset_hours;
    let (pool, actor, filter) = (&state.pool, &staff.caller.actor, &query.filter);
    list::respond(
        &staff,
        spec,
        &query,
        |page| Box::pin(async move { catalog::list(pool, actor, &page, filter).await }),
        |p| {
            let cells = vec![
                Cell::link(p.code.clone(), format!("/products/{}", p.id)),
                Cell::number(p.version),
                Cell::text(p.name.clone()),
                Cell::text(local_time(&p.created_at, offset)),
            ];
            (p.id, cells)
        },
    )
    .await
}

/// A ratio as a percentage: `0.0899` → `8.99%`.
fn percent(ratio: &Decimal) -> String {
    let mut shown = ratio * Decimal::from(100);
    shown.rescale(2);
    format!("{}%", shown.normalize())
}

/// The words for `method`.
fn method_key(method: Method) -> &'static str {
    match method {
        Method::EqualInstallment => "product.method.equal_installment",
        Method::EqualPrincipal => "product.method.equal_principal",
        Method::Flat => "product.method.flat",
        Method::InterestFirst => "product.method.interest_first",
    }
}

/// A line of the rate table as shown.
struct RateRow {
    term: u32,
    min_down_payment: String,
    annual_rate: String,
    vehicle_type: String,
    dealer_tier: String,
}

#[derive(Template)]
#[template(path = "product.html")]
struct ProductPage {
    shell: Shell,
    id: i64,
    code: String,
    version: i32,
    method: String,
    deposit_ratio: String,
    residual_ratio: String,
    rates: Vec<RateRow>,
    fees: Vec<(String, String, bool)>,
    may_edit: bool,
    next: NextVersion,
    methods: Vec<(String, String)>,
    problems: Problems,
    general: Vec<String>,
    done: String,
}

/// The next version's form: this version as text, or what was typed when it was refused.
struct NextVersion {
    name: String,
    method: String,
    deposit_ratio: String,
    residual_ratio: String,
    rates: String,
    fees: String,
}

impl NextVersion {
    fn of(product: &Product) -> Self {
        let rules = &product.rules.0;
        Self {
            name: product.name.clone(),
            method: method_code(rules.method).to_owned(),
            deposit_ratio: exact_percent(&rules.deposit_ratio),
            residual_ratio: exact_percent(&rules.residual_ratio),
            rates: table_text::rates_text(&rules.rates),
            fees: table_text::fees_text(&rules.fees),
        }
    }

    fn typed(fields: &Fields) -> Self {
        Self {
            name: fields.one("name").to_owned(),
            method: fields.one("method").to_owned(),
            deposit_ratio: fields.one("deposit_ratio").to_owned(),
            residual_ratio: fields.one("residual_ratio").to_owned(),
            rates: fields.one("rates").to_owned(),
            fees: fields.one("fees").to_owned(),
        }
    }
}

/// The methods, by their code in the rules.
const METHODS: &[Method] = &[Method::EqualInstallment, Method::EqualPrincipal, Method::Flat, Method::InterestFirst];

/// `method` as the form names it (`equal_installment`).
fn method_code(method: Method) -> &'static str {
    method_key(method).trim_start_matches("product.method.")
}

/// The fields of the form: a refusal of any other is said at the top.
const FIELDS: &[&str] = &["name", "method", "deposit_ratio", "residual_ratio", "rates", "fees"];

async fn product_page(
    state: &AppState,
    staff: &Staff,
    id: i64,
    typed: Option<NextVersion>,
    problems: Problems,
    done: &str,
) -> Result<ProductPage, PageError> {
    let product = catalog::get(&mut *state.pool.acquire().await?, staff, id).await?;
    let lang = staff.lang;
    let next = typed.unwrap_or_else(|| NextVersion::of(&product));
    let rules = product.rules.0;
    let any = || lang.t("product.any").to_owned();
    let mut shell = Shell::new(staff, "/products", "nav.products");
    shell.title = format!("{} · {}", lang.t("nav.products"), product.name);
    Ok(ProductPage {
        shell,
        id,
        code: product.code,
        version: product.version,
        method: lang.t(method_key(rules.method)).to_owned(),
        deposit_ratio: percent(&rules.deposit_ratio),
        residual_ratio: percent(&rules.residual_ratio),
        rates: rules
            .rates
            .iter()
            .map(|r| RateRow {
                term: r.term,
                min_down_payment: percent(&r.min_down_payment),
                annual_rate: percent(&r.annual_rate),
                vehicle_type: r.vehicle_type.clone().unwrap_or_else(any),
                dealer_tier: r.dealer_tier.clone().unwrap_or_else(any),
            })
            .collect(),
        fees: rules.fees.iter().map(|f| (f.name.clone(), money(&f.amount), f.financed)).collect(),
        may_edit: staff.can("products.write"),
        next,
        methods: METHODS.iter().map(|m| (method_code(*m).to_owned(), lang.t(method_key(*m)).to_owned())).collect(),
        general: problems.others(FIELDS),
        problems,
        done: done.to_owned(),
    })
}

/// `GET /products/{id}`.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    staff.require("products.read")?;
    let done = done.said(staff.lang);
    Ok(render(&product_page(&state, &staff, id, None, Problems::default(), &done).await?))
}

/// A refusal of the rules as the form's fields name it: `rules.rates[2].term` is said beside the
/// rate table as `line 3: ...`.
fn on_form(error: backoffice::Error) -> backoffice::Error {
    let backoffice::Error::Validation(errors) = error else { return error };
    let renamed = errors.into_iter().map(|e| {
        let field = e.field.trim_start_matches("rules.");
        let (list, rest) = field.split_once('[').unwrap_or((field, ""));
        let line = rest.split_once(']').and_then(|(i, _)| i.parse::<usize>().ok());
        match line {
            Some(i) if matches!(list, "rates" | "fees") => {
                FieldError { field: list.to_owned(), message: format!("line {}: {}", i + 1, e.message) }
            }
            _ => FieldError { field: field.to_owned(), message: e.message },
        }
    });
    backoffice::Error::Validation(renamed.collect())
}

/// `POST /products/{id}`: makes the product's next version from this one with what was typed
/// (the rules not on the form, such as penalties and buckets, are carried over), and opens it.
pub async fn next_version(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = form::accept(&staff, fields, "products.write")?;
    let typed = NextVersion::typed(&fields);
    let current = catalog::get(&mut *state.pool.acquire().await?, &staff, id).await?;
    let mut rules = current.rules.0.clone();
    let mut problems = Problems::default();
    match METHODS.iter().find(|m| method_code(**m) == typed.method) {
        Some(method) => rules.method = *method,
        None => problems.add("method", "choose a method"),
    }
    for (field, text, slot) in [
        ("deposit_ratio", &typed.deposit_ratio, &mut rules.deposit_ratio),
        ("residual_ratio", &typed.residual_ratio, &mut rules.residual_ratio),
    ] {
        match table_text::ratio(text) {
            Ok(ratio) => *slot = ratio,
            Err(message) => problems.add(field, message),
        }
    }
    match table_text::rates(&typed.rates) {
        Ok(rates) => rules.rates = rates,
        Err(errors) => problems.add("rates", join(&errors)),
    }
    match table_text::fees(&typed.fees) {
        Ok(fees) => rules.fees = fees,
        Err(errors) => problems.add("fees", join(&errors)),
    }
    if !problems.is_empty() {
        return Ok(form::refused(&product_page(&state, &staff, id, Some(typed), problems, "").await?));
    }
    let new = NewProduct { code: current.code.clone(), name: typed.name.clone(), rules };
    let mut tx = state.pool.begin().await?;
    let outcome = catalog::create(&mut tx, &staff, &new).await.map_err(on_form);
    match form::finish(tx, outcome, |product| format!("/products/{}?done=saved", product.id)).await? {
        Ok(saved) => Ok(saved),
        Err(problems) => Ok(form::refused(&product_page(&state, &staff, id, Some(typed), problems, "").await?)),
    }
}

/// Line errors as one message.
fn join(errors: &[table_text::LineError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_read_as_percentages() {
        assert_eq!(percent(&Decimal::new(899, 4)), "8.99%");
        assert_eq!(percent(&Decimal::new(2, 1)), "20%");
        assert_eq!(percent(&Decimal::ZERO), "0%");
    }
}
