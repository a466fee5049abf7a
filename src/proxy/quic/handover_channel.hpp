#pragma once
// The two ends of a QUIC hand-over channel in a worker (docs/quic.md): a
// unix SOCK_SEQPACKET pair the master makes for each generation. The new
// generation's worker holds the sending end of its predecessor's pair and
// hands over the client datagrams it cannot place; the draining worker
// reads its own pair's receiving end and delivers them to its sessions.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "common/address.hpp"
#include "common/unique_fd.hpp"
#include "reactor/reactor.hpp"

namespace sniproxy::proxy::quic {

class HandoverOut {
 public:
  explicit HandoverOut(UniqueFd fd) : fd_(std::move(fd)) {}
  enum class Sent {
    handed,  // queued for the draining worker
    full,    // its queue is full: dropped
    ended,   // the draining worker is gone (or stopped reading): closed
  };
  // Only while open().
  Sent hand(const Endpoint& client, const Endpoint& local, std::span<const std::uint8_t> payload);
  [[nodiscard]] bool open() const { return static_cast<bool>(fd_); }
  // Whether the draining worker closed its end (it exited); then closed
  // here too. Polled from the sweep, so that the end shows without a send.
  bool reader_gone();

 private:
  UniqueFd fd_;
};

class HandoverIn final : public reactor::Completion {
 public:
  using OnMessage = std::function<void(std::span<const std::uint8_t>)>;
  HandoverIn(UniqueFd fd, OnMessage on_message)
      : fd_(std::move(fd)), on_message_(std::move(on_message)) {}

  // The messages queued now, read without the reactor (at the start of the
  // drain: the master's successor message is queued before the SIGTERM).
  std::vector<std::vector<std::uint8_t>> read_queued();
  // Receives through `reactor`, each message to on_message, until close().
  void arm(reactor::Reactor& reactor);
  // Arms again a receive that ended without close() (from the sweep).
  void rearm(reactor::Reactor& reactor);
  // Stops receiving; the descriptor closes once no receive is in flight.
  void close(reactor::Reactor& reactor);
  // Open or receiving.
  [[nodiscard]] bool busy() const { return armed_ || fd_; }

  void on_complete(const reactor::Event& event) override;

 private:
  UniqueFd fd_;
  OnMessage on_message_;
  reactor::Reactor* reactor_ = nullptr;
  bool armed_ = false;
  bool closing_ = false;
};

}  // namespace sniproxy::proxy::quic
