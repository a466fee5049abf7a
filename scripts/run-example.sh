#!/usr/bin/env bash
# Installs what is missing, builds a release binary and runs it on the
# example config (packaging/proxy.toml) in the foreground.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
build=${BUILD_DIR:-build/release}
if [ -f "$build/build.ninja" ]; then
  meson setup --reconfigure "$build" >/dev/null
else
  meson setup "$build" --buildtype=release -Dtests=false -Dbenchmarks=false >/dev/null
fi
ninja -C "$build" src/app/sniproxy
# The example config runs the proxy as user sniproxy ([process]).
if ! getent passwd sniproxy >/dev/null; then
  adduser --system --group --no-create-home --home /nonexistent sniproxy
fi
exec "$build/src/app/sniproxy" --config packaging/proxy.toml "$@"
