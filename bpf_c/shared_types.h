/* Types shared by the BPF programs (compiled by BCC) and the C++ side.
 * Only fixed-width types from <linux/types.h>, which both sides have: BCC's
 * helpers.h pulls it in for BPF, the C++ side includes it here. Layouts are
 * explicit (no implicit padding) so both compilers agree byte for byte. */
#ifndef SNIPROXY_BPF_SHARED_TYPES_H
#define SNIPROXY_BPF_SHARED_TYPES_H

#ifndef __BPF__
#include <linux/types.h>
#endif

/* Event sent through a perf buffer by the probe/test programs. */
struct sniproxy_probe_event {
  __u32 pid;   /* tgid of the task the program ran in (0 in softirq) */
  __u32 kind;  /* which program emitted it, enum sniproxy_probe_kind */
  __u64 value; /* program-specific payload */
};

enum sniproxy_probe_kind {
  SNIPROXY_PROBE_KIND_TRACEPOINT = 1,
};

/* Slot of the probe's counter array that counts tracepoint hits. */
#define SNIPROXY_PROBE_COUNTER_TRACEPOINT 0
#define SNIPROXY_PROBE_COUNTER_SLOTS 1

/* ---- XDP source-address filter (xdp_filter.bpf.c, src/bpf/xdp_filter.*) ---- */

/* LPM-trie keys of the allow and deny lists: prefixlen, then the address in
 * network byte order (the layout the kernel's LPM trie requires). */
struct sniproxy_xdp_lpm_v4 {
  __u32 prefixlen;
  __u8 addr[4];
};

struct sniproxy_xdp_lpm_v6 {
  __u32 prefixlen;
  __u8 addr[16];
};

/* Key of the SYN-rate map: the source address, IPv4 as ::ffff:a.b.c.d. */
struct sniproxy_xdp_source {
  __u8 addr[16];
};

/* GCRA token bucket per source: the time at which the source's bucket is
 * full again ("theoretical arrival time"), in bpf_ktime_get_ns() time. */
struct sniproxy_xdp_bucket {
  __u64 tat_ns;
};

/* The one entry of xdp_settings, written by userspace. */
struct sniproxy_xdp_settings {
  __u32 allow_set;   /* 1 when the allow list holds a prefix (of either family) */
  __u32 syn_rate;    /* SYNs per second per source; 0 = no rate guard */
  __u64 interval_ns; /* 1e9 / syn_rate: what one SYN costs */
  __u64 burst_ns;    /* (syn_burst - 1) * interval_ns: how far ahead a source may be */
};

/* Slots of the per-CPU counter array, one per verdict. */
#define SNIPROXY_XDP_PASSED 0              /* judged and passed */
#define SNIPROXY_XDP_DROPPED_DENY 1        /* source in the deny list */
#define SNIPROXY_XDP_DROPPED_NOT_ALLOWED 2 /* allow list set, source not in it */
#define SNIPROXY_XDP_DROPPED_RATE 3        /* SYN above the source's rate */
#define SNIPROXY_XDP_MALFORMED 4           /* broken IP/TCP header: passed, the stack drops it */
#define SNIPROXY_XDP_IGNORED 5             /* not for the listeners: passed untouched */
#define SNIPROXY_XDP_COUNTER_SLOTS 6

/* The name userspace finds the program by on a device (BPF object names
 * keep 15 characters): a stale copy of ours has this name and these maps. */
#define SNIPROXY_XDP_PROGRAM "sniproxy_xdp"

/* ---- end of XDP source-address filter ---- */

/* ---- sockmap kernel forwarding (sockmap.bpf.c, src/bpf/sockmap.*) ---- */

/* Per source socket, written only by the verdict of that socket (which the
 * kernel runs one skb at a time under the socket's lock), read by userspace.
 * In the socket's slot of sockmap_slots. Counts are bytes of the socket's
 * received stream. */
struct sniproxy_sockmap_state {
  __u64 redirected; /* sent to the peer's egress by the verdict */
  __u64 passed;     /* left on this socket for userspace to recv() */
  __u64 unpaired;   /* of passed: the peer was not in the sockhash (yet) */
  __u64 trimmed;    /* bytes cut off the front of retransmits that overlapped
                       bytes already judged */
  __u64 untrimmed;  /* overlapping bytes that could not be cut: the stream is
                       broken, userspace must reset the connection */
  __u32 over;       /* 1: over the limit, bytes go to userspace */
  __u32 next_seq;   /* TCP sequence number after the last judged byte */
  __u32 seq_known;  /* 1: next_seq is set */
  __u32 pad;
};

