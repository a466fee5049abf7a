#include "proxy/connection.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "bpf/sockmap/sockmap.hpp"
#include "common/log.hpp"
#include "common/server_name.hpp"
#include "config/names.hpp"
#include "protocol/proxy_protocol.hpp"
#include "proxy/upstream_socket.hpp"
#include "proxy/worker.hpp"

namespace sniproxy::proxy {

namespace {
using Clock = std::chrono::steady_clock;
constexpr std::size_t kInitialHelloBuffer = 4096;
// TLS alert descriptions (RFC 8446 6.2).
constexpr std::uint8_t kAlertAccessDenied = 49;
constexpr std::uint8_t kAlertUnrecognizedName = 112;

__kernel_timespec to_timespec(std::chrono::nanoseconds d) {
  if (d < std::chrono::nanoseconds(0)) d = std::chrono::nanoseconds(0);
  __kernel_timespec ts{};
  ts.tv_sec = d.count() / 1'000'000'000;
  ts.tv_nsec = d.count() % 1'000'000'000;
  return ts;
}

void send_best_effort(int fd, const void* data, std::size_t size) {
  // A refusal is a courtesy: if the client's socket buffer cannot take a few
  // bytes now, it is not waited for.
  (void)::send(fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
}

std::optional<Endpoint> local_endpoint(int fd) {
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) return std::nullopt;
  return Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&local));
}

void set_linger_zero(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}
}  // namespace

void ConnOp::on_complete(int res, unsigned flags) {
  Connection* c = conn;
  --c->pending_;
  (c->*handler)(dir, res, flags);
  if (c->closing() && c->pending() == 0) c->worker_.reap(c);
}

