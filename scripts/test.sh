#!/usr/bin/env bash
# The one command that runs Tessera's tests (the README's test command).
# Needs PostgreSQL on 127.0.0.1:5432 (see scripts/services.sh); installs missing tools itself.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "PostgreSQL is not reachable on 127.0.0.1:5432. Start it with: bash scripts/services.sh" >&2
  exit 1
fi

echo "== cargo test (workspace: registry on PostgreSQL and SQLite, sts, emulator)"
cargo test --workspace --all-targets --locked
echo "== cargo test -p broker-wasm --features power-pages (the Power Pages bundle's logic, src/portal.rs)"
cargo test -p broker-wasm --all-targets --locked --features power-pages

for suite in interop/msal/run.sh e2e/run.sh; do
  if [ -f "$suite" ]; then
    echo "== $suite"
    bash "$suite"
  fi
done
