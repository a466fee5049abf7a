#include "config/listeners.hpp"

#include <fmt/format.h>

#include <array>
#include <optional>

#include "config/choices.hpp"
#include "config/known_keys.hpp"
#include "config/pool_reference.hpp"
#include "config/prefix_list.hpp"
#include "config/quic_section.hpp"
#include "config/sections.hpp"
#include "config/source_address.hpp"
#include "config/target.hpp"

namespace sniproxy::config {

namespace {

// The kernel caps the queue at net.core.somaxconn anyway; a larger number is
// more likely a typo than a wish.
constexpr std::int64_t kMaxFastOpenQueue = 65535;

std::string table_names(const std::map<std::string, RouteTable>& tables) {
  std::string names;
  for (const auto& [name, table] : tables) names += (names.empty() ? "" : ", ") + name;
  return names;
}

void read_table_name(TableReader& r, const std::map<std::string, RouteTable>& tables, Listener& l,
                     bool& ok) {
  auto table = r.string("table");
  if (!table) {
    if (!r.has("table")) r.missing("table");
    ok = false;
    return;
  }
  if (!tables.contains(*table)) {
    r.error_at("table",
               tables.empty()
                   ? fmt::format("no table '{}'; no [[tables.NAME]] routes are defined", *table)
                   : fmt::format("no table '{}'; defined tables: {}", *table, table_names(tables)));
    ok = false;
    return;
  }
  l.table = std::move(*table);
}

void read_fallback(TableReader& r, const std::map<std::string, Pool>& pools, Listener& l,
                   bool& ok) {
  if (auto text = r.string("fallback")) {
    if (auto target = parse_fallback(*text)) {
      // fallback_proxy_protocol, read below, wins over the pool's.
      if (auto error = resolve_pool_reference(target.value(), false, pools); !error.empty()) {
        r.error_at("fallback", std::move(error));
        ok = false;
      } else {
        l.fallback = std::move(target).value();
      }
    } else {
      r.error_at("fallback",
                 fmt::format("invalid fallback '{}': {}", *text, target.error().message));
      ok = false;
    }
  } else if (r.has("fallback")) {
    ok = false;
  }
  if (!r.has("fallback_proxy_protocol")) return;
  if (!r.has("fallback")) {
    r.error_at("fallback_proxy_protocol", "'fallback_proxy_protocol' needs a 'fallback'");
    ok = false;
    return;
  }
  if (l.fallback && l.fallback->kind == Target::Kind::deny) {
    r.error_at("fallback_proxy_protocol",
               "'fallback_proxy_protocol' has no effect with fallback = \"deny\"; remove it");
    ok = false;
    return;
  }
  if (auto pp = r.choice("fallback_proxy_protocol", kProxyProtocols)) {
    if (l.fallback) l.fallback->proxy_protocol = *pp;
  } else {
    ok = false;
  }
}

// proxy_protocol_in and trusted_sources come together: a listener that takes
// PROXY headers from anyone would let any client claim any address.
void read_proxy_protocol_in(TableReader& r, Listener& l, bool& ok) {
  if (auto in = r.choice("proxy_protocol_in", kProxyProtocolsIn))
    l.proxy_protocol_in = *in;
  else if (r.has("proxy_protocol_in"))
    ok = false;
  const std::size_t errors_before = r.sink().error_count();
  read_prefix_list(r, "trusted_sources", l.trusted_sources);
  if (r.sink().error_count() != errors_before) ok = false;
  if (r.has("proxy_protocol_in") && !r.has("trusted_sources")) {
    r.error_at("proxy_protocol_in",
               "'proxy_protocol_in' needs 'trusted_sources': the addresses of the load "
               "balancers allowed to send a PROXY header, e.g. [\"10.0.0.0/8\"]");
    ok = false;
  } else if (r.has("trusted_sources") && !r.has("proxy_protocol_in")) {
    r.error_at("trusted_sources",
               "'trusted_sources' applies only with 'proxy_protocol_in' (\"v1\", \"v2\" or "
               "\"any\")");
    ok = false;
  } else if (r.has("trusted_sources") && l.trusted_sources.empty() && ok) {
    r.error_at("trusted_sources", "'trusted_sources' is empty: no peer could connect");
    ok = false;
  }
}

struct ListenerRead {
  Listener listener;
  bool address_ok = false;                  // listener.address is set: duplicates can be checked
  bool complete = false;                    // nothing about this listener was wrong
  std::optional<SourceLocation> v6only_at;  // where v6only was set, if it was
};

// A dual-stack "[::]:P" also binds IPv4 port P, so beside an IPv4 listener
// on P of the same transport (TCP, or UDP for quic) it would take that
// listener's clients (or, with SO_REUSEPORT, share them): such a listener is
// v6-only by itself, and one that says v6only = false is an error naming
// both.
void settle_dual_stack(std::vector<Listener>& listeners,
                       const std::vector<std::optional<SourceLocation>>& v6only_at,
                       DiagnosticSink& sink) {
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    Listener& six = listeners[i];
    if (six.address.ip.family != Family::v6 || six.v6only) continue;
    for (const Listener& four : listeners) {
      if (four.address.ip.family != Family::v4 || four.address.port != six.address.port) continue;
      if ((four.protocol == Protocol::quic) != (six.protocol == Protocol::quic)) continue;
      if (!v6only_at[i]) {
        six.v6only = true;
        break;
      }
      sink.error(*v6only_at[i],
                 fmt::format("listener '{}' on {} would take IPv4 clients too, but listener '{}' "
                             "listens on {}: set v6only = true, or remove '{}'",
                             six.name, six.address.to_string(), four.name, four.address.to_string(),
                             four.name));
      break;
    }
  }
}

ListenerRead read_listener(const toml::table& table,
                           const std::map<std::string, RouteTable>& tables,
                           const std::map<std::string, Pool>& pools, DiagnosticSink& sink) {
  TableReader r(table, "[[listener]]", kListenerKeys, sink);
  ListenerRead out;
  Listener& l = out.listener;
  l.where = r.where();
  bool ok = true;

  if (auto address = r.string("address")) {
    if (auto endpoint = Endpoint::parse(*address)) {
      l.address = *endpoint;
      l.name = std::move(*address);
      out.address_ok = true;
    } else {
      r.error_at("address", fmt::format("invalid address '{}': expected IP:PORT or [IPV6]:PORT "
                                        "(an IP literal, not a host name, and a port)",
                                        *address));
      ok = false;
    }
  } else {
    if (!r.has("address")) r.missing("address");
    ok = false;
  }

  if (auto name = r.string("name")) {
    if (name->empty()) {
      r.error_at("name", "'name' must not be empty");
      ok = false;
    } else {
      l.name = std::move(*name);
    }
  } else if (r.has("name")) {
    ok = false;
  }

  if (auto protocol = r.choice("protocol", kProtocols))
    l.protocol = *protocol;
  else if (r.has("protocol"))
    ok = false;

  read_table_name(r, tables, l, ok);
  read_fallback(r, pools, l, ok);

  l.source = read_source_address(r);
  if (r.has("source_address") && !l.source) ok = false;

  if (auto mode = r.choice("mode", kForwardingModes))
    l.mode = *mode;
  else if (r.has("mode"))
    ok = false;

  if (auto v6only = r.boolean("v6only")) {
    l.v6only = *v6only;
    out.v6only_at = r.where("v6only");
    if (out.address_ok && l.address.ip.family == Family::v4) {
      r.error_at("v6only", "'v6only' applies to IPv6 listeners only; this address is IPv4");
      ok = false;
    }
  } else if (r.has("v6only")) {
    ok = false;
  }

  read_proxy_protocol_in(r, l, ok);

  if (auto queue = r.integer("fast_open_queue", 1, kMaxFastOpenQueue))
    l.fast_open_queue = static_cast<std::uint32_t>(*queue);
  else if (r.has("fast_open_queue"))
    ok = false;

  if (l.protocol == Protocol::quic && !check_quic_listener(table, l, tables, pools, sink))
    ok = false;

  out.complete = ok;
  return out;
}

}  // namespace

