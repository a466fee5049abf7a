#!/usr/bin/env bash
# QUIC through sniproxy against direct: packets/s, GB/s, loss and CPU per GB
# of 1200-byte datagrams each way, for kernel forwarding (direct), the
# proxy's userspace path with workers = 1 and 2 and its TC fast path, in the
# same rounds.
#
#   bench/quic/run-quic.sh BUILD      (e.g. build/release; as root)
#
# Env: ROUNDS (5), DATAGRAMS (200000 each way per run), QUICK=1 (1 round of
# 20000: a check that it works, not a measurement), SOCKET_BUFFER (the
# proxy's [quic] socket_buffer; unset: its default, 4 MiB; 106496: the
# kernel's usual 208 KiB, as before the key), FLOWS (1: clients, each with
# its session; the datagrams go round-robin over them, so that the
# userspace_2w target, workers = 2, can use its second thread). The build needs
# -Dtests=true (the benchmark uses the tests' topology and Initial builder).
# Prints one line per run and a Markdown table of medians, with each ratio
# taken against direct in the same round. Creates three network namespaces
# and removes them at the end, also on failure or Ctrl-C.
set -euo pipefail

BUILD=${1:?usage: $0 BUILD_DIR}
SNIPROXY=$BUILD/src/app/sniproxy
TOOL=$BUILD/bench/quic/quic_bench
ROUNDS=${ROUNDS:-5}
DATAGRAMS=${DATAGRAMS:-200000}
if [ "${QUICK:-0}" = 1 ]; then
  ROUNDS=1
  DATAGRAMS=20000
fi
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces, BPF)" >&2; exit 2; }
for f in "$SNIPROXY" "$TOOL"; do
  [ -x "$f" ] || { echo "not executable: $f (build with -Dbenchmarks=true -Dtests=true)" >&2; exit 2; }
done
echo "# $(date -u +%Y-%m-%dT%H:%MZ), kernel $(uname -r), $(nproc) CPUs, $DATAGRAMS datagrams each way, $ROUNDS rounds, socket_buffer ${SOCKET_BUFFER:-default}, ${FLOWS:-1} flows"
exec "$TOOL" "$SNIPROXY" "$DATAGRAMS" "$ROUNDS"
