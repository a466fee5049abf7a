#include "reactor/packet_info.hpp"

#include <cerrno>
#include <cstring>

namespace sniproxy::reactor {

namespace {
// CMSG_DATA takes a non-const header; the bytes are only read here.
const unsigned char* data_of(const cmsghdr& message) {
  return CMSG_DATA(const_cast<cmsghdr*>(&message));
}
}  // namespace

std::optional<sockaddr_storage> destination_of(const cmsghdr& message) {
  sockaddr_storage out{};
  if (message.cmsg_level == IPPROTO_IP && message.cmsg_type == IP_PKTINFO &&
      message.cmsg_len >= CMSG_LEN(sizeof(in_pktinfo))) {
    in_pktinfo info{};
    std::memcpy(&info, data_of(message), sizeof info);
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
    v4->sin_family = AF_INET;
    // ipi_addr is the header's destination; ipi_spec_dst the local address
    // routing chose, which differs for a broadcast: the header's is wanted.
    v4->sin_addr = info.ipi_addr;
    return out;
  }
  if (message.cmsg_level == IPPROTO_IPV6 && message.cmsg_type == IPV6_PKTINFO &&
      message.cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
    in6_pktinfo info{};
    std::memcpy(&info, data_of(message), sizeof info);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
    v6->sin6_family = AF_INET6;
    v6->sin6_addr = info.ipi6_addr;
    return out;
  }
  return std::nullopt;
}

SourceControl source_control(const sockaddr_storage& source) {
  SourceControl out;
  auto* message = reinterpret_cast<cmsghdr*>(out.bytes);
  // The interface is left to routing (0): only the source address is fixed.
  if (source.ss_family == AF_INET) {
    in_pktinfo info{};
    info.ipi_spec_dst = reinterpret_cast<const sockaddr_in*>(&source)->sin_addr;
    message->cmsg_level = IPPROTO_IP;
    message->cmsg_type = IP_PKTINFO;
    message->cmsg_len = CMSG_LEN(sizeof info);
    std::memcpy(CMSG_DATA(message), &info, sizeof info);
    out.length = CMSG_SPACE(sizeof info);
  } else if (source.ss_family == AF_INET6) {
    in6_pktinfo info{};
    info.ipi6_addr = reinterpret_cast<const sockaddr_in6*>(&source)->sin6_addr;
    message->cmsg_level = IPPROTO_IPV6;
    message->cmsg_type = IPV6_PKTINFO;
    message->cmsg_len = CMSG_LEN(sizeof info);
    std::memcpy(CMSG_DATA(message), &info, sizeof info);
    out.length = CMSG_SPACE(sizeof info);
  }
  return out;
}

int request_packet_info(int fd, int family) {
  const int on = 1;
  if (family == AF_INET6 && ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on) != 0)
    return errno;
  // On an IPv6 socket too: its IPv4-mapped clients' datagrams carry the
  // IPv4 message, not the IPv6 one.
  if (::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on) != 0) return errno;
  return 0;
}

}  // namespace sniproxy::reactor
