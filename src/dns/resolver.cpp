#include "dns/resolver.hpp"

#include <ares.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

#include "common/server_name.hpp"
#include "dns/address_order.hpp"
#include "dns/ares_status.hpp"

namespace sniproxy::dns {

struct Resolver::Query {
  Resolver* owner = nullptr;
  std::string name;
  std::vector<TimedCallback> waiters;
};

namespace {

// c-ares wants one process-wide init before any channel; a function-local
// static makes it once and thread-safe. It is never cleaned up.
int init_library_once() {
  static const int status = ares_library_init(ARES_LIB_INIT_ALL);
  return status;
}

struct AddrinfoDeleter {
  void operator()(ares_addrinfo* ai) const { ares_freeaddrinfo(ai); }
};

std::size_t count_servers(ares_channel channel) {
  ares_addr_port_node* servers = nullptr;
  if (ares_get_servers_ports(channel, &servers) != ARES_SUCCESS) return 0;
  std::size_t n = 0;
  for (auto* s = servers; s != nullptr; s = s->next) ++n;
  ares_free_data(servers);
  return n;
}

// For messages about names that were not valid: bounded and printable.
std::string printable(std::string_view text) {
  std::string out(text.substr(0, 253));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  return out;
}

std::chrono::milliseconds clamp_ttl(int ttl_seconds, const config::Dns& config) {
  const auto ttl = std::chrono::milliseconds(std::chrono::seconds(std::max(ttl_seconds, 0)));
  return std::min(std::max(ttl, config.min_ttl), config.max_ttl);
}

}  // namespace

// Static trampolines from c-ares' C callbacks into the resolver.
struct AresCallbacks {
  static void on_socket_state(void* data, ares_socket_t fd, int readable, int writable) {
    static_cast<Resolver*>(data)->driver_.watch(fd, readable != 0, writable != 0);
  }

  static void on_addrinfo(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
    const std::unique_ptr<ares_addrinfo, AddrinfoDeleter> owned(result);
    auto* query = static_cast<Resolver::Query*>(arg);
    Resolver* self = query->owner;
    if (self->destroying_) return;  // the Query is freed with pending_

    Addresses found;
    int min_ttl = INT_MAX;
    if (status == ARES_SUCCESS && result != nullptr) {
      for (const ares_addrinfo_node* n = result->nodes; n != nullptr; n = n->ai_next) {
        IpAddress ip;
        if (n->ai_family == AF_INET) {
          ip.family = Family::v4;
          const auto* sin = reinterpret_cast<const sockaddr_in*>(n->ai_addr);
          std::memcpy(ip.bytes.data(), &sin->sin_addr, 4);
        } else if (n->ai_family == AF_INET6) {
          ip.family = Family::v6;
          const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(n->ai_addr);
          std::memcpy(ip.bytes.data(), &sin6->sin6_addr, 16);
        } else {
          continue;
        }
        found.push_back(ip);
        min_ttl = std::min(min_ttl, n->ai_ttl);
      }
    }
    self->finish_query(*query, status, found, min_ttl);
  }
};

Resolver::Resolver(const config::Dns& config, IoDriver& driver, Clock clock)
    : config_(config), driver_(driver), clock_(std::move(clock)), cache_(config.cache_size) {}

Result<std::unique_ptr<Resolver>> Resolver::create(const config::Dns& config, IoDriver& driver,
                                                   Clock clock) {
  if (const int status = init_library_once(); status != ARES_SUCCESS)
    return make_error(std::string("c-ares initialisation failed: ") + ares_strerror(status));
  for (const Endpoint& server : config.servers)
    if (server.port == 0) return make_error("DNS server " + server.to_string() + " has port 0");
  if (config.timeout.count() <= 0) return make_error("DNS timeout must be positive");

  std::unique_ptr<Resolver> resolver(new Resolver(config, driver, std::move(clock)));
  // c-ares 1.18 treats a SERVFAIL/REFUSED answer as "try the next server"
  // and, once none is left, reports only "connection refused". With a single
  // server there is nothing to fail over to, so pass such answers through
  // and keep their real cause for the message.
  bool single_server = config.servers.size() == 1;
  if (config.servers.empty()) {
    if (auto opened = resolver->open_channel(false); !opened) return opened.error();
    single_server = count_servers(resolver->channel_) == 1;
    if (!single_server) return resolver;
    ares_destroy(resolver->channel_);  // no sockets are open yet
    resolver->channel_ = nullptr;
  }
  if (auto opened = resolver->open_channel(single_server); !opened) return opened.error();
  return resolver;
}

Result<bool> Resolver::open_channel(bool pass_error_answers) {
  ares_options options{};
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
  options.sock_state_cb = &AresCallbacks::on_socket_state;
  options.sock_state_cb_data = this;
  options.timeout = static_cast<int>(std::min<std::int64_t>(config_.timeout.count(), INT_MAX));
  options.tries = 2;
  options.flags = pass_error_answers ? ARES_FLAG_NOCHECKRESP : 0;
  char dns_only[] = "b";
  if (!config_.servers.empty()) {
    // Explicit servers: ask exactly them, for exactly the name asked (no
    // search-domain expansion of a client's server name, no hosts file).
    mask |= ARES_OPT_DOMAINS | ARES_OPT_LOOKUPS;
    options.domains = nullptr;
    options.ndomains = 0;
    options.lookups = dns_only;
  }
  ares_channel channel = nullptr;
  if (const int status = ares_init_options(&channel, &options, mask); status != ARES_SUCCESS)
    return make_error(std::string("c-ares channel: ") + ares_strerror(status));

  if (!config_.servers.empty()) {
    std::vector<ares_addr_port_node> nodes(config_.servers.size());
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      const Endpoint& server = config_.servers[i];
      ares_addr_port_node& node = nodes[i];
      node.next = i + 1 < nodes.size() ? &nodes[i + 1] : nullptr;
      if (server.ip.family == Family::v4) {
        node.family = AF_INET;
        std::memcpy(&node.addr.addr4, server.ip.bytes.data(), 4);
      } else {
        node.family = AF_INET6;
        std::memcpy(&node.addr.addr6, server.ip.bytes.data(), 16);
      }
      node.udp_port = server.port;
      node.tcp_port = server.port;
    }
    if (const int status = ares_set_servers_ports(channel, nodes.data()); status != ARES_SUCCESS) {
      ares_destroy(channel);
      return make_error(std::string("DNS servers: ") + ares_strerror(status));
    }
  }
  channel_ = channel;
  return true;
}

