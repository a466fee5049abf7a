#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite twice:
#   build/test      GCC, the distro compiler: unit, integration (the real
#                   binary on loopback) and BPF (needs root);
#   build/sanitize  clang with ASan + UBSan: every suite but packaging (the
#                   .deb is built with the distro's flags) and the repeat of
#                   the integration suite on epoll, plus every libFuzzer
#                   target (300,000 inputs each; 150,000 for the config
#                   loader and 50,000 for the sealed QUIC Initials, whose
#                   inputs cost more; fixed seed).
# Extra arguments go to both `meson test` runs (e.g. --suite unit).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

setup() {  # setup DIR ARGS...: configure once, reconfigure later
  local dir=$1
  shift
  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

# build/test compiles every source file on its own, as README's by-hand
# `meson setup build && ninja -C build` does, so a file of src/ that leans on
# another file's includes fails here (test code builds in unity groups
# everywhere: tests/meson.build). The sanitizer build uses unity builds: each
# target compiles as a few large translation units, so the heavy headers
# (GoogleTest, toml++, <regex>, fmt) are parsed once per group, which halves
# that build on two cores.
unity=(--unity=on -Dunity_size=16)
# Line tables only (-g1, -gline-tables-only): backtraces and sanitizer
# reports keep their file:line, and the compiles take a fifth to a third
# less time than with full debug information.
setup build/test --buildtype=debugoptimized -Dcpp_args=-g1
# -fno-sanitize=vptr: UBSan's vptr check reads a vtable only after testing
# that its memory is readable through a pipe(2); a process out of
# descriptors (which the fd-exhaustion tests make the proxy on purpose) fails
# that test and is told every virtual call on a fresh type has an "invalid
# vptr". ASan still checks every such object's memory.
CXX=clang++ setup build/sanitize --buildtype=debugoptimized -Db_sanitize=address,undefined \
  -Db_lundef=false -Dfuzz=true -Dbenchmarks=false "-Dcpp_args=-fno-sanitize=vptr -gline-tables-only" \
  "${unity[@]}"

# Sanitizer reports fail the test that triggers them. libbcc/LLVM keep
# allocations for the process lifetime: those are not our leaks.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Under the sanitizers, instances whose code path another instance already
# runs are left out:
# - the sockmap instances of the tests whose subject does not depend on the
#   forwarding mode (routing, HTTP, the open-proxy guard, the access log,
#   reload, the transparent source; the master, Fast Open toward backends
#   and preconnect, whose sockmap paths the plain build covers): each starts a proxy that compiles its
#   BPF programs, which costs about a minute on two cores;
# - the auto instances, except those that move a connection from copy to
#   splice mid-stream (transfer, churn, the slow readers): auto runs the copy or
#   the splice code, and both run here in their own instances.
# The plain build runs every instance in all four modes.
sanitize_filter='-'
for suite in TlsRouting HttpRouting ResolveGuard AccessLog Reload ProxyProtocolIn BlockedIoUring Pools \
  TransparentSource Master FastOpenConnect Preconnect; do
  sanitize_filter+="Modes/${suite}Test.*/sockmap:"
done
for suite in TlsRouting HttpRouting ResolveGuard AccessLog Reload Timeout Shutdown Reset \
  HalfClose ProxyProtocol ProxyProtocolIn BlockedIoUring Pools Admin AbuseReset TransparentSource \
  Master FastOpenConnect Preconnect; do
  sanitize_filter+="Modes/${suite}Test.*/auto:"
done
# - auto_sockmap's instances but the move under traffic from both ends (each
#   compiles the BPF programs; the others' paths run in it or in the plain
#   build).
# - the splice instances of suites whose subject is not how bytes move
#   (routing, pools, the master) or is timers (timeouts): their copy
#   instances run the same code here.
for suite in TlsRouting HttpRouting Pools Master Timeout; do
  sanitize_filter+="Modes/${suite}Test.*/splice:"
done
sanitize_filter+="Auto/AutoModeTest.LongStreamMovesToSpliceAlsoWhenAutoMayUseSockmap/*:"
sanitize_filter+="Auto/AutoSockmapTest.ChattyConnectionMovesToSockmapIntactAndClosesCleanly/*:"
sanitize_filter+="Auto/AutoSockmapTest.BackendEndingFirstAfterTheMoveClosesCleanly/*:"
# - the sockmap bulk suite (two more BPF compiles): its share of bytes on the
#   kernel path is the plain build's to show, and the moves of passed runs
#   it makes run here in the slow-reader suite's sockmap instances.
sanitize_filter+="Sockmap/SockmapBulkTest.*:"
sanitize_filter=${sanitize_filter%:}
# The epoll backend under the sanitizers: its reactor unit tests, the abuse
# suite's copy instances (descriptor exhaustion, resets, churn, backpressure;
# tests/integration/meson.build) and the blocked-io_uring tests in every
# mode; the plain build repeats the whole integration suite on it.

phase() {  # phase NAME: one line with the time since the script started
  echo "== $1 at $((SECONDS / 60))m$((SECONDS % 60))s"
}

status=0
for dir in build/test build/sanitize; do
  phase "build $dir"
  ninja -C "$dir"
  phase "test $dir"
  # (An empty GTEST_FILTER would select no test at all: set it only here.)
  if [ "$dir" = build/sanitize ] && [ -z "${GTEST_FILTER:-}" ]; then
    GTEST_FILTER=$sanitize_filter meson test -C "$dir" --print-errorlogs --num-processes 2 \
      --no-suite epoll-repeat "$@" || status=$?
  else
    meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" || status=$?
  fi
done
phase "done"

# One closing line that any CI reader understands.
python3 - build/test/meson-logs/testlog.json build/sanitize/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    for line in open(path):
        r = json.loads(line).get("result")
        if r == "OK": passed += 1
        elif r == "SKIP": skipped += 1
        else: failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
