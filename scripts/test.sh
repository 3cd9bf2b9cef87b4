#!/usr/bin/env bash
# The test command: sets the machine up (scripts/setup.sh), starts the PGlite TimescaleDB server for
# the TimescaleDB storage tests, then runs every test of the workspace against the local
# PostgreSQL (each database test gets a fresh migrated database of its own) and Mosquitto, and
# finally checks the admin API against its OpenAPI document with schemathesis.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}

port=${LEASEWATCH_TIMESCALE_PORT:-54399}
(cd scripts/timescale && { [ -d node_modules ] || npm ci --legacy-peer-deps --no-audit --no-fund --silent; })
mkdir -p target
PORT=$port node scripts/timescale/server.mjs > target/timescale-server.log 2>&1 &
timescale=$!
trap 'kill $timescale 2>/dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
export LEASEWATCH_TIMESCALE_URL="postgres://postgres:pglite@127.0.0.1:$port/postgres?sslmode=disable"

cargo test --workspace

# The admin API against its own document (schemathesis): no 5xx, no response outside the spec.
scripts/api-check.sh 25
