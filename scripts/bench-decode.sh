#!/usr/bin/env bash
# Decoding throughput, as the acceptance figures are stated: release build, one core,
# `leasewatch decode --file <capture> --stats --quiet` over 1,000,000 location frames per protocol
# (captures written by `leasewatch-sim capture`), best of RUNS (default 3); then the criterion
# bench that measures GT06 against the `gt06` crate and Teltonika against `nom-teltonika` on the
# same bytes, side by side. Set SKIP_CRITERION=1 to skip the latter.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
runs=${RUNS:-3}
dir=${CAPTURES:-$root/target/captures}
mkdir -p "$dir"
cargo build --release --workspace -q
pin=(); command -v taskset >/dev/null && pin=(taskset -c 1)
for p in gt06 jt808 teltonika h02; do
  [ -s "$dir/$p.bin" ] || "${CARGO_TARGET_DIR:-target}"/release/leasewatch-sim capture -p "$p" --frames 1000000 -o "$dir/$p.bin"
  best=0
  for _ in $(seq "$runs"); do
    rate=$("${pin[@]}" "${CARGO_TARGET_DIR:-target}"/release/leasewatch decode -p "$p" --file "$dir/$p.bin" --stats --quiet 2>&1 \
      | python3 -c 'import json,sys; print(int(json.loads(sys.stdin.read())["frames_per_sec"]))')
    [ "$rate" -gt "$best" ] && best=$rate
  done
  printf '%-10s %12s frames/s (best of %s, 1,000,001 frames incl. login where the protocol has one)\n' "$p" "$best" "$runs"
done
[ -n "${SKIP_CRITERION:-}" ] || "${pin[@]}" cargo bench -p leasewatch-protocols --bench decode 2>&1 | grep -E "^[a-z0-9_]+/|thrpt"
