#pragma once
// Why a QUIC datagram (or the flow it belonged to) went nowhere: one value
// per drop, a stable token for sniproxy_quic_drops_total{reason=...}.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sniproxy::observe {

enum class QuicDrop : std::uint8_t {
  // A datagram from an unknown client that cannot open a flow (the reader's
  // reason, protocol/quic/quic_hello_error.hpp).
  too_short,
  not_initial,
  unknown_version,
  bad_header,
  bad_tag,
  other_connection,
  bad_frame,
  client_closed,
  crypto_too_large,
  crypto_conflict,
  not_client_hello,
  bad_hello,
  internal,
  // A pending flow's datagrams, dropped with the flow or past its bounds.
  evicted,        // the oldest pending flow made way for a new one (a cap was reached)
  hello_timeout,  // its ClientHello was not complete within [quic] hello_timeout
  held_limit,     // more datagrams or bytes than the flow may hold
  // A complete hello that got no session.
  no_route,
  denied,
  session_limit,  // [quic] max_sessions reached
  backend_error,  // the backend socket could not be made or sent on
  truncated,      // larger than a receive buffer
};

inline constexpr std::size_t kQuicDropCount = static_cast<std::size_t>(QuicDrop::truncated) + 1;

constexpr std::string_view to_string(QuicDrop d) {
  constexpr std::string_view kNames[kQuicDropCount] = {
      "too_short",        "not_initial", "unknown_version", "bad_header",       "bad_tag",
      "other_connection", "bad_frame",   "client_closed",   "crypto_too_large", "crypto_conflict",
      "not_client_hello", "bad_hello",   "internal",        "evicted",          "hello_timeout",
      "held_limit",       "no_route",    "denied",          "session_limit",    "backend_error",
      "truncated"};
  const auto i = static_cast<std::size_t>(d);
  return i < kQuicDropCount ? kNames[i] : "unknown";
}

// How a pending flow ended, for sniproxy_quic_hellos_total{outcome=...}.
enum class QuicHelloOutcome : std::uint8_t { routed, no_route, denied, rejected, timeout, evicted };
inline constexpr std::size_t kQuicHelloOutcomeCount =
    static_cast<std::size_t>(QuicHelloOutcome::evicted) + 1;

constexpr std::string_view to_string(QuicHelloOutcome o) {
  constexpr std::string_view kNames[kQuicHelloOutcomeCount] = {"routed",   "no_route", "denied",
                                                               "rejected", "timeout",  "evicted"};
  const auto i = static_cast<std::size_t>(o);
  return i < kQuicHelloOutcomeCount ? kNames[i] : "unknown";
}

}  // namespace sniproxy::observe
