#pragma once
// The host-wide TCP retransmit tracer: bpf_c/retrans.bpf.c loaded through
// the loader interface, its hooks attached (RAII), its perf buffer drained
// on demand. Events reach the callback already decoded; lost and
// undecodable records are counted, never hidden.
//
// Not thread-safe: one thread owns it and calls poll()/drain().
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bpf/loader/loader.hpp"
#include "bpf/retrans/retrans_event.hpp"
#include "common/result.hpp"

namespace sniproxy::bpf {

struct RetransTracerOptions {
  LoadOptions load;
  std::uint32_t max_sockets = 65536;  // bound of the owner map (an LRU)
  int pages_per_cpu = 64;             // perf ring size per CPU (4 KiB pages)
};

// The BPF side's own counters, summed over CPUs.
struct RetransCounters {
  std::uint64_t owners_recorded = 0;
  std::uint64_t owners_removed = 0;
  std::uint64_t kworker_sends_skipped = 0;
  std::uint64_t retransmits = 0;
  std::uint64_t unknown_owner = 0;
};

class RetransTracer {
 public:
  using EventCallback = std::function<void(const RetransEvent&)>;

  // Compiles, loads and attaches. Fails naming the missing tracepoint, the
  // missing privilege or the compile error.
  static Result<std::unique_ptr<RetransTracer>> start(EventCallback on_event,
                                                      const RetransTracerOptions& options = {});
  ~RetransTracer();
  RetransTracer(const RetransTracer&) = delete;
  RetransTracer& operator=(const RetransTracer&) = delete;

  // Readable (poll(2), io_uring POLL_ADD) while events wait; then drain().
  [[nodiscard]] int fd() const;
  // Delivers what is ready now, never blocks.
  Result<std::size_t> drain();
  // Waits at most `timeout` for events, then delivers them.
  Result<std::size_t> poll(std::chrono::milliseconds timeout);

  [[nodiscard]] std::uint64_t lost_events() const { return lost_; }
  [[nodiscard]] std::uint64_t undecodable_events() const { return undecodable_; }
  [[nodiscard]] RetransCounters counters();

  // "tracepoint sock:sock_send_length <- ..." per attached hook.
  [[nodiscard]] std::vector<std::string> hooks() const;
  // Detaches every hook (the maps and buffer stay); attach() re-attaches.
  // For overhead measurements.
  void detach();
  Result<bool> attach();
  [[nodiscard]] bool attached() const { return !attachments_.empty(); }

 private:
  RetransTracer() = default;
  void on_record(std::span<const std::byte> record);

  EventCallback on_event_;
  std::unique_ptr<Module> module_;
  std::unique_ptr<PerfReader> reader_;
  std::vector<Attachment> attachments_;  // detached before the Module goes (declared after it)
  std::uint64_t lost_ = 0;
  std::uint64_t undecodable_ = 0;
};

}  // namespace sniproxy::bpf
