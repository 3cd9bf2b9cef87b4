//! The resources under `/api/v1`, one module each, every one following the same pattern: a
//! `router()` of annotated handlers that declare their permission, scoped queries, validation
//! with `Checks`, optimistic concurrency on `version`, and an audit record in the same transaction.

pub mod alerts;
pub mod applications;
pub mod audit;
pub mod auth;
pub mod blacklist;
pub mod calculator;
pub mod commands;
pub mod contract_templates;
pub mod contracts;
pub mod customers;
pub mod dealers;
pub mod disbursement;
pub mod disposals;
pub mod home_visits;
pub mod letters;
pub mod litigation;
pub mod monitor_rules;
pub mod partners;
pub mod places;
pub mod positions;
pub mod postloan;
pub mod products;
pub mod quarantine;
pub mod receipts;
pub mod regions;
pub mod reminders;
pub mod repossession;
pub mod risk_scores;
pub mod risk_tasks;
pub mod roles;
pub mod settings;
pub mod users;
pub mod vehicles;
pub mod webhooks;
pub mod workflows;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// Every resource's routes, relative to `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::router())
        .merge(users::router())
        .merge(roles::router())
        .merge(positions::router())
        .merge(regions::router())
        .merge(settings::router())
        .merge(audit::router())
        .merge(workflows::router())
        .merge(calculator::router())
        .merge(contracts::router())
        .merge(customers::router())
        .merge(dealers::router())
        .merge(vehicles::router())
        .merge(products::router())
        .merge(quarantine::router())
        .merge(receipts::router())
        .merge(alerts::router())
        .merge(monitor_rules::router())
        .merge(places::router())
        .merge(risk_scores::router())
        .merge(risk_tasks::router())
        .merge(commands::router())
        .merge(webhooks::router())
        .merge(postloan::router())
        .merge(repossession::router())
        .merge(disposals::router())
        .merge(letters::router())
        .merge(reminders::router())
        .merge(litigation::router())
        .merge(home_visits::router())
        .merge(applications::router())
        .merge(disbursement::router())
        .merge(contract_templates::router())
        .merge(partners::router())
        .merge(blacklist::router())
}
