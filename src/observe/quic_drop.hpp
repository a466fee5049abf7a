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
  dns_failed,     // the backend's (or, for resolve, the requested) name did not resolve
  guard_refused,  // a resolve target's name gave only non-public or own addresses
  truncated,      // larger than a receive buffer
};

inline constexpr std::size_t kQuicDropCount = static_cast<std::size_t>(QuicDrop::truncated) + 1;

// A switch, so that -Wswitch names a value left without its token.
constexpr std::string_view to_string(QuicDrop d) {
  switch (d) {
    case QuicDrop::too_short:
      return "too_short";
    case QuicDrop::not_initial:
      return "not_initial";
    case QuicDrop::unknown_version:
      return "unknown_version";
    case QuicDrop::bad_header:
      return "bad_header";
    case QuicDrop::bad_tag:
      return "bad_tag";
    case QuicDrop::other_connection:
      return "other_connection";
    case QuicDrop::bad_frame:
      return "bad_frame";
    case QuicDrop::client_closed:
      return "client_closed";
    case QuicDrop::crypto_too_large:
      return "crypto_too_large";
    case QuicDrop::crypto_conflict:
      return "crypto_conflict";
    case QuicDrop::not_client_hello:
      return "not_client_hello";
    case QuicDrop::bad_hello:
      return "bad_hello";
    case QuicDrop::internal:
      return "internal";
    case QuicDrop::evicted:
      return "evicted";
    case QuicDrop::hello_timeout:
      return "hello_timeout";
    case QuicDrop::held_limit:
      return "held_limit";
    case QuicDrop::no_route:
      return "no_route";
    case QuicDrop::denied:
      return "denied";
    case QuicDrop::session_limit:
      return "session_limit";
    case QuicDrop::backend_error:
      return "backend_error";
    case QuicDrop::dns_failed:
      return "dns_failed";
    case QuicDrop::guard_refused:
      return "guard_refused";
    case QuicDrop::truncated:
      return "truncated";
  }
  return "unknown";
}

// How a pending flow ended, for sniproxy_quic_hellos_total{outcome=...}.
enum class QuicHelloOutcome : std::uint8_t { routed, no_route, denied, rejected, timeout, evicted };
inline constexpr std::size_t kQuicHelloOutcomeCount =
    static_cast<std::size_t>(QuicHelloOutcome::evicted) + 1;

constexpr std::string_view to_string(QuicHelloOutcome o) {
  switch (o) {
    case QuicHelloOutcome::routed:
      return "routed";
    case QuicHelloOutcome::no_route:
      return "no_route";
    case QuicHelloOutcome::denied:
      return "denied";
    case QuicHelloOutcome::rejected:
      return "rejected";
    case QuicHelloOutcome::timeout:
      return "timeout";
    case QuicHelloOutcome::evicted:
      return "evicted";
  }
  return "unknown";
}

}  // namespace sniproxy::observe
