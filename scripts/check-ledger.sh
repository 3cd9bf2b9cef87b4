#!/usr/bin/env bash
# Checks a load generator's ledger against the database: every acknowledged position must be in
# `positions` exactly once. Prints {"acknowledged": N, "missing": M, "stored": S} and fails when M > 0.
#   scripts/check-ledger.sh LEDGER [DATABASE_URL]
set -euo pipefail
ledger=$1
url=${2:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/leasewatch}}
result=$(psql "$url" -v ON_ERROR_STOP=1 -qtA <<SQL | tail -1
CREATE TEMP TABLE ledger (imei text, fix bigint);
\copy ledger FROM '$ledger' WITH (FORMAT csv)
SELECT json_build_object(
  'acknowledged', (SELECT count(*) FROM ledger),
  'missing', (SELECT count(*) FROM ledger l JOIN devices d ON d.imei = l.imei
              WHERE NOT EXISTS (SELECT 1 FROM positions p WHERE p.device_id = d.id AND p.fix_time = to_timestamp(l.fix)))
             + (SELECT count(*) FROM ledger l WHERE NOT EXISTS (SELECT 1 FROM devices d WHERE d.imei = l.imei)),
  'stored', (SELECT count(*) FROM positions))::text;
SQL
)
echo "$result"
[[ "$result" == *'"missing" : 0'* ]]
