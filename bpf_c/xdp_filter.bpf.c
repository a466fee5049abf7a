/* XDP source-address filter in front of the proxy's listening ports.
 *
 * Judged: TCP segments to a port in xdp_ports, over IPv4 or IPv6, behind up
 * to two VLAN tags. For those, in this order:
 *   the source is in the deny list             -> drop (dropped_deny)
 *   an allow list is set, the source is not in -> drop (dropped_not_allowed)
 *   a SYN without ACK above the source's rate  -> drop (dropped_rate)
 *   otherwise                                  -> pass (passed)
 * "An allow list is set" means it holds a prefix of either family: an allow
 * list of IPv4 prefixes only also drops every IPv6 source.
 *
 * Passed untouched (ignored): non-IP frames, other protocols and ports, and
 * non-first fragments. Those carry no ports; without their first fragment,
 * which is judged, the stack cannot reassemble them.
 *
 * Passed as malformed: truncated or invalid IP/TCP headers (IHL < 5, wrong
 * version, TCP data offset < 5, a header cut short). The stack checks the
 * same fields and drops such packets itself; passing them means a parser
 * mistake here can never cut traffic such as the operator's ssh.
 *
 * Judged by source address alone, as if sent to a listener: a first
 * fragment too short to hold the TCP header (RFC 1858 tiny fragments) and an
 * IPv6 packet with more extension headers than are walked here. Otherwise
 * either would be a way around the lists. The SYN rate needs the flags and
 * does not apply to them.
 *
 * Reads only packet bytes (each read checked against data_end first), the
 * xdp_md context and BPF maps: BCC compiles against headers that may be
 * older than the running kernel (docs/kernel.md), so no kernel struct is read. */
#include "shared_types.h"

#ifndef SNIPROXY_XDP_MAX_PREFIXES
#define SNIPROXY_XDP_MAX_PREFIXES 65536
#endif
#ifndef SNIPROXY_XDP_MAX_PORTS
#define SNIPROXY_XDP_MAX_PORTS 1024
#endif
#ifndef SNIPROXY_XDP_RATE_SOURCES
#define SNIPROXY_XDP_RATE_SOURCES 65536
#endif

BPF_LPM_TRIE(xdp_allow4, struct sniproxy_xdp_lpm_v4, __u8, SNIPROXY_XDP_MAX_PREFIXES);
BPF_LPM_TRIE(xdp_deny4, struct sniproxy_xdp_lpm_v4, __u8, SNIPROXY_XDP_MAX_PREFIXES);
BPF_LPM_TRIE(xdp_allow6, struct sniproxy_xdp_lpm_v6, __u8, SNIPROXY_XDP_MAX_PREFIXES);
BPF_LPM_TRIE(xdp_deny6, struct sniproxy_xdp_lpm_v6, __u8, SNIPROXY_XDP_MAX_PREFIXES);
/* The listeners' TCP ports, in host byte order. */
BPF_HASH(xdp_ports, __u16, __u8, SNIPROXY_XDP_MAX_PORTS);
BPF_ARRAY(xdp_settings, struct sniproxy_xdp_settings, 1);
/* LRU: a flood of spoofed sources evicts old buckets instead of failing. */
BPF_TABLE("lru_hash", struct sniproxy_xdp_source, struct sniproxy_xdp_bucket, xdp_syn_rate,
          SNIPROXY_XDP_RATE_SOURCES);
BPF_PERCPU_ARRAY(xdp_counters, __u64, SNIPROXY_XDP_COUNTER_SLOTS);

#define ETH_HEADER_LEN 14
#define VLAN_TAG_LEN 4
#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_IPV6 0x86DD
#define ETH_TYPE_VLAN 0x8100
#define ETH_TYPE_QINQ 0x88A8
#define IPV4_HEADER_LEN 20
#define IPV4_FRAGMENT_OFFSET 0x1FFF
#define IPV4_MORE_FRAGMENTS 0x2000
#define IPV6_HEADER_LEN 40
#define IPV6_EXTENSIONS_WALKED 8
#define IPV6_FRAGMENT_OFFSET 0xFFF8
#define IP_PROTO_HOP_BY_HOP 0
#define IP_PROTO_TCP 6
#define IP_PROTO_ROUTING 43
#define IP_PROTO_FRAGMENT 44
#define IP_PROTO_AH 51
#define IP_PROTO_DEST_OPTIONS 60
#define TCP_HEADER_LEN 20
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10

