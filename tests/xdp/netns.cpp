#include "netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/unique_fd.hpp"
#include "support/proxy_process.hpp"

namespace sniproxy::xdp_test {

std::string ip(const std::vector<std::string>& args) {
  integration::TempDir dir;
  auto r =
      integration::run_command("/usr/sbin/ip", args, dir.path(), integration::milliseconds(10'000));
  if (r.exit_code && *r.exit_code == 0) return "";
  std::string command = "ip";
  for (const auto& a : args) command += " " + a;
  return command + ": " + (r.exit_code ? "exit " + std::to_string(*r.exit_code) : "timed out") +
         ": " + r.err;
}

NetNs::NetNs(std::string name) : name_(std::move(name)) {
  // A namespace left by a killed run of this same name goes first.
  ip({"netns", "del", name_});
  error_ = ip({"netns", "add", name_});
}

NetNs::~NetNs() {
  if (error_.empty()) ip({"netns", "del", name_});
}

std::string run_in(const std::string& ns, const std::function<void()>& fn) {
  std::string error;
  std::thread worker([&] {
    UniqueFd fd(::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      error = "open netns " + ns + ": " + std::strerror(errno);
      return;
    }
    // Only this thread moves: setns(CLONE_NEWNET) is per thread.
    if (::setns(fd.get(), CLONE_NEWNET) != 0) {
      error = "setns " + ns + ": " + std::strerror(errno);
      return;
    }
    fn();
  });
  worker.join();
  return error;
}

}  // namespace sniproxy::xdp_test
