#pragma once
// The [admin] HTTP endpoint, served by one worker's reactor: accept, read a
// request head (bounded in size and time), answer from a handler, close.
// One request per connection (Connection: close), at most max_clients in
// progress; more are answered 503 at once. Nothing here blocks the reactor:
// every read and write is a reactor operation.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "config/config.hpp"
#include "protocol/http_head.hpp"
#include "reactor/reactor.hpp"
#include "reactor/timer_queue.hpp"

namespace sniproxy::observe {

struct AdminReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Called on the serving worker's thread with the request's method and path
// (query string removed).
using AdminHandler = std::function<AdminReply(std::string_view method, std::string_view path)>;

class AdminServer {
 public:
  // Binds the listening socket (so a taken port fails start-up, naming it),
  // or takes `passed` (the master's, kept open across worker generations:
  // stop() then only stops accepting from it).
  static Result<std::unique_ptr<AdminServer>> create(const config::Admin& config,
                                                     AdminHandler handler,
                                                     UniqueFd passed = UniqueFd{});
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // On the serving worker's thread, before its loop: starts accepting.
  void start(reactor::Reactor& reactor, reactor::TimerQueue& timers);
  // Stops accepting and ends requests in progress (drain).
  void stop();
  // No operation of ours is in flight: the server may be destroyed.
  [[nodiscard]] bool quiet() const;

 private:
  struct Client;
  struct Accept final : reactor::Completion {
    AdminServer* server = nullptr;
    void on_complete(const reactor::Event& event) override;
  };
  struct ClientOp final : reactor::Completion {
    Client* client = nullptr;
    void on_complete(const reactor::Event& event) override;
  };
  struct Client {
    AdminServer* server = nullptr;
    std::uint64_t id = 0;
    UniqueFd fd;
    ClientOp op;
    bool in_flight = false;  // op is in flight
    bool closing = false;
    bool responding = false;
    bool timed_out = false;  // the request deadline passed while reading
    protocol::HttpHeadParser parser;
    std::string buffer;    // the request head, then the response
    std::size_t used = 0;  // bytes received into / sent from buffer
    reactor::TimerQueue::Id deadline = 0;
    explicit Client(std::size_t max_head) : parser(max_head) {}
  };

  AdminServer(const config::Admin& config, AdminHandler handler, UniqueFd fd);
  void arm_accept();
  void serve(UniqueFd fd);
  void take_queued();
  void on_accept(const reactor::Event& event);
  void on_client(Client& c, int res);
  void arm_recv(Client& c);
  void respond(Client& c, const AdminReply& reply);
  void arm_send(Client& c);
  void end(Client& c);
  void release_if_done(Client& c);

  config::Admin config_;
  AdminHandler handler_;
  UniqueFd listen_fd_;
  bool passed_ = false;  // not ours to shut down
  reactor::Reactor* reactor_ = nullptr;
  reactor::TimerQueue* timers_ = nullptr;
  Accept accept_;
  bool accept_armed_ = false;
  bool stopping_ = false;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, std::unique_ptr<Client>> clients_;
};

// The whole HTTP/1.1 response for `reply` (Content-Length, Connection: close).
std::string http_response(const AdminReply& reply);

}  // namespace sniproxy::observe
