#include "fail.hpp"

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace proxy_load {

void die(const std::string& why) {
  std::fprintf(stderr, "proxy_load: %s\n", why.c_str());
  std::exit(1);
}

void die_errno(const std::string& what) {
  die(what + ": " + std::strerror(errno));
}

namespace {

void on_deadline(int) {
  // Only async-signal-safe calls here.
  static const char kMessage[] = "proxy_load: deadline reached (see --timeout), giving up\n";
  [[maybe_unused]] const auto n = ::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  ::_exit(3);
}

}  // namespace

void arm_deadline(unsigned seconds) {
  struct sigaction sa {};
  sa.sa_handler = on_deadline;
  ::sigaction(SIGALRM, &sa, nullptr);
  ::alarm(seconds);
}

}  // namespace proxy_load
