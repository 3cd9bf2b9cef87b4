#!/usr/bin/env bash
# The test command: sets the machine up (scripts/setup.sh), then runs every test of the workspace
# against the local PostgreSQL (each database test gets a fresh migrated database of its own).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
cargo test --workspace
