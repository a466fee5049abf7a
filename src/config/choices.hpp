#pragma once
// The spelling of every enum value in the config file. The loader parses
// with these tables and to_string() prints with them, so they cannot drift.
#include <array>
#include <string_view>

#include "config/config.hpp"

namespace sniproxy::config {

template <class E>
struct Choice {
  std::string_view name;
  E value;
};

inline constexpr std::array<Choice<Protocol>, 3> kProtocols{{
    {"tls", Protocol::tls},
    {"http", Protocol::http},
    {"quic", Protocol::quic},
}};

inline constexpr std::array<Choice<ForwardingMode>, 4> kForwardingModes{{
    {"auto", ForwardingMode::automatic},
    {"copy", ForwardingMode::copy},
    {"splice", ForwardingMode::splice},
    {"sockmap", ForwardingMode::sockmap},
}};

// `none` is not written in a config: it is what leaving the key out means.
inline constexpr std::array<Choice<ProxyProtocol>, 2> kProxyProtocols{{
    {"v1", ProxyProtocol::v1},
    {"v2", ProxyProtocol::v2},
}};

inline constexpr std::array<Choice<ProxyProtocolIn>, 3> kProxyProtocolsIn{{
    {"v1", ProxyProtocolIn::v1},
    {"v2", ProxyProtocolIn::v2},
    {"any", ProxyProtocolIn::any},
}};

inline constexpr std::array<Choice<LogFormat>, 2> kLogFormats{{
    {"text", LogFormat::text},
    {"json", LogFormat::json},
}};

inline constexpr std::array<Choice<AddressPreference>, 4> kAddressPreferences{{
    {"ipv4", AddressPreference::ipv4_first},
    {"ipv6", AddressPreference::ipv6_first},
    {"ipv4-only", AddressPreference::ipv4_only},
    {"ipv6-only", AddressPreference::ipv6_only},
}};

inline constexpr std::array<Choice<XdpMode>, 3> kXdpModes{{
    {"auto", XdpMode::automatic},
    {"native", XdpMode::native},
    {"generic", XdpMode::generic},
}};

inline constexpr std::array<Choice<ReactorBackend>, 3> kReactorBackends{{
    {"auto", ReactorBackend::automatic},
    {"io_uring", ReactorBackend::io_uring},
    {"epoll", ReactorBackend::epoll},
}};

inline constexpr std::array<Choice<Balance>, 5> kBalances{{
    {"round_robin", Balance::round_robin},
    {"least_conn", Balance::least_conn},
    {"random_two", Balance::random_two},
    {"hash_source", Balance::hash_source},
    {"hash_name", Balance::hash_name},
}};

inline constexpr std::array<Choice<HealthCheckKind>, 3> kHealthChecks{{
    {"tcp", HealthCheckKind::tcp},
    {"tls_hello", HealthCheckKind::tls_hello},
    {"none", HealthCheckKind::none},
}};

// log_level stays a string in Config; these are its accepted values.
inline constexpr std::array<Choice<std::string_view>, 4> kLogLevels{{
    {"debug", "debug"},
    {"info", "info"},
    {"warn", "warn"},
    {"error", "error"},
}};

}  // namespace sniproxy::config
