#pragma once
// What this kernel (and this process) can do for the proxy, probed once at
// start-up: BPF program and map types, tracepoints, io_uring operations. The
// rest of the code reads this struct; it is logged once and shown by
// `sniproxy --probe`.
#include <chrono>
#include <string>
#include <vector>

#include "bpf/loader/kernel_headers.hpp"
#include "bpf/loader/loader.hpp"
#include "reactor/uring/io_uring_probe.hpp"

namespace sniproxy::bpf {

struct TracepointPresence {
  std::string name;  // "tcp:tcp_retransmit_skb"
  bool exists = false;
};

struct FeatureProbe {
  std::string kernel_release;  // uname -r
  HeaderTree header_tree;

  bool bpf_usable = false;  // the probe module compiled and its maps were created
  std::string bpf_error;    // one line, when !bpf_usable

  // Each program type, loaded from bpf_c/probe.bpf.c.
  bool sk_skb_stream_parser = false;
  bool sk_skb_stream_verdict = false;
  bool sk_msg = false;
  bool sock_ops = false;  // loaded only: attaching needs a cgroup (below)
  bool xdp = false;
  // A TC classifier calling bpf_redirect_neigh, bpf_check_mtu and
  // bpf_ktime_get_coarse_ns: what the QUIC fast path needs (5.12+).
  bool tc_fast_path = false;
  bool tracepoint = false;
  bool tracepoint_attach = false;  // attached to sock:inet_sock_set_state
  bool kprobe = false;             // a kprobe attached on tcp_sendmsg
  std::string kprobe_error;

  bool sockmap = false;   // BPF_MAP_TYPE_SOCKMAP created
  bool sockhash = false;  // BPF_MAP_TYPE_SOCKHASH created

  // The kernel's own BTF, where sockmap and local_redirect read socket
  // field offsets (the header tree may be older than the kernel).
  bool btf = false;
  // The cgroup v2 mount local_redirect's sock_ops program attaches to.
  std::string cgroup2_path;
  std::string cgroup2_error;

  bool tracefs = false;
  bool tracefs_mounted_by_probe = false;
  std::string tracefs_path;
  std::string tracefs_error;
  std::vector<TracepointPresence> tracepoints;

  reactor::IoUringFeatures io_uring;

  std::chrono::milliseconds bpf_compile_time{0};  // clang compile + map creation
  std::chrono::milliseconds bpf_load_time{0};     // loading all probe programs
  long rss_before_kib = 0;                        // VmRSS before the probe
  long rss_after_kib = 0;                         // and after (LLVM stays mapped)
};

struct ProbeOptions {
  LoadOptions load;
  bool mount_tracefs = true;  // mount tracefs when missing (needs root)
};

// The tracepoints later modules attach to.
const std::vector<std::string>& required_tracepoints();

FeatureProbe run_feature_probe(const ProbeOptions& options = {});

// One key=value log line.
std::string format_line(const FeatureProbe& probe);
// A two-column table for `sniproxy --probe`.
std::string format_table(const FeatureProbe& probe);
// One JSON object for `sniproxy --probe --json`.
std::string format_json(const FeatureProbe& probe);

// `sniproxy --probe [--json]`: runs the probe, prints it to stdout; returns 0
// when it ran, 1 when BPF is unusable (the reason printed to stderr).
int run_probe_command(bool json);

// VmRSS of this process in KiB (0 if unreadable).
long resident_set_kib();

}  // namespace sniproxy::bpf
