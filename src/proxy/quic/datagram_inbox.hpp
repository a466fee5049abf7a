#pragma once
// A worker thread's queue of client datagrams that another thread of the
// same process received for one of its sessions (a NAT rebinding moved the
// client's 4-tuple into another thread's share of the SO_REUSEPORT group).
// Bounded: a full inbox refuses, and the sender counts the loss, as a full
// socket buffer loses a datagram. The sender wakes the owner afterwards.
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

#include "common/address.hpp"

namespace sniproxy::proxy::quic {

struct InboxDatagram {
  std::size_t listener = 0;  // index into Config::listeners
  Endpoint client;
  IpAddress local;  // the address the client sent to
  std::vector<std::uint8_t> payload;
};

class DatagramInbox {
 public:
  explicit DatagramInbox(std::size_t capacity) : capacity_(capacity) {}
  // False (nothing queued) when full. True when it was empty before: only
  // then must the owner be woken (it takes everything when it wakes).
  struct Pushed {
    bool queued = false;
    bool was_empty = false;
  };
  Pushed push(std::size_t listener, const Endpoint& client, const IpAddress& local,
              std::span<const std::uint8_t> payload);
  // Everything queued, oldest first.
  std::vector<InboxDatagram> take_all();

 private:
  std::mutex mutex_;
  std::vector<InboxDatagram> queued_;
  std::size_t capacity_;
};

}  // namespace sniproxy::proxy::quic
