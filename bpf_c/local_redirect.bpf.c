/* Moves the bytes of a TCP connection whose two sockets are on this host
 * straight from the sender's sendmsg() into the receiver's receive queue
 * (bpf_msg_redirect_hash with BPF_F_INGRESS): no segments, no loopback
 * device, no ACKs. The connection stays a TCP connection for everything
 * else (the FIN and RST still travel through TCP).
 *
 * Which sockets: a sock_ops program on a cgroup (v2) sees every TCP
 * connection of the processes in it become ESTABLISHED. It puts both ends
 * of a connection whose two ends are on this host (loopback, or the same
 * address at both ends) into local_socks, keyed by their own 4-tuple (so a
 * sender finds its peer by swapping local and remote), when either
 *  - the connection is to an endpoint listed in local_endpoints (the
 *    proxy's listeners): the active end that connected to it and the
 *    passive end accepted on it; or
 *  - its active end was marked by userspace (local_owned, an sk_storage
 *    userspace writes through the socket's fd before connect(): the
 *    proxy's connections to its backends). Its passive end is inserted
 *    when it is established, which is always after the active end (the
 *    ACK that creates it follows the SYN-ACK): local_expected holds the
 *    key it will have meanwhile.
 * So other processes' connections to the same backends are left alone.
 *
 * Why no byte is reordered. A redirected message is queued on the peer's
 * psock (ingress_msg) inside the sender's sendmsg, so the queue holds a
 * sender's messages in send order. recvmsg on the peer (tcp_bpf_recvmsg)
 * reads that queue before the TCP receive queue. So:
 *  - redirected, then TCP: in order (the earlier bytes are read first);
 *  - TCP, then redirected: in order only if the reader has already read
 *    every byte that went through TCP; otherwise it would read the later,
 *    redirected bytes first.
 * A socket's bytes therefore go through TCP from the first time they
 * cannot be redirected (the peer is not, or no longer, in the sockhash, e.g.
 * a passive socket not yet inserted when the active side sends at once; or
 * the bound below) until the TCP path is drained: every byte the sender
 * wrote is acknowledged (write_seq == snd_una, read on the sender, whose
 * lock this program runs under, so a late ACK only delays the switch) and
 * the peer's reader has read every byte that arrived (copied_seq ==
 * rcv_nxt). Both only move towards "drained", so a stale read delays the
 * switch back, never makes it early. The redirected queue can hold nothing
 * older either: it was read before the TCP bytes were. A FIN follows the
 * data it closes: the bytes before it were queued synchronously by the
 * sends that came before the shutdown(), or went through TCP before it.
 *
 * The bound. A redirected message is charged to the peer's receive memory
 * (sk_rmem_alloc), but nothing makes the sender wait: TCP's window never
 * closes because TCP never sees the bytes (measured on 6.18: 1 GiB queued
 * on a peer with a 128 KiB receive buffer). So before each redirect the
 * program reads the peer's sk_rmem_alloc, and when the peer already holds
 * `cap` bytes the message and the ones after it go through TCP
 * (tcp_used, reason OVER_CAP) until the path is drained as above. TCP
 * after redirected is in order (above), and TCP stalls the sender: the peer's receive memory, which
 * counts the redirected bytes, keeps its window shut until the reader catches up. So a peer holds
 * at most cap + one message + its TCP receive buffer. The peer's address is recorded by the
 * sock_ops program when it inserts the socket and removed when the socket closes (TCP_CLOSE state
 * callback); it is read with bpf_probe_read_kernel at an offset from the running kernel's BTF
 * (src/bpf/kernel_layout.*). A sockhash lookup would give the socket itself, but sk_msg programs
 * may not release it. TCP sockets are freed RCU-typesafe, so a read racing with a close sees some
 * socket's counter, never unmapped memory; the worst is one early switch to TCP.
 *
 * What this cannot give a peer we do not own, measured on 6.18 (why the
 * proxy does not use this layer yet; docs/design-notes.md):
 *  - recvmsg on a socket in a sockmap is tcp_bpf_recvmsg, and a *blocking*
 *    recvmsg woken by bytes that arrive through TCP returns -EAGAIN (19 of
 *    20 times). Every TCP fallback above (the bound, a missing peer) can
 *    hit a reader that blocks.
 *  - The kernel refuses to redirect into a socket that is not ESTABLISHED:
 *    a client that half-closed and waits for its answer gets it through
 *    TCP, hence the EAGAIN above.
 *  - SK_DROP, the only other way to refuse a message, sticks: the psock
 *    keeps the verdict and every later send fails with EACCES.
 *  - Redirected bytes not yet read are discarded when the reader's socket
 *    leaves the map, which the kernel does at TCP_CLOSE even while the fd
 *    is open (FIN_WAIT2 -> TIME_WAIT on the peer's FIN): a half-closed
 *    reader that reads late loses the end of the stream.
 *
 * Readers that splice(2) or use TCP_ZEROCOPY_RECEIVE read only the TCP
 * receive queue and never see redirected bytes. Whoever enables this must
 * know its peers read with recv/read. See docs/design-notes.md.
 *
 * No kernel header is trusted: the ones BCC compiles against may be older
 * than the running kernel. Besides context fields, helpers and BPF-owned
 * maps, the program reads a few socket fields at offsets taken from the
 * running kernel's BTF (-D flags from src/bpf/kernel_layout.*). */
