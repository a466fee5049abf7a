#include "sockmap/sockmap_sockets.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>

namespace sniproxy::bpf::testing {

Sockmap* shared_sockmap() {
  static std::unique_ptr<Sockmap> map = [] {
    auto created = Sockmap::create(SockmapOptions{1024, {}});
    EXPECT_TRUE(created.ok()) << created.error().message;
    return created.ok() ? std::move(*created) : nullptr;
  }();
  return map.get();
}
namespace {

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  return address;
}

std::uint16_t port_of(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
  return ntohs(address.sin_port);
}

// A connected pair (connecting end, accepted end) through a fresh listener.
std::pair<UniqueFd, UniqueFd> connected_pair() {
  UniqueFd listener = make_listener();
  UniqueFd connecting(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  // A port of its own, by bind(): connect() alone picks an ephemeral port
  // that other connections (to other destinations) may share, and then a
  // TCP_REPAIR replacement (tcp_rewind.hpp) cannot bind it again while
  // other suites churn through connections.
  int one = 1;
  sockaddr_in any_port = loopback(0);
  if (::setsockopt(connecting.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::bind(connecting.get(), reinterpret_cast<sockaddr*>(&any_port), sizeof any_port) != 0) {
    ADD_FAILURE() << "bind: " << std::strerror(errno);
    return {};
  }
  sockaddr_in address = loopback(port_of(listener.get()));
  if (::connect(connecting.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ADD_FAILURE() << "connect: " << std::strerror(errno);
    return {};
  }
  UniqueFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!accepted.valid()) ADD_FAILURE() << "accept: " << std::strerror(errno);
  return {std::move(connecting), std::move(accepted)};
}

}  // namespace

UniqueFd make_listener() {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address = loopback(0);
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener.get(), 4) != 0) {
    ADD_FAILURE() << "listener: " << std::strerror(errno);
  }
  return listener;
}

UniqueFd make_unconnected_socket() {
  return UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
}

ProxiedSockets make_proxied_sockets() {
  ProxiedSockets sockets;
  std::tie(sockets.client, sockets.accepted) = connected_pair();
  std::tie(sockets.connect, sockets.backend) = connected_pair();
  return sockets;
}

static_assert(std::endian::native == std::endian::little, "fill_pattern writes words");

namespace {

std::uint64_t pattern_word(std::uint32_t stream, std::uint64_t index) {
  // A hash of the 64-bit word index: blocks of any size shifted, lost or
  // repeated show up as mismatches.
  std::uint64_t word = index * 0x9E3779B97F4A7C15ull + stream * 0xBF58476D1CE4E5B9ull;
  return word ^ (word >> 29);
}

}  // namespace

std::uint8_t pattern_byte(std::uint32_t stream, std::uint64_t offset) {
  return static_cast<std::uint8_t>(pattern_word(stream, offset >> 3) >> ((offset & 7) * 8));
}

void fill_pattern(std::uint32_t stream, std::uint64_t offset, std::span<std::uint8_t> out) {
  std::size_t i = 0;
  for (; i < out.size() && ((offset + i) & 7) != 0; ++i) out[i] = pattern_byte(stream, offset + i);
  // Whole words (little-endian, like pattern_byte) for speed in debug builds.
  for (; i + 8 <= out.size(); i += 8) {
    std::uint64_t word = pattern_word(stream, (offset + i) >> 3);
    std::memcpy(out.data() + i, &word, 8);
  }
  for (; i < out.size(); ++i) out[i] = pattern_byte(stream, offset + i);
}

std::int64_t first_mismatch(std::uint32_t stream, std::uint64_t offset,
                            std::span<const std::uint8_t> data) {
  std::vector<std::uint8_t> expected(data.size());
  fill_pattern(stream, offset, expected);
  if (std::memcmp(expected.data(), data.data(), data.size()) == 0) return -1;
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (data[i] != expected[i]) return static_cast<std::int64_t>(i);
  }
  return -1;
}

void set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  ASSERT_GE(flags, 0);
  ASSERT_EQ(::fcntl(fd, F_SETFL, flags | O_NONBLOCK), 0);
}

short wait_for(int fd, short events, std::chrono::milliseconds timeout) {
  pollfd entry{fd, events, 0};
  int ready = ::poll(&entry, 1, static_cast<int>(timeout.count()));
  return ready > 0 ? entry.revents : 0;
}

std::uint64_t write_pattern(int fd, std::uint32_t stream, std::uint64_t total) {
  std::vector<std::uint8_t> buffer(1 << 16);
  std::uint64_t written = 0;
  while (written < total) {
    std::size_t chunk = std::min<std::uint64_t>(buffer.size(), total - written);
    fill_pattern(stream, written, std::span(buffer.data(), chunk));
    ssize_t sent = ::send(fd, buffer.data(), chunk, MSG_NOSIGNAL);
    if (sent <= 0) {
      if (sent < 0 && errno == EINTR) continue;
      break;
    }
    written += static_cast<std::uint64_t>(sent);
  }
  return written;
}

std::int64_t read_and_check(int fd, std::uint32_t stream, std::uint64_t total,
                            std::chrono::milliseconds timeout) {
  std::vector<std::uint8_t> buffer(1 << 16);
  std::uint64_t got = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (got < total) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || wait_for(fd, POLLIN, left) == 0) {
      ADD_FAILURE() << "stream " << stream << ": timed out after " << got << " of " << total
                    << " bytes";
      return static_cast<std::int64_t>(got);
    }
    ssize_t n = ::recv(fd, buffer.data(), std::min<std::uint64_t>(buffer.size(), total - got),
                       MSG_DONTWAIT);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      ADD_FAILURE() << "stream " << stream << ": recv: " << std::strerror(errno);
      break;
    }
    std::int64_t bad = first_mismatch(stream, got, std::span(buffer.data(), n));
    if (bad >= 0) {
      ADD_FAILURE() << "stream " << stream << ": wrong byte at offset "
                    << got + static_cast<std::uint64_t>(bad);
      return -1;
    }
    got += static_cast<std::uint64_t>(n);
  }
  return static_cast<std::int64_t>(got);
}

long tcp_memory_pages() {
  std::ifstream sockstat("/proc/net/sockstat");
  std::string line;
  while (std::getline(sockstat, line)) {
    if (line.rfind("TCP:", 0) != 0) continue;
    std::istringstream words(line);
    std::string word;
    while (words >> word) {
      if (word == "mem") {
        long pages = -1;
        words >> pages;
        return pages;
      }
    }
  }
  return -1;
}

}  // namespace sniproxy::bpf::testing
