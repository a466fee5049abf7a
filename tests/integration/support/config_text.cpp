#include "config_text.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdlib>

namespace sniproxy::integration {

std::string backend_under_test() {
  const char* backend = std::getenv("SNIPROXY_TEST_REACTOR");
  return backend != nullptr ? backend : "";
}

std::string reactor_section() {
  const std::string backend = backend_under_test();
  return backend.empty() ? "" : fmt::format("[reactor]\nbackend = \"{}\"\n", backend);
}

std::string ConfigSpec::to_toml() const {
  std::string t;
  t += fmt::format("workers = {}\n\n", workers);
  if (!process.empty()) t += fmt::format("[process]\n{}\n", process);
  if (!reactor_backend.empty())
    t += fmt::format("[reactor]\nbackend = \"{}\"\n\n", reactor_backend);
  t += fmt::format(
      "[timeouts]\nhello = \"{}\"\nconnect = \"{}\"\nidle = \"{}\"\nshutdown = \"{}\"\n{}\n",
      hello_timeout, connect_timeout, idle_timeout, shutdown_timeout, timeouts_extra);
  t += fmt::format("[forwarding]\nmode = \"{}\"\n{}\n", forwarding_mode, forwarding_extra);
  if (!access_log_path.empty()) {
    t += fmt::format("[access_log]\npath = \"{}\"\nformat = \"{}\"\n\n", access_log_path,
                     access_log_format);
  }
  for (const auto& l : listeners) {
    t += fmt::format(
        "[[listener]]\nname = \"{}\"\naddress = \"{}:{}\"\nprotocol = \"{}\"\ntable = "
        "\"{}\"\n",
        l.name, l.host, l.port, l.protocol, l.table);
    if (!l.fallback.empty()) t += fmt::format("fallback = \"{}\"\n", l.fallback);
    t += l.lines;
    t += "\n";
  }
  for (const auto& [name, routes] : tables) {
    for (const auto& r : routes) {
      t += fmt::format("[[tables.{}]]\nmatch = \"{}\"\n", name, r.match);
      if (r.deny) t += "deny = true\n";
      if (!r.backend.empty()) t += fmt::format("backend = \"{}\"\n", r.backend);
      if (r.resolve) t += fmt::format("resolve = {}\n", *r.resolve);
      if (r.allow_private) t += "allow_private = true\n";
      if (!r.pool.empty()) t += fmt::format("pool = \"{}\"\n", r.pool);
      if (!r.alpn.empty()) t += fmt::format("alpn = [\"{}\"]\n", fmt::join(r.alpn, "\", \""));
      if (!r.proxy_protocol.empty())
        t += fmt::format("proxy_protocol = \"{}\"\n", r.proxy_protocol);
      t += "\n";
    }
  }
  t += extra;
  return t;
}

std::vector<std::uint16_t> ConfigSpec::ports() const {
  std::vector<std::uint16_t> p;
  for (const auto& l : listeners) p.push_back(l.port);
  return p;
}

std::vector<RouteSpec>& ConfigSpec::table(const std::string& name) {
  for (auto& [n, routes] : tables)
    if (n == name) return routes;
  tables.emplace_back(name, std::vector<RouteSpec>{});
  return tables.back().second;
}

}  // namespace sniproxy::integration
