/* Trivial programs, one per program type the proxy may use. The feature
 * probe compiles them all in one BCC module and loads each as its type: a
 * type the kernel lacks fails to load and is reported "no". They touch only
 * context fields and BPF-owned maps (the headers BCC compiles against may be
 * older than the running kernel, see docs/kernel.md). */
#include <linux/pkt_cls.h> /* TC_ACT_* */

#include "shared_types.h"

BPF_ARRAY(probe_counters, __u64, SNIPROXY_PROBE_COUNTER_SLOTS);

/* sk_skb stream parser: the whole skb is one message. */
int probe_sk_skb_parser(struct __sk_buff* skb) {
  return skb->len;
}

/* sk_skb stream verdict: pass everything up to the socket. */
int probe_sk_skb_verdict(struct __sk_buff* skb) {
  if (skb->len == 0) return SK_DROP;
  return SK_PASS;
}

/* sk_msg verdict: let every message through. */
int probe_sk_msg(struct sk_msg_md* msg) {
  return SK_PASS;
}

/* sock_ops (local_redirect's kind; only loaded, never attached): no-op. */
int probe_sock_ops(struct bpf_sock_ops* skops) {
  return 1;
}

/* XDP: pass every packet. */
int probe_xdp(struct xdp_md* ctx) {
  return XDP_PASS;
}

/* (As in quic_fast_path.bpf.c.) BCC 0.26's helpers.h declares bpf_redirect_neigh with three
 * arguments; the kernel's helper takes four (ifindex, params, plen, flags) and the verifier rejects
 * a call that leaves the fourth register unset. */
static long (*redirect_neigh)(__u32 ifindex, void* params, int plen,
                              __u64 flags) = (void*)BPF_FUNC_redirect_neigh;

/* TC classifier with the helpers the QUIC fast path calls: it loads only
 * where bpf_check_mtu (5.12), bpf_ktime_get_coarse_ns (5.11) and
 * bpf_redirect_neigh (5.10) exist. Never attached. */
int probe_tc_fast_path(struct __sk_buff* skb) {
  __u32 mtu_len = 0;
  if (bpf_check_mtu(skb, 0, &mtu_len, 0, 0) != 0) return TC_ACT_OK;
  if (bpf_ktime_get_coarse_ns() == 0) return TC_ACT_OK;
  return redirect_neigh(skb->ifindex, NULL, 0, 0);
}

/* Tracepoint (attached by the probe to sock:inet_sock_set_state): counts. */
int probe_tracepoint(void* ctx) {
  __u32 slot = SNIPROXY_PROBE_COUNTER_TRACEPOINT;
  __u64* count = probe_counters.lookup(&slot);
  if (count) __sync_fetch_and_add(count, 1);
  return 0;
}

/* kprobe (attached to tcp_sendmsg, only to learn whether kprobes work). */
int probe_kprobe(struct pt_regs* ctx) {
  return 0;
}
