#include "app/admin_endpoint.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <vector>

#include "bpf/loader/xdp_device.hpp"
#include "bpf/quic_fast_path/quic_fast_path.hpp"
#include "bpf/sockmap/sockmap.hpp"
#include "common/json.hpp"
#include "config/names.hpp"
#include "observe/metrics_exposition.hpp"
#include "proxy/runtime.hpp"

namespace sniproxy::app {

namespace {

double unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// A quic listener's datagrams are passed on one by one whatever the mode.
std::string listener_mode(const config::Config& c, const config::Listener& l) {
  if (l.protocol == config::Protocol::quic) return "datagram";
  return std::string(config::to_string(l.mode.value_or(c.forwarding.mode)));
}

std::vector<std::pair<std::string, std::uint64_t>> xdp_packets(const XdpControl* xdp) {
  if (xdp == nullptr || xdp->filter() == nullptr) return {};
  auto c = xdp->filter()->counters();
  if (!c) return {};
  return {{"passed", c->passed},
          {"dropped_deny", c->dropped_deny},
          {"dropped_not_allowed", c->dropped_not_allowed},
          {"dropped_rate", c->dropped_rate},
          {"malformed", c->malformed},
          {"ignored", c->ignored}};
}

const char* json_bool(bool b) {
  return b ? "true" : "false";
}

}  // namespace

// The workers' event loop; "mixed" when auto put some on epoll only.
std::string reactor_backend(const AdminContext& ctx) {
  std::string name;
  for (proxy::Worker* w : ctx.workers) {
    const std::string_view mine = w->reactor().backend_name();
    if (name.empty()) name = mine;
    if (name != mine) return "mixed";
  }
  return name;
}

std::string metrics_body(const AdminContext& ctx) {
  const auto rt = ctx.shared->runtime.load();
  observe::ExpositionContext e;
  e.version = SNIPROXY_VERSION;
  e.reactor_backend = reactor_backend(ctx);
  e.start_time_seconds = unix_seconds(ctx.started);
  e.config_loaded_seconds = static_cast<double>(ctx.config_loaded_ms.load()) / 1000.0;
  for (const auto& l : rt->config.listeners)
    e.listeners.push_back({l.name, listener_mode(rt->config, l)});
  for (proxy::Worker* w : ctx.workers) {
    const auto& s = w->resolver().stats();
    e.dns_cache_hits += s.cache_hits.load(std::memory_order_relaxed);
    e.dns_cache_misses += s.cache_misses.load(std::memory_order_relaxed);
    e.dns_queries += s.queries.load(std::memory_order_relaxed);
    e.dns_failures += s.failures.load(std::memory_order_relaxed);
  }
  // The current members only: an address a DNS answer dropped leaves
  // sniproxy_pool_server_up (its counters stay, as counters do).
  for (const auto& [name, pool] : rt->pools) {
    const auto snapshot = pool.current->load();
    for (std::size_t i = 0; i < snapshot->members.size(); ++i)
      e.pool_servers.push_back({name, snapshot->members[i].key.address, snapshot->health[i]->up()});
  }
  e.xdp_packets = xdp_packets(ctx.xdp);
  e.retrans = ctx.retrans;
  e.sockmap = proxy::uses_sockmap(rt->config);
  e.quic =
      std::any_of(rt->config.listeners.begin(), rt->config.listeners.end(),
                  [](const config::Listener& l) { return l.protocol == config::Protocol::quic; });
  return observe::render_prometheus(ctx.shared->metrics, e);
}

std::string status_body(const AdminContext& ctx) {
  const auto rt = ctx.shared->runtime.load();
  const auto& cfg = rt->config;
  const auto now = std::chrono::system_clock::now();
  std::string out;
  auto o = std::back_inserter(out);
  fmt::format_to(o, R"({{"version":{},"pid":{},"uptime_seconds":{:.3f},"started_at":{:.3f},)",
                 json_string(SNIPROXY_VERSION), ::getpid(),
                 std::chrono::duration<double>(now - ctx.started).count(),
                 unix_seconds(ctx.started));
  const auto& m = ctx.shared->metrics;
  fmt::format_to(o,
                 "\"config\":{{\"file\":{},\"loaded_at\":{:.3f},\"reloads_ok\":{},"
                 "\"reloads_failed\":{}}},",
                 json_string(ctx.config_path),
                 static_cast<double>(ctx.config_loaded_ms.load()) / 1000.0,
                 observe::read(m.reloads_ok), observe::read(m.reloads_failed));
  fmt::format_to(o, R"("workers":{},"connections_active":{},"forwarding_mode":{},)",
                 ctx.workers.size(), ctx.shared->limits.active(),
                 json_string(config::to_string(cfg.forwarding.mode)));
  out += "\"listeners\":[";
  for (std::size_t i = 0; i < cfg.listeners.size(); ++i) {
    const auto& l = cfg.listeners[i];
    fmt::format_to(o, R"({}{{"name":{},"address":{},"protocol":{},"mode":{}}})", i == 0 ? "" : ",",
                   json_string(l.name), json_string(l.address.to_string()),
                   json_string(config::to_string(l.protocol)), json_string(listener_mode(cfg, l)));
  }
  out += "],";
  // Each serving thread's sessions (one entry when one thread serves quic).
  std::vector<std::uint64_t> per_thread;
  if (ctx.shared->quic_threads) per_thread = ctx.shared->quic_threads->thread_sessions();
  fmt::format_to(o, R"("quic":{{"sessions":{},"pending_flows":{},"thread_sessions":[{}]}},)",
                 observe::read(m.quic.sessions), observe::read(m.quic.pending_flows),
                 fmt::join(per_thread, ","));
  out += "\"pools\":[";
  bool first_pool = true;
  for (const auto& [name, pool] : rt->pools) {
    fmt::format_to(o, R"({}{{"name":{},"servers":[)", first_pool ? "" : ",", json_string(name));
    first_pool = false;
    // One entry per member: "server" is the address it connects to (as
    // before names were allowed), "name" the server as written.
    const auto snapshot = pool.current->load();
    for (std::size_t i = 0; i < snapshot->members.size(); ++i) {
      const upstream::Member& m = snapshot->members[i];
      fmt::format_to(o, R"({}{{"server":{},"backup":{},"up":{},"name":{}}})", i == 0 ? "" : ",",
                     json_string(m.key.address), json_bool(m.backup),
                     json_bool(snapshot->health[i]->up()), json_string(m.key.server));
    }
    out += "]}";
  }
  out += "],";
  const auto& u = ctx.io_uring;
  fmt::format_to(o, R"("reactor":{{"backend":{},"fallback_reason":{}}},)",
                 json_string(reactor_backend(ctx)), json_string(ctx.reactor_fallback_reason));
  fmt::format_to(o,
                 "\"kernel\":{{\"release\":{},\"io_uring\":{{\"available\":{},\"splice\":{},"
                 "\"multishot_accept\":{},\"provided_buffer_ring\":{},\"send_zc\":{}}}}},",
                 json_string(ctx.kernel_release), json_bool(u.available), json_bool(u.splice),
                 json_bool(u.multishot_accept), json_bool(u.provided_buffer_ring),
                 json_bool(u.send_zc));
  // BPF objects this process holds: only what the config enabled.
  out += R"("bpf":{"programs":[)";
  const bpf::XdpFilter* xdp = ctx.xdp != nullptr ? ctx.xdp->filter() : nullptr;
  if (xdp != nullptr) {
    out += R"({"name":"xdp_filter","type":"xdp","attached":[)";
    bool first = true;
    for (const auto& i : xdp->interfaces()) {
      fmt::format_to(o, R"({}{{"interface":{},"mode":{}}})", first ? "" : ",", json_string(i.name),
                     json_string(bpf::to_string(i.mode)));
      first = false;
    }
    out += "]}";
  }
  if (ctx.retrans) {
    fmt::format_to(o, R"({}{{"name":"retrans","type":"tracepoint","attached":[)",
                   xdp != nullptr ? "," : "");
    for (std::size_t i = 0; i < ctx.retrans_hooks.size(); ++i)
      fmt::format_to(o, "{}{}", i == 0 ? "" : ",", json_string(ctx.retrans_hooks[i]));
    fmt::format_to(o, "],\"sockets_indexed\":{}}}", ctx.shared->sockets->size());
  }
  const bpf::Sockmap* sockmap = ctx.shared->sockmap;
  if (sockmap != nullptr) {
    fmt::format_to(o, R"({}{{"name":"sockmap","type":"sk_skb_stream_verdict"}})",
                   xdp != nullptr || ctx.retrans ? "," : "");
  }
  // Its hooks are fixed at start-up; the session map is the quic thread's.
  if (const bpf::QuicFastPath* quic = ctx.shared->quic_fast_path; quic != nullptr) {
    fmt::format_to(o, R"({}{{"name":"quic_fast_path","type":"sched_cls","attached":[)",
                   xdp != nullptr || ctx.retrans || sockmap != nullptr ? "," : "");
    const auto hooks = quic->attachments();
    for (std::size_t i = 0; i < hooks.size(); ++i)
      fmt::format_to(o, "{}{}", i == 0 ? "" : ",", json_string(hooks[i]));
    out += "]}";
  }
  out += "],\"maps\":[";
  if (sockmap != nullptr) {
    // Two sockets per connection in the sockmap (proxy/sockmap_forwarding.cpp).
    fmt::format_to(o, R"({{"name":"sock_pairs","entries":{},"max_entries":{}}})",
                   2 * observe::read(ctx.shared->metrics.sockmap.open), sockmap->max_sockets());
  }
  if (xdp != nullptr && cfg.xdp) {
    if (sockmap != nullptr) out += ",";
    // The maps hold exactly the configured policy (XdpMaps::apply).
    fmt::format_to(o,
                   "{{\"name\":\"xdp_allow\",\"entries\":{}}},{{\"name\":\"xdp_deny\","
                   "\"entries\":{}}}",
                   cfg.xdp->allow.size(), cfg.xdp->deny.size());
  }
  out += "]}}\n";
  return out;
}

observe::AdminHandler make_admin_handler(const AdminContext& ctx) {
  return [&ctx](std::string_view, std::string_view path) {
    observe::AdminReply r;
    if (path == "/metrics") {
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = metrics_body(ctx);
    } else if (path == "/status") {
      r.content_type = "application/json";
      r.body = status_body(ctx);
    } else {
      r.status = 404;
      r.body = "not found: try /metrics or /status\n";
    }
    return r;
  };
}

}  // namespace sniproxy::app
