// rtnetlink by hand: RTM_GETLINK to read IFLA_XDP, RTM_SETLINK to set it.
// BCC's bpf_attach_xdp cannot pass the expected program of a replace, and
// nothing in BCC reports what is attached.
#include "bpf/loader/xdp_device.hpp"

// glibc's <net/if.h> before the <linux/...> headers, which then skip their
// copies of its definitions.
#include <net/if.h>
#include <sys/socket.h>

#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "common/unique_fd.hpp"

namespace sniproxy::bpf {
namespace {

constexpr std::size_t kReceiveBuffer = std::size_t{32} * 1024;

// A netlink request under construction: header, ifinfomsg, attributes.
class Request {
 public:
  Request(std::uint16_t type, std::uint16_t flags, int ifindex) {
    nlmsghdr header{};
    header.nlmsg_type = type;
    header.nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | flags);
    header.nlmsg_seq = 1;
    append(&header, sizeof header);
    ifinfomsg info{};
    info.ifi_family = AF_UNSPEC;
    info.ifi_index = ifindex;
    append(&info, sizeof info);
  }

  // Starts a nested attribute; returns its offset for end_nested().
  std::size_t begin_nested(std::uint16_t type) {
    const std::size_t at = bytes_.size();
    attribute(static_cast<std::uint16_t>(type | NLA_F_NESTED), nullptr, 0);
    return at;
  }
  void end_nested(std::size_t at) {
    auto* attr = reinterpret_cast<rtattr*>(bytes_.data() + at);
    attr->rta_len = static_cast<std::uint16_t>(bytes_.size() - at);
  }
  template <class T>
  void attribute(std::uint16_t type, const T& value) {
    attribute(type, &value, sizeof value);
  }

  std::vector<std::uint8_t>& finish() {
    reinterpret_cast<nlmsghdr*>(bytes_.data())->nlmsg_len =
        static_cast<std::uint32_t>(bytes_.size());
    return bytes_;
  }

 private:
  void append(const void* data, std::size_t size) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    bytes_.insert(bytes_.end(), p, p + size);
    bytes_.resize(NLMSG_ALIGN(bytes_.size()), 0);
  }
  void attribute(std::uint16_t type, const void* data, std::size_t size) {
    rtattr attr{};
    attr.rta_type = type;
    attr.rta_len = static_cast<std::uint16_t>(RTA_LENGTH(size));
    const std::size_t at = bytes_.size();
    bytes_.resize(at + RTA_SPACE(size), 0);
    std::memcpy(bytes_.data() + at, &attr, sizeof attr);
    if (size > 0) std::memcpy(bytes_.data() + at + RTA_LENGTH(0), data, size);
  }

  std::vector<std::uint8_t> bytes_;
};

// The extended-ack message of an NLMSG_ERROR, if the kernel sent one.
std::string ack_message(const nlmsghdr* header) {
  if ((header->nlmsg_flags & NLM_F_ACK_TLVS) == 0) return "";
  const auto* error = static_cast<const nlmsgerr*>(NLMSG_DATA(header));
  std::size_t offset = NLMSG_HDRLEN + sizeof(nlmsgerr);
  if ((header->nlmsg_flags & NLM_F_CAPPED) == 0) offset += error->msg.nlmsg_len - NLMSG_HDRLEN;
  const auto* base = reinterpret_cast<const std::uint8_t*>(header);
  while (offset + sizeof(nlattr) <= header->nlmsg_len) {
    const auto* attr = reinterpret_cast<const nlattr*>(base + offset);
    if (attr->nla_len < sizeof(nlattr) || offset + attr->nla_len > header->nlmsg_len) break;
    if (attr->nla_type == NLMSGERR_ATTR_MSG) {
      const char* text = reinterpret_cast<const char*>(attr) + NLA_HDRLEN;
      return std::string(text, strnlen(text, attr->nla_len - NLA_HDRLEN));
    }
    offset += NLA_ALIGN(attr->nla_len);
  }
  return "";
}

std::string error_text(int error, const std::string& kernel_reason) {
  if (kernel_reason.empty()) return std::strerror(error);
  return fmt::format("{} ({})", kernel_reason, std::strerror(error));
}

