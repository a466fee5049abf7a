#!/usr/bin/env bash
# Runs clang-tidy (the checks of .clang-tidy at the repository root) over
# every .cpp under src/ and bench/ that the build compiles, two at a time,
# and exits 1 if any file has a finding. Not part of CI (its 30 minutes are
# nearly used): run it before sending a change.
#   scripts/tidy.sh            configures build/tidy (GCC, debug, benchmarks)
#                              if needed and uses its compile_commands.json
#   scripts/tidy.sh BUILD_DIR  uses BUILD_DIR's compile_commands.json
#   FILES="src/a.cpp ..." scripts/tidy.sh   checks only those files
# A build configured with --unity=on lists unity files, not the sources, so
# such a BUILD_DIR is refused (the tests build in unity groups in every build:
# they are not checked). Nothing is compiled: the sources include no
# generated header (the one generated .cpp, the embedded BPF sources, lives
# in the build dir and is not checked).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

build=${1:-build/tidy}
if [ $# -eq 0 ] && [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --buildtype=debug -Dbenchmarks=true >/dev/null
fi
db=$build/compile_commands.json
if [ ! -f "$db" ]; then
  echo "tidy.sh: $db not found (run meson setup $build first)" >&2
  exit 2
fi

# The sources the build compiles (a file of an option left off, such as
# local_redirect, has no compile command and is skipped).
mapfile -t files < <(python3 - "$db" "$root" "${FILES:-}" <<'EOF'
import json, os, sys
db, root, only = sys.argv[1], sys.argv[2], sys.argv[3].split()
entries = json.load(open(db))
files = {os.path.normpath(os.path.join(e["directory"], e["file"])) for e in entries}
wanted = tuple(os.path.join(root, d) + os.sep for d in ("src", "bench"))
picked = sorted(f for f in files if f.startswith(wanted))
if not picked and any("-unity" in os.path.basename(f) for f in files):
    sys.exit("tidy.sh: %s is a unity build; use a build set up with --unity=off" % db)
if only:
    only = {os.path.normpath(os.path.join(root, f)) for f in only}
    picked = [f for f in picked if f in only]
print("\n".join(picked))
EOF
)
if [ ${#files[@]} -eq 0 ]; then
  echo "tidy.sh: no source file to check" >&2
  exit 2
fi

# The compile commands come from GCC (through ccache, which clang-tidy
# skips); they use no GCC-only flag today, and -Wno-unknown-warning-option
# keeps a future GCC-only -W flag from turning into clang-diagnostic noise.
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "tidy.sh: ${#files[@]} files, $db"
# The inner sh expands $0..$2 itself (SC2016 is what is meant here).
# shellcheck disable=SC2016
printf '%s\n' "${files[@]}" |
  xargs -P2 -I{} sh -c 'log="$1/$(echo "$2" | tr / _).log"
    if ! clang-tidy -p "$0" --quiet --extra-arg=-Wno-unknown-warning-option "$2" >"$log" 2>&1; then
      mv "$log" "$log.failed"; fi' "$build" "$out" {}

failed=$(find "$out" -name '*.failed' | sort)
if [ -n "$failed" ]; then
  # A finding in a header is reported once per file that includes it: print
  # each finding (with its notes) once, and drop clang-tidy's chatter.
  # shellcheck disable=SC2086
  python3 - $failed <<'EOF'
import re, sys
finding = re.compile(r"^\S+:\d+:\d+: (warning|error): ")
chatter = re.compile(r"^(\d+ warnings?( and \d+ errors?)? generated\.|Suppressed \d+|Use -header-filter|"
                     r"Error while processing|Found compiler errors?|\d+ warnings? treated as errors)")
seen, blocks = set(), []
for path in sys.argv[1:]:
    block = None
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if chatter.match(line):
            continue
        if finding.match(line) or block is None:
            block = [line]
            blocks.append(block)
        else:
            block.append(line)
shown = 0
for block in blocks:
    if block[0] in seen:
        continue
    seen.add(block[0])
    shown += finding.match(block[0]) is not None
    print("\n".join(block))
print(f"tidy.sh: {shown} distinct findings", file=sys.stderr)
EOF
  echo "tidy.sh: findings in $(echo "$failed" | wc -l) of ${#files[@]} files" >&2
  exit 1
fi
echo "tidy.sh: clean"
