#include "bpf/loader/feature_probe.hpp"

#include <bcc/libbpf.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <string>

#include "bpf/loader/cgroup_mount.hpp"
#include "bpf/loader/kernel_layout.hpp"
#include "bpf/loader/tracefs.hpp"
#include "common/elapsed.hpp"
#include "common/unique_fd.hpp"

namespace sniproxy::bpf {
namespace {

bool map_type_creates(bpf_map_type type, int key_size) {
  UniqueFd map(bcc_create_map(type, "sniproxy_probe", key_size, sizeof(int), 1, 0));
  return map.valid();
}

void probe_programs(Module& module, FeatureProbe& probe) {
  auto start = std::chrono::steady_clock::now();
  probe.sk_skb_stream_parser =
      module.program_fd("probe_sk_skb_parser", ProgramType::sk_skb_stream_parser).ok();
  probe.sk_skb_stream_verdict =
      module.program_fd("probe_sk_skb_verdict", ProgramType::sk_skb_stream_verdict).ok();
  probe.sk_msg = module.program_fd("probe_sk_msg", ProgramType::sk_msg).ok();
  probe.sock_ops = module.program_fd("probe_sock_ops", ProgramType::sock_ops).ok();
  probe.xdp = module.program_fd("probe_xdp", ProgramType::xdp).ok();
  probe.tc_fast_path = module.program_fd("probe_tc_fast_path", ProgramType::sched_cls).ok();
  probe.tracepoint = module.program_fd("probe_tracepoint", ProgramType::tracepoint).ok();
  probe.bpf_load_time = elapsed_since(start);
  if (probe.tracefs) {
    auto attached = module.attach_tracepoint("sock:inet_sock_set_state", "probe_tracepoint");
    probe.tracepoint_attach = attached.ok();
  }
  auto kprobe = module.attach_kprobe("tcp_sendmsg", "probe_kprobe");
  probe.kprobe = kprobe.ok();
  if (!kprobe.ok()) probe.kprobe_error = kprobe.error().message;
}

}  // namespace

const std::vector<std::string>& required_tracepoints() {
  static const std::vector<std::string> names = {"tcp:tcp_retransmit_skb", "sock:sock_send_length",
                                                 "sock:inet_sock_set_state"};
  return names;
}

long resident_set_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (!line.starts_with("VmRSS:")) continue;
    // "VmRSS:	   12345 kB"; an unreadable figure counts as 0, like a missing line.
    const std::size_t digits = line.find_first_not_of(" \t", 6);
    long kib = 0;
    if (digits != std::string::npos)
      std::from_chars(line.data() + digits, line.data() + line.size(), kib);
    return kib;
  }
  return 0;
}

FeatureProbe run_feature_probe(const ProbeOptions& options) {
  FeatureProbe probe;
  probe.rss_before_kib = resident_set_kib();
  probe.kernel_release = running_kernel_release();
  probe.header_tree = find_header_tree(options.load.kernel_source);

  if (options.mount_tracefs) {
    auto tracefs = ensure_tracefs();
    if (tracefs.ok()) {
      probe.tracefs = true;
      probe.tracefs_path = tracefs->path;
      probe.tracefs_mounted_by_probe = tracefs->mounted_by_us;
    } else {
      probe.tracefs_error = tracefs.error().message;
    }
  } else {
    for (const char* path : {"/sys/kernel/debug/tracing", "/sys/kernel/tracing"}) {
      if (::access((std::string(path) + "/events").c_str(), F_OK) == 0) {
        probe.tracefs = true;
        probe.tracefs_path = path;
        break;
      }
    }
  }
  for (const std::string& name : required_tracepoints()) {
    probe.tracepoints.push_back(
        {name, probe.tracefs && tracepoint_exists(probe.tracefs_path, name)});
  }

  auto module = Module::load(ProgramSet{"probe", {"probe.bpf.c"}, {}, {}}, options.load);
  if (module.ok()) {
    probe.bpf_usable = true;
    probe.bpf_compile_time = (*module)->compile_time();
    probe_programs(**module, probe);
  } else {
    probe.bpf_error = module.error().message;
  }
  probe.sockmap = map_type_creates(BPF_MAP_TYPE_SOCKMAP, sizeof(int));
  probe.sockhash = map_type_creates(BPF_MAP_TYPE_SOCKHASH, sizeof(std::uint64_t));
  probe.btf = ::access(kKernelBtfPath, R_OK) == 0;
  auto cgroup2 = cgroup2_mount();
  if (cgroup2.ok())
    probe.cgroup2_path = *cgroup2;
  else
    probe.cgroup2_error = cgroup2.error().message;

  probe.io_uring = reactor::probe_io_uring(probe.kernel_release);
  probe.rss_after_kib = resident_set_kib();
  return probe;
}

}  // namespace sniproxy::bpf
