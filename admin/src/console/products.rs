//! Product pages (产品方案): the catalogue of product versions, and one version with its rate
//! table, fees, deposit and residual ratios.

use askama::Template;
use axum::extract::{OriginalUri, Path, State};
use axum::response::Response;
use backoffice::products::catalog::{self, ProductFilter};
use leasewatch_finance::{Decimal, Method};

use super::error::PageError;
use super::format::{local_time, money};
use super::list::{self, Cell, Column, ListQuery, ListSpec};
use super::page::{Shell, render};
use super::session::Staff;
use crate::state::AppState;

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
    code: String,
    version: i32,
    method: String,
    deposit_ratio: String,
    residual_ratio: String,
    rates: Vec<RateRow>,
    fees: Vec<(String, String, bool)>,
}

/// `GET /products/{id}`.
pub async fn page(State(state): State<AppState>, staff: Staff, Path(id): Path<i64>) -> Result<Response, PageError> {
    staff.require("products.read")?;
    let product = catalog::get(&mut *state.pool.acquire().await?, &staff, id).await?;
    let rules = product.rules.0;
    let any = || staff.lang.t("product.any").to_owned();
    let mut shell = Shell::new(&staff, "/products", "nav.products");
    shell.title = format!("{} · {}", staff.lang.t("nav.products"), product.name);
    Ok(render(&ProductPage {
        shell,
        code: product.code,
        version: product.version,
        method: staff.lang.t(method_key(rules.method)).to_owned(),
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
    }))
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
