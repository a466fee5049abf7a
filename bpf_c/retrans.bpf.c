/* TCP retransmits attributed to the process that owns the socket.
 *
 * tcp:tcp_retransmit_skb runs in softirq or timer context, where the current
 * task is whoever happened to be on the CPU (often PID 0): reporting it, as
 * tcpretrans does, is usually wrong. So the owner of each TCP socket is
 * recorded earlier, in process context, keyed by the socket's address, and
 * looked up when the socket retransmits.
 *
 * Only tracepoints: this project's kernels have no kprobes (docs/kernel.md). Only
 * tracepoint arguments and helpers are read, never kernel struct fields (BCC
 * compiles against headers that may not match the running kernel). */
#include "shared_types.h"

#define SNIPROXY_AF_INET 2
#define SNIPROXY_AF_INET6 10
#define SNIPROXY_IPPROTO_TCP 6
#define SNIPROXY_TCP_SYN_SENT 2
#define SNIPROXY_TCP_CLOSE 7

BPF_TABLE("lru_hash", __u64, struct sniproxy_retrans_owner, retrans_owners,
          SNIPROXY_RETRANS_MAX_SOCKETS);
BPF_PERCPU_ARRAY(retrans_counters, __u64, SNIPROXY_RETRANS_COUNTER_SLOTS);
BPF_PERF_OUTPUT(retrans_events);

static __always_inline void retrans_count(__u32 slot) {
  __u64* count = retrans_counters.lookup(&slot);
  if (count) *count += 1; /* per-CPU slot: no atomic needed */
}

/* Sockmap-redirected data is sent by kernel workers (docs/kernel.md): such a send
 * says nothing about who owns the socket. Kernel threads have no user
 * process behind them; their names start with "kworker/". */
static __always_inline int retrans_is_kworker(const char* comm) {
  return comm[0] == 'k' && comm[1] == 'w' && comm[2] == 'o' && comm[3] == 'r' && comm[4] == 'k' &&
         comm[5] == 'e' && comm[6] == 'r' && comm[7] == '/';
}

/* Called only from hooks that run in the context of the task acting on the
 * socket. The first owner stays (BPF_NOEXIST): a socket handed to another
 * process, or later driven by a kworker, keeps the process that made it. */
static __always_inline void retrans_record_owner(__u64 skaddr) {
  struct sniproxy_retrans_owner owner = {};
  bpf_get_current_comm(&owner.comm, sizeof(owner.comm));
  if (retrans_is_kworker(owner.comm)) {
    retrans_count(SNIPROXY_RETRANS_KWORKER_SKIPPED);
    return;
  }
  __u64 id = bpf_get_current_pid_tgid();
  owner.tgid = id >> 32;
  owner.pid = (__u32)id;
  if (owner.tgid == 0) return; /* the idle task: never an owner */
  owner.cgroup_id = bpf_get_current_cgroup_id();
  owner.since_ns = bpf_ktime_get_ns();
  if (retrans_owners.insert(&skaddr, &owner) == 0) retrans_count(SNIPROXY_RETRANS_OWNER_RECORDED);
}

static __always_inline void retrans_forget(__u64 skaddr) {
  if (retrans_owners.delete(&skaddr) == 0) retrans_count(SNIPROXY_RETRANS_OWNER_REMOVED);
}

/* sock_sendmsg: in the sending task (or a kworker for sockmap traffic). */
TRACEPOINT_PROBE(sock, sock_send_length) {
  if (args->protocol != SNIPROXY_IPPROTO_TCP) return 0;
  if (args->family != SNIPROXY_AF_INET && args->family != SNIPROXY_AF_INET6) return 0;
  retrans_record_owner((__u64)args->sk);
  return 0;
}

/* CLOSE -> SYN_SENT happens inside connect(2), in the caller's context; most
 * other transitions run in softirq, where the current task is unrelated.
 * Any transition to CLOSE ends the socket's life as far as we care. */
TRACEPOINT_PROBE(sock, inet_sock_set_state) {
  if (args->protocol != SNIPROXY_IPPROTO_TCP) return 0;
  __u64 skaddr = (__u64)args->skaddr;
  if (args->newstate == SNIPROXY_TCP_SYN_SENT) {
    retrans_record_owner(skaddr);
  } else if (args->newstate == SNIPROXY_TCP_CLOSE) {
    retrans_forget(skaddr);
  }
  return 0;
}

/* The socket is freed: its address may be reused by the next socket. */
TRACEPOINT_PROBE(tcp, tcp_destroy_sock) {
  retrans_forget((__u64)args->skaddr);
  return 0;
}

TRACEPOINT_PROBE(tcp, tcp_retransmit_skb) {
  struct sniproxy_retrans_event event = {};
  event.time_ns = bpf_ktime_get_ns();
  event.skaddr = (__u64)args->skaddr;
  event.state = args->state;
  event.family = args->family;
  event.sport = args->sport;
  event.dport = args->dport;
  /* Array arguments sit at unaligned offsets, which direct context loads
   * may not use: copy them with a helper. */
  if (event.family == SNIPROXY_AF_INET6) {
    bpf_probe_read_kernel(event.saddr, 16, args->saddr_v6);
    bpf_probe_read_kernel(event.daddr, 16, args->daddr_v6);
  } else {
    bpf_probe_read_kernel(event.saddr, 4, args->saddr);
    bpf_probe_read_kernel(event.daddr, 4, args->daddr);
  }
  __u64 id = bpf_get_current_pid_tgid();
  event.current_tgid = id >> 32;
  event.current_pid = (__u32)id;
  bpf_get_current_comm(&event.current_comm, sizeof(event.current_comm));

  retrans_count(SNIPROXY_RETRANS_SEEN);
  struct sniproxy_retrans_owner* owner = retrans_owners.lookup(&event.skaddr);
  if (owner) {
    event.owner_known = 1;
    event.owner_tgid = owner->tgid;
    event.owner_pid = owner->pid;
    event.cgroup_id = owner->cgroup_id;
    __builtin_memcpy(event.owner_comm, owner->comm, sizeof(event.owner_comm));
  } else {
    retrans_count(SNIPROXY_RETRANS_UNKNOWN_OWNER);
  }
  retrans_events.perf_submit(args, &event, sizeof(event));
  return 0;
}

/* Kernels older than sock:sock_send_length (6.3) but with kprobes: the same
 * owner record from tcp_sendmsg(sk, ...), which runs in the sending task.
 * Compiled only when the tracer picked it (the tracepoint is missing):
 * struct pt_regs needs a kernel header that costs seconds of compile time. */
#ifdef SNIPROXY_RETRANS_KPROBES
#include <uapi/linux/ptrace.h>
int retrans_kprobe_tcp_sendmsg(struct pt_regs* ctx) {
  retrans_record_owner((__u64)PT_REGS_PARM1(ctx));
  return 0;
}
#endif
