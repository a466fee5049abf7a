#pragma once
// The retrans tests' network: a sender namespace and a receiver namespace
// joined by one veth pair, with an iptables rule in the sender namespace that
// drops a random share of its outgoing TCP segments, so its connections
// retransmit. Everything is removed again when the LossyLink goes (the
// namespaces take their devices and rules with them). Traffic never leaves
// these namespaces.
#include <string>
#include <string_view>

#include "support/netns.hpp"

namespace sniproxy::retrans_test {

inline constexpr std::string_view kReceiver4 = "10.78.0.1";
inline constexpr std::string_view kSender4 = "10.78.0.2";

class LossyLink {
 public:
  // drop_probability 0: no rule (a clean link, for throughput).
  explicit LossyLink(double drop_probability);
  // "" when ready, otherwise what failed.
  std::string setup();

  [[nodiscard]] const std::string& sender_ns() const { return link_.a().ns; }
  [[nodiscard]] const std::string& receiver_ns() const { return link_.b().ns; }

 private:
  static integration::VethLink make_link();
  double drop_probability_;
  integration::VethLink link_;
};

}  // namespace sniproxy::retrans_test
