#!/usr/bin/env bash
# CPU time per dropped packet of a SYN flood: sniproxy's XDP filter versus
# the same policy as an iptables DROP rule (iptables-nft, so an nf_tables
# rule underneath), measured in one run. Needs root.
#
#   bench/xdp/run-xdp-bench.sh [BUILD_DIR]        (default: build/xdp)
#
# Env: ROUNDS (5), METHODS ("frame packet"), SYNs per round and variant:
# FRAME_PACKETS (4000000) and SOCKET_PACKETS (1000000), the latter method
# being about ten times slower.
#
# Two network namespaces joined by a veth pair. sniproxy listens in the
# "server" one; syn_flood in the "client" one sends SYNs from one
# spoofed source, 10.78.0.66, to the listener's port, as fast as the kernel
# takes them, in one of two ways (METHODS):
#   frame   the kernel's XDP live-frames generator redirects the frames into
#           the veth: they arrive as XDP frames in its receive ring, as from
#           a NIC (GRO is on, as on a NIC). The representative case.
#   packet  a packet socket, one skb per frame: like traffic made on the same
#           host. veth's native XDP must first copy such an skb into a page
#           (it lacks XDP's 256 bytes of headroom), a cost no NIC driver has,
#           so this understates what XDP saves.
# Each round runs every variant once, in turn:
#   xdp        sniproxy with [xdp] deny = ["10.78.0.66"], native mode on the veth
#   nft-input  sniproxy without [xdp]; iptables -A INPUT -s 10.78.0.66 -p tcp
#              --dport PORT -j DROP (the rule most operators write)
#   nft-raw    the same rule in the raw table's PREROUTING, before conntrack
#   sender     the same frames out of a second veth whose peer is down: what
#              sending alone costs, to subtract
# Two CPU measures per packet, over the send; divided by the packets the
# filter itself counted as dropped (XDP's dropped_deny, the rule's counter):
#   attributed  the sender's own CPU time (its schedstat) plus that of the
#               ksoftirqd threads. On a veth the receive side (XDP or
#               netfilter) runs in softirq on the sending CPU, in the
#               sender's system calls or in ksoftirqd, so this is the whole
#               cost of the packets and nothing else: it holds while other
#               work shares the machine.
#   machine     whole-machine busy time from /proc/stat (user, nice, system,
#               irq, softirq, steal): exact on an idle machine, inflated by
#               anything else running (the idle load is shown first).
# The medians per variant and the ratios iptables/XDP are printed at the
# end; the rounds alternate the variants so that drifting load spreads.
set -euo pipefail

BUILD=${1:-build/xdp}
SNIPROXY=$BUILD/src/app/sniproxy
FLOOD=$BUILD/bench/xdp/syn_flood
FRAME_PACKETS=${FRAME_PACKETS:-4000000}
SOCKET_PACKETS=${SOCKET_PACKETS:-1000000}
ROUNDS=${ROUNDS:-5}
METHODS=${METHODS:-frame packet}
PORT=8443
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces, XDP, iptables)" >&2; exit 2; }
[ -x "$SNIPROXY" ] || { echo "not executable: $SNIPROXY (build first: ninja -C $BUILD)" >&2; exit 2; }
[ -x "$FLOOD" ] || { echo "not executable: $FLOOD" >&2; exit 2; }

tag=$$
S=sniproxy-bench-s$tag
C=sniproxy-bench-c$tag
VS=bs$tag   # server end of the veth
VC=bc$tag   # client end
VD=bd$tag   # the sender-only veth, its peer left down
SERVER_MAC=02:78:00:00:00:01
CLIENT_MAC=02:78:00:00:00:02
work=$(mktemp -d)
proxy_pid=""