#include "kernel_read.h"
#include "shared_types.h"

#ifndef LOCAL_REDIRECT_MAX_SOCKETS
#define LOCAL_REDIRECT_MAX_SOCKETS 65536
#endif
#ifndef LOCAL_REDIRECT_MAX_ENDPOINTS
#define LOCAL_REDIRECT_MAX_ENDPOINTS 1024
#endif

/* BPF_SOCKHASH with a 64-bit value: then a lookup from userspace answers
 * with the socket's cookie (BCC's macro makes it 32 bits, which the kernel
 * takes for inserts but not for lookups). */
struct local_socks_table_t {
  struct sniproxy_local_key key;
  __u64 leaf;
  int (*update)(struct sniproxy_local_key*, int*);
  int (*delete)(struct sniproxy_local_key*);
  int (*sock_hash_update)(void*, void*, u64);
  int (*msg_redirect_hash)(void*, void*, u64);
  int (*sk_redirect_hash)(void*, void*, u64);
  u32 max_entries;
};
__attribute__((section("maps/sockhash"))) struct local_socks_table_t local_socks = {
    .max_entries = LOCAL_REDIRECT_MAX_SOCKETS};
BPF_ANNOTATE_KV_PAIR(local_socks, struct sniproxy_local_key, __u64);
BPF_HASH(local_endpoints, struct sniproxy_local_endpoint, __u32, LOCAL_REDIRECT_MAX_ENDPOINTS);
BPF_SK_STORAGE(local_state, struct sniproxy_local_state);
/* 1 on a socket userspace will connect to a local backend. */
BPF_SK_STORAGE(local_owned, __u32);
/* Keys of passive ends whose active end was marked and is established (an
 * LRU: a passive end that never comes, e.g. its listener closed, ages out). */
BPF_TABLE("lru_hash", struct sniproxy_local_key, __u32, local_expected, LOCAL_REDIRECT_MAX_SOCKETS);
/* The kernel address of each socket in local_socks, for its receive memory. */
BPF_HASH(local_sk_addr, struct sniproxy_local_key, __u64, LOCAL_REDIRECT_MAX_SOCKETS);
BPF_ARRAY(local_settings, struct sniproxy_local_settings, 1);

#ifndef SNIPROXY_SOCK_RMEM_ALLOC_OFFSET
#error "local_redirect.bpf.c needs the kernel layout flags of src/bpf/local_redirect/local_redirect_layout.hpp"
#endif
#define TCP_CLOSE_STATE 7

#define AF_INET_VALUE 2
#define AF_INET6_VALUE 10

/* ::ffff:a.b.c.d for an IPv4 address in network byte order. */
static __always_inline void map_ipv4(__u8* out, __u32 ip4) {
#pragma unroll
  for (int i = 0; i < 10; i++) out[i] = 0;
  out[10] = 0xff;
  out[11] = 0xff;
  __builtin_memcpy(&out[12], &ip4, 4);
}

static __always_inline void copy_ipv6(__u8* out, const __u32* ip6) {
#pragma unroll
  for (int i = 0; i < 4; i++) {
    __u32 word = ip6[i];
    __builtin_memcpy(&out[4 * i], &word, 4);
  }
}

