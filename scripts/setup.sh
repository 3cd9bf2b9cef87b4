#!/usr/bin/env bash
# Prepares a Debian machine for building and testing leasewatch: installs what is missing (when run
# as root) and starts PostgreSQL and Mosquitto if they are not running. Safe to run again.
set -euo pipefail

need=()
command -v cc >/dev/null || need+=(build-essential)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
command -v psql >/dev/null || need+=(postgresql-client)
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
command -v mosquitto >/dev/null || need+=(mosquitto)
# The scaled-out test runs a three-node NATS JetStream cluster of its own.
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
command -v curl >/dev/null || need+=(curl ca-certificates)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
# The console's browser tests drive Debian's Chromium through chromedriver; nothing downloads a browser.
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
# Chinese text in the browser tests' screenshots, and the font default-notice letters embed.
[ -d /usr/share/fonts/opentype/noto ] || need+=(fonts-noto-cjk)
# The letters' tests read the PDFs' text back.
command -v pdftotext >/dev/null || need+=(poppler-utils)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "setup: missing ${need[*]}; run as root to install them" >&2
  fi
fi

if ! command -v cargo >/dev/null; then
  [ -x "$HOME/.cargo/bin/cargo" ] || curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt
  export PATH="$HOME/.cargo/bin:$PATH"
fi

# PostgreSQL on 127.0.0.1:5432 (trust auth for local tests), Mosquitto on 127.0.0.1:1883.
if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  for version in /etc/postgresql/*; do
    [ -d "$version" ] && pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start || true
  done
fi
if command -v mosquitto >/dev/null && ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
  mosquitto -d -c /etc/mosquitto/mosquitto.conf || mosquitto -d
fi

# The browser libraries the console embeds, pinned in admin/assets/package-lock.json (install scripts off:
# nothing runs or phones home).
assets="$(cd "$(dirname "$0")/../admin/assets" && pwd)"
if [ ! -f "$assets/node_modules/.package-lock.json" ] || [ "$assets/package-lock.json" -nt "$assets/node_modules/.package-lock.json" ]; then
  (cd "$assets" && npm ci --ignore-scripts --no-audit --no-fund --silent)
fi
