//! The device registry: which IMEIs may send, and their ids; and the bulk CSV import.

use std::collections::HashMap;
use std::sync::RwLock;

use leasewatch_protocols::{DeviceId, ProtocolKind};
use leasewatch_store::batch::DeviceKey;
use leasewatch_store::devices::{self, Registered};
use leasewatch_store::quarantine::Registration;
use serde::Deserialize;
use sqlx::PgPool;

/// Resolves device ids (IMEIs) to registered devices, caching what the database said.
#[derive(Debug)]
pub struct Registry {
    pool: PgPool,
    known: RwLock<HashMap<DeviceId, DeviceKey>>,
}

impl Registry {
    /// A registry reading `devices` through `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool, known: RwLock::new(HashMap::new()) }
    }

    /// Loads every active device at start-up, so that a fleet logging in at once (a restart, a
    /// network coming back) is not one database query per device; the number loaded.
    pub async fn preload(&self) -> Result<usize, sqlx::Error> {
        let rows: Vec<(String, DeviceKey)> =
            sqlx::query_as("SELECT imei, id FROM devices WHERE status = 'active'").fetch_all(&self.pool).await?;
        let loaded = rows.len();
        if let Ok(mut known) = self.known.write() {
            known.extend(rows.into_iter().filter_map(|(imei, key)| Some((DeviceId::new(imei.as_bytes())?, key))));
        }
        Ok(loaded)
    }

    /// The active device with this id, if registered. Unknown ids are asked of the database each
    /// time, so that a device registered while connected is accepted on its next frame.
    pub async fn lookup(&self, id: &DeviceId) -> Result<Option<DeviceKey>, sqlx::Error> {
        if let Some(key) = self.known.read().ok().and_then(|k| k.get(id).copied()) {
            return Ok(Some(key));
        }
        let key: Option<DeviceKey> = sqlx::query_scalar("SELECT id FROM devices WHERE imei = $1 AND status = 'active'")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        if let (Some(key), Ok(mut known)) = (key, self.known.write()) {
            known.insert(*id, key);
        }
        Ok(key)
    }
}

/// One row of a device import file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NewDevice {
    /// IMEI or terminal id.
    pub imei: String,
    /// gt06, jt808, teltonika or h02.
    pub protocol: String,
    /// Device model.
    #[serde(default)]
    pub model: Option<String>,
    /// SIM number or ICCID.
    #[serde(default)]
    pub sim: Option<String>,
    /// `wired` or `wireless`.
    #[serde(default)]
    pub kind: Option<String>,
}

/// A bad row of an import file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct RowError {
    /// The line in the file (the header is line 1).
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

/// Reads and checks an import file: header `imei,protocol` then optional `model,sim,kind`.
/// Returns every bad row, so that one run shows everything to fix.
pub fn parse_csv(input: impl std::io::Read) -> Result<Vec<NewDevice>, Vec<RowError>> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(true).from_reader(input);
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    match reader.headers() {
        Ok(h) if h.iter().take(2).eq(["imei", "protocol"]) => {}
        Ok(h) => errors.push(RowError {
            line: 1,
            message: format!("header must start with imei,protocol (found {})", h.iter().collect::<Vec<_>>().join(",")),
        }),
        Err(e) => errors.push(RowError { line: 1, message: e.to_string() }),
    }
    let mut seen = HashMap::new();
    for (i, record) in reader.deserialize::<NewDevice>().enumerate() {
        let line = i as u64 + 2;
        let row = match record {
            Ok(row) => row,
            Err(e) => {
                errors.push(RowError { line, message: e.to_string() });
                continue;
            }
        };
        let mut bad = |message: String| errors.push(RowError { line, message });
        if DeviceId::new(row.imei.as_bytes()).is_none() {
            bad(format!("imei {:?} is not 1 to 24 letters and digits", row.imei));
        } else if row.protocol.parse::<ProtocolKind>().is_err() {
            bad(format!("protocol {:?} is not gt06, jt808, teltonika, h02 or mqtt", row.protocol));
        } else if !matches!(row.kind.as_deref(), None | Some("") | Some("wired") | Some("wireless")) {
            bad(format!("kind {:?} is not wired or wireless", row.kind.as_deref().unwrap_or_default()));
        } else if let Some(first) = seen.insert(row.imei.clone(), line) {
            bad(format!("imei {} is already on line {first}", row.imei));
        } else {
            rows.push(row);
        }
    }
    if errors.is_empty() { Ok(rows) } else { Err(errors) }
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct ImportSummary {
    /// New devices.
    pub inserted: u64,
    /// Devices whose protocol, model, SIM or kind changed.
    pub updated: u64,
    /// Rows that matched the registry already.
    pub unchanged: u64,
}

/// Registers `rows` in one transaction; re-importing the same rows changes nothing.
pub async fn import(pool: &PgPool, rows: &[NewDevice]) -> Result<ImportSummary, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut summary = ImportSummary::default();
    for row in rows {
        let registration = Registration { model: row.model.clone(), sim: row.sim.clone(), kind: row.kind.clone() };
        match devices::register(&mut tx, &row.imei, &row.protocol, &registration).await? {
            Registered::Inserted => summary.inserted += 1,
            Registered::Updated => summary.updated += 1,
            Registered::Unchanged => summary.unchanged += 1,
        }
    }
    tx.commit().await?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_with_optional_columns_parses() {
        let rows = parse_csv(
            "imei,protocol,model,sim,kind\n864717003283581,gt06,GT06N,1390000,wired\n013800138000,jt808\n".as_bytes(),
        );
        let rows = rows.unwrap_or_default();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].model, None);
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let errors = parse_csv(
            "imei,protocol\n864717003283581,gt06\n86471700328358!,gt06\n864717003283582,tk103\n864717003283581,gt06\n"
                .as_bytes(),
        )
        .err()
        .unwrap_or_default();
        let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 5], "{errors:?}");
        assert!(errors[2].message.contains("already on line 2"));
    }

    #[test]
    fn a_wrong_header_is_refused() {
        let errors = parse_csv("id,type\n1,gt06\n".as_bytes()).err().unwrap_or_default();
        assert_eq!(errors[0].line, 1);
    }
}
