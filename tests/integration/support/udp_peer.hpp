#pragma once
// UDP for the QUIC tests: a socket that sends and receives datagrams with a
// deadline, and a fake QUIC backend that records every datagram it gets and
// answers each with a long-header packet carrying its own connection ID (as
// a server's Initial or Handshake packets do, RFC 9000 17.2).
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/address.hpp"
#include "common/unique_fd.hpp"
#include "socket_io.hpp"

namespace sniproxy::integration {

using Bytes = std::vector<std::uint8_t>;

struct Datagram {
  Endpoint from;
  Bytes bytes;
};

class UdpPeer {
 public:
  // Bound to `at` (port 0: any free port).
  explicit UdpPeer(const Endpoint& at);
  [[nodiscard]] Endpoint local() const { return local_; }
  [[nodiscard]] int fd() const { return fd_.get(); }
  bool send_to(const Endpoint& to, std::span<const std::uint8_t> bytes) const;
  // The next datagram, or nullopt at the deadline.
  std::optional<Datagram> receive(Deadline deadline) const;

 private:
  UniqueFd fd_;
  Endpoint local_;
};

class FakeQuicBackend {
 public:
  // `scid`: the connection ID it puts in its answers' SCID field.
  explicit FakeQuicBackend(Bytes scid);
  ~FakeQuicBackend();
  FakeQuicBackend(const FakeQuicBackend&) = delete;
  FakeQuicBackend& operator=(const FakeQuicBackend&) = delete;

  [[nodiscard]] std::string address() const;
  [[nodiscard]] const Bytes& scid() const { return scid_; }
  [[nodiscard]] std::vector<Datagram> received() const;
  // Waits until at least `count` datagrams arrived.
  bool wait_for(std::size_t count, Deadline deadline) const;
  // The answer it sends to `datagram` (for tests to compare with).
  [[nodiscard]] Bytes answer_to(std::span<const std::uint8_t> datagram) const;

 private:
  void run();
  Bytes scid_;
  UdpPeer socket_;
  mutable std::mutex mu_;
  std::vector<Datagram> received_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A QUIC v1 short-header (1-RTT) packet whose DCID is `dcid`, then `size`
// bytes of stand-in protected payload.
Bytes short_header_packet(std::span<const std::uint8_t> dcid, std::size_t size = 60);

}  // namespace sniproxy::integration
