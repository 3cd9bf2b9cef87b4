//! The daemon's configuration: defaults, then a TOML file, then the environment
//! (`DATABASE_URL`, and `LEASEWATCH_*` with `__` between levels, e.g.
//! `LEASEWATCH_INGEST__LISTENERS__GT06__BIND=0.0.0.0:6023`).

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use leasewatch_backoffice::system::config::BackOfficeConfig;
use leasewatch_cluster::EngineConfig;
use leasewatch_ingest::config::IngestConfig;
use leasewatch_monitor::engine::MonitorConfig;
use serde::{Deserialize, Serialize};

/// Everything the daemon reads at start-up.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// PostgreSQL; the database is created when missing.
    pub database_url: String,
    /// Connections in the pool (the writer uses one at a time; the rest serve lookups).
    pub database_pool: u32,
    /// Seconds given to open connections to finish on shutdown.
    pub shutdown_drain_secs: u64,
    /// Where the admin API, `/metrics`, `/healthz` and `/readyz` are served.
    pub http_bind: std::net::SocketAddr,
    /// The bearer token a scraper sends to `/metrics`; without one, only this host may scrape.
    pub metrics_token: Option<String>,
    /// Device ingest.
    pub ingest: IngestConfig,
    /// The back office: the admin API, its data key and password hashing.
    pub admin: BackOfficeConfig,
    /// The risk monitor.
    pub monitor: MonitorConfig,
    /// The message engine between roles in separate processes (none: one process).
    pub engine: EngineConfig,
    /// The company's offset from UTC in hours: business dates (due dates, the daily job) are its.
    pub utc_offset_hours: i32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "postgres://postgres@127.0.0.1:5432/leasewatch".to_owned(),
            database_pool: 8,
            shutdown_drain_secs: 10,
            http_bind: std::net::SocketAddr::from(([0, 0, 0, 0], 8080)),
            metrics_token: None,
            ingest: IngestConfig::default(),
            admin: BackOfficeConfig::default(),
            monitor: MonitorConfig::default(),
            engine: EngineConfig::default(),
            utc_offset_hours: 8,
        }
    }
}

impl Config {
    /// Loads the configuration from `file` (when given) and the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        // The defaults come first so that a file or variable can change one nested field
        // (`LEASEWATCH_INGEST__LISTENERS__GT06__ENABLED=false`) and keep the rest.
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment
            // LEASEWATCH_ADMIN_PASSWORD is read by `admin create-user`, not a setting.
            .merge(Env::prefixed("LEASEWATCH_").ignore(&["admin_password"]).split("__"))
            .merge(Env::raw().only(&["database_url"]))
            .extract()
            .map_err(Box::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_work_on_a_machine_with_postgresql_on_localhost() {
        let config = figment::Figment::new().extract::<Config>().unwrap_or_default();
        assert_eq!(config, Config::default());
        assert_eq!(config.ingest.listeners.gt06.bind.port(), 5023);
        assert_eq!(config.ingest.listeners.jt808.bind.port(), 5015);
        assert_eq!(config.ingest.listeners.teltonika.bind.port(), 5027);
        assert_eq!(config.ingest.listeners.h02.bind.port(), 5013);
    }

    #[test]
    fn one_nested_field_can_be_changed_alone() {
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string("[ingest.listeners.gt06]\nenabled = false"))
            .extract()
            .unwrap();
        assert!(!config.ingest.listeners.gt06.enabled);
        assert_eq!(config.ingest.listeners.gt06.bind.port(), 5023);
    }

    #[test]
    fn unknown_settings_are_refused() {
        let figment = figment::Figment::new().merge(Toml::string("databse_url = 'x'"));
        assert!(figment.extract::<Config>().is_err());
    }
}
