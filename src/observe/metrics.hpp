#pragma once
// Counters for GET /metrics, shared by all workers. Each is touched a few
// times per connection (accept, route, connect, close), never per byte:
// relaxed atomics, and a lock only where a new label value (a route, a hello
// failure reason) appears for the first time.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "observe/outcome.hpp"
#include "observe/quic_drop.hpp"
#include "observe/retrans_metrics.hpp"

namespace sniproxy::observe {

using Counter = std::atomic<std::uint64_t>;

inline void bump(Counter& c, std::uint64_t n = 1) {
  c.fetch_add(n, std::memory_order_relaxed);
}
inline std::uint64_t read(const Counter& c) {
  return c.load(std::memory_order_relaxed);
}

inline constexpr std::size_t kOutcomeCount = static_cast<std::size_t>(Outcome::shutdown) + 1;

// What forwarding a connection ended up with; "auto" is split by what it
// became, since that is the question operators ask of it.
enum class ForwardedBy : std::uint8_t {
  copy,
  splice,
  auto_copy,
  auto_splice,
  sockmap,
  sockmap_splice,
  auto_sockmap
};
inline constexpr std::size_t kForwardedByCount = 7;
std::string_view to_string(ForwardedBy by);

struct ListenerMetrics {
  // Every accepted socket, also those refused at once for a limit (they end
  // as closed{limit}); accepted - sum(closed) = open now.
  Counter accepted{0};
  std::array<Counter, kOutcomeCount> closed{};
  Counter bytes_from_client{0};  // of finished connections
  Counter bytes_from_backend{0};
  // Fast Open listeners: accepted connections whose SYN carried data the
  // kernel took (the client's hello, a round trip saved).
  Counter fast_open_syn_data{0};
};

// Sockmap mode, over finished connections: how their bytes moved.
struct SockmapMetrics {
  Counter kernel_bytes{0};     // redirected by the verdict, never in userspace
  Counter userspace_bytes{0};  // passed up over the memory bound and moved by the proxy
  Counter trimmed_bytes{0};    // old bytes cut off retransmits that overlapped
  Counter fallbacks{0};        // connections that could not be inserted (went to splice)
  Counter open{0};             // connections in the sockmap now (a gauge)
};

// QUIC listeners (proxy/quic/): flows waiting for their hello, sessions,
// and every datagram that went nowhere, by reason.
struct QuicMetrics {
  Counter pending_flows{0};  // a gauge
  Counter sessions{0};       // a gauge
  Counter sessions_total{0};
  std::array<Counter, kQuicHelloOutcomeCount> hellos{};
  std::array<Counter, kQuicDropCount> drops{};
  Counter version_negotiations{0};  // Version Negotiation packets sent
  // Hellos read in full after their flow held more than one datagram: big key shares
  // (post-quantum, FFDHE) or a lost and retransmitted Initial.
  Counter multi_datagram_hellos{0};
  // Of sessions, as they pass (not only when they end).
  Counter bytes_from_client{0};
  Counter bytes_from_backend{0};
  Counter packets_from_client{0};
  Counter packets_from_backend{0};
  // Carried by the kernel fast path: added when the idle sweep reads a
  // session's counters and when it ends (so they trail by up to a session's
  // idle timeout).
  Counter fast_path_bytes_from_client{0};
  Counter fast_path_bytes_from_backend{0};
  Counter fast_path_packets_from_client{0};
  Counter fast_path_packets_from_backend{0};
  Counter fast_path_sessions{0};  // sessions whose entries were added
  // The hand-over to a draining generation's worker (docs/quic.md): sent
  // there by the new one, not sent (its channel full), and there delivered
  // into a session or dropped for want of one.
  Counter handover_handed{0};
  Counter handover_send_failed{0};
  Counter handover_delivered{0};
  Counter handover_unplaced{0};
  // Between the threads of one process (docs/quic.md, every worker thread):
  // a datagram another thread's session owns, passed to it, refused by its
  // full inbox, or finding no session there any more.
  Counter thread_passed{0};
  Counter thread_inbox_full{0};
  Counter thread_unplaced{0};

  Counter& drop(QuicDrop d) { return drops[static_cast<std::size_t>(d)]; }
  Counter& hello(QuicHelloOutcome o) { return hellos[static_cast<std::size_t>(o)]; }
};

struct RouteMetrics {
  Counter connections{0};  // connections this route was chosen for
  Counter bytes_from_client{0};
  Counter bytes_from_backend{0};
};

// One server of a pool (by its address), kept across reloads while the
// pool and the address stay.
struct PoolServerMetrics {
  Counter connections{0};  // connects that succeeded
  Counter failures{0};     // connects that failed, and resets after a connect
  Counter connect_ns{0};   // time of the successful connects, summed
};

// Upstream connect latency, successful connects only (failures are outcomes).
class LatencyHistogram {
 public:
  // Upper bounds in seconds, Prometheus' `le`.
  static constexpr std::array<double, 13> kBounds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0};
  void observe(std::chrono::nanoseconds elapsed);

