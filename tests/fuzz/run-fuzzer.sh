#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time and fails on any crash, leak
# or sanitizer report (exit 1: libFuzzer's default 77 would read as "skipped"
# to meson). New inputs go to a scratch
# corpus in the build tree; the seed corpus in the source tree is only read.
#
#   run-fuzzer.sh TARGET SEED_CORPUS_DIR WORK_DIR [SECONDS]
#
# By default the run is reproducible: seed $FUZZ_SEED (1) for $FUZZ_RUNS
# inputs (300000), starting from the seed corpus only, so a suite that passed
# once passes again (CI must not fail on a finding a later random run makes).
# To explore, give a time instead; it uses a random seed and keeps what it
# found in WORK_DIR/corpus for the next run:
#   FUZZ_SECONDS=3600 meson test -C build/sanitize --suite fuzz
set -euo pipefail
target=$1 seeds=$2 work=$3
seconds=${4:-${FUZZ_SECONDS:-}}
mkdir -p "$work/corpus" "$work/crashes"
common=(-timeout=10 -rss_limit_mb=2048 -error_exitcode=1 -print_final_stats=1
  -artifact_prefix="$work/crashes/")
if [ -n "$seconds" ]; then
  exec "$target" -max_total_time="$seconds" "${common[@]}" "$work/corpus" "$seeds"
fi
# A fresh scratch corpus each time, or the inputs would depend on past runs.
rm -rf "$work/replay" && mkdir -p "$work/replay"
exec "$target" -seed="${FUZZ_SEED:-1}" -runs="${FUZZ_RUNS:-300000}" "${common[@]}" \
  "$work/replay" "$seeds"
