/* QUIC fast path: a TC classifier on the clsact ingress of the interfaces
 * that carry established UDP sessions. A packet whose 5-tuple (family,
 * addresses, ports, as it arrives) is a key of quic_fp_flows gets the
 * entry's addresses and ports written into it, with the IPv4 header and UDP
 * checksums updated, and is sent out of the entry's device through
 * bpf_redirect_neigh: the kernel's FIB and neighbour tables give the next
 * hop and fill in both MAC addresses (resolving the neighbour if needed), so
 * the entry needs no L2 state. The proxy's sockets never see it.
 *
 * Left to userspace untouched, each counted: packets with no
 * entry (a miss), packets over the egress device's MTU (bpf_check_mtu),
 * IPv4 and IPv6 fragments, IPv4 options and IPv6 extension headers (up to
 * 4 walked to find UDP inside), GSO super-packets and UDP headers with a
 * length below 8. Non-UDP and non-IP frames (and VLAN-tagged ones) pass
 * uncounted. "Left" is TC_ACT_UNSPEC:
 * the next classifier on the hook still sees the packet (tcx runs the next
 * program, clsact the next filter) and with none left it goes up the stack;
 * TC_ACT_OK would end the chain for every other program there.
 *
 * Checksums: the address change touches the UDP pseudo-header (and the
 * IPv4 header), the port change only the UDP header; both are applied as
 * one-complement differences (bpf_csum_diff), which also keeps
 * CHECKSUM_PARTIAL packets right (the kernel adjusts only the pseudo-header
 * sum there). An IPv4 UDP checksum of 0 means "none" and stays 0
 * (BPF_F_MARK_MANGLED_0); a computed 0 is written as 0xffff. IPv6 UDP
 * checksums are mandatory and always updated (BPF_F_MARK_ENFORCE).
 *
 * The TTL / hop limit is kept: like the userspace path, the proxy is the
 * end of one UDP flow and the start of another, not a router.
 *
 * Reads only packet bytes (checked against data_end), __sk_buff fields
 * present since 5.7 and BPF maps: BCC compiles against headers that may be
 * older than the running kernel (docs/kernel.md). */
#include <linux/pkt_cls.h> /* TC_ACT_* */

#include "shared_types.h"

#ifndef SNIPROXY_QUIC_FP_MAX_FLOWS
#define SNIPROXY_QUIC_FP_MAX_FLOWS 65536
#endif

/* Two entries per session, one per direction (written by userspace). */
BPF_HASH(quic_fp_flows, struct sniproxy_quic_fp_key, struct sniproxy_quic_fp_flow,
         SNIPROXY_QUIC_FP_MAX_FLOWS);
BPF_PERCPU_ARRAY(quic_fp_counters, __u64, SNIPROXY_QUIC_FP_COUNTER_SLOTS);

#define ETH_HEADER_LEN 14
#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_IPV6 0x86DD
#define IPV4_HEADER_LEN 20
#define IPV4_FRAGMENT_BITS 0x3FFF /* more-fragments flag and offset */
#define IPV4_CSUM_OFF (ETH_HEADER_LEN + 10)
#define IPV4_ADDRS_OFF (ETH_HEADER_LEN + 12)
#define IPV6_HEADER_LEN 40
#define IPV6_ADDRS_OFF (ETH_HEADER_LEN + 8)
#define IPV6_EXTENSIONS_WALKED 4
#define IP_PROTO_HOP_BY_HOP 0
#define IP_PROTO_UDP 17
#define IP_PROTO_ROUTING 43
#define IP_PROTO_FRAGMENT 44
#define IP_PROTO_AH 51
#define IP_PROTO_DEST_OPTIONS 60
#define UDP_HEADER_LEN 8
#define UDP_CSUM_OFF 6
#define FAMILY_INET 2
#define FAMILY_INET6 10

/* BPF_F_IPV6 for bpf_l4_csum_replace (Linux 6.16): the pseudo-header change
 * is an IPv6 one, so skb->csum of a CHECKSUM_COMPLETE packet is left alone.
 * Older kernels reject the flag with -EINVAL; the call is then repeated
 * without it (their behaviour). */
#ifndef BPF_F_IPV6
#define BPF_F_IPV6 (1ULL << 7)
#endif

/* BCC 0.26's helpers.h declares bpf_redirect_neigh with three arguments;
 * the kernel's helper takes four (ifindex, params, plen, flags) and the
 * verifier rejects a call that leaves the fourth register unset. */
static long (*redirect_neigh)(__u32 ifindex, void* params, int plen,
                              __u64 flags) = (void*)BPF_FUNC_redirect_neigh;

static __always_inline void count(__u32 slot) {
  __u64* value = quic_fp_counters.lookup(&slot);
  if (value) *value += 1;
}

static __always_inline __u16 read_be16(const __u8* p) {
  return ((__u16)p[0] << 8) | p[1];
}

/* Where the parser found the packet's parts: offsets from the frame start. */
struct layout {
  __u32 udp_off;
  __u32 addrs_off; /* source then destination address */
  __u32 addrs_len; /* 8 (IPv4) or 32 (IPv6) */
};

