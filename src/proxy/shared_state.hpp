#pragma once
// State shared by the supervisor (main thread) and all workers.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "common/unique_fd.hpp"

#include "dns/cache_observer.hpp"

#include "observe/metrics.hpp"
#include "observe/socket_index.hpp"
#include "proxy/connection_limits.hpp"
#include "proxy/quic/quic_threads.hpp"
#include "proxy/runtime.hpp"
#include "reactor/backend.hpp"
#include "upstream/health_table.hpp"

namespace sniproxy::bpf {
class Sockmap;
class QuicFastPath;
}  // namespace sniproxy::bpf

namespace sniproxy::proxy {

struct SharedState {
  // `listeners`: the count in the config at start (it cannot change later).
  explicit SharedState(std::size_t listeners) : metrics(listeners) {}

  // The config in force for new connections; swapped whole on reload.
  std::atomic<std::shared_ptr<const Runtime>> runtime;
  ConnectionLimits limits;
  // Pool members' health, one per process: read by every worker's picks,
  // written by connects and the active checker, kept across reloads.
  upstream::HealthTable health;
  observe::Metrics metrics;
  // Forwarding sockets by 4-tuple, when [retrans] is on (set before the
  // workers start, then only used through its own locks).
  std::unique_ptr<observe::SocketIndex> sockets;
  std::atomic<bool> stopping{false};
  // Set before the workers exist when the DNS cache is mirrored (into a BPF
  // map): an observer for worker N's cache.
  std::function<std::unique_ptr<dns::CacheObserver>(std::uint32_t worker)> dns_cache_observer;
  // Loaded before the workers start when a listener uses sockmap mode;
  // owned by the supervisor, thread-safe (bpf/sockmap.hpp).
  bpf::Sockmap* sockmap = nullptr;
  // Loaded before the workers start with [quic] fast_path = true; owned by
  // the supervisor. Not thread-safe: with it only worker 0 serves the quic
  // listeners (quic_threads has one thread).
  bpf::QuicFastPath* quic_fast_path = nullptr;
  // Per config listener, the listening sockets passed in (by systemd's
  // socket activation, one; by the master process, one per worker thread),
  // or none: then each worker binds its own. Set before the workers exist.
  std::vector<std::vector<UniqueFd>> passed_listeners;
  // Under a master with quic listeners: this generation's end of its QUIC
  // hand-over channel (read once it drains with a successor), and the
  // sending end of its predecessor's (docs/quic.md). Taken by the
  // QuicService; invalid without.
  UniqueFd quic_handover_in;
  UniqueFd quic_handover_out;
  // The threads serving quic listeners and what they share; made by worker
  // 0's QuicService as the workers are created (before any runs).
  std::unique_ptr<quic::QuicThreads> quic_threads;
  // Worker threads of this process (how the passed sockets are shared out).
  unsigned worker_count = 1;
  // The workers' event loop, chosen once before they exist; with `auto`, a
  // worker whose io_uring cannot be made runs on epoll instead.
  reactor::BackendKind reactor_backend = reactor::BackendKind::io_uring;
  bool reactor_may_fall_back = false;
};

}  // namespace sniproxy::proxy
