#include "observe/admin_server.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common/listen_socket.hpp"
#include "common/log.hpp"

namespace sniproxy::observe {

namespace {
// A request head larger than this is not one of ours (GET /metrics is ~100
// bytes with a browser's headers ~1 KiB).
constexpr std::size_t kMaxRequestHead = 8192;
constexpr int kBacklog = 64;

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

AdminReply plain(int status, std::string_view body) {
  AdminReply r;
  r.status = status;
  r.body = fmt::format("{}\n", body);
  return r;
}
}  // namespace

std::string http_response(const AdminReply& reply) {
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n"
      "Cache-Control: no-store\r\n{}\r\n",
      reply.status, reason_phrase(reply.status), reply.content_type, reply.body.size(),
      reply.status == 405 ? "Allow: GET, HEAD\r\n" : "");
  out += reply.body;
  return out;
}

Result<std::unique_ptr<AdminServer>> AdminServer::create(const config::Admin& config,
                                                         AdminHandler handler, UniqueFd passed) {
  if (passed) {
    std::unique_ptr<AdminServer> server(
        new AdminServer(config, std::move(handler), std::move(passed)));
    server->passed_ = true;
    return server;
  }
  auto fd = open_listen_socket(config.listen, kBacklog);
  if (!fd) return make_error(fmt::format("[admin] listen: {}", fd.error().message));
  return std::unique_ptr<AdminServer>(
      new AdminServer(config, std::move(handler), std::move(fd).value()));
}

AdminServer::AdminServer(const config::Admin& config, AdminHandler handler, UniqueFd fd)
    : config_(config), handler_(std::move(handler)), listen_fd_(std::move(fd)) {
  accept_.server = this;
}

AdminServer::~AdminServer() = default;

void AdminServer::start(reactor::Reactor& reactor, reactor::TimerQueue& timers) {
  reactor_ = &reactor;
  timers_ = &timers;
  arm_accept();
  log::info("admin_listening", "address={} max_clients={}", config_.listen.to_string(),
            config_.max_clients);
}

void AdminServer::arm_accept() {
  reactor_->accept_multishot(listen_fd_.get(), &accept_);
  accept_armed_ = true;
}

void AdminServer::Accept::on_complete(const reactor::Event& event) {
  server->on_accept(event);
}

void AdminServer::on_accept(const reactor::Event& event) {
  const int res = event.res;
  if (!event.more) accept_armed_ = false;
  if (res >= 0) {
    UniqueFd fd(res);
    // A passed socket's clients are served to the end even while stopping:
    // the next worker generation takes the ones still queued.
    if (stopping_ && !passed_) return;
    serve(std::move(fd));
    if (stopping_ && !accept_armed_) take_queued();
    return;
  }
  if (stopping_ && !accept_armed_) take_queued();
  if (res != -ECANCELED && res != -EINVAL && !stopping_)
    log::warn("admin_accept_failed", "error={}", log::quote(std::strerror(-res)));
  if (!accept_armed_ && !stopping_ && (res == -EMFILE || res == -ENFILE)) {
    // Out of descriptors: try again later rather than spin.
    timers_->schedule(reactor::Clock::now() + std::chrono::milliseconds(100), [this] {
      if (!accept_armed_ && !stopping_) arm_accept();
    });
    return;
  }
  if (!accept_armed_ && !stopping_) arm_accept();
}

void AdminServer::arm_recv(Client& c) {
  reactor_->recv(
      c.fd.get(),
      {reinterpret_cast<std::uint8_t*>(c.buffer.data()) + c.used, c.buffer.size() - c.used}, &c.op);
  c.in_flight = true;
}

void AdminServer::arm_send(Client& c) {
  reactor_->send(
      c.fd.get(),
      {reinterpret_cast<const std::uint8_t*>(c.buffer.data()) + c.used, c.buffer.size() - c.used},
      &c.op);
  c.in_flight = true;
}

void AdminServer::ClientOp::on_complete(const reactor::Event& event) {
  client->in_flight = false;
  client->server->on_client(*client, event.res);
}

