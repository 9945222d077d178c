#!/usr/bin/env bash
# MSAL Python interop test: builds and starts entra-emulator (examples/demo.toml, free ports),
# installs the pinned msal into a venv under target/, runs test_msal_interop.py over HTTPS
# (trusting the emulator's generated CA), then stops the emulator.
#
#   bash interop/msal/run.sh        # from anywhere; needs cargo, python3 (venv) and PyPI access
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

cargo build -p entra-emulator --locked --quiet
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
bin="$target_dir/debug/entra-emulator"

venv="$target_dir/interop-msal-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"

work="$(mktemp -d)"
emulator_pid=""
cleanup() {
  if [ -n "$emulator_pid" ]; then
    kill "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" serve --config "$root/entra-emulator/examples/demo.toml" --http-port 0 --https-port 0 \
  --write-ca "$work/ca.pem" --write-info "$work/info.json" >"$work/stdout.log" 2>"$work/emulator.log" &
emulator_pid=$!

for _ in $(seq 1 100); do
  [ -s "$work/info.json" ] && break
  if ! kill -0 "$emulator_pid" 2>/dev/null; then
    echo "entra-emulator exited early:" >&2
    cat "$work/emulator.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ ! -s "$work/info.json" ]; then
  echo "entra-emulator did not start listening" >&2
  cat "$work/emulator.log" >&2
  exit 1
fi

https_base="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["https_base"])' "$work/info.json")"
echo "entra-emulator at $https_base"
status=0
EMULATOR_HTTPS_BASE="$https_base" REQUESTS_CA_BUNDLE="$work/ca.pem" \
  "$venv/bin/python" "$here/test_msal_interop.py" || status=$?
if [ "$status" -ne 0 ]; then
  echo "---- emulator log" >&2
  tail -n 50 "$work/emulator.log" >&2
fi
exit "$status"