static __always_inline int is_loopback(const __u8* addr) {
  /* ::ffff:127.0.0.0/8 */
  int mapped = 1;
#pragma unroll
  for (int i = 0; i < 10; i++) mapped &= addr[i] == 0;
  if (mapped && addr[10] == 0xff && addr[11] == 0xff && addr[12] == 127) return 1;
  /* ::1 */
  int one = addr[15] == 1;
#pragma unroll
  for (int i = 0; i < 15; i++) one &= addr[i] == 0;
  return one;
}

static __always_inline int same_address(const __u8* a, const __u8* b) {
  int same = 1;
#pragma unroll
  for (int i = 0; i < 16; i++) same &= a[i] == b[i];
  return same;
}

/* Whether `addr`:`port` is listed, by itself or as "any address" on the port. */
static __always_inline int listed(const __u8* addr, __u32 port) {
  struct sniproxy_local_endpoint endpoint = {};
  endpoint.port = port;
  __builtin_memcpy(endpoint.addr, addr, 16);
  if (local_endpoints.lookup(&endpoint)) return 1;
  /* the IPv6 "any" (::), which a dual-stack listener also uses for IPv4 */
  __builtin_memset(endpoint.addr, 0, 16);
  if (local_endpoints.lookup(&endpoint)) return 1;
  /* the IPv4 "any" (0.0.0.0), stored mapped */
  endpoint.addr[10] = 0xff;
  endpoint.addr[11] = 0xff;
  return local_endpoints.lookup(&endpoint) != 0;
}

/* The socket's own key; 0 for a family other than IPv4 and IPv6. */
static __always_inline int sockops_key(struct bpf_sock_ops* ops, struct sniproxy_local_key* key) {
  if (ops->family == AF_INET_VALUE) {
    map_ipv4(key->local_addr, ops->local_ip4);
    map_ipv4(key->remote_addr, ops->remote_ip4);
  } else if (ops->family == AF_INET6_VALUE) {
    /* One 4-byte load per word: the verifier refuses the 8-byte loads the
     * compiler would otherwise merge them into. */
    __u32 local6[4];
    __u32 remote6[4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
      local6[i] = *(volatile __u32*)&ops->local_ip6[i];
      remote6[i] = *(volatile __u32*)&ops->remote_ip6[i];
    }
    copy_ipv6(key->local_addr, local6);
    copy_ipv6(key->remote_addr, remote6);
  } else {
    return 0;
  }
  key->local_port = ops->local_port;
  key->remote_port = bpf_ntohl(ops->remote_port);
  return 1;
}

int local_sockops(struct bpf_sock_ops* ops) {
  __u32 op = ops->op;
  struct sniproxy_local_key key = {};
  if (op == BPF_SOCK_OPS_STATE_CB) {
    /* Only sockets we inserted ask for state callbacks. */
    if (ops->args[1] == TCP_CLOSE_STATE && sockops_key(ops, &key)) {
      local_sk_addr.delete(&key);
    }
    return 1;
  }
  if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
    return 1;
  if (!sockops_key(ops, &key)) return 1;
  /* Only connections whose other end is on this host. */
  if (!is_loopback(key.remote_addr) && !same_address(key.local_addr, key.remote_addr)) return 1;
  struct bpf_sock* sk = ops->sk;
  if (!sk) return 1;
  int wanted = 0;
  if (op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB) {
    __u32* owned = local_owned.sk_storage_get(sk, 0, 0);
    if (owned && *owned) {
      /* The passive end's key is this one swapped. */
      struct sniproxy_local_key passive = {};
      __builtin_memcpy(passive.local_addr, key.remote_addr, 16);
      __builtin_memcpy(passive.remote_addr, key.local_addr, 16);
      passive.local_port = key.remote_port;
      passive.remote_port = key.local_port;
      __u32 one = 1;
      local_expected.update(&passive, &one);
      wanted = 1;
    } else {
      wanted = listed(key.remote_addr, key.remote_port);
    }
  } else {
    if (local_expected.lookup(&key)) {
      local_expected.delete(&key);
      wanted = 1;
    } else {
      wanted = listed(key.local_addr, key.local_port);
    }
  }
  if (!wanted) return 1;
  /* TCP Fast Open: bytes already went through TCP with the handshake, and
   * redirected ones could overtake them. Such a connection stays with TCP. */
  if (ops->data_segs_in || ops->data_segs_out) return 1;
  __u64 address = (__u64)(long)sk;
  if (local_sk_addr.update(&key, &address) != 0) return 1;
  /* A full map or an unsupported socket leaves the connection to TCP. */
  /* (BCC turns this call into a statement: it cannot sit in a condition.) */
  long inserted = local_socks.sock_hash_update(ops, &key, BPF_NOEXIST);
  if (inserted != 0) {
    local_sk_addr.delete(&key);
    return 1;
  }
  bpf_sock_ops_cb_flags_set(ops, BPF_SOCK_OPS_STATE_CB_FLAG);
  return 1;
}

