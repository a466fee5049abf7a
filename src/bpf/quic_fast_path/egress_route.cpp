#include "bpf/quic_fast_path/egress_route.hpp"

#include <fmt/format.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "common/unique_fd.hpp"

namespace sniproxy::bpf {
namespace {

struct RouteRequest {
  nlmsghdr header;
  rtmsg route;
  // RTA_DST and RTA_SRC, each a 4-byte rtattr and up to 16 address bytes.
  std::array<char, 2 * RTA_SPACE(16)> attributes;
};

std::size_t address_length(const IpAddress& ip) {
  return ip.family == Family::v4 ? 4 : 16;
}

void add_address(RouteRequest& request, unsigned short type, const IpAddress& ip) {
  auto* attribute = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(&request) +
                                              NLMSG_ALIGN(request.header.nlmsg_len));
  const std::size_t length = address_length(ip);
  attribute->rta_type = type;
  attribute->rta_len = static_cast<unsigned short>(RTA_LENGTH(length));
  std::memcpy(RTA_DATA(attribute), ip.bytes.data(), length);
  request.header.nlmsg_len = NLMSG_ALIGN(request.header.nlmsg_len) + RTA_SPACE(length);
}

Error route_error(const IpAddress& destination, const std::string& why) {
  return make_error(fmt::format("route lookup for {}: {}", destination.to_string(), why));
}

}  // namespace

Result<int> egress_ifindex(const IpAddress& source, const IpAddress& destination) {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) return route_error(destination, std::strerror(errno));
  RouteRequest request{};
  request.header.nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
  request.header.nlmsg_type = RTM_GETROUTE;
  request.header.nlmsg_flags = NLM_F_REQUEST;
  request.header.nlmsg_seq = 1;
  const bool v4 = destination.family == Family::v4;
  request.route.rtm_family = v4 ? AF_INET : AF_INET6;
  request.route.rtm_dst_len = v4 ? 32 : 128;
  add_address(request, RTA_DST, destination);
  if (source.family == destination.family && !source.is_unspecified()) {
    request.route.rtm_src_len = v4 ? 32 : 128;
    add_address(request, RTA_SRC, source);
  }
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd.get(), &request, request.header.nlmsg_len, 0,
               reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel) < 0)
    return route_error(destination, std::strerror(errno));
  alignas(nlmsghdr) std::array<char, 8192> answer{};
  const ssize_t n = ::recv(fd.get(), answer.data(), answer.size(), 0);
  if (n < 0) return route_error(destination, std::strerror(errno));
  auto remaining = static_cast<unsigned>(n);
  for (auto* message = reinterpret_cast<nlmsghdr*>(answer.data()); NLMSG_OK(message, remaining);
       message = NLMSG_NEXT(message, remaining)) {
    if (message->nlmsg_type == NLMSG_ERROR) {
      const auto* error = static_cast<const nlmsgerr*>(NLMSG_DATA(message));
      return route_error(destination, std::strerror(-error->error));
    }
    if (message->nlmsg_type != RTM_NEWROUTE) continue;
    auto* route = static_cast<rtmsg*>(NLMSG_DATA(message));
    auto length = RTM_PAYLOAD(message);
    for (auto* attribute = RTM_RTA(route); RTA_OK(attribute, length);
         attribute = RTA_NEXT(attribute, length)) {
      if (attribute->rta_type != RTA_OIF) continue;
      int ifindex = 0;
      std::memcpy(&ifindex, RTA_DATA(attribute), sizeof ifindex);
      if (ifindex > 0) return ifindex;
    }
    return route_error(destination, "the route names no device");
  }
  return route_error(destination, "no answer from the kernel");
}

}  // namespace sniproxy::bpf
