#include "udp_peer.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace sniproxy::integration {

UdpPeer::UdpPeer(const Endpoint& at) {
  const int family = at.ip.family == Family::v4 ? AF_INET : AF_INET6;
  fd_.reset(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  sockaddr_storage ss{};
  const unsigned len = at.to_sockaddr(ss);
  if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    ADD_FAILURE() << "bind udp " << at.to_string() << ": " << std::strerror(errno);
    return;
  }
  local_ = local_endpoint(fd_.get());
}

bool UdpPeer::send_to(const Endpoint& to, std::span<const std::uint8_t> bytes) const {
  sockaddr_storage ss{};
  const unsigned len = to.to_sockaddr(ss);
  return ::sendto(fd_.get(), bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&ss),
                  len) == static_cast<ssize_t>(bytes.size());
}

std::optional<Datagram> UdpPeer::receive(Deadline deadline) const {
  Bytes buffer(65'536);
  for (;;) {
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    const ssize_t n = ::recvfrom(fd_.get(), buffer.data(), buffer.size(), 0,
                                 reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n >= 0) {
      buffer.resize(static_cast<std::size_t>(n));
      auto peer = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&from));
      return Datagram{peer.value_or(Endpoint{}), std::move(buffer)};
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return std::nullopt;
    if (!wait_for(fd_.get(), POLLIN, deadline)) return std::nullopt;
  }
}

FakeQuicBackend::FakeQuicBackend(Bytes scid)
    : scid_(std::move(scid)), socket_(Endpoint{IpAddress::v4(127, 0, 0, 1), 0}) {
  thread_ = std::thread([this] { run(); });
}

FakeQuicBackend::~FakeQuicBackend() {
  stop_ = true;
  thread_.join();
}

std::string FakeQuicBackend::address() const {
  return socket_.local().to_string();
}

std::vector<Datagram> FakeQuicBackend::received() const {
  std::lock_guard lock(mu_);
  return received_;
}

bool FakeQuicBackend::wait_for(std::size_t count, Deadline deadline) const {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (received_.size() >= count) return true;
    }
    if (deadline.expired()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Bytes FakeQuicBackend::answer_to(std::span<const std::uint8_t> datagram) const {
  // The client's SCID (from its long header) is the answer's DCID; a short
  // header has none, so a fixed one stands in.
  Bytes client_scid = {0xcc, 0xcc, 0xcc, 0xcc};
  if (datagram.size() > 6 && (datagram[0] & 0x80) != 0) {
    const std::size_t dcid_len = datagram[5];
    if (datagram.size() > 6 + dcid_len) {
      const std::size_t scid_len = datagram[6 + dcid_len];
      if (datagram.size() >= 7 + dcid_len + scid_len)
        client_scid.assign(datagram.begin() + 7 + static_cast<std::ptrdiff_t>(dcid_len),
                           datagram.begin() + 7 + static_cast<std::ptrdiff_t>(dcid_len + scid_len));
    }
  }
  // A v1 Handshake packet header (type 0b10) and opaque bytes.
  Bytes p;
  p.reserve(7 + client_scid.size() + scid_.size() + 80);
  for (std::uint8_t b : {0xe0, 0x00, 0x00, 0x00, 0x01}) p.push_back(b);
  p.push_back(static_cast<std::uint8_t>(client_scid.size()));
  p.insert(p.end(), client_scid.begin(), client_scid.end());
  p.push_back(static_cast<std::uint8_t>(scid_.size()));
  p.insert(p.end(), scid_.begin(), scid_.end());
  p.resize(p.size() + 80, 0x5a);
  return p;
}

void FakeQuicBackend::run() {
  while (!stop_) {
    auto d = socket_.receive(Deadline::in(std::chrono::milliseconds(50)));
    if (!d) continue;
    const Bytes answer = answer_to(d->bytes);
    const Endpoint from = d->from;
    {
      std::lock_guard lock(mu_);
      received_.push_back(std::move(*d));
    }
    socket_.send_to(from, answer);
  }
}

Bytes short_header_packet(std::span<const std::uint8_t> dcid, std::size_t size) {
  Bytes p(1 + dcid.size() + size, 0x77);
  p[0] = 0x43;  // short header, fixed bit, 4-byte packet number
  std::copy(dcid.begin(), dcid.end(), p.begin() + 1);
  return p;
}

}  // namespace sniproxy::integration
