#pragma once
// The local address of a datagram, for sockets bound to a wildcard address:
// the destination a client sent to arrives in an IP_PKTINFO (IPv4, also on
// an IPv6 socket for IPv4-mapped clients) or IPV6_PKTINFO control message,
// and a reply names its source the same way, so that it leaves from the
// address the client sent to. Reading and writing the messages is pure;
// only request_packet_info() touches a socket.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <optional>

namespace sniproxy::reactor {

// Control space a receive reserves per datagram: room for either message.
inline constexpr std::size_t kPacketInfoSpace =
    CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(in_pktinfo));

// The destination address (port 0) one control message carries, or nullopt
// for a message of another kind or too short.
std::optional<sockaddr_storage> destination_of(const cmsghdr& message);

// One control message that makes sendmsg(2) send from `source` (its port is
// ignored: the socket's own is used).
struct SourceControl {
  alignas(cmsghdr) unsigned char bytes[CMSG_SPACE(sizeof(in6_pktinfo))]{};
  std::size_t length = 0;  // 0: `source` is neither AF_INET nor AF_INET6
};
SourceControl source_control(const sockaddr_storage& source);

// Asks the kernel for the destination of each datagram on `fd` (of
// `family`; an AF_INET6 socket asks for both, for its IPv4-mapped
// clients). Returns 0, or the errno of the refusal.
int request_packet_info(int fd, int family);

}  // namespace sniproxy::reactor