/* Whether every byte the socket `self` sent through TCP has been read by
 * its peer's reader (see "Why no byte is reordered"). */
static __always_inline int tcp_path_drained(struct sniproxy_local_key* self,
                                            struct sniproxy_local_key* peer) {
  __u64* self_address = local_sk_addr.lookup(self);
  __u64* peer_address = local_sk_addr.lookup(peer);
  if (!self_address || !peer_address) return 0;
  __u64 sender = *self_address;
  __u64 receiver = *peer_address;
  return kernel_u32(sender, SNIPROXY_TCP_WRITE_SEQ_OFFSET) ==
             kernel_u32(sender, SNIPROXY_TCP_SND_UNA_OFFSET) &&
         kernel_u32(receiver, SNIPROXY_TCP_COPIED_SEQ_OFFSET) ==
             kernel_u32(receiver, SNIPROXY_TCP_RCV_NXT_OFFSET);
}

/* Whether the socket with key `peer` holds `cap` bytes or more of receive memory. */
static __always_inline int peer_over_cap(struct sniproxy_local_key* peer, __u32 size) {
  int zero = 0;
  struct sniproxy_local_settings* settings = local_settings.lookup(&zero);
  __u64* address = local_sk_addr.lookup(peer);
  if (!settings || !address) return 0;
  __s32 rmem = (__s32)kernel_u32(*address, SNIPROXY_SOCK_RMEM_ALLOC_OFFSET);
  return rmem > 0 && (__u64)rmem + size > settings->cap;
}

/* Sends this message and the ones after it through TCP. */
static __always_inline int go_through_tcp(struct sniproxy_local_state* state, __u32 reason,
                                          __u32 size) {
  if (!state->tcp_used) {
    state->tcp_used = 1;
    state->tcp_reason = reason;
    state->tcp_switches += 1;
  }
  state->passed += size;
  return SK_PASS;
}

int local_msg(struct sk_msg_md* msg) {
  struct bpf_sock* sk = msg->sk;
  if (!sk) return SK_PASS;
  struct sniproxy_local_state* state =
      local_state.sk_storage_get(sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
  if (!state) return SK_PASS;
  __u32 size = msg->size;
  struct sniproxy_local_key self = {};
  struct sniproxy_local_key peer = {};
  if (msg->family == AF_INET_VALUE) {
    map_ipv4(self.local_addr, msg->local_ip4);
    map_ipv4(self.remote_addr, msg->remote_ip4);
  } else {
    __u32 local6[4];
    __u32 remote6[4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
      local6[i] = *(volatile __u32*)&msg->local_ip6[i];
      remote6[i] = *(volatile __u32*)&msg->remote_ip6[i];
    }
    copy_ipv6(self.local_addr, local6);
    copy_ipv6(self.remote_addr, remote6);
  }
  self.local_port = msg->local_port;
  self.remote_port = bpf_ntohl(msg->remote_port);
  __builtin_memcpy(peer.local_addr, self.remote_addr, 16);
  __builtin_memcpy(peer.remote_addr, self.local_addr, 16);
  peer.local_port = self.remote_port;
  peer.remote_port = self.local_port;

  if (state->tcp_used) {
    if (!tcp_path_drained(&self, &peer)) {
      state->passed += size;
      return SK_PASS;
    }
  }
  if (peer_over_cap(&peer, size)) return go_through_tcp(state, SNIPROXY_LOCAL_TCP_OVER_CAP, size);
  if (local_socks.msg_redirect_hash(msg, &peer, BPF_F_INGRESS) == SK_PASS) {
    state->tcp_used = 0;
    state->redirected += size;
    return SK_PASS;
  }
  /* No peer to redirect to. */
  return go_through_tcp(state, SNIPROXY_LOCAL_TCP_NO_PEER, size);
}
