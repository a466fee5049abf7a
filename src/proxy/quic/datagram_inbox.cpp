#include "proxy/quic/datagram_inbox.hpp"

namespace sniproxy::proxy::quic {

DatagramInbox::Pushed DatagramInbox::push(std::size_t listener, const Endpoint& client,
                                          const IpAddress& local,
                                          std::span<const std::uint8_t> payload) {
  std::lock_guard lock(mutex_);
  if (queued_.size() >= capacity_) return {};
  const bool was_empty = queued_.empty();
  queued_.push_back(InboxDatagram{listener, client, local, {payload.begin(), payload.end()}});
  return {true, was_empty};
}

std::vector<InboxDatagram> DatagramInbox::take_all() {
  std::vector<InboxDatagram> out;
  std::lock_guard lock(mutex_);
  out.swap(queued_);
  return out;
}

}  // namespace sniproxy::proxy::quic