/* Fills key and layout for a UDP packet worth a lookup; else returns the
 * counter slot to bump (or -1 for none) and the packet passes. */
static __always_inline int parse(struct __sk_buff* skb, struct sniproxy_quic_fp_key* key,
                                 struct layout* at, __u32* payload) {
  const __u8* frame = (const __u8*)(long)skb->data;
  const void* end = (const void*)(long)skb->data_end;
  if ((const void*)(frame + ETH_HEADER_LEN) > end) return -1;
  __u16 type = read_be16(frame + 12);
  const __u8* ip = frame + ETH_HEADER_LEN;
  const __u8* udp;
  if (type == ETH_TYPE_IPV4) {
    if ((const void*)(ip + IPV4_HEADER_LEN) > end) return -1;
    if ((ip[0] >> 4) != 4 || ip[9] != IP_PROTO_UDP) return -1;
    if (read_be16(ip + 6) & IPV4_FRAGMENT_BITS) return SNIPROXY_QUIC_FP_FRAGMENT;
    if ((ip[0] & 0x0F) != 5) return SNIPROXY_QUIC_FP_IP_OPTIONS;
    key->family = FAMILY_INET;
    __builtin_memcpy(key->src_addr, ip + 12, 4);
    __builtin_memcpy(key->dst_addr, ip + 16, 4);
    udp = ip + IPV4_HEADER_LEN;
    at->addrs_off = IPV4_ADDRS_OFF;
    at->addrs_len = 8;
    at->udp_off = ETH_HEADER_LEN + IPV4_HEADER_LEN;
  } else if (type == ETH_TYPE_IPV6) {
    if ((const void*)(ip + IPV6_HEADER_LEN) > end) return -1;
    if ((ip[0] >> 4) != 6) return -1;
    /* Walk the extension headers only to learn whether UDP is inside:
     * other traffic (MLD behind hop-by-hop, say) is not counted. */
    __u8 next = ip[6];
    const __u8* header = ip + IPV6_HEADER_LEN;
    int fragment = 0, extended = 0;
#pragma unroll
    for (int i = 0; i < IPV6_EXTENSIONS_WALKED; i++) {
      if (next == IP_PROTO_UDP) break;
      if (next != IP_PROTO_HOP_BY_HOP && next != IP_PROTO_ROUTING && next != IP_PROTO_FRAGMENT &&
          next != IP_PROTO_AH && next != IP_PROTO_DEST_OPTIONS) {
        return -1;
      }
      if ((const void*)(header + 8) > end) return -1;
      __u8 this_one = next;
      next = header[0];
      extended = 1;
      if (this_one == IP_PROTO_FRAGMENT) {
        fragment = 1;
        header += 8;
      } else if (this_one == IP_PROTO_AH) {
        header += ((__u32)header[1] + 2) * 4;
      } else {
        header += ((__u32)header[1] + 1) * 8;
      }
    }
    if (next != IP_PROTO_UDP) return -1; /* not UDP, or deeper than walked */
    if (fragment) return SNIPROXY_QUIC_FP_FRAGMENT;
    if (extended) return SNIPROXY_QUIC_FP_IP_OPTIONS;
    key->family = FAMILY_INET6;
    __builtin_memcpy(key->src_addr, ip + 8, 16);
    __builtin_memcpy(key->dst_addr, ip + 24, 16);
    udp = ip + IPV6_HEADER_LEN;
    at->addrs_off = IPV6_ADDRS_OFF;
    at->addrs_len = 32;
    at->udp_off = ETH_HEADER_LEN + IPV6_HEADER_LEN;
  } else {
    return -1;
  }
  if ((const void*)(udp + UDP_HEADER_LEN) > end) return SNIPROXY_QUIC_FP_MALFORMED;
  __u16 length = read_be16(udp + 4);
  if (length < UDP_HEADER_LEN) return SNIPROXY_QUIC_FP_MALFORMED;
  if (skb->gso_size != 0) return SNIPROXY_QUIC_FP_GSO;
  __builtin_memcpy(&key->src_port, udp, 2);
  __builtin_memcpy(&key->dst_port, udp + 2, 2);
  *payload = length - UDP_HEADER_LEN;
  return SNIPROXY_QUIC_FP_COUNTER_SLOTS; /* parsed: look it up */
}

