#!/bin/sh
# The retransmit tracer's overhead on bulk TCP, as root: throughput over a
# clean veth link between two network namespaces with the tracer's hooks
# attached versus detached, alternating in one run (median of ROUNDS each).
# The measurement itself is a disabled test in tests/retrans/overhead_test.cpp.
#
# usage: bench/retrans/run-overhead.sh [BUILD_DIR] [ROUNDS] [MS_PER_ROUND]
set -eu
build=${1:-build/retrans}
rounds=${2:-15}
ms=${3:-600}
exe="$build/tests/retrans/retrans_tests"
[ -x "$exe" ] || { echo "no $exe: ninja -C $build tests/retrans/retrans_tests" >&2; exit 2; }
RETRANS_BENCH_ROUNDS=$rounds RETRANS_BENCH_MS=$ms exec "$exe" --gtest_also_run_disabled_tests \
  --gtest_filter='RetransOverhead.*'
