#include "app/socket_activation.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace sniproxy::app {

namespace {

// Frees the strv sd_listen_fds_with_names() allocates.
struct Names {
  char** strv = nullptr;
  ~Names() {
    if (strv == nullptr) return;
    for (char** p = strv; *p != nullptr; ++p) std::free(*p);
    std::free(static_cast<void*>(strv));
  }
  [[nodiscard]] std::string at(int i, int count) const {
    if (strv == nullptr || i >= count || strv[i] == nullptr) return "unknown";
    return strv[i];
  }
};

}  // namespace

Result<std::vector<PassedSocket>> take_passed_sockets() {
  Names names;
  // 1: unset $LISTEN_* so that no child process takes these sockets too.
  const int count = sd_listen_fds_with_names(1, &names.strv);
  if (count < 0)
    return make_error(
        fmt::format("socket activation: reading $LISTEN_FDS: {}", std::strerror(-count)));
  std::vector<PassedSocket> passed;
  for (int i = 0; i < count; ++i) {
    PassedSocket s;
    s.fd.reset(SD_LISTEN_FDS_START + i);
    s.name = names.at(i, count);
    if (s.name == kQuicHandoverIn || s.name == kQuicHandoverOut) {
      // From the master, not systemd: no address to match.
      if (sd_is_socket(s.fd.get(), AF_UNIX, SOCK_SEQPACKET, -1) <= 0)
        return make_error(
            fmt::format("socket activation: descriptor {} ({}) is not a unix SOCK_SEQPACKET socket",
                        s.fd.get(), s.name));
      s.type = SOCK_SEQPACKET;
      passed.push_back(std::move(s));
      continue;
    }
    if (sd_is_socket(s.fd.get(), AF_UNSPEC, SOCK_STREAM, 1) > 0)
      s.type = SOCK_STREAM;
    else if (sd_is_socket(s.fd.get(), AF_UNSPEC, SOCK_DGRAM, -1) > 0)
      s.type = SOCK_DGRAM;
    else
      return make_error(
          fmt::format("socket activation: descriptor {} ({}) is neither a listening TCP socket "
                      "nor a UDP socket; pass ListenStream= and ListenDatagram= sockets only",
                      s.fd.get(), s.name));
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getsockname(s.fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0)
      return make_error(fmt::format("socket activation: getsockname on descriptor {} ({}): {}",
                                    s.fd.get(), s.name, std::strerror(errno)));
    auto endpoint = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&address));
    if (!endpoint)
      return make_error(
          fmt::format("socket activation: descriptor {} ({}) is not an IPv4 or IPv6 socket",
                      s.fd.get(), s.name));
    s.address = *endpoint;
    // The workers accept (or receive) through the reactor; a socket that
    // blocked would stall a readiness backend.
    const int flags = ::fcntl(s.fd.get(), F_GETFL);
    if (flags >= 0) ::fcntl(s.fd.get(), F_SETFL, flags | O_NONBLOCK);
    passed.push_back(std::move(s));
  }
  return passed;
}

std::vector<std::vector<UniqueFd>> match_passed_sockets(
    std::vector<PassedSocket>& passed, const std::vector<config::Listener>& listeners) {
  std::vector<std::vector<UniqueFd>> matched(listeners.size());
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    // TCP and UDP ports are apart: a quic listener and a TLS listener on
    // one address and port each take the socket of their own type.
    const int type = socket_type_of(listeners[i]);
    while (UniqueFd fd = take_passed_socket(passed, listeners[i].address, type))
      matched[i].push_back(std::move(fd));
  }
  return matched;
}

UniqueFd take_passed_socket(std::vector<PassedSocket>& passed, const Endpoint& address, int type) {
  for (auto it = passed.begin(); it != passed.end(); ++it) {
    if (it->address != address || it->type != type) continue;
    UniqueFd fd = std::move(it->fd);
    passed.erase(it);
    return fd;
  }
  return UniqueFd{};
}

UniqueFd take_named_socket(std::vector<PassedSocket>& passed, std::string_view name) {
  for (auto it = passed.begin(); it != passed.end(); ++it) {
    if (it->name != name) continue;
    UniqueFd fd = std::move(it->fd);
    passed.erase(it);
    return fd;
  }
  return UniqueFd{};
}

int socket_type_of(const config::Listener& listener) {
  return listener.protocol == config::Protocol::quic ? SOCK_DGRAM : SOCK_STREAM;
}

std::string passed_type_problem(const std::vector<PassedSocket>& passed,
                                const std::vector<config::Listener>& listeners) {
  for (const PassedSocket& s : passed) {
    const config::Listener* other = nullptr;
    bool fits = false;
    for (const config::Listener& l : listeners) {
      if (l.address != s.address) continue;
      if (socket_type_of(l) == s.type)
        fits = true;
      else if (other == nullptr)
        other = &l;
    }
    if (fits || other == nullptr) continue;
    const bool datagram = s.type == SOCK_DGRAM;
    return fmt::format(
        "socket activation: descriptor {} ({}) on {} is a {} socket, but listener '{}' there is "
        "{} and needs a {} socket",
        s.fd.get(), s.name, s.address.to_string(),
        datagram ? "UDP (ListenDatagram=)" : "TCP (ListenStream=)", other->name,
        datagram ? "not a quic listener" : "a quic listener",
        datagram ? "ListenStream=" : "ListenDatagram=");
  }
  return "";
}

}  // namespace sniproxy::app
