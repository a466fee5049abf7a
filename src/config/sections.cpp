#include "config/sections.hpp"

#include <fmt/format.h>

#include <optional>
#include <string>

#include "config/known_keys.hpp"

namespace sniproxy::config {

namespace {

constexpr std::int64_t kMiB = std::int64_t{1024} * 1024;

bool is_power_of_two(std::int64_t v) {
  return v > 0 && (v & (v - 1)) == 0;
}

// A power of two in [min, max]; io_uring provided-buffer rings need one.
std::optional<std::uint32_t> power_of_two(TableReader& r, std::string_view key, std::int64_t min,
                                          std::int64_t max) {
  auto v = r.integer(key, min, max);
  if (!v) return std::nullopt;
  if (!is_power_of_two(*v)) {
    r.error_at(key, fmt::format("'{}' must be a power of two, got {}", key, *v));
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(*v);
}

// "1.1.1.1" and "::1" (port 53), "1.1.1.1:5353", "[::1]" and "[::1]:5353".
std::optional<Endpoint> parse_dns_server(std::string_view text) {
  constexpr std::uint16_t kDnsPort = 53;
  if (auto ip = IpAddress::parse(text)) return Endpoint{*ip, kDnsPort};
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
    auto ip = IpAddress::parse(text.substr(1, text.size() - 2));
    if (ip && ip->family == Family::v6) return Endpoint{*ip, kDnsPort};
    return std::nullopt;
  }
  return Endpoint::parse(text);
}

std::vector<Endpoint> read_dns_servers(TableReader& r) {
  std::vector<Endpoint> servers;
  const toml::array* list = r.array("servers", "an array of strings");
  if (list == nullptr) return servers;
  for (const toml::node& entry : *list) {
    const auto* text = entry.as_string();
    if (text == nullptr) {
      r.sink().error(entry.source(),
                     fmt::format("expected a string for each entry of 'servers', got {}",
                                 describe_type(entry)));
      continue;
    }
    if (auto server = parse_dns_server(text->get())) {
      servers.push_back(*server);
    } else {
      r.sink().error(
          entry.source(),
          fmt::format("invalid DNS server '{}': expected IP, IP:PORT or [IPV6]:PORT", text->get()));
    }
  }
  return servers;
}

}  // namespace

Timeouts read_timeouts(const toml::table& table, DiagnosticSink& sink) {
  TableReader r(table, "[timeouts]", kTimeoutsKeys, sink);
  Timeouts t;
  if (auto v = r.duration("hello", true)) t.hello = *v;
  if (auto v = r.duration("connect", true)) t.connect = *v;
  if (auto v = r.duration("idle", true)) t.idle = *v;
  if (auto v = r.duration("shutdown", true)) t.shutdown = *v;
  if (auto v = r.duration("preconnect_idle", true)) t.preconnect_idle = *v;
  return t;
}

Limits read_limits(const toml::table& table, DiagnosticSink& sink) {
  TableReader r(table, "[limits]", kLimitsKeys, sink);
  Limits l;
  constexpr std::int64_t kMaxConnections = 10'000'000;
  if (auto v = r.integer("max_connections", 1, kMaxConnections))
    l.max_connections = static_cast<std::uint32_t>(*v);
  if (auto v = r.integer("max_connections_per_source", 0, kMaxConnections))
    l.max_connections_per_source = static_cast<std::uint32_t>(*v);
  if (auto v = r.integer("max_hello_size", 512, 16 * kMiB))
    l.max_hello_size = static_cast<std::uint32_t>(*v);
  return l;
}

Dns read_dns(const toml::table& table, DiagnosticSink& sink) {
  TableReader r(table, "[dns]", kDnsKeys, sink);
  Dns d;
  d.servers = read_dns_servers(r);
  if (auto v = r.choice("prefer", kAddressPreferences)) d.prefer = *v;
  if (auto v = r.duration("negative_ttl", false)) d.negative_ttl = *v;
  auto min_ttl = r.duration("min_ttl", false);
  auto max_ttl = r.duration("max_ttl", false);
  if (min_ttl) d.min_ttl = *min_ttl;
  if (max_ttl) d.max_ttl = *max_ttl;
  // Only compare values that parsed (or are defaults): a bad one is
  // reported already.
  const bool min_ok = min_ttl || !r.has("min_ttl");
  const bool max_ok = max_ttl || !r.has("max_ttl");
  if (min_ok && max_ok && d.min_ttl > d.max_ttl) {
    r.error_at(r.has("max_ttl") ? "max_ttl" : "min_ttl",
               fmt::format("'min_ttl' ({}ms) must not be greater than 'max_ttl' ({}ms)",
                           d.min_ttl.count(), d.max_ttl.count()));
  }
  if (auto v = r.duration("timeout", true)) d.timeout = *v;
  if (auto v = r.integer("cache_size", 1, 10'000'000))
    d.cache_size = static_cast<std::uint32_t>(*v);
  if (auto v = r.boolean("bpf_mirror")) d.bpf_mirror = *v;
  return d;
}

AccessLog read_access_log(const toml::table& table, DiagnosticSink& sink) {
  TableReader r(table, "[access_log]", kAccessLogKeys, sink);
  AccessLog a;
  if (auto v = r.string("path")) {
    if (v->empty() || v->find('\0') != std::string::npos)
      r.error_at("path", "'path' must be stderr, stdout, off or a file path");
    else
      a.path = std::move(*v);
  }
  if (auto v = r.choice("format", kLogFormats)) a.format = *v;
  return a;
}

Forwarding read_forwarding(const toml::table& table, DiagnosticSink& sink) {
  TableReader r(table, "[forwarding]", kForwardingKeys, sink);
  Forwarding f;
  if (auto v = r.choice("mode", kForwardingModes)) f.mode = *v;
  if (auto v = power_of_two(r, "buffer_size", 4096, 4 * kMiB)) f.buffer_size = *v;
  // The kernel refuses provided-buffer rings of 65536 entries or more.
  if (auto v = power_of_two(r, "buffers_per_worker", 16, 32768)) f.buffers_per_worker = *v;
  // The kernel rounds pipe sizes to a power of two of pages; 1 MiB is the
  // default /proc/sys/fs/pipe-max-size for unprivileged processes.
  if (auto v = power_of_two(r, "pipe_size", 4096, 1 * kMiB)) f.pipe_size = *v;
  if (auto v = r.integer("pipes_per_worker", 2, 1'000'000))
    f.pipes_per_worker = static_cast<std::uint32_t>(*v);
  // Below 64 KiB every few skbs would take the slow path through userspace.
  if (auto v = r.integer("sockmap_queue_cap", std::int64_t{64} * 1024, std::int64_t{1} << 34))
    f.sockmap_queue_cap = static_cast<std::uint64_t>(*v);
  if (auto v = r.integer("sockmap_connections", 1, 4'000'000))
    f.sockmap_connections = static_cast<std::uint32_t>(*v);
  if (auto v = r.boolean("auto_sockmap")) f.auto_sockmap = *v;
  return f;
}

}  // namespace sniproxy::config
