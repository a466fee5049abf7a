#pragma once
// Routed QUIC sessions, by client 4-tuple (listener and client address:port)
// and by the connection IDs learnt as they pass: the client's original DCID,
// and every SCID the backend puts in its plaintext long headers (RFC 9000
// 17.2). A datagram from an unknown address whose DCID names a session is
// that session's client after a NAT rebinding (RFC 9000 9.3): the session
// moves to the new address. Idle deadlines per session, swept by the caller;
// a bound on the count. Pure: ids stand for the sessions the worker owns.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "proxy/quic/cid_lookup.hpp"
#include "proxy/quic/flow_key.hpp"

namespace sniproxy::proxy::quic {

using SessionId = std::uint64_t;

// Told of each connection ID a table takes and lets go (as bytes), so that
// other threads can find the session's owner (CidDirectory).
class CidObserver {
 public:
  virtual ~CidObserver() = default;
  virtual void learnt(std::size_t listener, const std::string& cid) = 0;
  virtual void forgotten(std::size_t listener, const std::string& cid) = 0;
};

class SessionTable {
 public:
  using Clock = std::chrono::steady_clock;
  // Connection IDs are at most 20 bytes in v1 and v2; more are not learnt.
  static constexpr std::size_t kMaxCidLength = 20;
  // IDs learnt per session (a server issues a few; a flood is not kept).
  static constexpr std::size_t kMaxCidsPerSession = 8;

  explicit SessionTable(std::size_t max_sessions) : max_sessions_(max_sessions) {}
  void set_max_sessions(std::size_t max) { max_sessions_ = max; }
  // Not owned; nullptr (the default) tells nobody.
  void set_observer(CidObserver* observer) { observer_ = observer; }

  // False when the table is full or `key` has a session already.
  bool add(SessionId id, const FlowKey& key, std::span<const std::uint8_t> original_dcid,
           std::chrono::milliseconds idle_timeout, Clock::time_point now);
  void remove(SessionId id);

  [[nodiscard]] std::optional<SessionId> find(const FlowKey& key) const;
  [[nodiscard]] const FlowKey* key_of(SessionId id) const;

  // Learns the SCID of a long-header packet the backend sent (the first of
  // the datagram's packets; coalesced ones carry the same IDs).
  void learn_from_backend(SessionId id, std::span<const std::uint8_t> datagram);
  // Whether `dcid` is one of the session's IDs.
  [[nodiscard]] bool knows_cid(SessionId id, std::span<const std::uint8_t> dcid) const;
  // The session on `listener` that a client datagram's DCID names (a long
  // header's DCID; a short header's leading bytes, tried at each length
  // learnt on that listener), or nullopt.
  [[nodiscard]] std::optional<SessionId> match_cid(std::size_t listener,
                                                   std::span<const std::uint8_t> datagram) const;
  // Moves the session to the client's new address, and the address it sent
  // to (NAT rebinding). False if another session has that pair.
  bool rebind(SessionId id, const Endpoint& client, const IpAddress& local);

  // A datagram passed either way at `now` (an earlier time than the last
  // one known changes nothing: the kernel's times arrive late).
  void touch(SessionId id, Clock::time_point now);
  // Sessions idle for their timeout at `now`.
  [[nodiscard]] std::vector<SessionId> expired(Clock::time_point now) const;
  [[nodiscard]] bool is_expired(SessionId id, Clock::time_point now) const;

  [[nodiscard]] std::size_t size() const { return sessions_.size(); }

 private:
  struct Entry {
    FlowKey key;
    std::vector<std::string> cids;  // as bytes
    std::chrono::milliseconds idle_timeout{0};
    Clock::time_point last_active;
  };
  void learn(SessionId id, Entry& e, std::span<const std::uint8_t> cid);
  std::size_t max_sessions_;
  CidObserver* observer_ = nullptr;
  std::unordered_map<SessionId, Entry> sessions_;
  std::unordered_map<FlowKey, SessionId, FlowKeyHash> by_address_;
  std::unordered_map<std::string, SessionId> by_cid_;
  // Per listener: how many learnt IDs have each length (what a short header
  // is tried at).
  CidLengths cid_lengths_;
};

}  // namespace sniproxy::proxy::quic

namespace sniproxy::proxy::quic {

// A session's idle timeout: the client's max_idle_timeout transport
// parameter capped at `cap`, and never under `floor`. A client that set none
// (or 0: no timeout of its own, RFC 9000 10.1) gets the cap.
std::chrono::milliseconds session_idle_timeout(std::chrono::milliseconds floor,
                                               std::chrono::milliseconds cap,
                                               std::optional<std::uint64_t> client_ms);

}  // namespace sniproxy::proxy::quic
