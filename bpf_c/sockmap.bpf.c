/* Kernel forwarding between the two sockets of a proxied connection, with a
 * bound on the kernel memory one direction may hold.
 *
 * Each socket of a pair sits in the sockhash sock_pairs, keyed by its socket
 * cookie; pair_of maps a cookie to the other socket's cookie and to the
 * socket's slot in sockmap_slots (its state and control). The verdict
 * judges every skb the socket receives: it sends it to the peer's egress
 * (bpf_sk_redirect_hash without BPF_F_INGRESS), or leaves it on the socket's
 * own receive side (SK_PASS) where userspace recv()s it.
 *
 * Verdict only, no stream parser. With a parser, SK_PASS breaks the socket
 * on kernels since 6.14 (seen on 6.18): tcp_bpf_strp_read_sock() sets
 * copied_seq = psock->copied_seq - (bytes passed during *this* read), so
 * bytes passed earlier and not yet recv()ed count as consumed, and recvmsg
 * counts them again when userspace reads them. copied_seq runs ahead of
 * rcv_nxt, tcp_data_ready() then never wakes the parser (rcv_nxt -
 * copied_seq <= 0), new segments pile up unparsed in sk_receive_queue, and
 * tcp_bpf_recvmsg_parser() answers EAGAIN while that queue is not empty,
 * although the passed bytes wait in ingress_msg (SIOCINQ shows them). The
 * receive memory fills, the window closes: a deadlock. Without a parser
 * tcp_read_skb() hands the verdict whole skbs and leaves copied_seq to
 * recvmsg (self bytes) and tcp_eat_skb (redirected ones), which stays right.
 * skb->len is then exactly the bytes judged, which the counts rely on.
 *
 * Why a bound: a redirected skb is queued on the peer's psock (ingress_skb)
 * and sent by a kworker when the peer's send buffer has room. That queue has
 * no limit and is charged to no socket (tcp_read_skb orphans the skb), while
 * the source socket's receive window stays open. A backend that stops
 * reading makes the kernel queue whatever the client sends (~1 GB measured).
 * So the verdict redirects only while `redirected` stays within a limit
 * userspace sets, and passes the rest to the source socket, where it is
 * charged to the socket's receive memory: the TCP window closes and the
 * sender stalls.
 *
 * The rule, per source socket S (state: BPF-owned; control: userspace-owned;
 * each side writes its own fields in place in the shared slot, so neither
 * overwrites the other's writes):
 *   over:      if passed == control.consumed and redirected + len <= limit,
 *              clear over and redirect; else pass.
 *   not over:  if redirected + len > limit, set over and pass; else redirect.
 *   either:    if the redirect finds no peer in the sockhash, set over and
 *              pass (the pair is inserted one socket at a time).
 *
 * Why no byte is reordered. S's bytes are judged in stream order, one skb at
 * a time: the verdict runs from S's data_ready (sk_psock_verdict_data_ready
 * -> tcp_read_skb), which TCP calls either in softirq under bh_lock_sock
 * while no task owns S, or in process context by the task that owns S
 * (release_sock's backlog, recvmsg, setsockopt), so no two verdicts of one
 * socket run at once and the state needs no lock. The stream therefore
 * splits into runs: redirected, passed, redirected, ...
 *  - A redirected run reaches the peer's TCP send queue through the psock
 *    queue in order (one kworker drains it, sk_psock_backlog).
 *  - A passed run is recv()ed by userspace in order and sent to the peer.
 *    Userspace must send it only after the redirected run before it has left
 *    the psock queue (the peer's TCP counters show it), otherwise its
 *    send() would overtake bytes still queued in the kernel.
 *  - The verdict starts the next redirected run only when passed ==
 *    consumed, i.e. when userspace reports every passed byte as already
 *    sent (in the peer's send queue). Everything redirected after that is
 *    queued behind it.
 * `consumed` only ever grows and never exceeds what was passed, so a stale
 * read of it can only delay the switch back, never make it early; the limit
 * affects only how much memory is used, never the order.
 *
 * The limit: userspace sets limit = cap when the pair is inserted and then
 * keeps sliding it to redirected + cap - (bytes still in the peer's psock
 * queue), looking at intervals, so the verdict passes bytes only when the
 * peer stops taking them (src/bpf/sockmap/sockmap_flow.hpp). It moves passed bytes
 * in the order peek, send to the peer, report as consumed, recv off this
 * socket: the recv frees receive memory and may reopen the sender's
 * window, and by then every passed byte is already reported, so the next
 * skb can start a redirected run.
 *
 * No sk_msg program: with one attached, every send on these sockets (the
 * kworker's for redirected skbs and userspace's for passed bytes) goes
 * through tcp_bpf_sendmsg, and under send-buffer pressure whole userspace
 * chunks reached the peer twice (65,536 bytes with 64 KiB reads, 98,304
 * with 48 KiB: 3 of 16 runs of 32 x 64 MiB each way on two busy cores).
 * Byte counts come from TCP's own counters instead
 * (stream_bytes_written in src/bpf/sockmap/socket_info.hpp).
 *
 * Retransmits that overlap: TCP queues a retransmitted segment that
 * partly covers bytes it already received whole (tcp_data_queue, "partial
 * packet"; a sender that repacketizes does this, and loopback retransmits
 * spuriously when the receiver is starved of CPU). recvmsg and
 * tcp_read_sock skip the old bytes; tcp_read_skb(), which feeds this
 * verdict, hands over the whole skb (upstream assumes no offset), so its
 * old bytes would be forwarded twice, and tcp_eat_skb would also advance
 * copied_seq by them. The verdict therefore keeps the sequence number after
 * the last byte it judged (next_seq) and cuts the overlap off the front of
 * the skb (bpf_skb_adjust_room, at most 4095 bytes per call) before it
 * redirects or passes it; skb->len is then exactly the new bytes. The
 * skb's sequence number (TCP_SKB_CB(skb)->seq) and the socket's copied_seq
 * (to start next_seq) are read at offsets userspace takes from the running
 * kernel's BTF (src/bpf/kernel_layout.*), not from the header tree, which
 * may be older than the kernel. An overlap that cannot be cut is counted
 * (untrimmed) and the skb left on the socket: userspace, woken by it,
 * resets such a connection rather than forward a corrupted stream. A stream parser would not help:
 * its parser sees skb->len including the old bytes, misaligns its messages
 * and holds the stream's tail back until more data comes.
 *
 * Only context fields, helpers and BPF-owned maps are used: the kernel
 * headers BCC compiles against may be older than the running kernel. */
