#include "proxy/connection.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "bpf/sockmap/sockmap.hpp"
#include "common/fast_open.hpp"
#include "common/log.hpp"
#include "common/server_name.hpp"
#include "config/names.hpp"
#include "protocol/proxy_protocol.hpp"
#include "proxy/ending.hpp"
#include "proxy/forward/copy_forwarder.hpp"
#include "proxy/forward/sockmap_forwarder.hpp"
#include "proxy/forward/sockmap_session.hpp"
#include "proxy/forward/splice_forwarder.hpp"
#include "proxy/forwarding_choice.hpp"
#include "proxy/health_events.hpp"
#include "proxy/spare_connections.hpp"
#include "proxy/upstream_socket.hpp"
#include "proxy/worker.hpp"
#include "upstream/key_hash.hpp"

namespace sniproxy::proxy {

namespace {
using Clock = std::chrono::steady_clock;
constexpr std::size_t kInitialHelloBuffer = 4096;
// The longest PROXY header a listener waits for: a v1 line is at most 107
// bytes; a v2 header's TLVs (a cloud balancer's endpoint id, say) take a few
// dozen. Longer is refused rather than buffered.
constexpr std::size_t kMaxProxyHeader = kInitialHelloBuffer;
// TLS alert descriptions (RFC 8446 6.2).
constexpr std::uint8_t kAlertAccessDenied = 49;
constexpr std::uint8_t kAlertUnrecognizedName = 112;

void send_best_effort(int fd, const void* data, std::size_t size) {
  // A refusal is a courtesy: if the client's socket buffer cannot take a few
  // bytes now, it is not waited for.
  (void)::send(fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
}

// (IPv4-mapped addresses of a dual-stack listener as IPv4, as the client's.)
std::optional<Endpoint> local_endpoint(int fd) {
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) return std::nullopt;
  auto endpoint = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&local));
  if (endpoint) endpoint->ip = endpoint->ip.unmapped();
  return endpoint;
}

void set_linger_zero(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}
}  // namespace

void ConnOp::on_complete(const reactor::Event& event) {
  Connection* c = conn;
  --c->in_flight_;
  (c->*handler)(dir, side, event);
  if (c->closing() && c->in_flight() == 0) c->retire();
}

void Connection::retire() {
  // Closed and no completion left that points at it: the worker finishes
  // and frees it after the current batch of completions. Once.
  if (reaped_) return;
  reaped_ = true;
  worker_.reap(this);
}

reactor::Completion* Connection::begin(ConnOp& op) {
  ++in_flight_;
  return &op;
}

Connection::Connection(Worker& worker, std::uint64_t id, std::shared_ptr<const Runtime> runtime,
                       std::size_t listener_index, UniqueFd client, Endpoint client_address)
    : worker_(worker),
      id_(id),
      runtime_(std::move(runtime)),
      listener_index_(listener_index),
      client_(std::move(client)),
      client_address_(client_address),
      peer_address_(client_address),
      counted_source_(client_address.ip),
      parser_(std::in_place_type<protocol::ClientHelloParser>,
              runtime_->config.limits.max_hello_size) {
  if (listener().protocol == config::Protocol::http)
    parser_.emplace<protocol::HttpHeadParser>(runtime_->config.limits.max_hello_size);
  auto bind = [this](ConnOp& op, ConnOp::Handler h) {
    op.conn = this;
    op.handler = h;
  };
  bind(hello_poll_op_, &Connection::on_hello_poll);
  bind(connect_op_, &Connection::on_connect);
  bind(fast_open_op_, &Connection::on_syn_sent);
  for (int d = 0; d < 2; ++d) {
    for (auto side : {forward::Side::source, forward::Side::peer}) {
      ConnOp& slot = dirs_[d].slots[static_cast<int>(side)];
      bind(slot, &Connection::on_forwarding_op);
      slot.dir = d;
      slot.side = side;
    }
  }
  started_ = Clock::now();
  last_active_ = started_;
}

Connection::~Connection() = default;

const config::Listener& Connection::listener() const {
  return runtime_->config.listeners[listener_index_];
}

void Connection::start() {
  hello_deadline_ = started_ + runtime_->config.timeouts.hello;
  hello_.resize(kInitialHelloBuffer);
  awaiting_proxy_header_ = listener().proxy_protocol_in != config::ProxyProtocolIn::off;
  // A client sends its hello right after the handshake, and with
  // TCP_DEFER_ACCEPT the accept itself waited for it: look before arming a
  // poll, which would cost a wake-up (and two submissions) per connection.
  const bool again = awaiting_proxy_header_ ? read_proxy_header(false) : peek_hello(false);
  if (again) submit_hello_poll();
}

// --- hello -----------------------------------------------------------------

void Connection::submit_hello_poll() {
  // Peek until the name is known, so a kernel forwarding mode can leave the
  // hello in the socket. SO_RCVLOWAT (set by peek_hello) makes this poll wait
  // for more bytes than already peeked instead of firing at once.
  worker_.reactor().poll(client_.get(), POLLIN | POLLRDHUP, hello_deadline_ - Clock::now(),
                         begin(hello_poll_op_));
}

