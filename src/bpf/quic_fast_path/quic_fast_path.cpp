#include "bpf/quic_fast_path/quic_fast_path.hpp"

#include <bpf/bpf.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "bpf/loader/per_cpu_sums.hpp"

namespace sniproxy::bpf {
namespace {

DirectionCounters direction_counters(const sniproxy_quic_fp_flow& flow) {
  DirectionCounters counters;
  counters.packets = flow.packets;
  counters.bytes = flow.bytes;
  counters.oversized = flow.oversized;
  // bpf_ktime_get_coarse_ns() is CLOCK_MONOTONIC_COARSE: steady_clock's epoch.
  if (flow.last_seen_ns != 0) {
    counters.last_seen =
        std::chrono::steady_clock::time_point(std::chrono::nanoseconds(flow.last_seen_ns));
  }
  return counters;
}

std::string map_error(const char* what, int error) {
  return fmt::format("QUIC fast path: cannot {}: {}", what, std::strerror(error));
}

}  // namespace

QuicFastPath::QuicFastPath(std::unique_ptr<Module> module, int flows_fd, int counters_fd)
    : module_(std::move(module)), flows_fd_(flows_fd), counters_fd_(counters_fd) {}

QuicFastPath::~QuicFastPath() {
  // Detach first: no packet meets the program while its entries go.
  attachments_.clear();
}

Result<std::unique_ptr<QuicFastPath>> QuicFastPath::create(const QuicFastPathOptions& options) {
  if (options.interfaces.empty()) {
    return make_error("QUIC fast path: no interface to attach to");
  }
  if (options.max_sessions == 0) {
    return make_error("QUIC fast path: max_sessions must be at least 1");
  }
  ProgramSet set{"quic_fast_path",
                 {"quic_fast_path.bpf.c"},
                 {fmt::format("-DSNIPROXY_QUIC_FP_MAX_FLOWS={}",
                              static_cast<std::uint64_t>(options.max_sessions) * 2)},
                 {}};
  auto module = Module::load(set, options.load);
  if (!module.ok()) return module.error();
  // Through the verifier before any device is touched; a kernel without
  // bpf_redirect_neigh (5.10), bpf_check_mtu (5.12) or
  // bpf_ktime_get_coarse_ns (5.11) is rejected here, by the helper's name.
  auto program = (*module)->program_fd(SNIPROXY_QUIC_FP_PROGRAM, ProgramType::sched_cls);
  if (!program.ok()) {
    return make_error(
        fmt::format("QUIC fast path needs Linux 5.12+ (tc with bpf_redirect_neigh "
                    "and bpf_check_mtu): {}",
                    program.error().message));
  }
  auto flows = (*module)->map_fd("quic_fp_flows");
  if (!flows.ok()) return flows.error();
  auto counters = (*module)->map_fd("quic_fp_counters");
  if (!counters.ok()) return counters.error();
  std::unique_ptr<QuicFastPath> path(new QuicFastPath(std::move(*module), *flows, *counters));
  for (const std::string& ifname : options.interfaces) {
    auto attached =
        path->module_->attach_tc_ingress(ifname, SNIPROXY_QUIC_FP_PROGRAM, options.attach_mode);
    if (!attached.ok()) return attached.error();  // ~QuicFastPath detaches the others
    path->attachments_.push_back(std::move(*attached));
  }
  return path;
}

Result<FastPathHandle> QuicFastPath::add_session(const FastPathSession& session) {
  auto entries = session_entries(session);
  if (!entries.ok()) return entries.error();
  if (::bpf_map_update_elem(flows_fd_, &entries->to_backend_key, &entries->to_backend,
                            BPF_NOEXIST) != 0) {
    const int error = errno;
    if (error == EEXIST) {
      return make_error(fmt::format(
          "QUIC fast path: {} -> {} is carried by another session already",
          session.client_side.source.to_string(), session.client_side.destination.to_string()));
    }
    return make_error(map_error("add the client-side entry", error));
  }
  if (::bpf_map_update_elem(flows_fd_, &entries->to_client_key, &entries->to_client, BPF_NOEXIST) !=
      0) {
    const int error = errno;
    ::bpf_map_delete_elem(flows_fd_, &entries->to_backend_key);
    if (error == EEXIST) {
      return make_error(fmt::format(
          "QUIC fast path: {} -> {} is carried by another session already",
          session.backend_side.destination.to_string(), session.backend_side.source.to_string()));
    }
    return make_error(map_error("add the backend-side entry", error));
  }
  const FastPathHandle handle{next_id_++};
  sessions_.emplace(handle.id, Keys{entries->to_backend_key, entries->to_client_key});
  return handle;
}

Result<bool> QuicFastPath::remove_session(FastPathHandle handle) {
  auto it = sessions_.find(handle.id);
  if (it == sessions_.end()) return make_error("QUIC fast path: no such session");
  const Keys keys = it->second;
  sessions_.erase(it);
  int failed = 0;
  for (const sniproxy_quic_fp_key* key : {&keys.to_backend, &keys.to_client}) {
    if (::bpf_map_delete_elem(flows_fd_, key) != 0 && errno != ENOENT) failed = errno;
  }
  if (failed != 0) return make_error(map_error("remove a session entry", failed));
  return true;
}

Result<SessionCounters> QuicFastPath::read_counters(FastPathHandle handle) const {
  auto it = sessions_.find(handle.id);
  if (it == sessions_.end()) return make_error("QUIC fast path: no such session");
  SessionCounters counters;
  sniproxy_quic_fp_flow flow{};
  if (::bpf_map_lookup_elem(flows_fd_, &it->second.to_backend, &flow) != 0) {
    return make_error(map_error("read the client-side entry", errno));
  }
  counters.to_backend = direction_counters(flow);
  if (::bpf_map_lookup_elem(flows_fd_, &it->second.to_client, &flow) != 0) {
    return make_error(map_error("read the backend-side entry", errno));
  }
  counters.to_client = direction_counters(flow);
  return counters;
}

Result<QuicFastPathCounters> QuicFastPath::counters() const {
  auto read = per_cpu_sums(counters_fd_, SNIPROXY_QUIC_FP_COUNTER_SLOTS);
  if (!read.ok()) return make_error("QUIC fast path: counters: " + read.error().message);
  const std::vector<std::uint64_t>& sums = *read;
  QuicFastPathCounters result;
  result.redirected = sums[SNIPROXY_QUIC_FP_REDIRECTED];
  result.missed = sums[SNIPROXY_QUIC_FP_MISSED];
  result.oversized = sums[SNIPROXY_QUIC_FP_OVERSIZED];
  result.fragments = sums[SNIPROXY_QUIC_FP_FRAGMENT];
  result.ip_options = sums[SNIPROXY_QUIC_FP_IP_OPTIONS];
  result.gso = sums[SNIPROXY_QUIC_FP_GSO];
  result.malformed = sums[SNIPROXY_QUIC_FP_MALFORMED];
  result.rewrite_failed = sums[SNIPROXY_QUIC_FP_REWRITE_FAILED];
  return result;
}

std::vector<std::string> QuicFastPath::attachments() const {
  std::vector<std::string> descriptions;
  for (const Attachment& attachment : attachments_) {
    descriptions.push_back(attachment.description());
  }
  return descriptions;
}

}  // namespace sniproxy::bpf
