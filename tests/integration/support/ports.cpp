#include "ports.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <random>
#include <set>
#include <stdexcept>

#include "common/unique_fd.hpp"

namespace sniproxy::integration {

namespace {

constexpr std::uint16_t kLowest = 20000;
constexpr std::uint16_t kHighest = 32000;  // Linux's ephemeral range starts at 32768

bool bindable(std::uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return ::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
}

}  // namespace

std::uint16_t free_port() {
  static std::mutex mutex;
  static std::set<std::uint16_t> given;
  static std::mt19937 random(static_cast<unsigned>(::getpid()) * 7919u);
  std::lock_guard lock(mutex);
  std::uniform_int_distribution<int> pick(kLowest, kHighest);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    auto port = static_cast<std::uint16_t>(pick(random));
    if (given.contains(port) || !bindable(port)) continue;
    given.insert(port);
    return port;
  }
  throw std::runtime_error("no free port found");
}

std::uint16_t closed_port() {
  return free_port();
}

}  // namespace sniproxy::integration