enum parse_result { PARSE_JUDGE, PARSE_IGNORE, PARSE_MALFORMED };

/* What the verdict needs from a packet. */
struct view {
  __u8 addr[16]; /* source address: 4 bytes for IPv4, 16 for IPv6 */
  __u32 ipv6;
  __u32 port_known; /* 0: judged by source alone (see the top) */
  __u16 port;       /* destination port, host byte order */
  __u8 tcp_flags;
};

static __always_inline __u16 read_be16(const __u8* p) {
  return ((__u16)p[0] << 8) | p[1];
}

/* The TCP header at `tcp`; `fragmented`: the IP packet is a first fragment. */
static __always_inline int parse_tcp(const __u8* tcp, const void* end, int fragmented,
                                     struct view* v) {
  if ((const void*)(tcp + TCP_HEADER_LEN) > end) {
    if (fragmented) {
      v->port_known = 0;
      return PARSE_JUDGE;
    }
    return PARSE_MALFORMED;
  }
  if ((tcp[12] >> 4) < 5) return PARSE_MALFORMED;
  v->port_known = 1;
  v->port = read_be16(tcp + 2);
  v->tcp_flags = tcp[13];
  return PARSE_JUDGE;
}

static __always_inline int parse_ipv4(const __u8* ip, const void* end, struct view* v) {
  if ((const void*)(ip + IPV4_HEADER_LEN) > end) return PARSE_MALFORMED;
  if ((ip[0] >> 4) != 4) return PARSE_MALFORMED;
  __u32 header_len = (ip[0] & 0x0F) * 4;
  if (header_len < IPV4_HEADER_LEN) return PARSE_MALFORMED;
  if (ip[9] != IP_PROTO_TCP) return PARSE_IGNORE;
  __u16 fragment = read_be16(ip + 6);
  if (fragment & IPV4_FRAGMENT_OFFSET) return PARSE_IGNORE;
  __builtin_memcpy(v->addr, ip + 12, 4);
  return parse_tcp(ip + header_len, end, (fragment & IPV4_MORE_FRAGMENTS) != 0, v);
}

static __always_inline int parse_ipv6(const __u8* ip, const void* end, struct view* v) {
  if ((const void*)(ip + IPV6_HEADER_LEN) > end) return PARSE_MALFORMED;
  if ((ip[0] >> 4) != 6) return PARSE_MALFORMED;
  v->ipv6 = 1;
  __builtin_memcpy(v->addr, ip + 8, 16);
  __u8 next = ip[6];
  const __u8* header = ip + IPV6_HEADER_LEN;
  int fragmented = 0;
#pragma unroll
  for (int i = 0; i < IPV6_EXTENSIONS_WALKED; i++) {
    if (next == IP_PROTO_TCP) break;
    if (next != IP_PROTO_HOP_BY_HOP && next != IP_PROTO_ROUTING && next != IP_PROTO_FRAGMENT &&
        next != IP_PROTO_AH && next != IP_PROTO_DEST_OPTIONS) {
      return PARSE_IGNORE; /* UDP, ICMPv6, ESP, no next header, ... */
    }
    if ((const void*)(header + 8) > end) return PARSE_MALFORMED;
    __u8 this_one = next;
    next = header[0];
    if (this_one == IP_PROTO_FRAGMENT) {
      if (read_be16(header + 2) & IPV6_FRAGMENT_OFFSET) return PARSE_IGNORE;
      fragmented = 1;
      header += 8;
    } else if (this_one == IP_PROTO_AH) {
      header += ((__u32)header[1] + 2) * 4;
    } else {
      header += ((__u32)header[1] + 1) * 8;
    }
  }
  if (next != IP_PROTO_TCP) {
    v->port_known = 0;
    return PARSE_JUDGE;
  }
  return parse_tcp(header, end, fragmented, v);
}

