#pragma once
// Config values as text for logs, spelt as in the config file.
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace sniproxy::config {

std::string_view to_string(ForwardingMode mode);
std::string_view to_string(Protocol protocol);
std::string_view to_string(ProxyProtocol proxy_protocol);
std::string_view to_string(LogFormat format);
std::string_view to_string(ReactorBackend backend);
std::string_view to_string(Balance balance);
std::string_view to_string(HealthCheckKind check);

// A target as written in the config: "10.0.0.1:443", "[::1]:443",
// "backend.internal:443", "resolve:443", "pool:web" or "deny".
std::string describe(const Target& target);
// A pool server as written: "10.0.0.1:443", "[::1]:443", "web3.internal:443".
std::string describe(const PoolServer& server);

}  // namespace sniproxy::config
