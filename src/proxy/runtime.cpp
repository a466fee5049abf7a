#include "proxy/runtime.hpp"

#include <atomic>

#include <fmt/format.h>
#include <ifaddrs.h>
#include <sys/socket.h>

#include <algorithm>
#include <string>
#include <string_view>

#include "config/admin_section.hpp"
#include "config/process_section.hpp"
#include "config/quic_section.hpp"
#include "config/reactor_section.hpp"
#include "config/retrans_section.hpp"
#include "config/xdp_section.hpp"

namespace sniproxy::proxy {

namespace {
std::vector<IpAddress> own_addresses(const config::Config& cfg) {
  std::vector<IpAddress> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) == 0) {
    for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
      if (i->ifa_addr == nullptr) continue;
      if (auto ep = Endpoint::from_sockaddr(i->ifa_addr)) out.push_back(ep->ip);
    }
    freeifaddrs(list);
  }
  for (const auto& l : cfg.listeners)
    if (!l.address.ip.is_unspecified()) out.push_back(l.address.ip);
  return out;
}
}  // namespace

Result<std::shared_ptr<const Runtime>> Runtime::build(config::Config config,
                                                      upstream::HealthTable& health, bool reloading,
                                                      std::shared_ptr<observe::AccessLog> previous,
                                                      const upstream::ResolvedHosts& resolved) {
  static std::atomic<std::uint64_t> generations{0};
  auto router = routing::Router::build(config);
  if (!router) return router.error();
  Result<std::shared_ptr<observe::AccessLog>> log = make_error("");
  if (previous && previous->same_as(config.access_log)) {
    // A reload reopens the file as it always did (so SIGHUP still follows a
    // rotation), into the object every connection already writes through.
    if (auto reopened = previous->reopen(); !reopened) return reopened.error();
    log = std::move(previous);
  } else {
    log = observe::AccessLog::open(config.access_log);
  }
  if (!log) return log.error();
  auto guard = routing::DestinationGuard(own_addresses(config));
  auto rt = std::make_shared<Runtime>(Runtime{std::move(config),
                                              std::move(router).value(),
                                              std::move(guard),
                                              std::move(log).value(),
                                              {},
                                              0});
  // After the move: the members point into the Runtime's own config.
  rt->pools = pool_members(rt->config, health, reloading, resolved);
  rt->generation = ++generations;
  health.prune();
  return std::shared_ptr<const Runtime>(std::move(rt));
}

std::string reload_blockers(const config::Config& running, const config::Config& next) {
  auto same_listeners = [&] {
    if (running.listeners.size() != next.listeners.size()) return false;
    for (std::size_t i = 0; i < next.listeners.size(); ++i) {
      const auto& a = running.listeners[i];
      const auto& b = next.listeners[i];
      if (a.address != b.address || a.protocol != b.protocol || a.name != b.name) return false;
    }
    return true;
  };
  if (!same_listeners()) return "listeners changed (address, protocol or name)";
  // Set on the listening sockets when they are bound, at start-up.
  for (std::size_t i = 0; i < next.listeners.size(); ++i)
    if (running.listeners[i].fast_open_queue != next.listeners[i].fast_open_queue)
      return fmt::format("listener {} fast_open_queue changed", next.listeners[i].name);
  if (running.workers != next.workers) return "workers changed";
  if (running.forwarding.buffer_size != next.forwarding.buffer_size ||
      running.forwarding.buffers_per_worker != next.forwarding.buffers_per_worker ||
      running.forwarding.pipe_size != next.forwarding.pipe_size ||
      running.forwarding.pipes_per_worker != next.forwarding.pipes_per_worker)
    return "forwarding buffers or pipes changed";
  if (auto why = config::xdp_reload_blocker(running.xdp, next.xdp); !why.empty()) return why;
  if (auto why = config::process_reload_blocker(running.process, next.process); !why.empty())
    return why;
  if (auto why = config::admin_reload_blocker(running.admin, next.admin); !why.empty()) return why;
  if (auto why = config::retrans_reload_blocker(running.retrans, next.retrans); !why.empty())
    return why;
  if (auto why = config::reactor_reload_blocker(running.reactor, next.reactor); !why.empty())
    return why;
  if (auto why = config::quic_reload_blocker(running.quic, next.quic); !why.empty()) return why;
  // The sockmap programs are compiled and their maps sized at start-up.
  if (!uses_sockmap(running) && uses_sockmap(next))
    return "sockmap mode or auto_sockmap enabled (its BPF programs are loaded at start-up)";
  if (uses_sockmap(next) &&
      running.forwarding.sockmap_connections != next.forwarding.sockmap_connections)
    return "forwarding.sockmap_connections changed";
  return "";
}

std::string reload_ignored(const config::Config& running, const config::Config& next) {
  // Each worker's resolver and the BPF mirror of its cache are built from
  // [dns] at start-up; a reload hands them nothing.
  const config::Dns& a = running.dns;
  const config::Dns& b = next.dns;
  std::string keys;
  auto note = [&keys](bool changed, std::string_view key) {
    if (changed) keys.append(keys.empty() ? "" : ",").append(key);
  };
  note(a.servers != b.servers, "dns.servers");
  note(a.prefer != b.prefer, "dns.prefer");
  note(a.negative_ttl != b.negative_ttl, "dns.negative_ttl");
  note(a.min_ttl != b.min_ttl, "dns.min_ttl");
  note(a.max_ttl != b.max_ttl, "dns.max_ttl");
  note(a.timeout != b.timeout, "dns.timeout");
  note(a.cache_size != b.cache_size, "dns.cache_size");
  note(a.bpf_mirror != b.bpf_mirror, "dns.bpf_mirror");
  return keys;
}

bool uses_auto_sockmap(const config::Config& config) {
  if (!config.forwarding.auto_sockmap) return false;
  return std::ranges::any_of(config.listeners, [&](const auto& l) {
    return l.mode.value_or(config.forwarding.mode) == config::ForwardingMode::automatic;
  });
}

bool uses_sockmap(const config::Config& config) {
  if (config.forwarding.mode == config::ForwardingMode::sockmap) return true;
  for (const auto& l : config.listeners)
    if (l.mode == config::ForwardingMode::sockmap) return true;
  return uses_auto_sockmap(config);
}

}  // namespace sniproxy::proxy
