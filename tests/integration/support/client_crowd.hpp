#pragma once
// Many client connections at once for the abuse tests, opened without a
// thread per connection: non-blocking connects in batches (so the proxy's
// listen backlog never overflows into SYN retransmits), each bound first to
// a chosen loopback source address when asked.
#include <cstdint>
#include <vector>

#include "socket_io.hpp"

namespace sniproxy::integration {

struct CrowdMember {
  UniqueFd fd;
  Clock::time_point connected_at;
  Clock::time_point closed_at{};  // set once the proxy closed it
};

// Opens up to `count` connections to `to` from `source` (port 0 = any) in
// batches of `batch`; stops early at the deadline or at the first connect
// that fails, so the caller compares the size with what it asked for.
std::vector<CrowdMember> open_crowd(const Endpoint& to, std::size_t count, Deadline deadline,
                                    IpAddress source = IpAddress::v4(127, 0, 0, 1),
                                    std::size_t batch = 512);

// A non-blocking connect from `source` to `to`, under way (its local port is
// known at once); invalid with errno set when it could not start.
UniqueFd begin_connect(const IpAddress& source, const Endpoint& to);

// A connection from `source` (bound before connect) to `to`.
ConnectResult connect_from(const IpAddress& source, const Endpoint& to, Deadline deadline);

// Waits until every member's peer has closed it (EOF or reset), setting
// closed_at; returns how many are closed at the deadline. `tick` runs
// between polls (e.g. to trickle bytes).
template <typename Tick>
std::size_t wait_crowd_closed(std::vector<CrowdMember>& crowd, Deadline deadline, Tick tick);
std::size_t wait_crowd_closed(std::vector<CrowdMember>& crowd, Deadline deadline);

// One poll over the crowd: marks the members the peer has closed.
std::size_t mark_closed(std::vector<CrowdMember>& crowd, int timeout_ms);

template <typename Tick>
std::size_t wait_crowd_closed(std::vector<CrowdMember>& crowd, Deadline deadline, Tick tick) {
  std::size_t closed = mark_closed(crowd, 0);
  while (closed < crowd.size() && !deadline.expired()) {
    tick();
    closed = mark_closed(crowd, 20);
  }
  return closed;
}

}  // namespace sniproxy::integration
