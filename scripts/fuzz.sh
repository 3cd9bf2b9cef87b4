#!/usr/bin/env bash
# Runs the protocol fuzz targets (cargo fuzz, nightly toolchain), each for SECONDS (default 300),
# or for RUNS executions when RUNS is set, seeded with the real device frames under
# protocols/tests/captures/. No sanitizer by default (the decoders have no unsafe code, and it runs
# several times faster); SANITIZER=address to use one.
#   scripts/fuzz.sh [SECONDS] [TARGET...]      targets: gt06 jt808 teltonika h02 (default: all)
# Prints each target's libFuzzer final stats (number of executions). A crash stops the script
# and leaves the input under protocols/fuzz/artifacts/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-300}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gt06 jt808 teltonika h02)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cd "$root/protocols/fuzz"
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  python3 - "$root/protocols/tests/captures/$t.jsonl" "corpus/$t" <<'PY'
import json, sys
for i, line in enumerate(open(sys.argv[1])):
    open(f"{sys.argv[2]}/capture-{i:03}", "wb").write(bytes.fromhex(json.loads(line)["hex"]))
PY
  limit=(-max_total_time="$seconds")
  [ -n "${RUNS:-}" ] && limit=(-runs="$RUNS")
  cargo +nightly fuzz run -s "${SANITIZER:-none}" "$t" "corpus/$t" -- "${limit[@]}" -print_final_stats=1 2>&1 \
    | grep -E "stat::number_of_executed_units|stat::average_exec_per_sec|ERROR|panicked|SUMMARY" | sed "s/^/$t: /"
done
