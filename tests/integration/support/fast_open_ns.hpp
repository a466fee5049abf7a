#pragma once
// A network namespace for the TCP Fast Open suites: loopback up and
// net.ipv4.tcp_fastopen set there (the setting is per namespace, so the
// host's is never touched).
#include <memory>
#include <string>

#include "netns.hpp"

namespace sniproxy::integration {

// A namespace named `prefix` + a unique tag with net.ipv4.tcp_fastopen =
// `tcp_fastopen`. `error` is "" or what failed.
std::unique_ptr<NetNs> fast_open_namespace(const std::string& prefix, int tcp_fastopen,
                                           std::string& error);

}  // namespace sniproxy::integration
