#pragma once
// UDP sockets for the fast path tests: bound sockets that send and receive
// with a bounded wait, and a raw socket that sees the UDP header of every
// datagram arriving in its namespace, to check the checksum on the wire.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/address.hpp"
#include "common/unique_fd.hpp"

namespace sniproxy::quic_tc_test {

using std::chrono::milliseconds;

// A UDP socket bound to `local` (port 0: the kernel picks), in this
// thread's namespace; invalid on failure (errno set). `no_check`: IPv4
// datagrams go without a UDP checksum (SO_NO_CHECK, checksum field 0).
UniqueFd bound_udp_socket(const Endpoint& local, bool no_check = false);
// The address a socket is bound to.
Endpoint local_endpoint(int fd);

bool send_to(int fd, const Endpoint& to, std::string_view bytes);

struct Datagram {
  Endpoint from;
  std::string bytes;
};
// The next datagram within `timeout`, or nullopt.
std::optional<Datagram> receive(int fd, milliseconds timeout);

// `size` bytes that differ per `seed`, so a datagram cannot pass for another.
std::string pattern(std::size_t size, std::uint32_t seed);

// A raw IPPROTO_UDP socket of `family` (in this thread's namespace).
UniqueFd raw_udp_socket(Family family);

// A UDP header as it arrived, with its checksum judged.
struct WireUdp {
  Endpoint from;
  std::uint16_t destination_port = 0;
  std::uint16_t checksum = 0;   // as on the wire; 0 on IPv4: none
  bool checksum_valid = false;  // the one-complement sum over the pseudo-header checks out
  // The folded sum of the pseudo-header alone: what the field holds while
  // the checksum is still to be completed (CHECKSUM_PARTIAL, offloaded).
  std::uint16_t pseudo_header_sum = 0;
  std::size_t payload_size = 0;
};
// The next datagram to `port` the raw socket sees within `timeout`;
// `local` is the receiving address (IPv6 raw sockets get no IP header).
std::optional<WireUdp> receive_wire(int raw_fd, const IpAddress& local, std::uint16_t port,
                                    milliseconds timeout);

}  // namespace sniproxy::quic_tc_test