/* Per source socket, written only by userspace, read by the verdict. In the
 * socket's slot of sockmap_slots. */
struct sniproxy_sockmap_control {
  __u64 limit;    /* redirect while state.redirected stays within this */
  __u64 consumed; /* passed bytes userspace has sent to the peer */
};

/* One inserted socket's place in sockmap_slots, an array userspace maps
 * into its memory (BPF_F_MMAPABLE): each side writes its own fields in
 * place, so neither overwrites the other's and no field costs a system
 * call. */
struct sniproxy_sockmap_slot {
  struct sniproxy_sockmap_state state;
  struct sniproxy_sockmap_control control;
  __u64 cookie; /* the socket the slot belongs to; 0 while free */
};

/* pair_of's value, keyed by a socket's cookie; written at the insert. */
struct sniproxy_sockmap_link {
  __u64 peer; /* the other socket's cookie (its sock_pairs key) */
  __u32 slot; /* this socket's index in sockmap_slots */
  __u32 pad;
};

/* ---- end of sockmap kernel forwarding ---- */

/* ---- local redirect (local_redirect.bpf.c, src/bpf/local_redirect.*) ---- */

/* One TCP socket, as seen from itself: addresses as IPv6 (IPv4 mapped to
 * ::ffff:a.b.c.d, so an IPv4 client of a dual-stack listener and the
 * listener's IPv6 child agree), ports in host byte order. The socket's TCP
 * peer has the same key with local and remote swapped. */
struct sniproxy_local_key {
  __u8 local_addr[16];
  __u8 remote_addr[16];
  __u32 local_port;
  __u32 remote_port;
};

/* An address and port whose connections go into local_socks (written by
 * userspace): the active socket connecting to it and the passive one
 * accepted on it. An all-zero address (either family's "any") matches
 * every address on that port. */
struct sniproxy_local_endpoint {
  __u8 addr[16];
  __u32 port;
  __u32 pad;
};

/* Why a socket's bytes went (last) through TCP (sniproxy_local_state.tcp_reason). */
#define SNIPROXY_LOCAL_TCP_NO_PEER 1  /* the peer was not (or no longer) in the sockhash */
#define SNIPROXY_LOCAL_TCP_OVER_CAP 2 /* the peer held `cap` bytes it had not read */

/* Per sending socket (BPF_SK_STORAGE), written by the sk_msg program. */
struct sniproxy_local_state {
  __u64 redirected;   /* bytes put straight into the peer's receive queue */
  __u64 passed;       /* bytes sent through TCP */
  __u32 tcp_used;     /* 1 while bytes go through TCP (until the peer read them all) */
  __u32 tcp_reason;   /* SNIPROXY_LOCAL_TCP_* of the last switch to TCP */
  __u32 tcp_switches; /* how often the socket switched to TCP */
  __u32 pad;
};

/* The one entry of local_settings, written by userspace. */
struct sniproxy_local_settings {
  __u64 cap; /* receive memory a peer may hold before sends go through TCP */
};

/* ---- end of local redirect ---- */

/* ---- retransmit tracer (retrans.bpf.c, src/bpf/retrans_*) ---- */

/* Who owns a TCP socket: recorded once, in process context, keyed by the
 * socket's kernel address in retrans_owners. */
struct sniproxy_retrans_owner {
  __u64 cgroup_id; /* bpf_get_current_cgroup_id() (cgroup v2) */
  __u64 since_ns;  /* bpf_ktime_get_ns() when recorded */
  __u32 tgid;      /* process id */
  __u32 pid;       /* thread id */
  char comm[16];   /* the thread's name (TASK_COMM_LEN) */
};

/* One retransmitted segment, sent through the retrans_events perf buffer.
 * Addresses in network byte order: IPv4 in the first 4 bytes, ports in host
 * byte order (as the tracepoint gives them). */