Resolver::~Resolver() {
  // ares_destroy ends every query with ARES_EDESTRUCTION (ignored by
  // on_addrinfo) and closes the sockets through on_socket_state.
  destroying_ = true;
  if (channel_ != nullptr) ares_destroy(channel_);
}

void Resolver::resolve(std::string_view name, Callback cb) {
  resolve_timed(name, [cb = std::move(cb)](const Result<Addresses>& answer,
                                           std::chrono::steady_clock::time_point) { cb(answer); });
}

void Resolver::resolve_timed(std::string_view name, TimedCallback cb) {
  if (auto ip = IpAddress::parse(name)) {
    cb(Result<Addresses>(Addresses{*ip}), std::chrono::steady_clock::time_point::max());
    return;
  }
  auto normal = normalize_server_name(name);
  if (!normal) {
    cb(Result<Addresses>(make_error("invalid DNS name: '" + printable(name) + "'")), clock_());
    return;
  }
  const auto now = clock_();
  Cache::TimePoint expires = now;
  if (CachedAnswer hit = cache_.find(*normal, now, &expires)) {
    stats_.cache_hits.fetch_add(1, std::memory_order_relaxed);
    cb(*hit, expires);
    return;
  }
  stats_.cache_misses.fetch_add(1, std::memory_order_relaxed);
  if (auto it = pending_.find(*normal); it != pending_.end()) {
    it->second->waiters.push_back(std::move(cb));
    return;
  }
  start_query(*normal, std::move(cb));
  rearm_timer();
}

void Resolver::start_query(const std::string& name, TimedCallback cb) {
  auto query = std::make_unique<Query>();
  query->owner = this;
  query->name = name;
  query->waiters.push_back(std::move(cb));
  Query* raw = query.get();
  pending_.emplace(name, std::move(query));
  stats_.queries.fetch_add(1, std::memory_order_relaxed);

  ares_addrinfo_hints hints{};
  hints.ai_family = query_family(config_.prefer);
  hints.ai_flags = ARES_AI_NOSORT;  // we order by preference ourselves
  // c-ares may finish (and free `raw`) before returning, e.g. when it has
  // no server; `name` is the caller's copy, not raw->name.
  ares_getaddrinfo(channel_, name.c_str(), nullptr, &hints, &AresCallbacks::on_addrinfo, raw);
}

void Resolver::finish_query(Query& query, int status, const Addresses& found, int min_ttl_seconds) {
  // Keeps the query alive while its waiters run; a waiter asking for the
  // same name again then finds the cache entry (or starts a new query).
  auto node = pending_.extract(query.name);
  const auto now = clock_();

  std::chrono::milliseconds ttl = config_.negative_ttl;
  bool cacheable = true;
  auto answer = [&]() -> Result<Addresses> {
    if (status != ARES_SUCCESS) {
      cacheable = is_cacheable_failure(status);
      return make_error(
          lookup_error_message(status, query.name, no_address_message(config_.prefer, query.name)));
    }
    Result<Addresses> ordered = order_addresses(found, config_.prefer, query.name);
    if (ordered) ttl = clamp_ttl(min_ttl_seconds, config_);
    return ordered;
  }();
  if (!answer) stats_.failures.fetch_add(1, std::memory_order_relaxed);

  const CachedAnswer shared = std::make_shared<const Result<Addresses>>(std::move(answer));
  const auto expires = cacheable ? now + ttl : now;
  if (cacheable) cache_.insert(query.name, shared, expires);
  for (const TimedCallback& cb : query.waiters) cb(*shared, expires);
}

void Resolver::on_fd_ready(int fd, bool readable, bool writable) {
  ares_process_fd(channel_, readable ? fd : ARES_SOCKET_BAD, writable ? fd : ARES_SOCKET_BAD);
  rearm_timer();
}

void Resolver::on_timer() {
  ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // handles timeouts only
  rearm_timer();
}

void Resolver::rearm_timer() {
  if (pending_.empty()) return;
  timeval tv{};
  if (ares_timeout(channel_, nullptr, &tv) == nullptr) return;
  const auto ms = static_cast<std::int64_t>(tv.tv_sec) * 1000 + (tv.tv_usec + 999) / 1000;
  driver_.arm_timer(std::chrono::milliseconds(ms));
}

}  // namespace sniproxy::dns
