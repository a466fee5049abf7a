#include "app/systemd_notify.hpp"

#include <systemd/sd-daemon.h>
#include <unistd.h>
#include <ctime>

#include <cstdint>
#include <cstring>
#include <string>

#include "common/log.hpp"

namespace sniproxy::app::notify {

namespace {

void send(const std::string& state) {
  // 0: $NOTIFY_SOCKET unset, nothing to tell. The environment stays as it
  // is so that every later state reaches systemd too.
  const int rc = sd_notify(0, state.c_str());
  if (rc < 0)
    log::warn("sd_notify", "result=failed errno={} detail={}", -rc, log::quote(std::strerror(-rc)));
}

std::uint64_t monotonic_usec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000 +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000;
}

// STATUS= ends at a newline: keep the status one line.
std::string one_line(std::string_view text) {
  std::string s(text);
  for (char& c : s)
    if (c == '\n') c = ' ';
  return s;
}

}  // namespace

void ready(std::string_view status) {
  send(fmt::format("READY=1\nMAINPID={}\nSTATUS={}", ::getpid(), one_line(status)));
}

void reloading() {
  send(fmt::format("RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading", monotonic_usec()));
}

std::chrono::microseconds stop_extension(std::chrono::milliseconds drain) {
  // Workers close what is left at the drain deadline; 5 s covers that, the
  // BPF detach and the exit.
  return std::chrono::duration_cast<std::chrono::microseconds>(drain + std::chrono::seconds(5));
}

void stopping(std::chrono::milliseconds drain) {
  send(fmt::format("STOPPING=1\nEXTEND_TIMEOUT_USEC={}\nSTATUS=draining connections",
                   stop_extension(drain).count()));
}

}  // namespace sniproxy::app::notify
