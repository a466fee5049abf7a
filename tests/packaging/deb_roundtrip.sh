#!/usr/bin/env bash
# The Debian package, end to end, as root on Debian 12:
#   1. build it with packaging/build-deb.sh (timed);
#   2. install Debian's own, unrelated "sniproxy" package first (dlundquist's,
#      same binary path, unit and man page names), then ours with apt, which
#      must replace it through Conflicts/Replaces rather than mix files;
#   3. check the files, the conffile, the sniproxy user, --version, --check
#      and `systemd-analyze verify` of the installed unit;
#   4. run the installed binary with the installed config and send a real TLS
#      ClientHello for www.example.test through it: the backend must get a
#      PROXY v2 header and then the hello, and its answer must come back;
#      with [admin] in the config, GET /status and /metrics must answer;
#   5. SIGTERM, then `apt-get purge`: files, user and package must be gone.
# Whatever fails, the trap stops what it started and purges what it
# installed. Exit 77 (skipped) when not root.
set -euo pipefail

PKG=sniproxy-uring  # our binary package (packaging/debian/control)
OLD=sniproxy        # Debian's dlundquist sniproxy, which ours replaces
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/tests/packaging"

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: needs root (installs a package)"
  exit 77
fi
export DEBIAN_FRONTEND=noninteractive

tmp=$(mktemp -d /tmp/sniproxy-deb-test.XXXXXX)
proxy_pid=""
installed_old=no
cleanup() {
  local rc=$?
  set +e
  if [ -n "$proxy_pid" ] && kill -0 "$proxy_pid" 2>/dev/null; then
    kill -KILL "$proxy_pid"
  fi
  if dpkg-query -W -f='${db:Status-Abbrev}' "$PKG" 2>/dev/null | grep -q '^.[^n]'; then
    echo "cleanup: purging $PKG"
    apt-get purge -y -qq "$PKG" >/dev/null
  fi
  if [ "$installed_old" = yes ] && dpkg-query -W -f='${db:Status-Abbrev}' "$OLD" 2>/dev/null | grep -q '^.[^n]'; then
    echo "cleanup: purging $OLD"
    apt-get purge -y -qq "$OLD" >/dev/null
  fi
  if [ $rc -ne 0 ] && [ -s "$tmp/proxy.err" ]; then
    echo "--- proxy stderr"
    tail -n 30 "$tmp/proxy.err"
  fi
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
status_of() { dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | cut -c1-2 || true; }
# wait_for SECONDS COMMAND...: poll COMMAND every 0.1 s, bounded.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

for tool in dpkg-buildpackage dh systemd-analyze; do
  command -v "$tool" >/dev/null || "$root/scripts/install-deps.sh"
done
case "$(status_of "$PKG")" in
  ii|rc|iU|iF) echo "note: $PKG was already on this machine; the test replaces and purges it" ;;
esac

# 1. Build. The example config is kept as it was when the build copied the
# tree (others may edit the checkout meanwhile).
cp "$root/packaging/proxy.toml" "$tmp/proxy.toml.at-build"
start=$SECONDS
# noopt: this checks the packaging, not the optimiser, and an unoptimised
# build takes about half the CI time (the suite must stay well under 20 min).
DEB_BUILD_OPTIONS="nocheck noopt" "$root/packaging/build-deb.sh" "$tmp/out" >"$tmp/build.log" 2>&1 || { tail -n 40 "$tmp/build.log"; fail "packaging/build-deb.sh"; }
echo "deb built in $((SECONDS - start)) s: $(cd "$tmp/out" && ls ./*.deb)"
deb=$(ls "$tmp"/out/"$PKG"_*.deb)
dpkg-deb --field "$deb" Conflicts | grep -qw "$OLD" || fail "$PKG does not declare Conflicts: $OLD"

# 2. The old, unrelated sniproxy first, when the archive has it.
if [ "$(status_of "$OLD")" != ii ] && apt-cache show "$OLD" >/dev/null 2>&1; then
  apt-get install -y -qq "$OLD" >"$tmp/apt-old.log" 2>&1 || { cat "$tmp/apt-old.log"; fail "apt-get install $OLD"; }
  installed_old=yes
  [ -x /usr/sbin/sniproxy ] || fail "$OLD did not install /usr/sbin/sniproxy"