void Connection::on_hello_poll(int, forward::Side, const reactor::Event& event) {
  const int res = event.res;
  if (state_ == State::closing) return;
  if (res == -ECANCELED) {
    close(observe::Outcome::hello_timeout, false);
    return;
  }
  if (res < 0) {
    close(observe::Outcome::reset, true, std::strerror(-res));
    return;
  }
  const bool peer_closed = (res & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  const bool again =
      awaiting_proxy_header_ ? read_proxy_header(peer_closed) : peek_hello(peer_closed);
  if (again) submit_hello_poll();
}

bool Connection::read_proxy_header(bool peer_closed) {
  ssize_t n = 0;
  do {
    n = ::recv(client_.get(), hello_.data(), kMaxProxyHeader, MSG_PEEK | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN) return true;
    close(errno == ECONNRESET ? observe::Outcome::reset : observe::Outcome::client_closed,
          errno == ECONNRESET, std::strerror(errno));
    return false;
  }
  if (n == 0) {
    close(observe::Outcome::client_closed, false, "closed before sending a byte");
    return false;
  }
  const auto got = static_cast<std::size_t>(n);
  const auto scan = protocol::scan_proxy_header({hello_.data(), got}, kMaxProxyHeader);
  if (scan.status == protocol::ParseStatus::rejected) {
    close(observe::Outcome::bad_proxy_header, false, "no valid PROXY header");
    return false;
  }
  if (scan.status == protocol::ParseStatus::need_more) {
    if (peer_closed) {
      close(observe::Outcome::client_closed, false, "closed mid-PROXY header");
      return false;
    }
    // Wake when the rest can be there, not for each byte already peeked.
    int lowat = static_cast<int>(got + scan.needed);
    setsockopt(client_.get(), SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
    lowat_raised_ = true;
    return true;
  }
  const auto wanted = listener().proxy_protocol_in;
  if ((wanted == config::ProxyProtocolIn::v1 && scan.header.version != 1) ||
      (wanted == config::ProxyProtocolIn::v2 && scan.header.version != 2)) {
    close(observe::Outcome::bad_proxy_header, false,
          fmt::format("PROXY v{} header where v{} is expected", scan.header.version,
                      wanted == config::ProxyProtocolIn::v1 ? 1 : 2));
    return false;
  }
  // Off the socket: what follows is the client's own, peeked as ever.
  if (::recv(client_.get(), hello_.data(), scan.header.size, MSG_DONTWAIT) !=
      static_cast<ssize_t>(scan.header.size)) {
    close(observe::Outcome::reset, true, "PROXY header vanished");
    return false;
  }
  if (lowat_raised_) {
    int one = 1;
    setsockopt(client_.get(), SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
    lowat_raised_ = false;
  }
  awaiting_proxy_header_ = false;
  if (!take_proxy_header(scan.header)) return false;
  return peek_hello(peer_closed);
}

bool Connection::take_proxy_header(const protocol::ProxyHeader& header) {
  // LOCAL (a balancer's health check) and v1 UNKNOWN carry no client: the
  // peer stays the client.
  if (header.local) return true;
  Endpoint client = header.source;
  client.ip = client.ip.unmapped();
  const auto per_source = runtime_->config.limits.max_connections_per_source;
  const bool admitted = worker_.shared().limits.move_source(counted_source_, client.ip, per_source);
  client_address_ = client;  // logged as the client it is, either way
  if (!admitted) {
    close(observe::Outcome::limit, true, "max_connections_per_source");
    return false;
  }
  counted_source_ = client.ip;
  Endpoint destination = header.destination;
  destination.ip = destination.ip.unmapped();
  proxied_destination_ = destination;
  return true;
}

// Returns true when more bytes are needed and a new poll should be armed.
bool Connection::peek_hello(bool peer_closed) {
  const std::size_t max = runtime_->config.limits.max_hello_size;
  protocol::ParseStatus status = protocol::ParseStatus::need_more;
  std::size_t got = 0;
  for (;;) {
    const ssize_t n = ::recv(client_.get(), hello_.data(), hello_.size(), MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (errno == EAGAIN) return true;
      close(errno == ECONNRESET ? observe::Outcome::reset : observe::Outcome::client_closed,
            errno == ECONNRESET, std::strerror(errno));
      return false;
    }
    got = static_cast<std::size_t>(n);
    if (got == 0) {
      close(observe::Outcome::client_closed, false, "closed before sending a byte");
      return false;
    }
    if (got > fed_) {
      std::span<const std::uint8_t> fresh(hello_.data() + fed_, got - fed_);
      status = std::visit([&](auto& p) { return p.feed(fresh); }, parser_);
      fed_ = got;
    }
    // A full buffer means the kernel may hold more, but that matters only
    // while the parser still needs bytes: a client that sends its hello and
    // then a megabyte at once must not make every connection peek (and
    // hold) max_hello_size bytes.
    const bool full = got == hello_.size();
    if (status != protocol::ParseStatus::need_more || !full || hello_.size() >= max + 1) break;
    hello_.resize(std::min(hello_.size() * 2, max + 1));
  }
  if (status == protocol::ParseStatus::need_more) {
    if (peer_closed && got == fed_) {
      close(observe::Outcome::client_closed, false, "closed mid-hello");
      return false;
    }
    std::size_t need = 1;
    if (auto* p = std::get_if<protocol::ClientHelloParser>(&parser_)) need = p->bytes_needed_hint();
    int lowat = static_cast<int>(std::min(got + std::max<std::size_t>(need, 1), max + 1));
    setsockopt(client_.get(), SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
    lowat_raised_ = true;
    return true;
  }
  if (lowat_raised_) {
    int one = 1;
    setsockopt(client_.get(), SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
  }
  // The hello stays in the socket: copy mode consumes it when it starts
  // forwarding, the kernel modes forward it from there.
  hello_.resize(got);
  hello_complete();
  return false;
}

void Connection::hello_complete() {
  if (std::holds_alternative<protocol::ClientHelloParser>(parser_))
    route_tls();
  else
    route_http();
}

bool Connection::route_name(const std::optional<std::string>& name,
                            std::span<const std::string> alpn, std::string& detail) {
  if (name) {
    server_name_ = *name;
    const auto* table = runtime_->router.table(listener().table);
    const config::Route* route = table != nullptr ? table->lookup(server_name_, alpn) : nullptr;
    if (route != nullptr) {
      // Routes sharing a pattern differ in their protocols: label them apart.
      route_metrics_ = &worker_.shared().metrics.route(
          listener().table, route->pattern, fmt::format("{}", fmt::join(route->alpn, ",")));
      observe::bump(route_metrics_->connections);
      use_target(route->target, server_name_);
      return true;
    }
    detail = "no route";
  }
  if (listener().fallback) {
    use_target(*listener().fallback, server_name_);
    return true;
  }
  return false;
}

void Connection::route_tls() {
  auto& parser = std::get<protocol::ClientHelloParser>(parser_);
  const bool parsed = parser.feed({}) == protocol::ParseStatus::done;
  std::string detail;
  std::optional<std::string> name;
  if (!parsed) {
    detail = std::string(protocol::to_string(parser.error()));
    worker_.shared().metrics.hello_failure(detail);
  } else if (!parser.info().server_name) {
    detail = "no server name";
  } else if (name = normalize_server_name(*parser.info().server_name); !name) {
    detail = "invalid server name";
  }
  std::span<const std::string> alpn;
  if (parsed) {
    alpn = parser.info().alpn;
    // Without the ECH keys only the outer (public) name is visible; it is
    // routed on, and these offers counted so operators can see how many.
    ech_offered_ = parser.info().ech_offered;
    if (ech_offered_) observe::bump(worker_.shared().metrics.ech_offers);
  }
  if (route_name(name, alpn, detail)) return;
  if (parsed) {
    auto alert = protocol::tls_alert(kAlertUnrecognizedName);
    send_best_effort(client_.get(), alert.data(), alert.size());
  }
  close(parsed ? observe::Outcome::no_route : observe::Outcome::hello_rejected, false, detail);
}

void Connection::route_http() {
  auto& parser = std::get<protocol::HttpHeadParser>(parser_);
  const bool parsed = parser.feed({}) == protocol::ParseStatus::done;
  std::string detail;
  std::optional<std::string> name;
  if (!parsed) {
    detail = std::string(protocol::to_string(parser.error()));
    worker_.shared().metrics.hello_failure(detail);
  } else if (name = normalize_server_name(parser.info().host); !name) {
    detail = parser.info().host.empty() ? "no host" : "invalid host";
  }
  // HTTP has no ALPN: routes with `alpn` never match here.
  if (route_name(name, {}, detail)) return;
  if (!parsed) {
    const bool connect = parser.error() == protocol::HttpError::connect_refused;
    auto resp = connect ? protocol::http_error_response(405, "Method Not Allowed")
                        : protocol::http_error_response(400, "Bad Request");
    send_best_effort(client_.get(), resp.data(), resp.size());
    close(observe::Outcome::hello_rejected, false, detail);
    return;
  }
  auto resp = protocol::http_error_response(421, "Misdirected Request");
  send_best_effort(client_.get(), resp.data(), resp.size());
  close(observe::Outcome::no_route, false, detail);
}

void Connection::refuse(observe::Outcome outcome, std::string detail) {
  // Tell the client why in its own protocol, then close.
  const bool http = std::holds_alternative<protocol::HttpHeadParser>(parser_);
  if (http) {
    std::string resp;
    switch (outcome) {
      case observe::Outcome::denied:
        resp = protocol::http_error_response(403, "Forbidden");
        break;
      case observe::Outcome::connect_timeout:
        resp = protocol::http_error_response(504, "Gateway Timeout");
        break;
      default:
        resp = protocol::http_error_response(502, "Bad Gateway");
        break;
    }
    send_best_effort(client_.get(), resp.data(), resp.size());
  } else if (outcome == observe::Outcome::denied) {
    auto alert = protocol::tls_alert(kAlertAccessDenied);
    send_best_effort(client_.get(), alert.data(), alert.size());
  }
  close(outcome, false, std::move(detail));
}

void Connection::use_target(const config::Target& target, const std::string& name) {
  target_ = &target;
  switch (target.kind) {
    case config::Target::Kind::deny:
      refuse(observe::Outcome::denied);
      return;
    case config::Target::Kind::backend: {
      port_ = target.port;
      if (auto ip = IpAddress::parse(target.host)) {
        candidates_ = {*ip};
        try_next_address();
        return;
      }
      state_ = State::resolving;
      const std::uint64_t id = id_;
      Worker* w = &worker_;
      worker_.resolver().resolve(target.host, [w, id](const Result<std::vector<IpAddress>>& r) {
        if (Connection* c = w->find(id)) c->on_resolved(r, false);
      });
      return;
    }
    case config::Target::Kind::pool: {
      auto it = runtime_->pools.find(target.pool);
      if (it == runtime_->pools.end()) {  // the loader checks references: cannot happen
        refuse(observe::Outcome::connect_failed, "no pool " + target.pool);
        return;
      }
      pool_ = &it->second;
      std::uint64_t hash = 0;
      if (pool_->pool->balance == config::Balance::hash_source)
        hash = upstream::hash_of(client_address_.ip);
      if (pool_->pool->balance == config::Balance::hash_name) hash = upstream::hash_of(name);
      plan_.emplace(pool_->pool->retries, hash);
      try_next_member();
      return;
    }
    case config::Target::Kind::resolve: {
      port_ = target.port;
      if (name.empty()) {
        refuse(observe::Outcome::no_route, "resolve target without a server name");
        return;
      }
      state_ = State::resolving;
      const std::uint64_t id = id_;
      Worker* w = &worker_;
      worker_.resolver().resolve(name, [w, id](const Result<std::vector<IpAddress>>& r) {
        if (Connection* c = w->find(id)) c->on_resolved(r, true);
      });
      return;
    }
  }
}

void Connection::on_resolved(const Result<std::vector<IpAddress>>& addresses, bool guarded) {
  if (state_ != State::resolving) return;
  if (!addresses) {
    refuse(observe::Outcome::dns_failed, addresses.error().message);
    return;
  }
  candidates_.clear();
  for (const auto& ip : *addresses)
    if (!guarded || runtime_->guard.allowed(ip, target_->allow_private)) candidates_.push_back(ip);
  if (candidates_.empty()) {
    refuse(observe::Outcome::guard_refused,
           fmt::format("{} resolves only to non-public or own addresses",
                       server_name_.empty() ? target_->host : server_name_));
    return;
  }
  try_next_address();
}

// --- connect ---------------------------------------------------------------

void Connection::try_next_member() {
  state_ = State::connecting;
  upstream_.reset();
  member_ = worker_.pools().next(runtime_->generation, *pool_, *plan_);
  if (!member_) {
    // Every candidate failed (each named), or none was up to try.
    if (plan_->attempts() == 0) {
      // Off the common path: says why when its names have no address yet.
      refuse(observe::Outcome::connect_failed,
             pool_->current->load()->members.empty()
                 ? fmt::format("pool {}: no server is up (no server has an address yet: its "
                               "DNS names have not answered)",
                               pool_->pool->name)
                 : fmt::format("pool {}: no server is up", pool_->pool->name));
      return;
    }
    refuse(connect_outcome_, fmt::format("pool {}: {}", pool_->pool->name, attempts_));
    return;
  }
  backend_ = member_->member.endpoint;
  backend_known_ = true;
  connect_backend();
}

void Connection::report_member_connect(bool ok, const std::string& detail) {
  report_member_health(ok, detail);
  if (ok) {
    observe::bump(member_metrics_->connect_ns,
                  static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                 Clock::now() - connect_started_)
                                                 .count()));
    worker_.pools().opened(member_->member.id);
    member_counted_ = true;
    return;
  }
  attempts_.append(attempts_.empty() ? "" : "; ").append(detail);
}

void Connection::report_member_health(bool ok, const std::string& detail) {
  member_metrics_ = &worker_.pools().counters(member_->member, worker_.shared().metrics);
  observe::bump(ok ? member_metrics_->connections : member_metrics_->failures);
  if (auto change = member_->health->on_connect_result(ok, upstream::Clock::now()))
    log_health_transition(member_->member.key, *change, detail);
}

void Connection::try_next_address() {
  if (pool_ != nullptr) {
    try_next_member();
    return;
  }
  state_ = State::connecting;
  upstream_.reset();
  if (next_candidate_ >= candidates_.size()) {
    refuse(connect_outcome_, connect_detail_);
    return;
  }
  backend_ = Endpoint{candidates_[next_candidate_++], port_};
  backend_known_ = true;
  connect_backend();
}

void Connection::connect_backend() {
  const UpstreamSource source =
      upstream_source(target_->source ? target_->source : listener().source, client_address_.ip,
                      backend_.ip.family);
  if (target_->preconnect > 0 && !source.transparent) {
    const SpareConnections::Settings spare{
        target_->preconnect, runtime_->config.timeouts.preconnect_idle, connect_timeout()};
    if (UniqueFd fd = worker_.spares().take(backend_, source.address, spare)) {
      upstream_ = std::move(fd);
      connect_started_ = Clock::now();
      connected();  // the hello goes out now: no handshake to wait for
      return;
    }
  }
  auto sock = open_upstream_socket(backend_, source.address, source.transparent);
  if (!sock) {
    const int err = sock.error().sys_errno;
    if ((err == EMFILE || err == ENFILE) && wait_for_descriptor()) return;
    connect_outcome_ = observe::Outcome::connect_failed;
    connect_detail_ = sock.error().message;
    if (descriptor_wait_started_ != Clock::time_point{})
      connect_detail_ +=
          fmt::format(", still after {} ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 Clock::now() - descriptor_wait_started_)
                                                 .count());
    try_next_address();
    return;
  }
  upstream_ = std::move(sock).value();
  if (source.client_skipped) observe::bump(worker_.shared().metrics.transparent_source_skipped);
  // Refused when the host's tcp_fastopen lacks the client bit (said once at
  // start-up): a plain connect then.
  if (target_->fast_open) (void)enable_fast_open_connect(upstream_.get());
  const unsigned len = backend_.to_sockaddr(connect_addr_);
  connect_started_ = Clock::now();
  worker_.reactor().connect(upstream_.get(), reinterpret_cast<sockaddr*>(&connect_addr_), len,
                            connect_timeout(), begin(connect_op_));
}

std::chrono::milliseconds Connection::connect_timeout() const {
  return pool_ != nullptr ? pool_->pool->connect_timeout : runtime_->config.timeouts.connect;
}

// A client the proxy has accepted is not failed for want of a descriptor
// that a closing connection is about to free: the accept side pauses on
// EMFILE, this side waits. Backing off (5 ms doubling to 100 ms) keeps many
// waiting connections from turning into a loop of failing socket() calls.
bool Connection::wait_for_descriptor() {
  const auto now = Clock::now();
  if (descriptor_wait_started_ == Clock::time_point{}) {
    descriptor_wait_started_ = now;
    descriptor_backoff_ = std::chrono::milliseconds(5);
    observe::bump(worker_.shared().metrics.descriptor_waits);
  }
  const auto deadline = descriptor_wait_started_ + runtime_->config.timeouts.connect;
  if (now >= deadline) return false;
  const auto due = std::min(now + descriptor_backoff_, deadline);
  descriptor_backoff_ = std::min(descriptor_backoff_ * 2, std::chrono::milliseconds(100));
  Worker* w = &worker_;
  const std::uint64_t id = id_;
  descriptor_timer_ = worker_.timers().schedule(due, [w, id] {
    Connection* c = w->find(id);
    if (c == nullptr || c->state_ != State::connecting) return;
    c->descriptor_timer_ = 0;
    c->connect_backend();
  });
  return true;
}

void Connection::on_connect(int, forward::Side, const reactor::Event& event) {
  if (state_ == State::closing) return;
  if (event.res != 0) {
    connect_failed(event.res);
  } else if (target_->fast_open && connect_deferred(upstream_.get())) {
    send_in_syn();  // a cached cookie: nothing sent yet, the hello goes in the SYN
  } else {
    connected();
  }
}

void Connection::connected() {
  worker_.shared().metrics.connect_latency.observe(Clock::now() - connect_started_);
  if (member_) report_member_connect(true, "");
  start_forwarding();
}

void Connection::connect_failed(int res) {
  if (res == -ECANCELED) {
    connect_outcome_ = observe::Outcome::connect_timeout;
    connect_detail_ = fmt::format("{}: timed out", backend_.to_string());
  } else {
    connect_outcome_ = observe::Outcome::connect_failed;
    connect_detail_ = fmt::format("{}: {}", backend_.to_string(), std::strerror(-res));
  }
  if (member_) report_member_connect(false, connect_detail_);
  try_next_address();
}

// --- forwarding ------------------------------------------------------------

void Connection::start_forwarding() {
  state_ = State::forwarding;
  state_reached_forwarding_ = true;
  std::vector<std::uint8_t> preamble = proxy_header();
  if (hello_sent_in_syn_) {
    // Fast Open: the hello is upstream already, so it comes off the client
    // socket here in every mode, and only what the SYN did not take of the
    // PROXY header and hello goes first.
    if (!take_hello()) return;
    preamble.assign(in_syn_.begin() + static_cast<std::ptrdiff_t>(in_syn_sent_), in_syn_.end());
    dirs_[0].carried = hello_.size();
    std::vector<std::uint8_t>().swap(hello_);
    std::vector<std::uint8_t>().swap(in_syn_);
  }
  index_sockets();
  dirs_[0].from = client_.get();
  dirs_[0].to = upstream_.get();
  dirs_[1].from = upstream_.get();
  dirs_[1].to = client_.get();
  worker_.touch(this);
  mode_ = listener().mode.value_or(runtime_->config.forwarding.mode);
  switch (mode_) {
    case config::ForwardingMode::sockmap:
      start_sockmap(std::move(preamble));
      return;
    case config::ForwardingMode::splice:
      // The hello is still queued on the client socket (it was only
      // peeked), so the first splice carries it, after any PROXY header;
      // unless it went in the SYN: then the client is waited for.
      install(0,
              std::make_unique<forward::SpliceForwarder>(hosts_[0], dirs_[0].from, dirs_[0].to,
                                                         std::move(preamble), hello_sent_in_syn_));
      install(1, std::make_unique<forward::SpliceForwarder>(hosts_[1], dirs_[1].from, dirs_[1].to,
                                                            std::vector<std::uint8_t>{}, true));
      return;
    case config::ForwardingMode::copy:
    case config::ForwardingMode::automatic: {
      forward::CopyOptions to_backend;
      to_backend.preamble = std::move(preamble);
      if (!hello_sent_in_syn_) {
        const std::uint64_t hello_size = hello_.size();
        if (!take_hello()) return;
        to_backend.preamble.insert(to_backend.preamble.end(), hello_.begin(), hello_.end());
        to_backend.preamble_from_source = hello_size;  // the PROXY header is ours
        std::vector<std::uint8_t>().swap(hello_);
      }
      forward::CopyOptions to_client;
      if (mode_ == config::ForwardingMode::automatic) {
        to_backend.splice_after = to_client.splice_after = kAutoSpliceAfterBytes;
        to_backend.splice_after_full_reads = to_client.splice_after_full_reads =
            kAutoStreamingReads;
        // Without the programs loaded (not asked for, or they failed at
        // start-up, said once then) auto goes on without the sockmap.
        if (runtime_->config.forwarding.auto_sockmap && worker_.shared().sockmap != nullptr)
          watch_.emplace(kAutoSockmapTurns);
      }
      install(0, std::make_unique<forward::CopyForwarder>(hosts_[0], dirs_[0].from, dirs_[0].to,
                                                          std::move(to_backend)));
      install(1, std::make_unique<forward::CopyForwarder>(hosts_[1], dirs_[1].from, dirs_[1].to,
                                                          std::move(to_client)));
      return;
    }
  }
}

std::vector<std::uint8_t> Connection::proxy_header() const {
  const config::Target& t = *target_;
  if (t.proxy_protocol == config::ProxyProtocol::none) return {};
  const Endpoint destination =
      proxied_destination_.value_or(local_endpoint(client_.get()).value_or(listener().address));
  if (t.proxy_protocol == config::ProxyProtocol::v1) {
    auto h = protocol::proxy_v1_header(client_address_, destination);
    return {h.begin(), h.end()};
  }
  return protocol::proxy_v2_header(client_address_, destination, server_name_);
}

bool Connection::take_hello() {
  // The hello was only peeked: take exactly those bytes off the socket (they
  // are at its head) and forward them from our copy.
  ssize_t n = 0;
  do {
    n = ::recv(client_.get(), hello_.data(), hello_.size(), MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(hello_.size())) return true;
  close(observe::Outcome::reset, true, "hello vanished from the socket");
  return false;
}

void Connection::start_sockmap(std::vector<std::uint8_t> preamble) {
  bpf::Sockmap* map = worker_.shared().sockmap;
  observe::SockmapMetrics& counted = worker_.shared().metrics.sockmap;
  std::string reason;
  if (map != nullptr) {
    auto opened =
        forward::SockmapSession::open(*map, counted, client_.get(), upstream_.get(),
                                      runtime_->config.forwarding.sockmap_queue_cap, preamble);
    if (auto* session = std::get_if<std::shared_ptr<forward::SockmapSession>>(&opened)) {
      // The kernel forwards the peeked hello itself; that is not activity
      // after the start (the idle sweep compares against it). (None left
      // when it went in a Fast Open SYN.)
      const std::uint64_t hello_size = hello_.size();
      std::vector<std::uint8_t>().swap(hello_);
      const std::uint64_t cap = runtime_->config.forwarding.sockmap_queue_cap;
      install(0, std::make_unique<forward::SockmapForwarder>(
                     hosts_[0], *session, bpf::Direction::client_to_backend, dirs_[0].from,
                     dirs_[0].to, cap, hello_size));
      install(1, std::make_unique<forward::SockmapForwarder>(hosts_[1], std::move(*session),
                                                             bpf::Direction::backend_to_client,
                                                             dirs_[1].from, dirs_[1].to, cap, 0));
      return;
    }
    reason = std::get<std::string>(opened);
  }
  observe::bump(counted.fallbacks);
  // Not loaded at start-up is logged once then (event=sockmap_unavailable):
  // counted, but not a line per connection.
  if (map != nullptr)
    log::info("sockmap_fallback", "id={} reason={} now=splice fallbacks_total={}", id_,
              log::quote(reason), observe::read(counted.fallbacks));
  sockmap_fell_back_ = true;
  install(0, std::make_unique<forward::SpliceForwarder>(hosts_[0], dirs_[0].from, dirs_[0].to,
                                                        std::move(preamble), hello_sent_in_syn_));
  install(1, std::make_unique<forward::SpliceForwarder>(hosts_[1], dirs_[1].from, dirs_[1].to,
                                                        std::vector<std::uint8_t>{}, true));
}

void Connection::install(int d, std::unique_ptr<forward::Forwarder> forwarder) {
  Direction& dir = dirs_[d];
  if (forwarder->mode() == forward::Mode::splice) dir.spliced = true;
  dir.forwarder = std::move(forwarder);
  // Starting the other direction (or a replacement) may have closed the
  // connection; an operation started now would come after close()'s
  // cancel_fd and hold the connection open until its peer stirs. Kept
  // unstarted, it is still stopped at finish().
  if (state_ == State::closing) return;
  dir.forwarder->start();
}

void Connection::change_mode(int d, forward::Mode next) {
  Direction& dir = dirs_[d];
  // The direction has no operation in flight here (forwarders change only
  // between a completed operation and the next), so nothing can reorder.
  dir.carried += dir.forwarder->bytes_moved();
  dir.forwarder->stop();
  dir.retired.push_back(std::move(dir.forwarder));
  if (next == forward::Mode::splice) {
    install(d, std::make_unique<forward::SpliceForwarder>(hosts_[d], dir.from, dir.to,
                                                          std::vector<std::uint8_t>{}, true));
    return;
  }
  forward::CopyOptions options;
  if (mode_ == config::ForwardingMode::automatic) {
    options.splice_after = kAutoSpliceAfterBytes;
    options.splice_after_full_reads = kAutoStreamingReads;
  }
  install(
      d, std::make_unique<forward::CopyForwarder>(hosts_[d], dir.from, dir.to, std::move(options)));
}

void Connection::received(int d, bool filled_buffer) {
  if (watch_) watch_->received(d, filled_buffer);
}

bool Connection::at_rest(int d) {
  if (move_pending_) {
    dirs_[d].resting = true;
    if (dirs_[1 - d].resting) move_to_sockmap();
    return true;
  }
  if (!watch_ || !watch_->ready() || state_ != State::forwarding) return false;
  return begin_sockmap_move(d);
}

bool Connection::begin_sockmap_move(int d) {
  Direction& other = dirs_[1 - d];
  if (other.eof || !other.forwarder || other.forwarder->mode() != forward::Mode::copy) {
    // Half-closed or streaming: no longer an exchange back and forth.
    watch_.reset();
    return false;
  }
  switch (other.forwarder->come_to_rest()) {
    case forward::Rest::busy:
      // Its bytes are on their way to a peer that may not read until we
      // do: try again at a later rest rather than wait here.
      return false;
    case forward::Rest::now:
      dirs_[d].resting = other.resting = true;
      move_to_sockmap();
      return true;
    case forward::Rest::soon:
      break;
  }
  dirs_[d].resting = true;
  move_pending_ = true;
  // Bytes that won the race with the cancel are sent first; should that
  // send wait on a peer that does not read, this direction must not stop
  // reading for long.
  constexpr std::chrono::milliseconds kMoveWait{20};
  move_timer_ = worker_.timers().schedule(Clock::now() + kMoveWait, [this] {
    move_timer_ = 0;
    give_up_sockmap_move();
  });
  return true;
}

void Connection::move_to_sockmap() {
  move_pending_ = false;
  if (move_timer_ != 0) worker_.timers().cancel(std::exchange(move_timer_, 0));
  watch_.reset();  // one try per connection
  for (Direction& dir : dirs_) dir.resting = false;
  observe::SockmapMetrics& counted = worker_.shared().metrics.sockmap;
  const std::uint64_t cap = runtime_->config.forwarding.sockmap_queue_cap;
  // Both directions hold no bytes and read nothing: whatever the peers sent
  // since waits in the sockets' receive queues, and the insert has the
  // verdict judge those bytes first and in order (or pass them up as
  // unpaired, for the forwarder to move), as at a sockmap-mode start.
  std::vector<std::uint8_t> no_preamble;
  auto opened = forward::SockmapSession::open(*worker_.shared().sockmap, counted, client_.get(),
                                              upstream_.get(), cap, no_preamble);
  if (auto* session = std::get_if<std::shared_ptr<forward::SockmapSession>>(&opened)) {
    for (Direction& dir : dirs_) {
      dir.carried += dir.forwarder->bytes_moved();
      dir.forwarder->stop();
      dir.retired.push_back(std::move(dir.forwarder));
    }
    auto_sockmap_ = true;
    install(0, std::make_unique<forward::SockmapForwarder>(hosts_[0], *session,
                                                           bpf::Direction::client_to_backend,
                                                           dirs_[0].from, dirs_[0].to, cap, 0));
    install(1, std::make_unique<forward::SockmapForwarder>(hosts_[1], std::move(*session),
                                                           bpf::Direction::backend_to_client,
                                                           dirs_[1].from, dirs_[1].to, cap, 0));
    return;
  }
  observe::bump(counted.fallbacks);
  log::info("sockmap_fallback", "id={} reason={} now=copy fallbacks_total={}", id_,
            log::quote(std::get<std::string>(opened)), observe::read(counted.fallbacks));
  for (Direction& dir : dirs_) dir.forwarder->resume();
}

void Connection::give_up_sockmap_move() {
  if (!move_pending_) return;
  move_pending_ = false;
  if (move_timer_ != 0) worker_.timers().cancel(std::exchange(move_timer_, 0));
  if (watch_) watch_->restart();
  for (Direction& dir : dirs_) {
    if (!dir.resting) continue;
    dir.resting = false;
    if (state_ == State::forwarding && dir.forwarder) dir.forwarder->resume();
  }
}

void Connection::on_forwarding_op(int d, forward::Side side, const reactor::Event& event) {
  Direction& dir = dirs_[d];
  if (dir.forwarder) dir.forwarder->on_complete(side, event);
  dir.retired.clear();
}

void Connection::resume(int d) {
  Direction& dir = dirs_[d];
  // A direction at rest waits for the move, not for a buffer.
  if (state_ != State::forwarding || !dir.forwarder || dir.resting) return;
  dir.forwarder->resume();
  dir.retired.clear();
}

bool Connection::forwarded_in_kernel() {
  if (state_ != State::forwarding) return false;
  bool moved = false;
  for (Direction& dir : dirs_)
    if (dir.forwarder && dir.forwarder->moved_unseen()) moved = true;
  if (moved) touch();
  return moved;
}

reactor::Completion* Connection::DirectionHost::begin(forward::Side side) {
  return c_.begin(c_.dirs_[d_].slots[static_cast<int>(side)]);
}
reactor::Reactor& Connection::DirectionHost::reactor() {
  return c_.worker_.reactor();
}
reactor::TimerQueue& Connection::DirectionHost::timers() {
  return c_.worker_.timers();
}
PipePool& Connection::DirectionHost::pipes() {
  return c_.worker_.pipes();
}
void Connection::DirectionHost::wait_for_buffer() {
  c_.worker_.wait_for_buffer(c_.id_, d_);
}
void Connection::DirectionHost::wait_for_pipe() {
  c_.worker_.wait_for_pipe(c_.id_, d_);
}
void Connection::DirectionHost::abort(std::string detail) {
  c_.close(observe::Outcome::reset, true, std::move(detail));
}

void Connection::index_sockets() {
  observe::SocketIndex* index = worker_.shared().sockets.get();
  if (index == nullptr) return;
  observe::SocketOwner owner;
  owner.worker = worker_.index();
  owner.connection = id_;
  owner.listener = listener().name;
  owner.server_name = server_name_;
  owner.backend = backend_.to_string();
  socket_keys_[0] =
      observe::socket_key(local_endpoint(client_.get()).value_or(Endpoint{}), peer_address_);
  socket_keys_[1] =
      observe::socket_key(local_endpoint(upstream_.get()).value_or(Endpoint{}), backend_);
  owner.side = observe::SocketSide::client;
  index->add(*socket_keys_[0], owner);
  owner.side = observe::SocketSide::backend;
  index->add(*socket_keys_[1], std::move(owner));
}

void Connection::end_of_stream(int d) {
  // Half-close: carry the EOF over; the other direction keeps flowing (and
  // reads again, if it was resting for a move that cannot be now).
  dirs_[d].eof = true;
  give_up_sockmap_move();
  watch_.reset();
  // The last direction to end needs no shutdown: the close that follows
  // sends the same FIN (both receive queues were read to their EOF).
  if (dirs_[0].eof && dirs_[1].eof) {
    close(observe::Outcome::ok, false);
    return;
  }
  ::shutdown(dirs_[d].to, SHUT_WR);
}

void Connection::direction_failed(int d, bool reading, int res) {
  // Reading direction 0 or writing direction 1 touches the client.
  const bool client_side = (d == 0) == reading;
  // A pool server that resets a connection it took counts against its
  // health; it is not retried (splice or sockmap may have consumed the hello).
  if (!client_side && member_counted_ && res == -ECONNRESET)
    report_member_health(false, "reset after connect");
  close(observe::Outcome::reset, true,
        fmt::format("{}: {}", client_side ? "client" : "backend", std::strerror(-res)));
}

void Connection::touch() {
  last_active_ = Clock::now();
  worker_.touch(this);
}

// --- end -------------------------------------------------------------------

void Connection::close(observe::Outcome outcome, bool reset, std::string detail) {
  if (state_ == State::closing) return;
  state_ = State::closing;
  outcome_ = outcome;
  detail_ = std::move(detail);
  worker_.forget_idle(this);
  // Nothing pending is the usual end (both directions read their EOF): then
  // there are no cancellations to submit.
  const bool pending = in_flight_ != 0;
  for (int fd : {client_.get(), upstream_.get()}) {
    if (fd < 0) continue;
    if (reset) set_linger_zero(fd);
    // Wake every operation still pending on the fd; they complete with
    // -ECANCELED and count down in_flight_.
    if (pending) worker_.reactor().cancel_fd(fd);
  }
  if (in_flight_ == 0) retire();
}

void Connection::count_route_and_mode(std::uint64_t from_client, std::uint64_t from_backend) {
  observe::Metrics& m = worker_.shared().metrics;
  if (route_metrics_ != nullptr) {
    observe::bump(route_metrics_->bytes_from_client, from_client);
    observe::bump(route_metrics_->bytes_from_backend, from_backend);
  }
  if (!state_reached_forwarding_) return;
  const bool spliced = dirs_[0].spliced || dirs_[1].spliced;
  observe::ForwardedBy by = observe::ForwardedBy::copy;
  if (mode_ == config::ForwardingMode::splice) by = observe::ForwardedBy::splice;
  if (mode_ == config::ForwardingMode::automatic)
    by = auto_sockmap_ ? observe::ForwardedBy::auto_sockmap
         : spliced     ? observe::ForwardedBy::auto_splice
                       : observe::ForwardedBy::auto_copy;
  if (mode_ == config::ForwardingMode::sockmap)
    by = sockmap_fell_back_ ? observe::ForwardedBy::sockmap_splice : observe::ForwardedBy::sockmap;
  observe::bump(m.forwarded(by));
}

std::uint64_t Connection::bytes_from(int d) const {
  const Direction& dir = dirs_[d];
  const std::uint64_t moved = dir.carried + (dir.forwarder ? dir.forwarder->bytes_moved() : 0);
  // From the client, at least the hello it sent: all there is before
  // forwarding, and what a kernel mode may not have moved yet.
  return d == 0 ? std::max(moved, static_cast<std::uint64_t>(fed_)) : moved;
}

std::string Connection::mode_label() const {
  std::string label(config::to_string(mode_));
  // auto: what it became (sockmap once both moved to it, splice once either
  // direction did).
  if (mode_ == config::ForwardingMode::automatic)
    label += auto_sockmap_                          ? "/sockmap"
             : dirs_[0].spliced || dirs_[1].spliced ? "/splice"
                                                    : "/copy";
  if (mode_ == config::ForwardingMode::sockmap && sockmap_fell_back_) label += "/splice";
  return label;
}

void Connection::finish() {
  // The forwarders first, while the fds are open: they give back buffers
  // and pipes, and sockmap's reads its byte counts and leaves the map.
  for (Direction& dir : dirs_) {
    if (dir.forwarder) dir.forwarder->stop();
    dir.retired.clear();
  }
  if (descriptor_timer_ != 0) worker_.timers().cancel(descriptor_timer_);
  if (move_timer_ != 0) worker_.timers().cancel(move_timer_);
  observe::AccessRecord r;
  r.client = client_address_.to_string();
  r.listener = listener().name;
  r.server_name = server_name_;
  if (backend_known_) r.backend = backend_.to_string();
  r.bytes_in = bytes_from(0);
  r.bytes_out = bytes_from(1);
  r.duration_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_).count());
  if (state_reached_forwarding_) r.mode = mode_label();
  r.outcome = outcome_;
  r.detail = detail_;
  r.ech = ech_offered_;
  count_route_and_mode(r.bytes_in, r.bytes_out);
  if (observe::SocketIndex* index = worker_.shared().sockets.get())
    for (const auto& key : socket_keys_)
      if (key) index->remove(*key);
  upstream_.reset();
  client_.reset();
  worker_.shared().limits.release(counted_source_);
  if (member_counted_) worker_.pools().closed(member_->member.id);
  record_ending(worker_.shared().metrics, *runtime_, listener_index_, r);
}

}  // namespace sniproxy::proxy
