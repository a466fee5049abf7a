#include "app/handover_pair.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "proxy/quic/handover_message.hpp"

namespace sniproxy::app {

Result<HandoverPair> open_handover_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
    return make_error(fmt::format("quic hand-over socketpair: {}", std::strerror(errno)));
  HandoverPair pair;
  pair.read.reset(fds[0]);
  pair.write.reset(fds[1]);
  return pair;
}

bool has_quic_listener(const config::Config& config) {
  return std::any_of(config.listeners.begin(), config.listeners.end(),
                     [](const auto& l) { return l.protocol == config::Protocol::quic; });
}

bool announce_successor(int write) {
  const auto message = proxy::quic::encode_successor();
  return ::send(write, message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL) ==
         static_cast<ssize_t>(message.size());
}

}  // namespace sniproxy::app