else
  echo "note: $OLD not installed first (already installed, or unknown to apt here)"
fi
# apt resolves the Depends (libbpfcc, adduser) and removes the conflicting package.
apt-get install -y -qq "$deb" >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log"; fail "apt-get install $deb"; }
[ "$(status_of "$PKG")" = ii ] || fail "$PKG is not installed: $(status_of "$PKG")"
if [ "$installed_old" = yes ]; then
  case "$(status_of "$OLD")" in
    rc|un|pn) echo "ok: installing $PKG removed $OLD ($(status_of "$OLD"))" ;;
    *) fail "$OLD still installed next to $PKG: $(status_of "$OLD")" ;;
  esac
fi

# 3. Files, conffile, user, the binary and the unit.
dpkg -L "$PKG" >"$tmp/files"
for f in /usr/sbin/sniproxy /lib/systemd/system/sniproxy.service \
         /usr/share/man/man8/sniproxy.8.gz /usr/share/man/man5/sniproxy.toml.5.gz \
         /etc/sniproxy/proxy.toml /etc/logrotate.d/sniproxy; do
  grep -qx "$f" "$tmp/files" || fail "dpkg -L $PKG lacks $f"
  [ -e "$f" ] || fail "$f is listed but missing"
done
dpkg-query -W -f='${Conffiles}\n' "$PKG" | grep -q '^ /etc/sniproxy/proxy.toml ' || fail "/etc/sniproxy/proxy.toml is not a conffile"
dpkg-query -W -f='${Conffiles}\n' "$PKG" | grep -q '^ /etc/logrotate.d/sniproxy ' || fail "/etc/logrotate.d/sniproxy is not a conffile"
cmp -s /etc/sniproxy/proxy.toml "$tmp/proxy.toml.at-build" || fail "/etc/sniproxy/proxy.toml is not packaging/proxy.toml"
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd sniproxy) || fail "no user sniproxy"
getent group sniproxy >/dev/null || fail "no group sniproxy"
[ "$uid" -lt 1000 ] && [ "$home" = /nonexistent ] || fail "sniproxy is not a system user with home /nonexistent (uid $uid, home $home)"
echo "ok: user sniproxy uid=$uid gid=$gid shell=$shell"
version=$(/usr/sbin/sniproxy --version)
[ "$version" = "sniproxy $(dpkg-query -W -f='${Version}' "$PKG" | sed 's/-[^-]*$//')" ] || fail "--version says '$version'"
/usr/sbin/sniproxy --check --config /etc/sniproxy/proxy.toml || fail "the installed config does not pass --check"
# The real unit against the real binary and man pages; verify only warns, so
# any output is a failure.
verify=$(systemd-analyze verify /lib/systemd/system/sniproxy.service 2>&1) || fail "systemd-analyze verify: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify: $verify"
man -w sniproxy.toml >/dev/null 2>&1 || fail "man -w sniproxy.toml finds no page"

# 4. Run it with the installed config. With a [process] user the proxy is
# started as root and must switch to that user itself; without one it is
# started as sniproxy (uid and gid), as the systemd unit does.
for port in 8443 8080 9443 9090; do
  ! ss -Hltn "sport = :$port" | grep -q . || fail "port $port is in use on this machine"
done
has_user=no
awk '/^\[process\]/{p=1;next} /^\[/{p=0} p && /^[ \t]*user[ \t]*=/{found=1} END{exit !found}' \
  /etc/sniproxy/proxy.toml && has_user=yes
if [ "$has_user" = yes ]; then
  /usr/sbin/sniproxy --config /etc/sniproxy/proxy.toml 2>"$tmp/proxy.err" &
else
  setpriv --reuid=sniproxy --regid=sniproxy --init-groups \
    /usr/sbin/sniproxy --config /etc/sniproxy/proxy.toml 2>"$tmp/proxy.err" &
