#include "lossy_link.hpp"

namespace sniproxy::retrans_test {

LossyLink::LossyLink(double drop_probability)
    : drop_probability_(drop_probability), link_(make_link()) {}

integration::VethLink LossyLink::make_link() {
  const std::string tag = integration::unique_tag();
  return integration::VethLink({.ns = "sniproxy-rtx-s" + tag,
                                .device = "rs" + tag,
                                .mac = "",
                                .addresses = {std::string(kSender4) + "/24"}},
                               {.ns = "sniproxy-rtx-r" + tag,
                                .device = "rr" + tag,
                                .mac = "",
                                .addresses = {std::string(kReceiver4) + "/24"}});
}

std::string LossyLink::setup() {
  if (auto error = link_.setup(); !error.empty()) return error;
  if (drop_probability_ <= 0) return "";
  return integration::drop_outgoing_tcp(link_.a(), kReceiver4, drop_probability_);
}

}  // namespace sniproxy::retrans_test
