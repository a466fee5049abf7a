#pragma once
// How a connection ended: one value per failure arrow in docs/design.md, reported
// in the access log and counted.
#include <cstdint>
#include <string_view>

namespace sniproxy::observe {

enum class Outcome : std::uint8_t {
  ok,                // both directions closed cleanly
  reset,             // one side reset; the other was reset too
  client_closed,     // the client closed before a complete hello
  hello_timeout,     // no complete hello within [timeouts] hello
  hello_rejected,    // the hello could not be parsed, and no fallback
  no_route,          // no route matched (or no name), and no fallback
  denied,            // a deny route (or deny fallback)
  dns_failed,        // the backend's or requested name did not resolve
  guard_refused,     // every address of a resolve target was non-public
  connect_failed,    // every backend address refused or errored
  connect_timeout,   // the last backend address tried timed out
  idle_timeout,      // no byte either way within [timeouts] idle
  limit,             // over max_connections or the per-source limit
  untrusted_source,  // a PROXY-header listener's peer outside trusted_sources
  bad_proxy_header,  // a PROXY-header listener's client sent none, or a malformed one
  shutdown,          // still open when the shutdown drain ended
};

constexpr std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::ok:
      return "ok";
    case Outcome::reset:
      return "reset";
    case Outcome::client_closed:
      return "client_closed";
    case Outcome::hello_timeout:
      return "hello_timeout";
    case Outcome::hello_rejected:
      return "hello_rejected";
    case Outcome::no_route:
      return "no_route";
    case Outcome::denied:
      return "denied";
    case Outcome::dns_failed:
      return "dns_failed";
    case Outcome::guard_refused:
      return "guard_refused";
    case Outcome::connect_failed:
      return "connect_failed";
    case Outcome::connect_timeout:
      return "connect_timeout";
    case Outcome::idle_timeout:
      return "idle_timeout";
    case Outcome::limit:
      return "limit";
    case Outcome::untrusted_source:
      return "untrusted_source";
    case Outcome::bad_proxy_header:
      return "bad_proxy_header";
    case Outcome::shutdown:
      return "shutdown";
  }
  return "unknown";
}

}  // namespace sniproxy::observe