fi
proxy_pid=$!
listening() { ss -Hltn 'sport = :8443' | grep -q . && grep -q 'event=startup' "$tmp/proxy.err"; }
wait_for 20 listening || fail "the proxy is not listening on 127.0.0.1:8443 after 20 s"
# With [process] master = true (as shipped) the process started is the
# master, which keeps its start-up credentials; the proxy is its worker.
serving_pid=$proxy_pid
if grep -q 'event=master ' "$tmp/proxy.err"; then
  serving_pid=$(awk '{print $1}' "/proc/$proxy_pid/task/$proxy_pid/children")
  [ -n "$serving_pid" ] || fail "the master has no worker process"
  echo "ok: master pid $proxy_pid runs worker pid $serving_pid"
fi
# Started as root, it switches right after the startup line.
runs_as_sniproxy() { [ "$(awk '/^Uid:/{print $2}' "/proc/$serving_pid/status")" = "$uid" ]; }
wait_for 5 runs_as_sniproxy || fail "the proxy runs as uid $(awk '/^Uid:/{print $2}' "/proc/$serving_pid/status"), not sniproxy ($uid)"
echo "ok: proxy pid $serving_pid runs as sniproxy (started as $([ "$has_user" = yes ] && echo root || echo sniproxy))"

timeout 30 "$here/sni_roundtrip.py" 127.0.0.1:8443 127.0.0.1:9443 www.example.test || fail "TLS round trip through the proxy"
access() { grep -q 'event=access .*server_name=www.example.test backend=127.0.0.1:9443 .*outcome=ok' "$tmp/proxy.err"; }
wait_for 5 access || fail "no access log line for the connection"

if grep -q '^\[admin\]' /etc/sniproxy/proxy.toml; then
  admin=$(awk '/^\[admin\]/{p=1;next} /^\[/{p=0} p && /^[ \t]*listen[ \t]*=/{gsub(/[" \t]/,"",$0); sub(/^listen=/,""); sub(/#.*/,""); print}' /etc/sniproxy/proxy.toml)
  curl -fsS --max-time 5 "http://$admin/status" >"$tmp/status" || fail "GET http://$admin/status"
  python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/status" || fail "/status is not JSON"
  # To a file first: `grep -q` in a pipe stops reading at its first match,
  # and curl then fails writing the rest (exit 23) under pipefail.
  curl -fsS --max-time 5 "http://$admin/metrics" >"$tmp/metrics" || fail "GET http://$admin/metrics"
  grep -q '^# TYPE ' "$tmp/metrics" || fail "GET /metrics has no Prometheus text"
  echo "ok: admin endpoint $admin answers /status (JSON) and /metrics"
fi

kill -TERM "$proxy_pid"
# Bounded: a watchdog kills it after 40 s (the drain limit is 30 s).
(sleep 40 && kill -KILL "$proxy_pid") >/dev/null 2>&1 &
watchdog=$!
rc=0
wait "$proxy_pid" || rc=$?
proxy_pid=""
kill "$watchdog" 2>/dev/null || true
[ $rc -eq 0 ] || fail "the proxy exited $rc after SIGTERM (137: killed by the watchdog after 40 s)"
grep -q 'event=stopped' "$tmp/proxy.err" || fail "no event=stopped line"
echo "ok: stopped cleanly on SIGTERM"

# 5. Purge.
apt-get purge -y -qq "$PKG" >"$tmp/purge.log" 2>&1 || { cat "$tmp/purge.log"; fail "apt-get purge $PKG"; }
case "$(status_of "$PKG")" in
  un|pn|"") ;;
  *) fail "$PKG still known to dpkg after purge: $(status_of "$PKG")" ;;
esac
while read -r f; do
  [ -d "$f" ] && continue  # shared directories (/usr/sbin, ...) stay
  [ ! -e "$f" ] || fail "$f is still there after purge"
done <"$tmp/files"
[ ! -e /etc/sniproxy ] || fail "/etc/sniproxy is still there after purge"
! getent passwd sniproxy >/dev/null || fail "user sniproxy is still there after purge"
! getent group sniproxy >/dev/null || fail "group sniproxy is still there after purge"
echo "ok: purged; files, user and group are gone"