  struct Snapshot {
    std::array<std::uint64_t, kBounds.size()> cumulative{};  // count <= bound
    std::uint64_t count = 0;
    double sum_seconds = 0;
  };
  [[nodiscard]] Snapshot snapshot() const;

 private:
  std::array<Counter, kBounds.size() + 1> buckets_{};  // last: above every bound
  Counter sum_ns_{0};
};

class Metrics {
 public:
  // Listeners cannot change on reload (proxy::reload_blockers), so they are
  // counted by index.
  explicit Metrics(std::size_t listeners);

  ListenerMetrics& listener(std::size_t index) { return listeners_[index]; }
  [[nodiscard]] const ListenerMetrics& listener(std::size_t index) const {
    return listeners_[index];
  }
  [[nodiscard]] std::size_t listener_count() const { return listener_count_; }

  // Routes come and go with reloads; one keeps its counters as long as its
  // table, pattern and ALPN list (comma-joined; empty without `alpn`) stay
  // the same. The reference stays valid for the lifetime of the Metrics.
  RouteMetrics& route(std::string_view table, std::string_view pattern, std::string_view alpn = {});
  struct RouteEntry {
    std::string table;
    std::string pattern;
    std::string alpn;
    const RouteMetrics* metrics;
  };
  [[nodiscard]] std::vector<RouteEntry> routes() const;

  // Like route(): the counters of a pool's server, stable references.
  PoolServerMetrics& pool_server(std::string_view pool, std::string_view server);
  struct PoolServerEntry {
    std::string pool;
    std::string server;
    const PoolServerMetrics* metrics;
  };
  [[nodiscard]] std::vector<PoolServerEntry> pool_servers() const;

  // A hello that could not be parsed, by the parser's reason token.
  void hello_failure(std::string_view reason);
  [[nodiscard]] std::vector<std::pair<std::string, std::uint64_t>> hello_failures() const;

  Counter& forwarded(ForwardedBy by) { return forwarded_[static_cast<std::size_t>(by)]; }
  [[nodiscard]] std::uint64_t forwarded_count(ForwardedBy by) const {
    return read(forwarded_[static_cast<std::size_t>(by)]);
  }

  LatencyHistogram connect_latency;
  RetransMetrics retransmits;  // counted only with [retrans]
  SockmapMetrics sockmap;      // counted only in sockmap mode
  QuicMetrics quic;            // counted only with a quic listener
  // TLS hellos that offered Encrypted Client Hello (routed on the outer name).
  Counter ech_offers{0};
  // Upstream connects (fast_open) whose SYN data the backend acknowledged.
  // Process-wide: the connect belongs to a route or pool, not to the
  // listener the client came in on.
  Counter fast_open_syn_data_sent{0};
  Counter reloads_ok{0};
  Counter reloads_failed{0};
  // Out of descriptors (or memory): times a listener stopped accepting for a
  // back-off, and accepted clients whose backend socket waited for one.
  Counter accept_pauses{0};
  Counter descriptor_waits{0};
  // source_address = "client" with a client of the other address family
  // than the backend: upstream connects made from the proxy's own address.
  Counter transparent_source_skipped{0};
  // preconnect: spares taken, connections that found none ready, spares
  // found closed by the backend when taken, spares closed unused at
  // preconnect_idle, and spare connects that failed.
  Counter preconnect_used{0};
  Counter preconnect_missed{0};
  Counter preconnect_stale{0};
  Counter preconnect_expired{0};
  Counter preconnect_failed{0};

 private:
  std::size_t listener_count_;
  std::unique_ptr<ListenerMetrics[]> listeners_;
  std::array<Counter, kForwardedByCount> forwarded_{};

  mutable std::mutex mu_;
  // Keyed by table + '\0' + pattern + '\0' + alpn; nodes never move.
  std::map<std::string, std::unique_ptr<RouteMetrics>, std::less<>> routes_;
  // Keyed by pool + '\0' + server; nodes never move.
  std::map<std::string, std::unique_ptr<PoolServerMetrics>, std::less<>> pool_servers_;
  std::map<std::string, std::uint64_t, std::less<>> hello_failures_;
};

}  // namespace sniproxy::observe