std::vector<Listener> read_listeners(const toml::array& listeners,
                                     const std::map<std::string, RouteTable>& tables,
                                     const std::map<std::string, Pool>& pools,
                                     DiagnosticSink& sink) {
  std::vector<Listener> out;
  // TCP and UDP ports are apart: a quic listener may share a TLS one's address.
  std::map<std::pair<bool, Endpoint>, SourceLocation> addresses;
  std::map<std::string, SourceLocation> names;
  std::vector<std::optional<SourceLocation>> v6only_at;
  for (const toml::node& node : listeners) {
    const auto* table = node.as_table();
    if (table == nullptr) {
      sink.error(node.source(), fmt::format("expected a table for each [[listener]], got {}",
                                            describe_type(node)));
      continue;
    }
    ListenerRead read = read_listener(*table, tables, pools, sink);
    if (!read.address_ok) continue;
    const Listener& listener = read.listener;
    const SourceLocation address_at = sink.at(table->get("address")->source());
    auto [first_address, new_address] = addresses.emplace(
        std::pair{listener.protocol == Protocol::quic, listener.address}, address_at);
    if (!new_address) {
      sink.error(address_at, fmt::format("duplicate listener address {} (first defined at line {})",
                                         listener.address.to_string(), first_address->second.line));
      read.complete = false;
    }
    const toml::node* name = table->get("name");
    const SourceLocation name_at = name != nullptr ? sink.at(name->source()) : address_at;
    // A defaulted name repeats only when the address does: reported above.
    if (name == nullptr && !new_address) continue;
    if (auto [first, inserted] = names.emplace(listener.name, name_at); !inserted) {
      sink.error(name_at, fmt::format("duplicate listener name '{}' (first defined at line {})",
                                      listener.name, first->second.line));
      read.complete = false;
    }
    if (read.complete) {
      out.push_back(std::move(read.listener));
      v6only_at.push_back(read.v6only_at);
    }
  }
  settle_dual_stack(out, v6only_at, sink);
  return out;
}

}  // namespace sniproxy::config
