#include "relay.hpp"

#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "fail.hpp"
#include "net.hpp"

namespace proxy_load {
namespace {

// One relayed connection: both sockets, shared by its two direction threads;
// the last thread to finish closes them.
struct RelayPair {
  UniqueFd client;
  UniqueFd backend;
};

void no_delay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Carries one direction of `pair` until EOF or an error, then half-closes
// the other socket. Each thread holds the pair, so the sockets outlive both.
void relay_direction(std::shared_ptr<RelayPair> pair, bool to_backend) {
  const int from = to_backend ? pair->client.get() : pair->backend.get();
  const int to = to_backend ? pair->backend.get() : pair->client.get();
  std::vector<std::uint8_t> buffer(64 * 1024);
  for (;;) {
    const ssize_t got = ::recv(from, buffer.data(), buffer.size(), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0 || !send_all(to, buffer.data(), static_cast<std::size_t>(got))) break;
  }
  ::shutdown(to, SHUT_WR);
}

}  // namespace

int run_relay(const Args& args) {
  const sockaddr_in backend = parse_loopback(args.text("to", ""));
  sockaddr_in address = parse_loopback(args.text("address", "127.0.0.1:0"));
  const auto timeout = args.number("timeout", 0);
  args.reject_unused();
  if (timeout > 0) arm_deadline(static_cast<unsigned>(timeout));

  UniqueFd listener = listen_on(address, 4096);
  std::printf("port=%u\n", ntohs(address.sin_port));
  std::fflush(stdout);
  for (;;) {
    UniqueFd client(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) continue;
      die_errno("accept");
    }
    // Relayed connections live as long as their peers keep them open; an
    // idle one is not timed out (the benchmark closes what it opens).
    UniqueFd upstream = connect_blocking(backend, std::chrono::seconds(0));
    if (!upstream) continue;  // the client sees its connection close
    no_delay(client.get());
    no_delay(upstream.get());
    auto pair = std::make_shared<RelayPair>(RelayPair{std::move(client), std::move(upstream)});
    std::thread(relay_direction, pair, true).detach();
    std::thread(relay_direction, pair, false).detach();
  }
}

}  // namespace proxy_load
