#include "lossy_link.hpp"

#include <unistd.h>

#include <atomic>

#include <fmt/format.h>

#include "support/proxy_process.hpp"
#include "support/temp_dir.hpp"

namespace sniproxy::retrans_test {

std::string netns_exec(const std::string& ns, const std::vector<std::string>& command) {
  std::vector<std::string> args = {"netns", "exec", ns};
  args.insert(args.end(), command.begin(), command.end());
  integration::TempDir dir;
  auto r =
      integration::run_command("/usr/sbin/ip", args, dir.path(), integration::milliseconds(10'000));
  if (r.exit_code && *r.exit_code == 0) return "";
  std::string text = "ip";
  for (const auto& a : args) text += " " + a;
  return text + ": " + (r.exit_code ? "exit " + std::to_string(*r.exit_code) : "timed out") + ": " +
         r.err;
}

LossyLink::LossyLink(double drop_probability) : drop_probability_(drop_probability) {
  static std::atomic<int> sequence{0};
  const std::string tag = std::to_string(::getpid()) + "n" + std::to_string(sequence++);
  sender_name_ = "sniproxy-rtx-s" + tag;
  receiver_name_ = "sniproxy-rtx-r" + tag;
  sender_if_ = "rs" + tag;  // at most 15 characters
  receiver_if_ = "rr" + tag;
}

std::string LossyLink::setup() {
  sender_ = std::make_unique<xdp_test::NetNs>(sender_name_);
  if (!sender_->error().empty()) return sender_->error();
  receiver_ = std::make_unique<xdp_test::NetNs>(receiver_name_);
  if (!receiver_->error().empty()) return receiver_->error();
  const std::string s = sender_name_;
  const std::string r = receiver_name_;
  const std::vector<std::vector<std::string>> steps = {
      // Both ends are born inside their namespaces: nothing is left in the
      // host's namespace if a step fails.
      {"link", "add", sender_if_, "netns", s, "type", "veth", "peer", "name", receiver_if_, "netns",
       r},
      {"-n", s, "addr", "add", std::string(kSender4) + "/24", "dev", sender_if_},
      {"-n", r, "addr", "add", std::string(kReceiver4) + "/24", "dev", receiver_if_},
      {"-n", s, "link", "set", "lo", "up"},
      {"-n", r, "link", "set", "lo", "up"},
      {"-n", s, "link", "set", sender_if_, "up"},
      {"-n", r, "link", "set", receiver_if_, "up"},
  };
  for (const auto& step : steps) {
    if (auto error = xdp_test::ip(step); !error.empty()) return error;
  }
  if (drop_probability_ > 0) {
    // One TCP segment per packet: GSO would otherwise hand iptables 64 KiB
    // super-packets, a few hundred a second, and the drop rule would force
    // too few retransmits to score.
    if (auto error = xdp_test::ip({"-n", s, "link", "set", sender_if_, "gso_max_segs", "1"});
        !error.empty()) {
      return error;
    }
    // netem is absent on these kernels (docs/kernel.md); a random drop in OUTPUT
    // of the sender's own namespace forces its connections to retransmit.
    return netns_exec(s, {"iptables", "-A", "OUTPUT", "-p", "tcp", "-d", std::string(kReceiver4),
                          "-m", "statistic", "--mode", "random", "--probability",
                          fmt::format("{}", drop_probability_), "-j", "DROP"});
  }
  return "";
}

}  // namespace sniproxy::retrans_test
