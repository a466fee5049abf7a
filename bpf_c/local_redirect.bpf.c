/* Moves the bytes of a TCP connection whose two sockets are on this host
 * straight from the sender's sendmsg() into the receiver's receive queue
 * (bpf_msg_redirect_hash with BPF_F_INGRESS): no segments, no loopback
 * device, no ACKs. The connection stays a TCP connection for everything
 * else (the FIN and RST still travel through TCP).
 *
 * Which sockets: a sock_ops program on a cgroup (v2) sees every TCP
 * connection of the processes in it become ESTABLISHED. It puts a socket
 * into local_socks when the connection's other end is on this host
 * (loopback, or the same address at both ends) and the connection is to an
 * endpoint userspace listed in local_endpoints: the active socket that
 * connected to it and the passive one accepted on it. Both ends of such a
 * connection are then in the sockhash, keyed by their own 4-tuple, so a
 * sender finds its peer by swapping local and remote.
 *
 * Why no byte is reordered. A redirected message is queued on the peer's
 * psock (ingress_msg) inside the sender's sendmsg, so the queue holds a
 * sender's messages in send order. recvmsg on the peer (tcp_bpf_recvmsg)
 * reads that queue before the TCP receive queue. So bytes that went through
 * TCP must never be followed by redirected ones: they could still be in
 * flight, or queued, and the reader would take the later bytes first. The
 * program therefore redirects a socket's bytes only until the first time
 * it cannot (the peer is not, or no longer, in the sockhash, e.g. a
 * passive socket not yet inserted when the active side sends at once, or
 * torn down): from then on every byte of that socket goes through TCP
 * (tcp_used). Redirected-then-TCP is in order: the earlier bytes are in
 * the queue read first. A FIN follows the data it closes for the same
 * reason: the bytes before it were queued synchronously by the sends that
 * came before the shutdown().
 *
 * What this does not bound: a redirected message is charged to the peer's
 * receive memory (sk_rmem_alloc) but nothing stops the sender when the
 * peer does not read; TCP's window never closes because TCP never sees the
 * bytes. (Measured on 6.18: 1 GiB queued on a peer with a 128 KiB receive
 * buffer.) And a reader that uses splice(2) or TCP_ZEROCOPY_RECEIVE reads
 * only the TCP receive queue and never sees the redirected bytes. Whoever
 * enables this must know its peers read with recv/read. See
 * docs/design-notes.md.
 *
 * Only context fields, helpers and BPF-owned maps are used: the kernel
 * headers BCC compiles against may be older than the running kernel. */
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

int local_sockops(struct bpf_sock_ops* ops) {
  __u32 op = ops->op;
  if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
    return 1;
  struct sniproxy_local_key key = {};
  if (ops->family == AF_INET_VALUE) {
    map_ipv4(key.local_addr, ops->local_ip4);
    map_ipv4(key.remote_addr, ops->remote_ip4);
  } else if (ops->family == AF_INET6_VALUE) {
    __u32 local6[4] = {ops->local_ip6[0], ops->local_ip6[1], ops->local_ip6[2], ops->local_ip6[3]};
    __u32 remote6[4] = {ops->remote_ip6[0], ops->remote_ip6[1], ops->remote_ip6[2],
                        ops->remote_ip6[3]};
    copy_ipv6(key.local_addr, local6);
    copy_ipv6(key.remote_addr, remote6);
  } else {
    return 1;
  }
  key.local_port = ops->local_port;
  key.remote_port = bpf_ntohl(ops->remote_port);
  /* Only connections whose other end is on this host. */
  if (!is_loopback(key.remote_addr) && !same_address(key.local_addr, key.remote_addr)) return 1;
  /* The active end connected to a listed endpoint; the passive end was accepted on one. */
  int wanted = op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB ? listed(key.remote_addr, key.remote_port)
                                                        : listed(key.local_addr, key.local_port);
  if (!wanted) return 1;
  /* TCP Fast Open: bytes already went through TCP with the handshake, and
   * redirected ones could overtake them. Such a connection stays with TCP. */
  if (ops->data_segs_in || ops->data_segs_out) return 1;
  /* A full map or an unsupported socket leaves the connection to TCP. */
  local_socks.sock_hash_update(ops, &key, BPF_NOEXIST);
  return 1;
}

int local_msg(struct sk_msg_md* msg) {
  struct bpf_sock* sk = msg->sk;
  if (!sk) return SK_PASS;
  struct sniproxy_local_state* state =
      local_state.sk_storage_get(sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
  if (!state) return SK_PASS;
  __u32 size = msg->size;
  if (state->tcp_used) {
    state->passed += size;
    return SK_PASS;
  }
  struct sniproxy_local_key peer = {};
  if (msg->family == AF_INET_VALUE) {
    map_ipv4(peer.local_addr, msg->remote_ip4);
    map_ipv4(peer.remote_addr, msg->local_ip4);
  } else {
    __u32 local6[4] = {msg->local_ip6[0], msg->local_ip6[1], msg->local_ip6[2], msg->local_ip6[3]};
    __u32 remote6[4] = {msg->remote_ip6[0], msg->remote_ip6[1], msg->remote_ip6[2],
                        msg->remote_ip6[3]};
    copy_ipv6(peer.local_addr, remote6);
    copy_ipv6(peer.remote_addr, local6);
  }
  peer.local_port = bpf_ntohl(msg->remote_port);
  peer.remote_port = msg->local_port;
  if (local_socks.msg_redirect_hash(msg, &peer, BPF_F_INGRESS) == SK_PASS) {
    state->redirected += size;
    return SK_PASS;
  }
  /* No peer to redirect to: this and every later byte go through TCP. */
  state->tcp_used = 1;
  state->passed += size;
  return SK_PASS;
}
