//! `/api/v1/calculator/quote`: the repayment calculator (the maths of `leasewatch-finance`, the same
//! as `leasewatch calc`): schedule, totals and the IRR of the customer's cash flows.

use chrono::NaiveDate;
use leasewatch_finance::money::CENT;
use leasewatch_finance::{Decimal, Method, Quote, Rounding, Terms, TermsError, Timing, schedule};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::Json;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(quote))
}

/// What to quote. Amounts are decimal strings (`"5000.00"`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteRequest {
    /// Financed amount.
    pub principal: Decimal,
    /// Nominal annual rate as a fraction (`"0.12"` for 12 %).
    pub annual_rate: Decimal,
    /// Months, 1 to 600.
    #[schema(minimum = 1, maximum = 600)]
    pub term: u32,
    /// How principal and interest are spread.
    pub method: Method,
    /// Start (disbursement) date.
    pub start: NaiveDate,
    /// `arrears` (default) or `advance` (equal installments only).
    #[serde(default)]
    pub payment_timing: Timing,
    /// Residual / balloon due at the end.
    #[serde(default)]
    pub residual: Decimal,
    /// Deposit paid at the start, returned at the end.
    #[serde(default)]
    pub deposit: Decimal,
    /// Fee paid upfront.
    #[serde(default)]
    pub fee: Decimal,
    /// Round installments to a multiple of this (default 0.01).
    pub installment_multiple: Option<Decimal>,
    /// `half-up` (default) or `half-even`.
    #[serde(default)]
    pub rounding: Rounding,
}

fn field(e: &TermsError) -> &'static str {
    match e {
        TermsError::Principal => "principal",
        TermsError::Rate => "annual_rate",
        TermsError::Term => "term",
        TermsError::Residual | TermsError::ResidualMethod => "residual",
        TermsError::Negative => "deposit",
        TermsError::AdvanceMethod => "payment_timing",
    }
}

/// Quote a schedule.
#[utoipa::path(post, path = "/calculator/quote", tag = "calculator", request_body = QuoteRequest,
    responses((status = 200, description = "The schedule, totals and IRR", body = Quote)),
    security(("bearer" = ["calculator.quote"])))]
async fn quote(Json(request): Json<QuoteRequest>) -> Result<Json<Quote>, ApiError> {
    let terms = Terms {
        principal: request.principal,
        annual_rate: request.annual_rate,
        term: request.term,
        method: request.method,
        start: request.start,
        timing: request.payment_timing,
        residual: request.residual,
        deposit: request.deposit,
        fee: request.fee,
        installment_multiple: request.installment_multiple.filter(|m| !m.is_zero()).unwrap_or(CENT),
        rounding: request.rounding,
    };
    schedule(&terms).map(Json).map_err(|e| ApiError::invalid(field(&e), e.to_string()))
}
