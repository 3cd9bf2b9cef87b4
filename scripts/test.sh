#!/usr/bin/env bash
# The test command: sets the machine up (scripts/setup.sh), then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo test --workspace
