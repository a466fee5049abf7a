#include "bpf/retrans/retrans_tracer.hpp"

#include <bcc/libbpf.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "bpf/loader/tracefs.hpp"
#include "shared_types.h"

namespace sniproxy::bpf {
namespace {

// A hook: the tracepoint preferred on every kernel (this project's kernels
// have no kprobes), and the kprobe used where that tracepoint is missing
// (sock_send_length is from Linux 6.3) and kprobes exist. Which one was
// attached is what hooks() reports. No kprobe: the tracepoint is required.
struct Hook {
  const char* tracepoint;
  const char* tracepoint_function;  // BCC's TRACEPOINT_PROBE name
  const char* kprobe;
  const char* kprobe_function;
};

// Owner hooks first, so the owner map is filling before retransmits are looked up.
constexpr Hook kHooks[] = {
    {"sock:sock_send_length", "tracepoint__sock__sock_send_length", "tcp_sendmsg",
     "retrans_kprobe_tcp_sendmsg"},
    {"sock:inet_sock_set_state", "tracepoint__sock__inet_sock_set_state", nullptr, nullptr},
    {"tcp:tcp_destroy_sock", "tracepoint__tcp__tcp_destroy_sock", nullptr, nullptr},
    // Since Linux 4.15; a kprobe would have to read struct sock for the
    // addresses, which BCC's possibly mismatched headers make unsafe.
    {"tcp:tcp_retransmit_skb", "tracepoint__tcp__tcp_retransmit_skb", nullptr, nullptr},
};

}  // namespace

Result<std::unique_ptr<RetransTracer>> RetransTracer::start(EventCallback on_event,
                                                            const RetransTracerOptions& options) {
  std::unique_ptr<RetransTracer> tracer(new RetransTracer());
  tracer->on_event_ = std::move(on_event);
  ProgramSet set{"retrans",
                 {"retrans.bpf.c"},
                 {fmt::format("-DSNIPROXY_RETRANS_MAX_SOCKETS={}", options.max_sockets)},
                 {}};
  // The kprobe fallbacks are compiled only when a tracepoint is missing.
  auto tracefs = ensure_tracefs();
  if (!tracefs.ok()) return tracefs.error();
  for (const Hook& hook : kHooks) {
    if (hook.kprobe && !tracepoint_exists(tracefs->path, hook.tracepoint)) {
      set.cflags.emplace_back("-DSNIPROXY_RETRANS_KPROBES");
      break;
    }
  }
  auto module = Module::load(set, options.load);
  if (!module.ok()) return module.error();
  tracer->module_ = std::move(*module);
  RetransTracer* self = tracer.get();
  auto reader = tracer->module_->open_perf_buffer(
      "retrans_events", [self](std::span<const std::byte> record) { self->on_record(record); },
      [self](std::uint64_t lost) { self->lost_ += lost; }, options.pages_per_cpu);
  if (!reader.ok()) return reader.error();
  tracer->reader_ = std::make_unique<PerfReader>(std::move(*reader));
  auto attached = tracer->attach();
  if (!attached.ok()) return attached.error();
  return tracer;
}

RetransTracer::~RetransTracer() {
  detach();
}

Result<bool> RetransTracer::attach() {
  if (attached()) return true;
  auto tracefs = ensure_tracefs();
  if (!tracefs.ok()) return tracefs.error();
  std::vector<Attachment> attachments;
  for (const Hook& hook : kHooks) {
    if (tracepoint_exists(tracefs->path, hook.tracepoint)) {
      auto a = module_->attach_tracepoint(hook.tracepoint, hook.tracepoint_function);
      if (!a.ok()) return a.error();
      attachments.push_back(std::move(*a));
      continue;
    }
    if (!hook.kprobe) {
      return make_error(fmt::format(
          "retrans: the kernel has no tracepoint {}, which the tracer needs", hook.tracepoint));
    }
    auto a = module_->attach_kprobe(hook.kprobe, hook.kprobe_function);
    if (!a.ok()) {
      return make_error(
          fmt::format("retrans: the kernel has neither tracepoint {} nor a usable kprobe "
                      "on {}: {}",
                      hook.tracepoint, hook.kprobe, a.error().message));
    }
    attachments.push_back(std::move(*a));
  }
  attachments_ = std::move(attachments);
  return true;
}

void RetransTracer::detach() {
  // Reverse order: stop emitting retransmits before the owner hooks go.
  while (!attachments_.empty()) attachments_.pop_back();
}

std::vector<std::string> RetransTracer::hooks() const {
  std::vector<std::string> out;
  for (const auto& a : attachments_) out.push_back(a.description());
  return out;
}

int RetransTracer::fd() const {
  return reader_->fd();
}

Result<std::size_t> RetransTracer::drain() {
  return reader_->poll_once(std::chrono::milliseconds(0));
}

Result<std::size_t> RetransTracer::poll(std::chrono::milliseconds timeout) {
  return reader_->poll_once(timeout);
}

void RetransTracer::on_record(std::span<const std::byte> record) {
  auto event = decode_retrans_event(record);
  if (!event) {
    ++undecodable_;
    return;
  }
  if (on_event_) on_event_(*event);
}

RetransCounters RetransTracer::counters() {
  RetransCounters out;
  auto map = module_->map_fd("retrans_counters");
  if (!map.ok()) return out;
  const long cpus = ::sysconf(_SC_NPROCESSORS_CONF);
  // A per-CPU array lookup returns one 8-byte value per possible CPU.
  std::vector<std::uint64_t> values(static_cast<std::size_t>(cpus > 0 ? cpus : 1) + 64);
  std::uint64_t* fields[] = {&out.owners_recorded, &out.owners_removed, &out.kworker_sends_skipped,
                             &out.retransmits, &out.unknown_owner};
  static_assert(std::size(fields) == SNIPROXY_RETRANS_COUNTER_SLOTS);
  for (std::uint32_t slot = 0; slot < SNIPROXY_RETRANS_COUNTER_SLOTS; ++slot) {
    std::fill(values.begin(), values.end(), 0);
    if (bpf_lookup_elem(*map, &slot, values.data()) != 0) continue;
    for (std::uint64_t v : values) *fields[slot] += v;
  }
  return out;
}

}  // namespace sniproxy::bpf