// Sends `request` and hands each reply message to `on_message` until the
// kernel's ack or error. `on_message` returns false to stop early.
template <class OnMessage>
Result<bool> transact(const Rtnetlink& netlink, std::vector<std::uint8_t>& request,
                      OnMessage on_message) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(netlink.fd(), request.data(), request.size(), 0,
               reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
    return make_error(fmt::format("netlink send: {}", std::strerror(errno)));
  }
  std::vector<std::uint8_t> buffer(kReceiveBuffer);
  // Each reply is one or two datagrams; the bound only stops a confused kernel.
  for (int datagrams = 0; datagrams < 16; ++datagrams) {
    const ssize_t got = ::recv(netlink.fd(), buffer.data(), buffer.size(), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return make_error(fmt::format("netlink receive: {}", std::strerror(errno)));
    auto* header = reinterpret_cast<nlmsghdr*>(buffer.data());
    auto left = static_cast<unsigned>(got);
    for (; NLMSG_OK(header, left); header = NLMSG_NEXT(header, left)) {
      if (header->nlmsg_type == NLMSG_ERROR) {
        const auto* error = static_cast<const nlmsgerr*>(NLMSG_DATA(header));
        if (error->error == 0) return true;
        return make_error(error_text(-error->error, ack_message(header)));
      }
      if (header->nlmsg_type == NLMSG_DONE) return true;
      if (!on_message(header)) return true;
    }
  }
  return make_error("netlink: no answer from the kernel");
}

void read_xdp_attributes(const rtattr* nested, XdpDevice& device) {
  int left = static_cast<int>(RTA_PAYLOAD(nested));
  for (const auto* attr = static_cast<const rtattr*>(RTA_DATA(nested)); RTA_OK(attr, left);
       attr = RTA_NEXT(attr, left)) {
    if (RTA_PAYLOAD(attr) < sizeof(std::uint32_t)) continue;
    std::uint32_t id = 0;
    std::memcpy(&id, RTA_DATA(attr), sizeof id);
    switch (attr->rta_type) {
      case IFLA_XDP_DRV_PROG_ID:
        device.native_program = id;
        break;
      case IFLA_XDP_SKB_PROG_ID:
        device.generic_program = id;
        break;
      case IFLA_XDP_HW_PROG_ID:
        device.offload_program = id;
        break;
      default:
        break;
    }
  }
}

}  // namespace

Result<Rtnetlink> Rtnetlink::open() {
  Rtnetlink netlink;
  netlink.fd_.reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!netlink.fd_) return make_error(fmt::format("netlink socket: {}", std::strerror(errno)));
  const int one = 1;
  // The kernel's reason for a refusal ("native and generic XDP can't be
  // active at the same time"), and acks without the echoed request.
  ::setsockopt(netlink.fd(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  ::setsockopt(netlink.fd(), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  return netlink;
}

std::string_view to_string(XdpMode mode) {
  return mode == XdpMode::native ? "native" : "generic";
}

Result<XdpDevice> query_xdp_device(std::string_view ifname) {
  XdpDevice device;
  device.name = std::string(ifname);
  device.ifindex = static_cast<int>(::if_nametoindex(device.name.c_str()));
  if (device.ifindex == 0) {
    return make_error(fmt::format("no network interface {} ({})", ifname, std::strerror(errno)));
  }
  auto netlink = Rtnetlink::open();
  if (!netlink.ok()) return netlink.error();
  Request request(RTM_GETLINK, 0, device.ifindex);
  bool found = false;
  auto done = transact(*netlink, request.finish(), [&](const nlmsghdr* header) {
    if (header->nlmsg_type != RTM_NEWLINK) return true;
    const auto* info = static_cast<const ifinfomsg*>(NLMSG_DATA(header));
    if (info->ifi_index != device.ifindex) return true;
    found = true;
    device.type = info->ifi_type;
    int left = static_cast<int>(IFLA_PAYLOAD(header));
    for (const rtattr* attr = IFLA_RTA(info); RTA_OK(attr, left); attr = RTA_NEXT(attr, left)) {
      if ((attr->rta_type & NLA_TYPE_MASK) == IFLA_XDP) read_xdp_attributes(attr, device);
    }
    return false;
  });
  if (!done.ok()) {
    return make_error(
        fmt::format("cannot read the XDP state of {}: {}", ifname, done.error().message));
  }
  if (!found) return make_error(fmt::format("cannot read the XDP state of {}: no reply", ifname));
  return device;
}

bool has_ethernet_frames(const XdpDevice& device) {
  return device.type == ARPHRD_ETHER || device.type == ARPHRD_LOOPBACK;
}

Result<bool> set_xdp_program(const Rtnetlink& netlink, int ifindex, int program_fd, XdpMode mode,
                             int expected_fd) {
  std::uint32_t flags = mode == XdpMode::native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
  flags |= expected_fd >= 0 ? XDP_FLAGS_REPLACE : XDP_FLAGS_UPDATE_IF_NOEXIST;
  Request request(RTM_SETLINK, NLM_F_ACK, ifindex);
  const std::size_t xdp = request.begin_nested(IFLA_XDP);
  request.attribute(IFLA_XDP_FD, static_cast<std::int32_t>(program_fd));
  request.attribute(IFLA_XDP_FLAGS, flags);
  if (expected_fd >= 0)
    request.attribute(IFLA_XDP_EXPECTED_FD, static_cast<std::int32_t>(expected_fd));
  request.end_nested(xdp);
  return transact(netlink, request.finish(), [](const nlmsghdr*) { return true; });
}

}  // namespace sniproxy::bpf
