#pragma once
// Process-wide: which worker thread owns the session a connection ID names.
// With a SO_REUSEPORT group per quic listener the kernel picks a thread by
// the client's 4-tuple; a client whose NAT rebinds (a new 4-tuple, the same
// connection IDs) may land on another thread, which asks here for the owner.
// Threads publish an ID as their session table learns it and withdraw it as
// the session ends: a few times per session, never per datagram of a known
// 4-tuple. A reader-writer lock: the lookups of unknown 4-tuples, which a
// flood of spoofed Initials makes one per datagram on every thread, share it
// and never wait for each other; only publishing and withdrawing exclude.
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <unordered_map>

#include "proxy/quic/cid_lookup.hpp"

namespace sniproxy::proxy::quic {

class CidDirectory {
 public:
  // The first thread to publish an ID keeps it (as a session table does).
  void publish(std::size_t listener, const std::string& cid, unsigned worker);
  // Only the owner's withdrawal removes it.
  void withdraw(std::size_t listener, const std::string& cid, unsigned worker);
  // The thread owning the session that a client datagram's DCID names.
  [[nodiscard]] std::optional<unsigned> owner(std::size_t listener,
                                              std::span<const std::uint8_t> datagram) const;
  [[nodiscard]] std::size_t size() const;

 private:
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, unsigned> owners_;  // by cid_key
  CidLengths lengths_;
};

}  // namespace sniproxy::proxy::quic
