#pragma once
// The retrans tests' network: a sender namespace and a receiver namespace
// joined by one veth pair, with an iptables rule in the sender namespace that
// drops a random share of its outgoing TCP segments, so its connections
// retransmit. Everything is removed again when the LossyLink goes (the
// namespaces take their devices and rules with them). Traffic never leaves
// these namespaces.
#include <memory>
#include <string>
#include <string_view>

#include "netns.hpp"

namespace sniproxy::retrans_test {

inline constexpr std::string_view kReceiver4 = "10.78.0.1";
inline constexpr std::string_view kSender4 = "10.78.0.2";

class LossyLink {
 public:
  // drop_probability 0: no rule (a clean link, for throughput).
  explicit LossyLink(double drop_probability);
  // "" when ready, otherwise what failed.
  std::string setup();

  [[nodiscard]] const std::string& sender_ns() const { return sender_name_; }
  [[nodiscard]] const std::string& receiver_ns() const { return receiver_name_; }

 private:
  double drop_probability_;
  std::string sender_name_, receiver_name_, sender_if_, receiver_if_;
  std::unique_ptr<xdp_test::NetNs> sender_, receiver_;
};

// Runs `ip netns exec NS COMMAND ARGS...` bounded in time; "" on success.
std::string netns_exec(const std::string& ns, const std::vector<std::string>& command);

}  // namespace sniproxy::retrans_test