void AdminServer::on_client(Client& c, int res) {
  if (c.closing) {
    release_if_done(c);
    return;
  }
  if (c.responding) {
    if (res <= 0) {
      end(c);
      return;
    }
    c.used += static_cast<std::size_t>(res);
    if (c.used < c.buffer.size()) {
      arm_send(c);
      return;
    }
    end(c);
    return;
  }
  if (c.timed_out) {
    respond(c, plain(408, "request head not complete in time"));
    return;
  }
  if (res <= 0) {  // closed or failed before a whole request: nothing to answer
    end(c);
    return;
  }
  const auto* data = reinterpret_cast<const std::uint8_t*>(c.buffer.data()) + c.used;
  c.used += static_cast<std::size_t>(res);
  const auto status = c.parser.feed({data, static_cast<std::size_t>(res)});
  if (status == protocol::ParseStatus::need_more) {
    if (c.used < c.buffer.size()) {
      arm_recv(c);
      return;
    }
    respond(c, plain(400, "request head too large"));
    return;
  }
  if (status == protocol::ParseStatus::rejected) {
    respond(c, plain(400, fmt::format("bad request: {}", protocol::to_string(c.parser.error()))));
    return;
  }
  const auto& info = c.parser.info();
  std::string_view path = info.target;
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (info.method != "GET" && info.method != "HEAD") {
    respond(c, plain(405, "only GET and HEAD"));
    return;
  }
  AdminReply reply = handler_(info.method, path);
  if (info.method == "HEAD") {
    // Same headers, no body: keep the length of the body it would have.
    std::string head = http_response(reply);
    head.resize(head.size() - reply.body.size());
    c.responding = true;
    c.buffer = std::move(head);
    c.used = 0;
    arm_send(c);
    return;
  }
  respond(c, reply);
}

void AdminServer::respond(Client& c, const AdminReply& reply) {
  c.responding = true;
  c.buffer = http_response(reply);
  c.used = 0;
  arm_send(c);
}

// One accepted admin client: read its request within request_timeout.
void AdminServer::serve(UniqueFd fd) {
  if (clients_.size() >= config_.max_clients) {
    // Over the bound: a best-effort answer from the socket buffer, no
    // state kept.
    const std::string busy = http_response(plain(503, "too many admin requests at once"));
    (void)::send(fd.get(), busy.data(), busy.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    return;
  }
  auto c = std::make_unique<Client>(kMaxRequestHead);
  c->server = this;
  c->id = next_id_++;
  c->fd = std::move(fd);
  c->op.client = c.get();
  c->buffer.resize(kMaxRequestHead);
  Client& ref = *c;
  clients_.emplace(c->id, std::move(c));
  AdminServer* self = this;
  const std::uint64_t id = ref.id;
  ref.deadline = timers_->schedule(reactor::Clock::now() + config_.request_timeout, [self, id] {
    auto it = self->clients_.find(id);
    if (it == self->clients_.end()) return;
    Client& late = *it->second;
    late.deadline = 0;
    if (late.responding) {
      self->end(late);  // a client that does not read its answer
      return;
    }
    // A recv is pending: cancel it; its completion answers 408.
    late.timed_out = true;
    self->reactor_->cancel(&late.op);
  });
  arm_recv(ref);
}

// A passed socket stays open in the next worker generation, and an accept
// wakes one waiter per client: one whose wake-up went to this accept as it
// was cancelled is taken here, or it would wait for another client to wake
// the next generation.
void AdminServer::take_queued() {
  if (!passed_) return;
  for (int i = 0; i < 64; ++i) {
    const int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    serve(UniqueFd(fd));
  }
}

void AdminServer::end(Client& c) {
  if (!c.closing) {
    c.closing = true;
    if (c.deadline != 0) timers_->cancel(c.deadline);
    c.deadline = 0;
    if (c.in_flight) reactor_->cancel(&c.op);
  }
  release_if_done(c);
}

void AdminServer::release_if_done(Client& c) {
  if (c.in_flight) return;
  clients_.erase(c.id);  // closes the socket
}

void AdminServer::stop() {
  if (stopping_ || reactor_ == nullptr) return;
  stopping_ = true;
  if (!passed_) ::shutdown(listen_fd_.get(), SHUT_RDWR);
  if (accept_armed_) reactor_->cancel(&accept_);
  // Requests to a passed socket finish (within request_timeout): the next
  // generation answers the ones after them.
  if (passed_) return;
  std::vector<Client*> open;
  for (auto& [id, c] : clients_) open.push_back(c.get());
  for (Client* c : open) end(*c);
}

bool AdminServer::quiet() const {
  return !accept_armed_ && clients_.empty();
}

}  // namespace sniproxy::observe
