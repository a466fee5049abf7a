#include "observe/metrics_exposition.hpp"

#include <fmt/format.h>

#include <iterator>
#include <utility>

namespace sniproxy::observe {

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

namespace {

class Writer {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                   type);
  }
  template <class V>
  void sample(std::string_view name, std::string_view labels, V value) {
    if (labels.empty())
      fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
    else
      fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string label(std::string_view key, std::string_view value) {
  return fmt::format("{}=\"{}\"", key, escape_label_value(value));
}

void listeners(Writer& w, const Metrics& m, const ExpositionContext& ctx) {
  w.family("sniproxy_connections_accepted_total", "counter",
           "Connections accepted, including those refused at once for a limit.");
  for (std::size_t i = 0; i < ctx.listeners.size(); ++i)
    w.sample("sniproxy_connections_accepted_total", label("listener", ctx.listeners[i].name),
             read(m.listener(i).accepted));

  w.family("sniproxy_connections_active", "gauge", "Connections open now.");
  for (std::size_t i = 0; i < ctx.listeners.size(); ++i) {
    std::uint64_t closed = 0;
    for (const Counter& c : m.listener(i).closed) closed += read(c);
    const std::uint64_t accepted = read(m.listener(i).accepted);
    w.sample("sniproxy_connections_active", label("listener", ctx.listeners[i].name),
             accepted > closed ? accepted - closed : 0);
  }

  w.family("sniproxy_connections_closed_total", "counter",
           "Connections ended, by outcome (as in the access log).");
  for (std::size_t i = 0; i < ctx.listeners.size(); ++i) {
    for (std::size_t o = 0; o < kOutcomeCount; ++o) {
      const auto outcome = to_string(static_cast<Outcome>(o));
      w.sample("sniproxy_connections_closed_total",
               label("listener", ctx.listeners[i].name) + "," + label("outcome", outcome),
               read(m.listener(i).closed[o]));
    }
  }

  w.family("sniproxy_bytes_total", "counter",
           "Bytes received from each side of finished connections.");
  for (std::size_t i = 0; i < ctx.listeners.size(); ++i) {
    const std::string l = label("listener", ctx.listeners[i].name);
    w.sample("sniproxy_bytes_total", l + ",direction=\"client_to_backend\"",
             read(m.listener(i).bytes_from_client));
    w.sample("sniproxy_bytes_total", l + ",direction=\"backend_to_client\"",
             read(m.listener(i).bytes_from_backend));
  }

  w.family("sniproxy_fast_open_syn_data_total", "counter",
           "Connections whose SYN carried data the kernel accepted (TCP Fast Open); "
           "0 on listeners without fast_open_queue.");
  for (std::size_t i = 0; i < ctx.listeners.size(); ++i)
    w.sample("sniproxy_fast_open_syn_data_total", label("listener", ctx.listeners[i].name),
             read(m.listener(i).fast_open_syn_data));
  w.family("sniproxy_fast_open_syn_data_sent_total", "counter",
           "Upstream connects (fast_open routes and pools) whose SYN carried the hello and the "
           "backend acknowledged it.");
  w.sample("sniproxy_fast_open_syn_data_sent_total", "", read(m.fast_open_syn_data_sent));

  w.family("sniproxy_listener_forwarding_mode", "gauge",
           "1 for the forwarding mode each listener is configured with.");
  for (const auto& l : ctx.listeners)
    w.sample("sniproxy_listener_forwarding_mode",
             label("listener", l.name) + "," + label("mode", l.mode), 1);

  if (!ctx.pool_servers.empty()) {
    w.family("sniproxy_pool_server_up", "gauge",
             "1 while a pool's server may take connections (its health), 0 while down.");
    for (const auto& s : ctx.pool_servers)
      w.sample("sniproxy_pool_server_up", label("pool", s.pool) + "," + label("server", s.server),
               s.up ? 1 : 0);
  }

  w.family("sniproxy_forwarded_connections_total", "counter",
           "Finished connections that reached forwarding, by how their bytes moved.");
  for (std::size_t b = 0; b < kForwardedByCount; ++b) {
    const auto by = static_cast<ForwardedBy>(b);
    w.sample("sniproxy_forwarded_connections_total", label("mode", to_string(by)),
             m.forwarded_count(by));
  }
}

void pool_servers(Writer& w, const Metrics& m) {
  const auto entries = m.pool_servers();
  if (entries.empty()) return;
  auto labels = [](const Metrics::PoolServerEntry& e) {
    return label("pool", e.pool) + "," + label("server", e.server);
  };
  w.family("sniproxy_pool_server_connections_total", "counter",
           "Connects to each pool server that succeeded.");
  for (const auto& e : entries)
    w.sample("sniproxy_pool_server_connections_total", labels(e), read(e.metrics->connections));
  w.family("sniproxy_pool_server_failures_total", "counter",
           "Connects to each pool server that failed (refused, unreachable, timed out), and "
           "resets from it after a connect.");
  for (const auto& e : entries)
    w.sample("sniproxy_pool_server_failures_total", labels(e), read(e.metrics->failures));
  w.family("sniproxy_pool_server_connect_seconds", "summary",
           "Time to connect to each pool server, successful connects.");
  for (const auto& e : entries) {
    w.sample("sniproxy_pool_server_connect_seconds_sum", labels(e),
             static_cast<double>(read(e.metrics->connect_ns)) / 1e9);
    w.sample("sniproxy_pool_server_connect_seconds_count", labels(e), read(e.metrics->connections));
  }
}

void routes(Writer& w, const Metrics& m) {
  const auto entries = m.routes();
  // `alpn` only on routes that have it: it tells apart routes of one pattern.
  auto labels = [](const Metrics::RouteEntry& e) {
    std::string out = label("table", e.table) + "," + label("route", e.pattern);
    if (!e.alpn.empty()) out += "," + label("alpn", e.alpn);
    return out;
  };
  w.family("sniproxy_route_connections_total", "counter",
           "Connections routed by each route (table, route pattern as written, and the "
           "route's ALPN protocols if it has any).");
  for (const auto& e : entries)
    w.sample("sniproxy_route_connections_total", labels(e), read(e.metrics->connections));
  w.family("sniproxy_route_bytes_total", "counter",
           "Bytes of finished connections, by route and direction.");
  for (const auto& e : entries) {
    w.sample("sniproxy_route_bytes_total", labels(e) + ",direction=\"client_to_backend\"",
             read(e.metrics->bytes_from_client));
    w.sample("sniproxy_route_bytes_total", labels(e) + ",direction=\"backend_to_client\"",
             read(e.metrics->bytes_from_backend));
  }
}

void connect_latency(Writer& w, const Metrics& m) {
  const auto s = m.connect_latency.snapshot();
  constexpr std::string_view name = "sniproxy_upstream_connect_seconds";
  w.family(name, "histogram", "Time from connect() to established, successful connects.");
  for (std::size_t i = 0; i < LatencyHistogram::kBounds.size(); ++i)
    w.sample("sniproxy_upstream_connect_seconds_bucket",
             fmt::format("le=\"{}\"", LatencyHistogram::kBounds[i]), s.cumulative[i]);
  w.sample("sniproxy_upstream_connect_seconds_bucket", "le=\"+Inf\"", s.count);
  w.sample("sniproxy_upstream_connect_seconds_sum", "", s.sum_seconds);
  w.sample("sniproxy_upstream_connect_seconds_count", "", s.count);
}

void sockmap(Writer& w, const Metrics& m) {
  w.family("sniproxy_sockmap_bytes_total", "counter",
           "Bytes of finished sockmap connections: redirected in the kernel, or passed to "
           "userspace over the memory bound.");
  w.sample("sniproxy_sockmap_bytes_total", "path=\"kernel\"", read(m.sockmap.kernel_bytes));
  w.sample("sniproxy_sockmap_bytes_total", "path=\"userspace\"", read(m.sockmap.userspace_bytes));
  w.family("sniproxy_sockmap_trimmed_bytes_total", "counter",
           "Old bytes cut off retransmitted segments that overlapped bytes already forwarded.");
  w.sample("sniproxy_sockmap_trimmed_bytes_total", "", read(m.sockmap.trimmed_bytes));
  w.family("sniproxy_sockmap_connections", "gauge",
           "Connections whose sockets are in the sockmap now (two sockets each).");
  w.sample("sniproxy_sockmap_connections", "", read(m.sockmap.open));
  w.family("sniproxy_sockmap_fallbacks_total", "counter",
           "Sockmap connections that could not be inserted and were spliced instead.");
  w.sample("sniproxy_sockmap_fallbacks_total", "", read(m.sockmap.fallbacks));
}

void quic(Writer& w, const Metrics& m) {
  const QuicMetrics& q = m.quic;
  w.family("sniproxy_quic_pending_flows", "gauge",
           "QUIC flows whose first Initial verified, waiting for the rest of their ClientHello.");
  w.sample("sniproxy_quic_pending_flows", "", read(q.pending_flows));
  w.family("sniproxy_quic_sessions", "gauge", "QUIC sessions routed to a backend now.");
  w.sample("sniproxy_quic_sessions", "", read(q.sessions));
  w.family("sniproxy_quic_sessions_total", "counter", "QUIC sessions routed to a backend.");
  w.sample("sniproxy_quic_sessions_total", "", read(q.sessions_total));
  w.family("sniproxy_quic_hellos_total", "counter",
           "QUIC flows (a verified first Initial) by how their ClientHello ended.");
  for (std::size_t i = 0; i < kQuicHelloOutcomeCount; ++i)
    w.sample("sniproxy_quic_hellos_total",
             label("outcome", to_string(static_cast<QuicHelloOutcome>(i))), read(q.hellos[i]));
  w.family("sniproxy_quic_drops_total", "counter", "QUIC datagrams that went nowhere, by reason.");
  for (std::size_t i = 0; i < kQuicDropCount; ++i)
    w.sample("sniproxy_quic_drops_total", label("reason", to_string(static_cast<QuicDrop>(i))),
             read(q.drops[i]));
  w.family("sniproxy_quic_version_negotiations_total", "counter",
           "Version Negotiation packets sent for Initials of an unknown QUIC version.");
  w.sample("sniproxy_quic_version_negotiations_total", "", read(q.version_negotiations));
  w.family("sniproxy_quic_multi_datagram_hellos_total", "counter",
           "QUIC hellos read in full after more than one datagram of their flow.");
  w.sample("sniproxy_quic_multi_datagram_hellos_total", "", read(q.multi_datagram_hellos));
  w.family("sniproxy_quic_bytes_total", "counter", "Bytes of QUIC sessions' datagrams.");
  w.sample("sniproxy_quic_bytes_total", "direction=\"from_client\"", read(q.bytes_from_client));
  w.sample("sniproxy_quic_bytes_total", "direction=\"from_backend\"", read(q.bytes_from_backend));
  w.family("sniproxy_quic_packets_total", "counter", "Datagrams of QUIC sessions.");
  w.sample("sniproxy_quic_packets_total", "direction=\"from_client\"", read(q.packets_from_client));
  w.sample("sniproxy_quic_packets_total", "direction=\"from_backend\"",
           read(q.packets_from_backend));
  w.family("sniproxy_quic_handover_datagrams_total", "counter",
           "QUIC datagrams of a draining worker's sessions handed over to it by its successor "
           "during an upgrade, by outcome.");
  w.sample("sniproxy_quic_handover_datagrams_total", "outcome=\"handed\"", read(q.handover_handed));
  w.sample("sniproxy_quic_handover_datagrams_total", "outcome=\"send_failed\"",
           read(q.handover_send_failed));
  w.sample("sniproxy_quic_handover_datagrams_total", "outcome=\"delivered\"",
           read(q.handover_delivered));
  w.sample("sniproxy_quic_handover_datagrams_total", "outcome=\"unplaced\"",
           read(q.handover_unplaced));
  w.family("sniproxy_quic_thread_datagrams_total", "counter",
           "QUIC datagrams received by one worker thread for a session of another.");
  w.sample("sniproxy_quic_thread_datagrams_total", "outcome=\"passed\"", read(q.thread_passed));
  w.sample("sniproxy_quic_thread_datagrams_total", "outcome=\"inbox_full\"",
           read(q.thread_inbox_full));
  w.sample("sniproxy_quic_thread_datagrams_total", "outcome=\"unplaced\"", read(q.thread_unplaced));
  w.family("sniproxy_quic_fast_path_sessions_total", "counter",
           "QUIC sessions handed to the kernel fast path.");
  w.sample("sniproxy_quic_fast_path_sessions_total", "", read(q.fast_path_sessions));
  w.family("sniproxy_quic_fast_path_bytes_total", "counter",
           "Bytes of QUIC datagrams the kernel fast path redirected (not in "
           "sniproxy_quic_bytes_total).");
  w.sample("sniproxy_quic_fast_path_bytes_total", "direction=\"from_client\"",
           read(q.fast_path_bytes_from_client));
  w.sample("sniproxy_quic_fast_path_bytes_total", "direction=\"from_backend\"",
           read(q.fast_path_bytes_from_backend));
  w.family("sniproxy_quic_fast_path_packets_total", "counter",
           "QUIC datagrams the kernel fast path redirected (not in sniproxy_quic_packets_total).");
  w.sample("sniproxy_quic_fast_path_packets_total", "direction=\"from_client\"",
           read(q.fast_path_packets_from_client));
  w.sample("sniproxy_quic_fast_path_packets_total", "direction=\"from_backend\"",
           read(q.fast_path_packets_from_backend));
}

void retransmits(Writer& w, const Metrics& m) {
  const auto r = m.retransmits.snapshot();
  w.family("sniproxy_retransmits_total", "counter",
           "TCP retransmits of forwarding sockets, by the side that retransmitted.");
  w.sample("sniproxy_retransmits_total", "side=\"client\"", r.by_side[0]);
  w.sample("sniproxy_retransmits_total", "side=\"backend\"", r.by_side[1]);
  w.family("sniproxy_retransmits_by_server_name_total", "counter",
           "TCP retransmits of forwarding sockets, by the connection's server name "
           "(at most 1000 names, then \"_other\").");
  for (const auto& [name, count] : r.by_server_name)
    w.sample("sniproxy_retransmits_by_server_name_total", label("server_name", name), count);
  w.family("sniproxy_retransmits_by_backend_total", "counter",
           "TCP retransmits of forwarding sockets, by the connection's backend.");
  for (const auto& [backend, count] : r.by_backend)
    w.sample("sniproxy_retransmits_by_backend_total", label("backend", backend), count);
  w.family("sniproxy_retransmits_unattributed_total", "counter",
           "Retransmits of this process's sockets that were not forwarding yet "
           "(hello, connect, listener).");
  w.sample("sniproxy_retransmits_unattributed_total", "", r.unattributed);
  w.family("sniproxy_retrans_events_lost_total", "counter",
           "Retransmit events the perf buffer dropped before they were read.");
  w.sample("sniproxy_retrans_events_lost_total", "", r.lost_events);
}

}  // namespace

std::string render_prometheus(const Metrics& m, const ExpositionContext& ctx) {
  Writer w;
  w.family("sniproxy_build_info", "gauge", "Always 1; the version is a label.");
  w.sample("sniproxy_build_info", label("version", ctx.version), 1);
  w.family("sniproxy_reactor_backend", "gauge",
           "Always 1; the workers' event loop (io_uring, epoll, or mixed) is a label.");
  w.sample("sniproxy_reactor_backend", label("backend", ctx.reactor_backend), 1);
  w.family("sniproxy_start_time_seconds", "gauge", "Unix time the process started.");
  w.sample("sniproxy_start_time_seconds", "", ctx.start_time_seconds);
  w.family("sniproxy_config_loaded_time_seconds", "gauge",
           "Unix time the config in force was loaded.");
  w.sample("sniproxy_config_loaded_time_seconds", "", ctx.config_loaded_seconds);
  w.family("sniproxy_config_reloads_total", "counter", "SIGHUP reloads, by result.");
  w.sample("sniproxy_config_reloads_total", "result=\"ok\"", read(m.reloads_ok));
  w.sample("sniproxy_config_reloads_total", "result=\"failed\"", read(m.reloads_failed));

  listeners(w, m, ctx);
  routes(w, m);
  pool_servers(w, m);

  w.family("sniproxy_hello_failures_total", "counter",
           "ClientHellos and HTTP request heads that could not be parsed, by reason.");
  for (const auto& [reason, count] : m.hello_failures())
    w.sample("sniproxy_hello_failures_total", label("reason", reason), count);

  w.family("sniproxy_ech_offers_total", "counter",
           "TLS ClientHellos offering Encrypted Client Hello; routed on the outer (public) name.");
  w.sample("sniproxy_ech_offers_total", "", read(m.ech_offers));

  w.family("sniproxy_accept_pauses_total", "counter",
           "Times a listener stopped accepting for a back-off: out of file descriptors or memory.");
  w.sample("sniproxy_accept_pauses_total", "", read(m.accept_pauses));
  w.family("sniproxy_descriptor_waits_total", "counter",
           "Accepted clients whose backend socket had to wait for a free file descriptor.");
  w.sample("sniproxy_descriptor_waits_total", "", read(m.descriptor_waits));
  w.family("sniproxy_transparent_source_skipped_total", "counter",
           "Upstream connects with source_address client made from the proxy's own "
           "address: the client's address family is not the backend's.");
  w.sample("sniproxy_transparent_source_skipped_total", "", read(m.transparent_source_skipped));
  w.family("sniproxy_preconnect_total", "counter",
           "Preconnected spare sockets by what became of them: used by a client, missed (none "
           "ready), stale (closed by the backend), expired (unused for preconnect_idle), "
           "failed (the spare's connect).");
  for (const auto& [result, counter] :
       {std::pair{"used", &m.preconnect_used}, std::pair{"missed", &m.preconnect_missed},
        std::pair{"stale", &m.preconnect_stale}, std::pair{"expired", &m.preconnect_expired},
        std::pair{"failed", &m.preconnect_failed}})
    w.sample("sniproxy_preconnect_total", label("result", result), read(*counter));

  w.family("sniproxy_dns_cache_hits_total", "counter", "Name lookups answered from the cache.");
  w.sample("sniproxy_dns_cache_hits_total", "", ctx.dns_cache_hits);
  w.family("sniproxy_dns_cache_misses_total", "counter",
           "Name lookups that waited for a DNS query.");
  w.sample("sniproxy_dns_cache_misses_total", "", ctx.dns_cache_misses);
  w.family("sniproxy_dns_queries_total", "counter", "DNS queries sent (A and AAAA count once).");
  w.sample("sniproxy_dns_queries_total", "", ctx.dns_queries);
  w.family("sniproxy_dns_failures_total", "counter", "DNS queries that ended in an error.");
  w.sample("sniproxy_dns_failures_total", "", ctx.dns_failures);

  connect_latency(w, m);

  if (ctx.retrans) retransmits(w, m);
  if (ctx.sockmap) sockmap(w, m);
  if (ctx.quic) quic(w, m);

  if (!ctx.xdp_packets.empty()) {
    w.family("sniproxy_xdp_packets_total", "counter",
             "Packets the XDP source filter judged, by verdict.");
    for (const auto& [verdict, count] : ctx.xdp_packets)
      w.sample("sniproxy_xdp_packets_total", label("verdict", verdict), count);
  }
  return w.take();
}

}  // namespace sniproxy::observe
