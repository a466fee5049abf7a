#include "udp_io.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <cstring>
#include <vector>

namespace sniproxy::quic_tc_test {
namespace {

using Clock = std::chrono::steady_clock;

int domain_of(Family family) {
  return family == Family::v4 ? AF_INET : AF_INET6;
}

bool wait_readable(int fd, Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
  if (left.count() < 0) return false;
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(left.count())) == 1;
}

std::uint32_t add_words(std::uint32_t sum, const std::uint8_t* bytes, std::size_t size) {
  for (std::size_t i = 0; i + 1 < size; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (size % 2 != 0) sum += bytes[size - 1] << 8;
  return sum;
}

std::uint16_t fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

}  // namespace

UniqueFd bound_udp_socket(const Endpoint& local, bool no_check) {
  UniqueFd fd(::socket(domain_of(local.ip.family), SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fd;
  if (no_check) {
    int on = 1;
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_NO_CHECK, &on, sizeof(on)) != 0) return UniqueFd();
  }
  sockaddr_storage storage{};
  unsigned length = local.to_sockaddr(storage);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) != 0) return UniqueFd();
  return fd;
}

Endpoint local_endpoint(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof(storage);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length);
  return Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&storage)).value_or(Endpoint{});
}

bool send_to(int fd, const Endpoint& to, std::string_view bytes) {
  sockaddr_storage storage{};
  unsigned length = to.to_sockaddr(storage);
  ssize_t sent =
      ::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&storage), length);
  return sent == static_cast<ssize_t>(bytes.size());
}

std::optional<Datagram> receive(int fd, milliseconds timeout) {
  if (!wait_readable(fd, Clock::now() + timeout)) return std::nullopt;
  std::string buffer(65536, '\0');
  sockaddr_storage storage{};
  socklen_t length = sizeof(storage);
  ssize_t got = ::recvfrom(fd, buffer.data(), buffer.size(), MSG_DONTWAIT,
                           reinterpret_cast<sockaddr*>(&storage), &length);
  if (got < 0) return std::nullopt;
  buffer.resize(static_cast<std::size_t>(got));
  auto from = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&storage));
  return Datagram{from.value_or(Endpoint{}), std::move(buffer)};
}

std::string pattern(std::size_t size, std::uint32_t seed) {
  std::string bytes(size, '\0');
  std::uint32_t state = seed * 2654435761u + 1;
  for (char& c : bytes) {
    state = state * 1103515245u + 12345u;
    c = static_cast<char>(state >> 24);
  }
  return bytes;
}

UniqueFd raw_udp_socket(Family family) {
  return UniqueFd(::socket(domain_of(family), SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP));
}

std::optional<WireUdp> receive_wire(int raw_fd, const IpAddress& local, std::uint16_t port,
                                    milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::vector<std::uint8_t> buffer(65536);
  for (int reads = 0; reads < 1000 && wait_readable(raw_fd, deadline); ++reads) {
    sockaddr_storage storage{};
    socklen_t length = sizeof(storage);
    ssize_t got = ::recvfrom(raw_fd, buffer.data(), buffer.size(), MSG_DONTWAIT,
                             reinterpret_cast<sockaddr*>(&storage), &length);
    if (got < 0) continue;
    auto from = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&storage));
    if (!from) continue;
    const std::uint8_t* udp = buffer.data();
    std::size_t size = static_cast<std::size_t>(got);
    if (local.family == Family::v4) {  // IPv4 raw sockets get the IP header too
      const std::size_t header = (buffer[0] & 0x0f) * 4u;
      if (size < header + 8) continue;
      udp += header;
      size -= header;
    }
    if (size < 8) continue;
    WireUdp wire;
    wire.from = *from;
    wire.from.port = static_cast<std::uint16_t>((udp[0] << 8) | udp[1]);
    wire.destination_port = static_cast<std::uint16_t>((udp[2] << 8) | udp[3]);
    if (wire.destination_port != port) continue;
    wire.checksum = static_cast<std::uint16_t>((udp[6] << 8) | udp[7]);
    wire.payload_size = size - 8;
    const std::size_t address_size = local.family == Family::v4 ? 4 : 16;
    std::uint32_t sum = 0;
    sum = add_words(sum, from->ip.bytes.data(), address_size);
    sum = add_words(sum, local.bytes.data(), address_size);
    sum += IPPROTO_UDP;
    sum += static_cast<std::uint32_t>(size);
    wire.pseudo_header_sum = fold(sum);
    sum = add_words(sum, udp, size);
    wire.checksum_valid = fold(sum) == 0xffff;
    return wire;
  }
  return std::nullopt;
}

}  // namespace sniproxy::quic_tc_test
