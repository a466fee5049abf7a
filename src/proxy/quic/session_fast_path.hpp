#pragma once
// One QUIC session's place in the kernel fast path: its two map entries
// (added once the backend has answered, replaced when the client rebinds)
// and what the kernel carried for it. The map's counters restart with each
// new pair of entries, so the totals of replaced entries are kept here; a
// poll returns what is new since the last one (for the metrics) and the
// last time the kernel saw a packet (for the idle sweep).
#include <chrono>
#include <cstdint>
#include <optional>

#include "bpf/quic_fast_path/quic_fast_path.hpp"
#include "common/address.hpp"
#include "common/result.hpp"

namespace sniproxy::proxy::quic {

// Packets and bytes each way.
struct FastPathCounts {
  std::uint64_t packets_to_backend = 0;
  std::uint64_t bytes_to_backend = 0;
  std::uint64_t packets_to_client = 0;
  std::uint64_t bytes_to_client = 0;
};

struct FastPathPoll {
  FastPathCounts added;  // since the previous poll
  std::optional<std::chrono::steady_clock::time_point> last_seen;
};

// The addresses of a session, as the datagrams carry them.
struct SessionAddresses {
  Endpoint client;
  Endpoint listener;       // the address the client sends to
  Endpoint session_local;  // the backend socket's own address
  Endpoint backend;
};

class SessionFastPath {
 public:
  explicit SessionFastPath(bpf::QuicFastPath& path) : path_(path) {}
  ~SessionFastPath();
  SessionFastPath(const SessionFastPath&) = delete;
  SessionFastPath& operator=(const SessionFastPath&) = delete;

  // Adds the session's entries, with each side's egress device from a
  // route lookup; entries it had are removed first (leave() them before to
  // count what they carried since the last poll).
  Result<bool> enter(const SessionAddresses& addresses);
  // Reads the entries' counters; nothing while there are none.
  FastPathPoll poll();
  // Polls one last time and removes the entries.
  FastPathPoll leave();

  [[nodiscard]] bool entered() const { return handle_.has_value(); }
  [[nodiscard]] const FastPathCounts& totals() const { return totals_; }

 private:
  bpf::QuicFastPath& path_;
  std::optional<bpf::FastPathHandle> handle_;
  FastPathCounts totals_;          // everything the kernel carried, all entries
  FastPathCounts current_polled_;  // of the current entries, already in totals_
};

}  // namespace sniproxy::proxy::quic