#include "kernel_read.h"
#include "shared_types.h"

#ifndef SOCKMAP_MAX_SOCKETS
#define SOCKMAP_MAX_SOCKETS 65536
#endif

#ifndef BPF_F_MMAPABLE
#define BPF_F_MMAPABLE (1U << 10)
#endif

BPF_SOCKHASH(sock_pairs, __u64, SOCKMAP_MAX_SOCKETS);
BPF_HASH(pair_of, __u64, struct sniproxy_sockmap_link, SOCKMAP_MAX_SOCKETS);
/* State and control per socket, in memory userspace maps (shared_types.h):
 * reading the counters and moving the limit take it no system call. */
BPF_F_TABLE("array", int, struct sniproxy_sockmap_slot, sockmap_slots, SOCKMAP_MAX_SOCKETS,
            BPF_F_MMAPABLE);

/* BCC 0.26's helpers.h declares bpf_get_socket_cookie() as returning u32,
 * which cuts the 64-bit cookie that SO_COOKIE reports; declare it right. */
static __u64 (*socket_cookie)(void* ctx) = (void*)BPF_FUNC_get_socket_cookie;

#ifndef SNIPROXY_SKB_CB_OFFSET
#error "sockmap.bpf.c needs the kernel layout flags of src/bpf/loader/kernel_layout.hpp"
#endif

/* Cuts off the front of the skb what this socket's verdict already judged
 * (see "Retransmits that overlap" above). Returns 0 when that is not
 * possible: the skb must then be dropped and the connection reset. */