struct sniproxy_retrans_event {
  __u64 time_ns;    /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
  __u64 skaddr;     /* the socket's kernel address: the owner map's key */
  __u64 cgroup_id;  /* of the owner (0 when unknown) */
  __u32 owner_tgid; /* 0 when unknown */
  __u32 owner_pid;
  __u32 current_tgid; /* whatever task ran the retransmit: what naive tracers report */
  __u32 current_pid;
  __u32 state;  /* TCP state, kernel numbering (1 = ESTABLISHED ...) */
  __u16 family; /* AF_INET (2) or AF_INET6 (10) */
  __u16 sport;
  __u16 dport;
  __u8 owner_known; /* 1 when the owner map had the socket */
  __u8 pad[5];      /* explicit: the next field starts at byte 56 */
  __u8 saddr[16];
  __u8 daddr[16];
  char owner_comm[16];
  char current_comm[16];
};

/* Slots of the per-CPU counter array retrans_counters. */
#define SNIPROXY_RETRANS_OWNER_RECORDED 0  /* first owner of a socket stored */
#define SNIPROXY_RETRANS_OWNER_REMOVED 1   /* socket closed: entry deleted */
#define SNIPROXY_RETRANS_KWORKER_SKIPPED 2 /* send from a kernel worker: not an owner */
#define SNIPROXY_RETRANS_SEEN 3            /* tcp_retransmit_skb hits */
#define SNIPROXY_RETRANS_UNKNOWN_OWNER 4   /* ... of which the owner was not known */
#define SNIPROXY_RETRANS_COUNTER_SLOTS 5

/* Upper bound of retrans_owners (an LRU: the oldest entry goes when a close
 * was missed, e.g. sockets that existed before the tracer started). */
#ifndef SNIPROXY_RETRANS_MAX_SOCKETS
#define SNIPROXY_RETRANS_MAX_SOCKETS 65536
#endif

/* ---- end of retransmit tracer ---- */

/* ---- QUIC fast path (quic_fast_path.bpf.c, src/bpf/quic_fast_path/) ---- */

/* One direction of a UDP session as its packets arrive on an interface:
 * addresses in network byte order (IPv4 in the first 4 bytes, the rest
 * zero), ports in network byte order. */
struct sniproxy_quic_fp_key {
  __u8 src_addr[16];
  __u8 dst_addr[16];
  __u16 src_port;
  __u16 dst_port;
  __u32 family; /* AF_INET (2) or AF_INET6 (10) */
};

/* What to do with a packet of that direction (written by userspace, never
 * changed by the program) and what the program saw of it (written by the
 * program with atomic adds, read by userspace). Same family as the key. */
struct sniproxy_quic_fp_flow {
  __u8 new_src_addr[16];
  __u8 new_dst_addr[16];
  __u16 new_src_port; /* network byte order */
  __u16 new_dst_port;
  __u32 ifindex;      /* sent out of this device (bpf_redirect_neigh) */
  __u64 packets;      /* redirected */
  __u64 bytes;        /* UDP payload bytes redirected */
  __u64 last_seen_ns; /* bpf_ktime_get_coarse_ns() of the last redirect (0: none) */
  __u64 oversized;    /* over the egress MTU: left to userspace */
};

/* Slots of the per-CPU counter array quic_fp_counters. */
#define SNIPROXY_QUIC_FP_REDIRECTED 0     /* rewritten and sent on */
#define SNIPROXY_QUIC_FP_MISSED 1         /* UDP, parsed, no entry: to userspace */
#define SNIPROXY_QUIC_FP_OVERSIZED 2      /* entry, over the egress MTU: to userspace */
#define SNIPROXY_QUIC_FP_FRAGMENT 3       /* IPv4 or IPv6 fragment: to userspace */
#define SNIPROXY_QUIC_FP_IP_OPTIONS 4     /* IPv4 options or IPv6 extension headers */
#define SNIPROXY_QUIC_FP_GSO 5            /* a GSO super-packet: to userspace */
#define SNIPROXY_QUIC_FP_MALFORMED 6      /* UDP length shorter than its header */
#define SNIPROXY_QUIC_FP_REWRITE_FAILED 7 /* a checksum or store helper failed: dropped */
#define SNIPROXY_QUIC_FP_COUNTER_SLOTS 8

/* The classifier's function name (BPF object names keep 15 characters). */
#define SNIPROXY_QUIC_FP_PROGRAM "sniproxy_quicfp"

/* ---- end of QUIC fast path ---- */

#endif /* SNIPROXY_BPF_SHARED_TYPES_H */
