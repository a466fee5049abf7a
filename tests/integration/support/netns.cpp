#include "netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "common/unique_fd.hpp"
#include "proxy_process.hpp"
#include "temp_dir.hpp"

namespace sniproxy::integration {

std::string ip(const std::vector<std::string>& args) {
  TempDir dir;
  auto r = run_command("/usr/sbin/ip", args, dir.path(), milliseconds(10'000));
  if (r.exit_code && *r.exit_code == 0) return "";
  std::string command = "ip";
  for (const auto& a : args) command += " " + a;
  return command + ": " + (r.exit_code ? "exit " + std::to_string(*r.exit_code) : "timed out") +
         ": " + r.err;
}

std::string netns_exec(const std::string& ns, const std::vector<std::string>& command) {
  std::vector<std::string> args = {"netns", "exec", ns};
  args.insert(args.end(), command.begin(), command.end());
  return ip(args);
}

std::string unique_tag() {
  static std::atomic<int> sequence{0};
  return std::to_string(::getpid()) + "n" + std::to_string(sequence++);
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

std::string VethLink::setup() {
  a_ns_ = std::make_unique<NetNs>(a_.ns);
  if (!a_ns_->error().empty()) return a_ns_->error();
  b_ns_ = std::make_unique<NetNs>(b_.ns);
  if (!b_ns_->error().empty()) return b_ns_->error();
  // Both ends are born inside their namespaces: a failure can never leave a
  // device behind in the host's namespace.
  std::vector<std::vector<std::string>> steps = {{"link", "add", a_.device, "netns", a_.ns, "type",
                                                  "veth", "peer", "name", b_.device, "netns",
                                                  b_.ns}};
  for (const VethEnd* end : {&a_, &b_}) {
    if (!end->mac.empty())
      steps.push_back({"-n", end->ns, "link", "set", end->device, "address", end->mac});
  }
  for (const VethEnd* end : {&a_, &b_}) {
    for (const auto& address : end->addresses) {
      std::vector<std::string> step = {"-n", end->ns, "addr", "add", address, "dev", end->device};
      if (address.find(':') != std::string::npos) step.push_back("nodad");
      steps.push_back(std::move(step));
    }
  }
  for (const VethEnd* end : {&a_, &b_}) steps.push_back({"-n", end->ns, "link", "set", "lo", "up"});
  for (const VethEnd* end : {&a_, &b_})
    steps.push_back({"-n", end->ns, "link", "set", end->device, "up"});
  for (const auto& step : steps) {
    if (auto error = ip(step); !error.empty()) return error;
  }
  return "";
}

std::string drop_outgoing_tcp(const VethEnd& end, std::string_view destination,
                              double probability) {
  // One TCP segment per packet: GSO would otherwise hand iptables 64 KiB
  // super-packets, a few hundred a second, and the drop rule would force
  // too few retransmits to matter.
  if (auto error = ip({"-n", end.ns, "link", "set", end.device, "gso_max_segs", "1"});
      !error.empty()) {
    return error;
  }
  // netem is absent on these kernels (docs/kernel.md); a random drop in
  // OUTPUT of the sender's own namespace forces its connections to
  // retransmit.
  return netns_exec(end.ns, {"iptables", "-A", "OUTPUT", "-p", "tcp", "-d",
                             std::string(destination), "-m", "statistic", "--mode", "random",
                             "--probability", fmt::format("{}", probability), "-j", "DROP"});
}

}  // namespace sniproxy::integration