cleanup() {
  if [ -n "$proxy_pid" ]; then kill "$proxy_pid" 2>/dev/null || true; wait "$proxy_pid" 2>/dev/null || true; fi
  ip netns del "$S" 2>/dev/null || true
  ip netns del "$C" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$S"
ip netns add "$C"
ip link add "$VC" netns "$C" address $CLIENT_MAC type veth peer name "$VS" netns "$S" address $SERVER_MAC
ip link add "$VD" netns "$C" address $CLIENT_MAC type veth peer name "${VD}p" netns "$C"
ip -n "$S" addr add 10.78.0.1/24 dev "$VS"
ip -n "$C" addr add 10.78.0.2/24 dev "$VC"
for ns in "$S" "$C"; do ip -n "$ns" link set lo up; done
ip -n "$S" link set "$VS" up
ip -n "$C" link set "$VC" up
ip -n "$C" link set "$VD" up
ip netns exec "$S" "$FLOOD" --gro-on "$VS"

write_config() {  # write_config FILE WITH_XDP
  {
    echo 'workers = 1'
    echo '[process]'
    echo 'allow_root = true'
    echo '[access_log]'
    echo 'path = "off"'
    if [ "$2" = yes ]; then
      echo '[xdp]'
      echo "interfaces = [\"$VS\"]"
      echo 'mode = "native"'
      echo 'deny = ["10.78.0.66"]'
      echo 'log_interval = "0s"'   # one counters line, at exit
    fi
    echo '[[listener]]'
    echo "address = \"0.0.0.0:$PORT\""
    echo 'table = "t"'
    echo '[[tables.t]]'
    echo 'match = "bench.test"'
    echo 'backend = "127.0.0.1:9"'
  } > "$1"
}
write_config "$work/xdp.toml" yes
write_config "$work/plain.toml" no

start_proxy() {  # start_proxy CONFIG
  : > "$work/proxy.log"
  ip netns exec "$S" "$SNIPROXY" --config "$1" 2> "$work/proxy.log" &
  proxy_pid=$!
  for _ in $(seq 200); do
    grep -q 'event=listening' "$work/proxy.log" && return 0
    kill -0 "$proxy_pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "sniproxy did not start:" >&2
  cat "$work/proxy.log" >&2
  exit 1
}

stop_proxy() {
  kill -TERM "$proxy_pid"
  wait "$proxy_pid" || true
  proxy_pid=""
}

busy_ticks() {  # user nice system irq softirq steal, all CPUs
  awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat
}

ksoftirqd_ns() {  # CPU time of every ksoftirqd thread, ns (schedstat)
  local total=0 pid
  for pid in $(pgrep '^ksoftirqd/'); do
    total=$((total + $(cut -d' ' -f1 "/proc/$pid/schedstat")))
  done
  echo $total
}

hz=$(getconf CLK_TCK)
# flood INTERFACE: sends PACKETS SYNs by $method; sets attributed_ns and machine_ns.
flood() {
  local busy_before soft_before busy_after soft_after sender_ns
  busy_before=$(busy_ticks)
  soft_before=$(ksoftirqd_ns)
  ip netns exec "$C" "$FLOOD" --interface "$1" --method "$flood_method" --source-mac $CLIENT_MAC \
    --destination-mac $SERVER_MAC --source 10.78.0.66 --destination 10.78.0.1 --port $PORT \
    --count "$PACKETS" > "$work/flood.out"
  soft_after=$(ksoftirqd_ns)
  busy_after=$(busy_ticks)
  sender_ns=$(sed -n 's/.*cpu_ns=\([0-9]*\).*/\1/p' "$work/flood.out")
  attributed_ns=$((sender_ns + soft_after - soft_before))
  machine_ns=$(((busy_after - busy_before) * 1000000000 / hz))
}

rule_packets() {  # rule_packets TABLE CHAIN
  ip netns exec "$S" iptables -t "$1" -L "$2" -v -x -n | awk '$3 == "DROP" {print $1; exit}'
}

results="$work/results"
: > "$results"
record() {  # record VARIANT DROPPED
  local a m
  a=$((attributed_ns / $2))
  m=$((machine_ns / $2))
  printf '%-6s %-3s %-9s dropped=%-8s attributed=%5sns machine=%5sns  %s\n' "$method" "$round" \
    "$1" "$2" "$a" "$m" "$(cut -d' ' -f2,3 "$work/flood.out")"
  echo "$method-$1 $a $m" >> "$results"
}

echo "sniproxy XDP filter vs iptables DROP: $FRAME_PACKETS (frame) / $SOCKET_PACKETS (packet) SYNs per round, $ROUNDS rounds," \
  "$(nproc) CPUs, kernel $(uname -r)"
idle_before=$(busy_ticks)
sleep 1
echo "machine busy while this script idles: $(( ($(busy_ticks) - idle_before) * 100 / hz ))% of one CPU" \
  "(other work on the machine; it inflates 'machine', not 'attributed')"
for method in $METHODS; do
if [ "$method" = frame ]; then flood_method=xdp PACKETS=$FRAME_PACKETS; else flood_method=packet PACKETS=$SOCKET_PACKETS; fi
for round in $(seq "$ROUNDS"); do
  start_proxy "$work/xdp.toml"
  grep -q 'event=xdp_attached.*mode=native' "$work/proxy.log" || { cat "$work/proxy.log" >&2; exit 1; }
  flood "$VC"
  stop_proxy
  dropped=$(grep 'event=xdp_counters' "$work/proxy.log" | tail -1 | sed 's/.*dropped_deny=\([0-9]*\).*/\1/')
  record xdp "$dropped"

  for variant in nft-input nft-raw; do
    if [ $variant = nft-input ]; then table=filter chain=INPUT; else table=raw chain=PREROUTING; fi
    start_proxy "$work/plain.toml"
    ip netns exec "$S" iptables -t $table -A $chain -s 10.78.0.66 -p tcp --dport $PORT -j DROP
    flood "$VC"
    dropped=$(rule_packets $table $chain)
    ip netns exec "$S" iptables -t $table -D $chain -s 10.78.0.66 -p tcp --dport $PORT -j DROP
    stop_proxy
    record $variant "$dropped"
  done

  flood "$VD"
  record sender "$PACKETS"
done
done

median() {  # median VARIANT COLUMN
  awk -v v="$1" -v c="$2" '$1 == v {print $c}' "$results" | sort -n |
    awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
summary() {  # summary METHOD COLUMN NAME
  local x i r s
  x=$(median "$1-xdp" "$2")
  i=$(median "$1-nft-input" "$2")
  r=$(median "$1-nft-raw" "$2")
  s=$(median "$1-sender" "$2")
  awk -v m="$1" -v n="$3" -v x="$x" -v i="$i" -v r="$r" -v s="$s" 'BEGIN {
    printf "%-6s %-10s per dropped packet: xdp %.0fns, iptables INPUT %.0fns, iptables raw %.0fns (sending alone %.0fns)\n", m, n, x, i, r, s
    printf "%-6s %-10s ratio iptables/xdp: INPUT %.2fx, raw %.2fx", m, n, i / x, r / x
    if (x > s && i > s && r > s)
      printf "; receive side only (minus sending): xdp %.0fns, INPUT %.0fns (%.2fx), raw %.0fns (%.2fx)",
        x - s, i - s, (i - s) / (x - s), r - s, (r - s) / (x - s)
    printf "\n"
  }'
}
echo
echo "medians over $ROUNDS rounds:"
for method in $METHODS; do
  summary "$method" 2 attributed
  summary "$method" 3 machine
done
