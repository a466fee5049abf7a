#include "packet_socket.hpp"

#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace sniproxy::frames {

namespace {
constexpr std::size_t kBatch = 64;
constexpr int kMaxFullInARow = 20'000;  // about a second of a queue that stays full
}  // namespace

Result<PacketSocket> PacketSocket::open(const std::string& ifname) {
  PacketSocket s;
  s.ifindex_ = static_cast<int>(::if_nametoindex(ifname.c_str()));
  if (s.ifindex_ == 0) return make_error(fmt::format("no interface {}", ifname));
  // Protocol 0: send only; this socket never receives a frame.
  s.fd_.reset(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
  if (!s.fd_) return make_error(fmt::format("AF_PACKET socket: {}", std::strerror(errno)));
  sockaddr_ll address{};
  address.sll_family = AF_PACKET;
  address.sll_ifindex = s.ifindex_;
  if (::bind(s.fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    return make_error(fmt::format("bind to {}: {}", ifname, std::strerror(errno)));
  }
  return s;
}

std::size_t PacketSocket::send(std::span<const std::vector<std::uint8_t>> frames) {
  std::size_t sent = 0;
  mmsghdr messages[kBatch];
  iovec vectors[kBatch];
  int full_in_a_row = 0;
  while (sent < frames.size()) {
    const std::size_t n = std::min(kBatch, frames.size() - sent);
    for (std::size_t i = 0; i < n; ++i) {
      const auto& frame = frames[sent + i];
      vectors[i].iov_base = const_cast<std::uint8_t*>(frame.data());
      vectors[i].iov_len = frame.size();
      messages[i] = mmsghdr{};
      messages[i].msg_hdr.msg_iov = &vectors[i];
      messages[i].msg_hdr.msg_iovlen = 1;
    }
    const int done = ::sendmmsg(fd_.get(), messages, static_cast<unsigned>(n), 0);
    if (done < 0) {
      if (errno == EINTR) continue;
      // A full device queue (ENOBUFS) is transient under a flood: wait a
      // little and retry, a bounded number of times.
      if ((errno == ENOBUFS || errno == EAGAIN) && ++full_in_a_row < kMaxFullInARow) {
        ::usleep(50);
        continue;
      }
      error_ = std::strerror(errno);
      return sent;
    }
    full_in_a_row = 0;
    sent += static_cast<std::size_t>(done);
  }
  return sent;
}

}  // namespace sniproxy::frames
