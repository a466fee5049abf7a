#include "config/target.hpp"

#include <charconv>

#include "common/address.hpp"
#include "common/server_name.hpp"

namespace sniproxy::config {

namespace {

bool looks_numeric(std::string_view host) {
  return host.find_first_not_of("0123456789.") == std::string_view::npos;
}

}  // namespace

Result<Target> parse_backend(std::string_view text) {
  auto hp = HostPort::parse(text);
  if (!hp) return make_error("expected HOST:PORT or [IPV6]:PORT with a port from 1 to 65535");
  Target t;
  t.kind = Target::Kind::backend;
  t.port = hp->port;
  if (auto ip = IpAddress::parse(hp->host)) {
    t.host = ip->to_string();
    return t;
  }
  // "1.2.3.999" is a mistyped address, not a host name to look up.
  if (looks_numeric(hp->host)) return make_error("'" + hp->host + "' is not a valid IP address");
  auto name = normalize_server_name(hp->host);
  if (!name) return make_error("'" + hp->host + "' is neither an IP address nor a valid host name");
  t.host = std::move(*name);
  return t;
}

Result<Target> parse_fallback(std::string_view text) {
  if (text == "deny") return Target{};
  constexpr std::string_view kResolve = "resolve:";
  if (text.substr(0, kResolve.size()) == kResolve) {
    const std::string_view digits = text.substr(kResolve.size());
    unsigned port = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || port == 0 ||
        port > 65535)
      return make_error("expected resolve:PORT with a port from 1 to 65535");
    Target t;
    t.kind = Target::Kind::resolve;
    t.port = static_cast<std::uint16_t>(port);
    return t;
  }
  constexpr std::string_view kPool = "pool:";
  if (text.substr(0, kPool.size()) == kPool) {
    if (text.size() == kPool.size()) return make_error("expected pool:NAME with a pool's name");
    Target t;
    t.kind = Target::Kind::pool;
    t.pool = std::string(text.substr(kPool.size()));
    return t;
  }
  auto backend = parse_backend(text);
  if (!backend)
    return make_error(backend.error().message + R"(, "resolve:PORT", "pool:NAME" or "deny")");
  return backend;
}

}  // namespace sniproxy::config
