#!/usr/bin/env bash
# man/sniproxy.8 and man/sniproxy.toml.5: groff and man-db render them
# without a single warning, every option of `sniproxy --help` is in
# sniproxy(8), and every section and key of packaging/proxy.toml (the
# commented-out ones included) is in sniproxy.toml(5). That every key the
# loader accepts is documented, in its own section, is checked against the
# loader's own key lists by unit_config (KnownKeys.*).
#   man_check.sh [SNIPROXY]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
command -v groff >/dev/null && command -v man >/dev/null || "$root/scripts/install-deps.sh"
status=0
for page in "$root/man/sniproxy.8" "$root/man/sniproxy.toml.5"; do
  # -ww: all warnings; -z: no output, diagnostics only.
  out=$(groff -man -ww -z "$page" 2>&1)
  [ -z "$out" ] || { echo "FAIL: groff warns on $page:"; echo "$out"; status=1; }
  out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
  [ -z "$out" ] || { echo "FAIL: man --warnings on $page:"; echo "$out"; status=1; }
done

if [ $# -ge 1 ]; then
  for opt in $("$1" --help | grep -o -- '--[a-z]*' | sort -u) retrans; do
    grep -q -- "$(sed 's/-/\\\\-/g' <<<"$opt")" "$root/man/sniproxy.8" ||
      { echo "FAIL: sniproxy(8) does not document $opt"; status=1; }
  done
fi

/usr/bin/python3 - "$root/packaging/proxy.toml" "$root/man/sniproxy.toml.5" <<'PY' || status=1
import re, sys
toml_lines = open(sys.argv[1]).read().splitlines()
man = open(sys.argv[2]).read()
missing = []
for line in toml_lines:
    m = re.match(r'^#?\s*\[\[?([a-z_]+)', line)
    if m:
        # Section headings: .SH "[name]", .SH "[[name]]" or "ROUTE TABLES: [[tables.NAME]]"
        if not re.search(r'^\.SH "[^"]*\[' + re.escape(m.group(1)), man, re.M):
            missing.append(f"section [{m.group(1)}]")
        continue
    m = re.match(r'^#?\s*([a-z_]+)\s*=', line)
    if m and not re.search(r'^\.BR? ' + re.escape(m.group(1)) + r'(\s|$)', man, re.M):
        missing.append(f"key {m.group(1)}")
for what in dict.fromkeys(missing):
    print(f"FAIL: sniproxy.toml(5) does not document {what}")
sys.exit(1 if missing else 0)
PY
[ $status -eq 0 ] && echo "man pages ok"
exit $status