/* Writes the entry's addresses and ports with the checksums; 0 or < 0. */
static __always_inline int rewrite(struct __sk_buff* skb, const struct sniproxy_quic_fp_key* key,
                                   const struct sniproxy_quic_fp_flow* flow,
                                   const struct layout* at) {
  __u32 old_addrs[8] = {};
  __u32 new_addrs[8] = {};
  __u64 l4_flags = BPF_F_MARK_MANGLED_0 | BPF_F_PSEUDO_HDR;
  if (key->family == FAMILY_INET) {
    __builtin_memcpy(&old_addrs[0], key->src_addr, 4);
    __builtin_memcpy(&old_addrs[1], key->dst_addr, 4);
    __builtin_memcpy(&new_addrs[0], flow->new_src_addr, 4);
    __builtin_memcpy(&new_addrs[1], flow->new_dst_addr, 4);
  } else {
    __builtin_memcpy(&old_addrs[0], key->src_addr, 16);
    __builtin_memcpy(&old_addrs[4], key->dst_addr, 16);
    __builtin_memcpy(&new_addrs[0], flow->new_src_addr, 16);
    __builtin_memcpy(&new_addrs[4], flow->new_dst_addr, 16);
    l4_flags |= BPF_F_MARK_ENFORCE;
  }
  __u32 udp_csum = at->udp_off + UDP_CSUM_OFF;
  __s64 addr_diff;
  if (at->addrs_len == 8) {
    addr_diff = bpf_csum_diff(old_addrs, 8, new_addrs, 8, 0);
  } else {
    addr_diff = bpf_csum_diff(old_addrs, 32, new_addrs, 32, 0);
  }
  if (addr_diff < 0) return (int)addr_diff;
  int ret;
  if (key->family == FAMILY_INET6) {
    ret = bpf_l4_csum_replace(skb, udp_csum, 0, addr_diff, l4_flags | BPF_F_IPV6);
    if (ret == -22 /* EINVAL: a kernel before BPF_F_IPV6 */) {
      ret = bpf_l4_csum_replace(skb, udp_csum, 0, addr_diff, l4_flags);
    }
  } else {
    ret = bpf_l4_csum_replace(skb, udp_csum, 0, addr_diff, l4_flags);
    if (ret == 0) ret = bpf_l3_csum_replace(skb, IPV4_CSUM_OFF, 0, addr_diff, 0);
  }
  if (ret < 0) return ret;
  if (at->addrs_len == 8) {
    ret = bpf_skb_store_bytes(skb, at->addrs_off, new_addrs, 8, 0);
  } else {
    ret = bpf_skb_store_bytes(skb, at->addrs_off, new_addrs, 32, 0);
  }
  if (ret < 0) return ret;

  __u32 old_ports = 0, new_ports = 0;
  __builtin_memcpy(&old_ports, &key->src_port, 2);
  __builtin_memcpy((__u8*)&old_ports + 2, &key->dst_port, 2);
  __builtin_memcpy(&new_ports, &flow->new_src_port, 2);
  __builtin_memcpy((__u8*)&new_ports + 2, &flow->new_dst_port, 2);
  __s64 port_diff = bpf_csum_diff(&old_ports, 4, &new_ports, 4, 0);
  if (port_diff < 0) return (int)port_diff;
  __u64 port_flags =
      key->family == FAMILY_INET ? BPF_F_MARK_MANGLED_0 : BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE;
  ret = bpf_l4_csum_replace(skb, udp_csum, 0, port_diff, port_flags);
  if (ret < 0) return ret;
  return bpf_skb_store_bytes(skb, at->udp_off, &new_ports, 4, 0);
}

int sniproxy_quicfp(struct __sk_buff* skb) {
  struct sniproxy_quic_fp_key key = {};
  struct layout at = {};
  __u32 payload = 0;
  int parsed = parse(skb, &key, &at, &payload);
  if (parsed < 0) return TC_ACT_UNSPEC;
  if (parsed != SNIPROXY_QUIC_FP_COUNTER_SLOTS) {
    count(parsed);
    return TC_ACT_UNSPEC;
  }
  struct sniproxy_quic_fp_flow* flow = quic_fp_flows.lookup(&key);
  if (!flow) {
    count(SNIPROXY_QUIC_FP_MISSED);
    return TC_ACT_UNSPEC;
  }
  /* skb->len includes the Ethernet header here, as the helper expects. */
  __u32 mtu_len = 0;
  if (bpf_check_mtu(skb, flow->ifindex, &mtu_len, 0, 0) != 0) {
    __sync_fetch_and_add(&flow->oversized, 1);
    count(SNIPROXY_QUIC_FP_OVERSIZED);
    return TC_ACT_UNSPEC;
  }
  if (rewrite(skb, &key, flow, &at) < 0) {
    /* Half rewritten: neither path could deliver it any more. */
    count(SNIPROXY_QUIC_FP_REWRITE_FAILED);
    return TC_ACT_SHOT;
  }
  /* Atomic adds on the entry: one lookup, one value for userspace to read,
   * and a flow's packets mostly arrive on one CPU (RSS hashes the 5-tuple),
   * so the cache line rarely moves. last_seen is a plain store: any writer
   * writes "now"; coarse time (jiffies) is plenty for an idle sweep. */
  __sync_fetch_and_add(&flow->packets, 1);
  __sync_fetch_and_add(&flow->bytes, payload);
  flow->last_seen_ns = bpf_ktime_get_coarse_ns();
  count(SNIPROXY_QUIC_FP_REDIRECTED);
  return redirect_neigh(flow->ifindex, NULL, 0, 0);
}
