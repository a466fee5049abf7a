#pragma once
// The QUIC fast path's kernel half: compiles bpf_c/quic_fast_path.bpf.c,
// attaches its classifier to the ingress of each configured device and
// holds the sessions it forwards, two map entries each. The session code
// adds a session once it is established, reads its counters for the access
// log and the idle sweep, and removes it when it ends. See
// docs/quic-fast-path.md.
//
// Not thread-safe: one thread owns it. Compile (create) before starting
// threads that must not be paused by a clang run.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "bpf/loader/loader.hpp"
#include "bpf/quic_fast_path/session_entries.hpp"
#include "common/result.hpp"

namespace sniproxy::bpf {

struct QuicFastPathOptions {
  std::vector<std::string> interfaces;  // devices whose ingress carries sessions
  TcAttachMode attach_mode = TcAttachMode::automatic;
  std::uint32_t max_sessions = 32768;  // the map holds two entries per session
  LoadOptions load;
};

// Names one session added; 0 is never a session.
struct FastPathHandle {
  std::uint64_t id = 0;
  friend bool operator==(const FastPathHandle&, const FastPathHandle&) = default;
};

// One direction of a session, as the program counted it.
struct DirectionCounters {
  std::uint64_t packets = 0;    // redirected
  std::uint64_t bytes = 0;      // UDP payload bytes redirected
  std::uint64_t oversized = 0;  // over the egress MTU, left to userspace
  // The last redirect (coarse monotonic time, a few ms behind steady_clock);
  // none while nothing was redirected.
  std::optional<std::chrono::steady_clock::time_point> last_seen;
};

struct SessionCounters {
  DirectionCounters to_backend;  // client -> backend
  DirectionCounters to_client;   // backend -> client
};

// The program's verdicts summed over all CPUs.
struct QuicFastPathCounters {
  std::uint64_t redirected = 0;
  std::uint64_t missed = 0;     // UDP without an entry: to userspace
  std::uint64_t oversized = 0;  // over the egress MTU: to userspace
  std::uint64_t fragments = 0;
  std::uint64_t ip_options = 0;  // IPv4 options, IPv6 extension headers
  std::uint64_t gso = 0;
  std::uint64_t malformed = 0;
  std::uint64_t rewrite_failed = 0;  // dropped: a helper failed mid-rewrite
};

class QuicFastPath {
 public:
  // Compiles, loads and attaches to every interface in order (in this
  // thread's network namespace). On failure whatever was attached is
  // detached again and the error names the interface and what is missing.
  static Result<std::unique_ptr<QuicFastPath>> create(const QuicFastPathOptions& options);
  ~QuicFastPath();
  QuicFastPath(const QuicFastPath&) = delete;
  QuicFastPath& operator=(const QuicFastPath&) = delete;

  // Both directions enter the map, or neither does. Fails when a direction's
  // key is in the map already (another session holds that 4-tuple) or the
  // map is full.
  Result<FastPathHandle> add_session(const FastPathSession& session);
  // Both entries leave the map: the session's packets go to userspace again.
  Result<bool> remove_session(FastPathHandle handle);
  [[nodiscard]] Result<SessionCounters> read_counters(FastPathHandle handle) const;
  [[nodiscard]] Result<QuicFastPathCounters> counters() const;

  [[nodiscard]] std::size_t sessions() const { return sessions_.size(); }
  // "tc ingress eth0 <- sniproxy_quicfp (tcx)" per interface, for the log.
  [[nodiscard]] std::vector<std::string> attachments() const;

 private:
  struct Keys {
    sniproxy_quic_fp_key to_backend;
    sniproxy_quic_fp_key to_client;
  };

  QuicFastPath(std::unique_ptr<Module> module, int flows_fd, int counters_fd);

  // Declared first so it is destroyed last: the attachments detach while
  // the program fd they name is still open.
  std::unique_ptr<Module> module_;
  int flows_fd_ = -1;
  int counters_fd_ = -1;
  std::vector<Attachment> attachments_;
  std::unordered_map<std::uint64_t, Keys> sessions_;
  std::uint64_t next_id_ = 1;
};

}  // namespace sniproxy::bpf