Connection::Connection(Worker& worker, std::uint64_t id, std::shared_ptr<const Runtime> runtime,
                       std::size_t listener_index, UniqueFd client, Endpoint client_address)
    : worker_(worker),
      id_(id),
      runtime_(std::move(runtime)),
      listener_index_(listener_index),
      client_(std::move(client)),
      client_address_(client_address),
      parser_(std::in_place_type<protocol::ClientHelloParser>,
              runtime_->config.limits.max_hello_size) {
  if (listener().protocol == config::Protocol::http)
    parser_.emplace<protocol::HttpHeadParser>(runtime_->config.limits.max_hello_size);
  auto bind = [this](ConnOp& op, ConnOp::Handler h) {
    op.conn = this;
    op.handler = h;
  };
  bind(hello_poll_op_, &Connection::on_hello_poll);
  bind(timeout_op_, &Connection::on_link_timeout);
  bind(connect_op_, &Connection::on_connect);
  for (int d = 0; d < 2; ++d) {
    bind(dirs_[d].recv_op, &Connection::on_recv);
    bind(dirs_[d].send_op, &Connection::on_send);
    dirs_[d].recv_op.dir = d;
    dirs_[d].send_op.dir = d;
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
  submit_hello_poll();
}

// --- hello -----------------------------------------------------------------

void Connection::submit_hello_poll() {
  // Peek until the name is known, so a kernel forwarding mode can leave the
  // hello in the socket. SO_RCVLOWAT (set by peek_hello) makes this poll wait
  // for more bytes than already peeked instead of firing at once.
  hello_ts_ = to_timespec(hello_deadline_ - Clock::now());
  io_uring_sqe* s = worker_.ring().sqe(&hello_poll_op_, 2);
  io_uring_prep_poll_add(s, client_.get(), POLLIN | POLLRDHUP);
  s->flags |= IOSQE_IO_LINK;
  io_uring_sqe* t = worker_.ring().sqe(&timeout_op_);
  io_uring_prep_link_timeout(t, &hello_ts_, 0);
  pending_ += 2;
}

void Connection::on_link_timeout(int, int, unsigned) {
  // The linked operation reports the outcome (-ECANCELED when this fired).
}

void Connection::on_hello_poll(int, int res, unsigned) {
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
  if (peek_hello(peer_closed)) submit_hello_poll();
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

bool Connection::route_name(const std::optional<std::string>& name, std::string& detail) {
  if (name) {
    server_name_ = *name;
    const auto* table = runtime_->router.table(listener().table);
    const config::Route* route = table != nullptr ? table->lookup(server_name_) : nullptr;
    if (route != nullptr) {
      route_metrics_ = &worker_.shared().metrics.route(listener().table, route->pattern);
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
  if (route_name(name, detail)) return;
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
  if (route_name(name, detail)) return;
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

void Connection::try_next_address() {
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
  auto sock = open_upstream_socket(backend_, listener().source);
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
  const unsigned len = backend_.to_sockaddr(connect_addr_);
  connect_ts_ = to_timespec(runtime_->config.timeouts.connect);
  connect_started_ = Clock::now();
  io_uring_sqe* s = worker_.ring().sqe(&connect_op_, 2);
  io_uring_prep_connect(s, upstream_.get(), reinterpret_cast<sockaddr*>(&connect_addr_), len);
  s->flags |= IOSQE_IO_LINK;
  io_uring_sqe* t = worker_.ring().sqe(&timeout_op_);
  io_uring_prep_link_timeout(t, &connect_ts_, 0);
  pending_ += 2;
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

void Connection::on_connect(int, int res, unsigned) {
  if (state_ == State::closing) return;
  if (res == 0) {
    worker_.shared().metrics.connect_latency.observe(Clock::now() - connect_started_);
    start_forwarding();
    return;
  }
  if (res == -ECANCELED) {
    connect_outcome_ = observe::Outcome::connect_timeout;
    connect_detail_ = fmt::format("{}: timed out", backend_.to_string());
  } else {
    connect_outcome_ = observe::Outcome::connect_failed;
    connect_detail_ = fmt::format("{}: {}", backend_.to_string(), std::strerror(-res));
  }
  try_next_address();
}

// --- forwarding ------------------------------------------------------------

void Connection::start_forwarding() {
  state_ = State::forwarding;
  state_reached_forwarding_ = true;
  const config::Target& t = *target_;
  if (t.proxy_protocol != config::ProxyProtocol::none) {
    const Endpoint destination = local_endpoint(client_.get()).value_or(listener().address);
    if (t.proxy_protocol == config::ProxyProtocol::v1) {
      auto h = protocol::proxy_v1_header(client_address_, destination);
      initial_.assign(h.begin(), h.end());
    } else {
      initial_ = protocol::proxy_v2_header(client_address_, destination, server_name_);
    }
  }
  index_sockets();
  dirs_[0].from = client_.get();
  dirs_[0].to = upstream_.get();
  dirs_[1].from = upstream_.get();
  dirs_[1].to = client_.get();
  worker_.touch(this);
  mode_ = listener().mode.value_or(runtime_->config.forwarding.mode);
  if (mode_ == config::ForwardingMode::splice) {
    start_splice();
    return;
  }
  if (mode_ == config::ForwardingMode::sockmap) {
    start_sockmap();
    return;
  }
  consume_hello();
  if (state_ != State::forwarding) return;
  send_initial();
  arm_recv(1);
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
      observe::socket_key(local_endpoint(client_.get()).value_or(Endpoint{}), client_address_);
  socket_keys_[1] =
      observe::socket_key(local_endpoint(upstream_.get()).value_or(Endpoint{}), backend_);
  owner.side = observe::SocketSide::client;
  index->add(*socket_keys_[0], owner);
  owner.side = observe::SocketSide::backend;
  index->add(*socket_keys_[1], std::move(owner));
}

void Connection::end_of_stream(int d) {
  // Half-close: carry the EOF over; the other direction keeps flowing.
  dirs_[d].eof = true;
  ::shutdown(dirs_[d].to, SHUT_WR);
  if (dirs_[0].eof && dirs_[1].eof) close(observe::Outcome::ok, false);
}

void Connection::direction_failed(int d, bool reading, int res) {
  // Reading direction 0 or writing direction 1 touches the client.
  const bool client_side = (d == 0) == reading;
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
  for (int fd : {client_.get(), upstream_.get()}) {
    if (fd < 0) continue;
    if (reset) set_linger_zero(fd);
    // Wake every operation still pending on the fd; they complete with
    // -ECANCELED and count down pending_.
    io_uring_sqe* s = worker_.ring().sqe_ignored();
    io_uring_prep_cancel_fd(s, fd, IORING_ASYNC_CANCEL_ALL);
  }
  if (pending_ == 0) worker_.reap(this);
}

void Connection::count_finished(std::uint64_t from_client, std::uint64_t from_backend) {
  observe::Metrics& m = worker_.shared().metrics;
  observe::ListenerMetrics& l = m.listener(listener_index_);
  observe::bump(l.closed[static_cast<std::size_t>(outcome_)]);
  observe::bump(l.bytes_from_client, from_client);
  observe::bump(l.bytes_from_backend, from_backend);
  if (route_metrics_ != nullptr) {
    observe::bump(route_metrics_->bytes_from_client, from_client);
    observe::bump(route_metrics_->bytes_from_backend, from_backend);
  }
  if (!state_reached_forwarding_) return;
  observe::ForwardedBy by = observe::ForwardedBy::copy;
  if (mode_ == config::ForwardingMode::splice) by = observe::ForwardedBy::splice;
  if (mode_ == config::ForwardingMode::automatic)
    by = dirs_[0].splice || dirs_[1].splice ? observe::ForwardedBy::auto_splice
                                            : observe::ForwardedBy::auto_copy;
  if (mode_ == config::ForwardingMode::sockmap)
    by = sockmap_fell_back_ ? observe::ForwardedBy::sockmap_splice : observe::ForwardedBy::sockmap;
  observe::bump(m.forwarded(by));
}

void Connection::finish() {
  observe::AccessRecord r;
  r.client = client_address_.to_string();
  r.listener = listener().name;
  r.server_name = server_name_;
  if (backend_known_) r.backend = backend_.to_string();
  sockmap_release();  // before the fds close; fills in the sockmap byte counts
  if (descriptor_timer_ != 0) worker_.timers().cancel(descriptor_timer_);
  // Bytes received from each peer; before forwarding, the hello peeked.
  r.bytes_in = std::max<std::uint64_t>(dirs_[0].bytes, fed_);
  r.bytes_out = dirs_[1].bytes;
  r.duration_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_).count());
  if (state_reached_forwarding_) {
    r.mode = std::string(config::to_string(mode_));
    // auto: what it became (splice once either direction moved to it).
    if (mode_ == config::ForwardingMode::automatic)
      r.mode += dirs_[0].splice || dirs_[1].splice ? "/splice" : "/copy";
    if (mode_ == config::ForwardingMode::sockmap && sockmap_fell_back_) r.mode += "/splice";
  }
  r.outcome = outcome_;
  r.detail = detail_;
  count_finished(r.bytes_in, r.bytes_out);
  for (Direction& d : dirs_) return_pipe(d);
  if (observe::SocketIndex* index = worker_.shared().sockets.get())
    for (const auto& key : socket_keys_)
      if (key) index->remove(*key);
  upstream_.reset();
  client_.reset();
  worker_.shared().limits.release(client_address_.ip);
  runtime_->access_log->write(r);
}

}  // namespace sniproxy::proxy
