#include "config/names.hpp"

#include <fmt/format.h>

#include "config/choices.hpp"

namespace sniproxy::config {

namespace {

template <class E, std::size_t N>
std::string_view name_of(const std::array<Choice<E>, N>& choices, E value) {
  for (const auto& c : choices)
    if (c.value == value) return c.name;
  return "unknown";
}

}  // namespace

std::string_view to_string(ForwardingMode mode) {
  return name_of(kForwardingModes, mode);
}
std::string_view to_string(Protocol protocol) {
  return name_of(kProtocols, protocol);
}
std::string_view to_string(LogFormat format) {
  return name_of(kLogFormats, format);
}
std::string_view to_string(ReactorBackend backend) {
  return name_of(kReactorBackends, backend);
}

std::string_view to_string(Balance balance) {
  return name_of(kBalances, balance);
}
std::string_view to_string(HealthCheckKind check) {
  return name_of(kHealthChecks, check);
}

std::string_view to_string(ProxyProtocol proxy_protocol) {
  if (proxy_protocol == ProxyProtocol::none) return "none";
  return name_of(kProxyProtocols, proxy_protocol);
}

std::string describe(const Target& target) {
  switch (target.kind) {
    case Target::Kind::backend:
      if (target.host.find(':') != std::string::npos)
        return fmt::format("[{}]:{}", target.host, target.port);
      return fmt::format("{}:{}", target.host, target.port);
    case Target::Kind::resolve:
      return fmt::format("resolve:{}", target.port);
    case Target::Kind::pool:
      return "pool:" + target.pool;
    case Target::Kind::deny:
      return "deny";
  }
  return "unknown";
}

std::string describe(const PoolServer& server) {
  Target t;
  t.kind = Target::Kind::backend;
  t.host = server.host;
  t.port = server.port;
  return describe(t);
}

}  // namespace sniproxy::config