static __always_inline int skip_judged_bytes(struct __sk_buff* skb,
                                             struct sniproxy_sockmap_state* state) {
  /* The context is the kernel's struct sk_buff. */
  __u64 kernel_skb = (__u64)(long)skb;
  __u32 seq = kernel_u32(kernel_skb, SNIPROXY_SKB_CB_OFFSET + SNIPROXY_TCP_CB_SEQ_OFFSET);
  if (!state->seq_known) {
    /* The first skb judged: everything before copied_seq was read by
     * userspace before the insert (or is this skb's overlap). */
    __u64 sk = 0;
    sniproxy_read_kernel(&sk, sizeof(sk), (void*)(kernel_skb + SNIPROXY_SKB_SK_OFFSET));
    if (!sk) return 0;
    state->next_seq = kernel_u32(sk, SNIPROXY_TCP_COPIED_SEQ_OFFSET);
    state->seq_known = 1;
  }
  __u32 len = skb->len;
  __u32 end = seq + len;
  __s32 overlap = (__s32)(state->next_seq - seq);
  if (overlap > 0) {
    if ((__u32)overlap >= len) {
      state->untrimmed += len;
      return 0;
    }
    __u32 left = overlap;
#pragma unroll
    for (int i = 0; i < 64; i++) {
      if (left == 0) break;
      __u32 cut = left > 4095 ? 4095 : left;
      if (bpf_skb_adjust_room(skb, -(__s32)cut, 0, 0) != 0) break;
      left -= cut;
    }
    state->trimmed += overlap - left;
    if (left) {
      state->untrimmed += left;
      return 0;
    }
  }
  if ((__s32)(end - state->next_seq) > 0) state->next_seq = end;
  return 1;
}

int sockmap_verdict(struct __sk_buff* skb) {
  /* A zero-length skb (the FIN) must be dropped (docs/kernel.md). */
  if (skb->len == 0) return SK_DROP;
  __u64 cookie = socket_cookie(skb);
  struct sniproxy_sockmap_link* link = pair_of.lookup(&cookie);
  /* Not (or no longer) a pair of ours: leave the bytes to userspace. */
  if (!link) return SK_PASS;
  int index = link->slot;
  struct sniproxy_sockmap_slot* slot = sockmap_slots.lookup(&index);
  /* A slot names its socket: one given to another socket since the lookup
   * above (userspace reuses the longest-free slot first) is not written. */
  if (!slot || slot->cookie != cookie) return SK_PASS;
  struct sniproxy_sockmap_state* state = &slot->state;
  struct sniproxy_sockmap_control* control = &slot->control;
  /* An overlap that could not be cut: leave the skb on the socket, which
   * wakes userspace; it sees `untrimmed` and resets the connection. */
  if (!skip_judged_bytes(skb, state)) return SK_PASS;

  __u64 len = skb->len;
  /* Each field read once: userspace may replace the entry meanwhile. */
  __u64 limit = *(volatile __u64*)&control->limit;
  __u64 consumed = *(volatile __u64*)&control->consumed;

  if (state->over) {
    if (state->passed != consumed || state->redirected + len > limit) {
      state->passed += len;
      return SK_PASS;
    }
    state->over = 0;
  } else if (state->redirected + len > limit) {
    state->over = 1;
    state->passed += len;
    return SK_PASS;
  }
  __u64 peer_cookie = link->peer;
  if (sock_pairs.sk_redirect_hash(skb, &peer_cookie, 0) == SK_PASS) {
    state->redirected += len;
    return SK_PASS;
  }
  /* The peer is not in the sockhash: not yet (the pair is inserted one
   * socket after the other, and a server that speaks first can send in
   * between) or no longer (teardown). Returning SK_DROP would lose the
   * bytes; with no redirect set, SK_PASS leaves them on this socket. They
   * are passed bytes like those over the limit, in order: userspace moves
   * them and resumes kernel forwarding after them. */
  state->over = 1;
  state->passed += len;
  state->unpaired += len;
  return SK_PASS;
}