static __always_inline int parse(const __u8* frame, const void* end, struct view* v) {
  if ((const void*)(frame + ETH_HEADER_LEN) > end) return PARSE_MALFORMED;
  __u16 type = read_be16(frame + 12);
  const __u8* l3 = frame + ETH_HEADER_LEN;
#pragma unroll
  for (int i = 0; i < 2; i++) {
    if (type != ETH_TYPE_VLAN && type != ETH_TYPE_QINQ) break;
    if ((const void*)(l3 + VLAN_TAG_LEN) > end) return PARSE_MALFORMED;
    type = read_be16(l3 + 2);
    l3 += VLAN_TAG_LEN;
  }
  if (type == ETH_TYPE_IPV4) return parse_ipv4(l3, end, v);
  if (type == ETH_TYPE_IPV6) return parse_ipv6(l3, end, v);
  return PARSE_IGNORE;
}

/* GCRA token bucket: a SYN may pass while the source is at most burst_ns
 * ahead of its rate. Two CPUs updating one source at once may let a SYN
 * more through; the guard is approximate by that much. */
static __always_inline int syn_within_rate(const struct view* v,
                                           const struct sniproxy_xdp_settings* s) {
  struct sniproxy_xdp_source key = {};
  if (v->ipv6) {
    __builtin_memcpy(key.addr, v->addr, 16);
  } else {
    key.addr[10] = 0xFF;
    key.addr[11] = 0xFF;
    __builtin_memcpy(key.addr + 12, v->addr, 4);
  }
  __u64 now = bpf_ktime_get_ns();
  struct sniproxy_xdp_bucket* bucket = xdp_syn_rate.lookup(&key);
  if (!bucket) {
    struct sniproxy_xdp_bucket fresh = {.tat_ns = now + s->interval_ns};
    xdp_syn_rate.update(&key, &fresh);
    return 1;
  }
  __u64 tat = bucket->tat_ns;
  if (tat < now) tat = now;
  if (tat - now > s->burst_ns) return 0;
  bucket->tat_ns = tat + s->interval_ns;
  return 1;
}

static __always_inline __u32 verdict(const struct view* v, const struct sniproxy_xdp_settings* s) {
  int denied;
  int allowed;
  if (v->ipv6) {
    struct sniproxy_xdp_lpm_v6 key = {.prefixlen = 128};
    __builtin_memcpy(key.addr, v->addr, 16);
    denied = xdp_deny6.lookup(&key) != 0;
    allowed = !s->allow_set || xdp_allow6.lookup(&key) != 0;
  } else {
    struct sniproxy_xdp_lpm_v4 key = {.prefixlen = 32};
    __builtin_memcpy(key.addr, v->addr, 4);
    denied = xdp_deny4.lookup(&key) != 0;
    allowed = !s->allow_set || xdp_allow4.lookup(&key) != 0;
  }
  if (denied) return SNIPROXY_XDP_DROPPED_DENY;
  if (!allowed) return SNIPROXY_XDP_DROPPED_NOT_ALLOWED;
  if (v->port_known && s->syn_rate != 0 &&
      (v->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN && !syn_within_rate(v, s)) {
    return SNIPROXY_XDP_DROPPED_RATE;
  }
  return SNIPROXY_XDP_PASSED;
}

static __always_inline void count(__u32 slot) {
  __u64* n = xdp_counters.lookup(&slot);
  if (n) *n += 1; /* per-CPU slot: no other CPU writes it */
}

int sniproxy_xdp(struct xdp_md* ctx) {
  const void* end = (const void*)(long)ctx->data_end;
  const __u8* frame = (const __u8*)(long)ctx->data;
  struct view v = {};
  int parsed = parse(frame, end, &v);
  if (parsed == PARSE_MALFORMED) {
    count(SNIPROXY_XDP_MALFORMED);
    return XDP_PASS;
  }
  if (parsed == PARSE_IGNORE) {
    count(SNIPROXY_XDP_IGNORED);
    return XDP_PASS;
  }
  if (v.port_known) {
    __u16 port = v.port;
    if (!xdp_ports.lookup(&port)) {
      count(SNIPROXY_XDP_IGNORED);
      return XDP_PASS;
    }
  }
  __u32 zero = 0;
  struct sniproxy_xdp_settings* settings = xdp_settings.lookup(&zero);
  if (!settings) return XDP_PASS; /* an array's slot 0 always exists */
  __u32 slot = verdict(&v, settings);
  count(slot);
  return slot == SNIPROXY_XDP_PASSED ? XDP_PASS : XDP_DROP;
}
