#!/usr/bin/env bash
# packaging/systemd/sniproxy.service: `systemd-analyze verify` accepts it
# without a single warning (it works offline, systemd need not be PID 1),
# and it keeps the directives operators rely on.
#   unit_verify.sh [SNIPROXY]
# verify insists that ExecStart's binary exists and that the Documentation=
# man pages resolve, so it runs against a scratch root holding the unit, a
# copy of SNIPROXY (or a stub) at /usr/sbin/sniproxy, the host's units and
# /usr/bin/kill, with MANPATH pointing at man/.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
unit="$root/packaging/systemd/sniproxy.service"
command -v systemd-analyze >/dev/null || "$root/scripts/install-deps.sh"

tmp=$(mktemp -d /tmp/sniproxy-unit.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
r="$tmp/root"
mkdir -p "$r/usr/sbin" "$r/usr/bin" "$r/usr/lib/systemd" "$r/etc/systemd/system" "$tmp/man/man8" "$tmp/man/man5"
ln -s usr/bin "$r/bin"
ln -s usr/sbin "$r/sbin"
ln -s usr/lib "$r/lib"
cp -a /usr/lib/systemd/system "$r/usr/lib/systemd/"
cp /usr/bin/kill "$r/usr/bin/"
if [ $# -ge 1 ]; then
  cp "$1" "$r/usr/sbin/sniproxy"
else
  printf '#!/bin/sh\n' >"$r/usr/sbin/sniproxy"
  chmod +x "$r/usr/sbin/sniproxy"
fi
cp "$unit" "$r/etc/systemd/system/sniproxy.service"
cp "$root/packaging/systemd/sniproxy.socket" "$r/etc/systemd/system/sniproxy.socket"
cp "$root/man/sniproxy.8" "$tmp/man/man8/"
cp "$root/man/sniproxy.toml.5" "$tmp/man/man5/"

status=0
# verify exits 0 on unknown keys and bad values (it only warns): any output
# at all is a failure.
out=$(MANPATH="$tmp/man" systemd-analyze verify --root="$r" sniproxy.service sniproxy.socket 2>&1) || status=1
if [ -n "$out" ] || [ $status -ne 0 ]; then
  echo "FAIL: systemd-analyze verify:"
  echo "$out"
  status=1
fi

# What the unit must say (value checks are exact lines).
want=(
  "Type=notify"
  "NotifyAccess=main"
  "ExecStart=/usr/sbin/sniproxy --config /etc/sniproxy/proxy.toml"
  "ExecReload=/usr/sbin/sniproxy --check --config /etc/sniproxy/proxy.toml"
  "ExecReload=/bin/kill -HUP \$MAINPID"
  "User=sniproxy"
  "Group=sniproxy"
  "AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_ADMIN CAP_BPF CAP_PERFMON CAP_SYS_RESOURCE"
  "CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_NET_ADMIN CAP_BPF CAP_PERFMON CAP_SYS_RESOURCE"
  "NoNewPrivileges=yes"
  "ProtectSystem=strict"
  "ProtectHome=yes"
  "PrivateTmp=yes"
  "ProtectKernelModules=yes"
  "ProtectControlGroups=yes"
  "RestrictNamespaces=yes"
  "LockPersonality=yes"
  "RestrictRealtime=yes"
  "SystemCallArchitectures=native"
  "LimitNOFILE=1048576"
  "Restart=on-failure"
  "WantedBy=multi-user.target"
)
for line in "${want[@]}"; do
  grep -qxF -- "$line" "$unit" || { echo "FAIL: the unit lacks: $line"; status=1; }
done
# systemctl reload runs ExecReload= lines in order and stops at the first
# failure: exactly two, the check first, so a bad file is never signalled.
reloads=$(grep '^ExecReload=' "$unit")
want_reloads=$'ExecReload=/usr/sbin/sniproxy --check --config /etc/sniproxy/proxy.toml\nExecReload=/bin/kill -HUP $MAINPID'
[ "$reloads" = "$want_reloads" ] || { echo "FAIL: ExecReload= lines are not --check then kill -HUP:"; echo "$reloads"; status=1; }
[ "$(grep -c '^Type=' "$unit")" -eq 1 ] || { echo "FAIL: more than one Type="; status=1; }
# The .socket unit passes the example config's listeners: the proxy matches
# them by address, so each ListenStream= must be a [[listener]] address.
socket_addrs=$(sed -n 's/^ListenStream=//p' "$root/packaging/systemd/sniproxy.socket" | sort)
config_addrs=$(awk '/^\[\[listener\]\]/{l=1; next} /^\[/{l=0} l && /^address *=/{gsub(/[" ]/,""); sub(/^address=/,""); sub(/#.*/,""); print}' \
  "$root/packaging/proxy.toml" | sort)
[ "$socket_addrs" = "$config_addrs" ] ||
  { echo "FAIL: sniproxy.socket listens on [$socket_addrs], the example's listeners are [$config_addrs]"; status=1; }
# These would break BCC (see the comment in the unit).
for key in ProtectKernelTunables PrivateDevices MemoryDenyWriteExecute; do
  ! grep -q "^$key=" "$unit" || { echo "FAIL: the unit sets $key, which breaks BCC"; status=1; }
done
[ $status -eq 0 ] && echo "unit ok"
exit $status
