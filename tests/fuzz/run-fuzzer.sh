#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time and fails on any crash, leak
# or sanitizer report (exit 1: libFuzzer's default 77 would read as "skipped"
# to meson). New inputs go to a scratch
# corpus in the build tree; the seed corpus in the source tree is only read.
#
#   run-fuzzer.sh TARGET SEED_CORPUS_DIR WORK_DIR [SECONDS]
#
# SECONDS defaults to $FUZZ_SECONDS, else 60. Longer runs: any value, e.g.
#   FUZZ_SECONDS=3600 meson test -C build/fuzz --suite fuzz
set -euo pipefail
target=$1 seeds=$2 work=$3
seconds=${4:-${FUZZ_SECONDS:-60}}
mkdir -p "$work/corpus" "$work/crashes"
exec "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -error_exitcode=1 \
  -print_final_stats=1 -artifact_prefix="$work/crashes/" "$work/corpus" "$seeds"
