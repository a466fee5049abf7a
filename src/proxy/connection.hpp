#pragma once
// One proxied connection: its two sockets, its hello, its route, and the
// forwarding between them (copy_forwarding.cpp, splice_forwarding.cpp,
// sockmap_forwarding.cpp). It
// owns both fds and releases everything in one place (finish()), after the
// last of its io_uring operations has completed.
#include <linux/time_types.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/address.hpp"
#include "common/unique_fd.hpp"
#include "observe/access_log.hpp"
#include "observe/metrics.hpp"
#include "observe/outcome.hpp"
#include "observe/socket_index.hpp"
#include "protocol/client_hello.hpp"
#include "protocol/http_head.hpp"
#include "proxy/pipe_pool.hpp"
#include "proxy/runtime.hpp"
#include "reactor/timer_queue.hpp"
#include "reactor/uring/ring.hpp"

namespace sniproxy::bpf {
struct SockPair;
struct ForwardState;
struct ForwardControl;
}  // namespace sniproxy::bpf

namespace sniproxy::proxy {

class Worker;
class Connection;

// An io_uring operation slot of a connection: counts in-flight operations so
// the connection outlives every CQE that points at it.
struct ConnOp final : reactor::Completion {
  // `dir` is the forwarding direction an operation belongs to (0 for the
  // others), so one handler serves both directions.
  using Handler = void (Connection::*)(int dir, int res, unsigned flags);
  Connection* conn = nullptr;
  Handler handler = nullptr;
  int dir = 0;
  void on_complete(int res, unsigned flags) override;
};

class Connection {
 public:
  Connection(Worker& worker, std::uint64_t id, std::shared_ptr<const Runtime> runtime,
             std::size_t listener_index, UniqueFd client, Endpoint client_address);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start();
  // Ends the connection with `outcome`; `reset` sends RST to both peers.
  void close(observe::Outcome outcome, bool reset, std::string detail = {});
  // Called by the worker when a buffer frees up after -ENOBUFS.
  void resume_receive(int direction);
  // Called by the worker when a pipe frees up after the pool ran out.
  void resume_splice(int direction);
  // Called by the worker's idle sweep and drain.
  [[nodiscard]] bool forwarding() const { return state_ == State::forwarding; }
  [[nodiscard]] std::chrono::steady_clock::time_point last_active() const { return last_active_; }
  // Sockmap: whether the kernel forwarded bytes since the last call; if so
  // the connection counts as active (touched). Userspace sees none of them.
  bool forwarded_in_kernel();

  [[nodiscard]] std::uint64_t id() const { return id_; }
  [[nodiscard]] bool closing() const { return state_ == State::closing; }
  [[nodiscard]] int pending() const { return pending_; }
  // Frees fds, counts and writes the access log line. Called once.
  void finish();

  // Idle LRU links, owned by Worker.
  Connection* idle_prev = nullptr;
  Connection* idle_next = nullptr;
  bool in_idle_list = false;
  bool reaped = false;

 private:
  friend struct ConnOp;
  enum class State : std::uint8_t { hello, resolving, connecting, forwarding, closing };

  // One direction of forwarding: from -> to. At most one operation reads
  // `from` (recv_op) and one writes `to` (send_op) at any time.
  struct Direction {
    int from = -1;
    int to = -1;
    ConnOp recv_op;
    ConnOp send_op;
    // copy: the buffer being sent
    const std::uint8_t* data = nullptr;
    std::size_t offset = 0;
    std::size_t length = 0;
    int buffer_id = -1;  // provided buffer in use, or -1 (initial payload)
    // splice: the pipe held while bytes pass through it
    bool splice = false;
    std::unique_ptr<Pipe> pipe;
    std::size_t in_pipe = 0;
    bool eof = false;
    std::uint64_t bytes = 0;
    // sockmap: the source's wake-up, the recheck timer, whether a POLLOUT
    // on the peer is armed, and a scratch buffer for passed bytes.
    bool poll_armed = false;
    bool peer_full = false;
    reactor::TimerQueue::Id recheck_timer = 0;
    std::chrono::steady_clock::time_point recheck_due{};
    std::chrono::milliseconds wait_delay{1};       // backoff while waiting on the kernel
    std::chrono::microseconds look_delay{10'000};  // between looks at the bound
    std::uint64_t sockmap_redirected_seen = 0;     // state.redirected at the last look
    std::chrono::steady_clock::time_point sockmap_last_look{};
    std::vector<std::uint8_t> passed;
    std::uint64_t sockmap_passed_bytes = 0;
  };

  const config::Listener& listener() const;
  void submit_hello_poll();
  void on_hello_poll(int, int res, unsigned flags);
  void on_link_timeout(int, int res, unsigned flags);
  bool peek_hello(bool peer_closed);
  void hello_complete();
  void route_tls();
  // Routes a parsed name (or, without one, the listener's fallback); false
  // when neither applies and `detail` says why.
  bool route_name(const std::optional<std::string>& name, std::string& detail);
  void route_http();
  void use_target(const config::Target& target, const std::string& name);
  void refuse(observe::Outcome outcome, std::string detail = {});
  void on_resolved(const Result<std::vector<IpAddress>>& addresses, bool guarded);
  void try_next_address();
  // A socket for backend_ and its connect; on failure, the next address.
  void connect_backend();
  // Out of descriptors for the backend socket: connect_backend again when
  // one may be free, until the connect timeout. False once it is over.
  bool wait_for_descriptor();
  void on_connect(int, int res, unsigned flags);
  void start_forwarding();
  void end_of_stream(int d);
  // [retrans]: makes both sockets findable by 4-tuple until finish().
  void index_sockets();
  // The connection's share of the /metrics counters, once, at its end.
  void count_finished(std::uint64_t from_client, std::uint64_t from_backend);
  void direction_failed(int d, bool reading, int res);
  void touch();
  // copy_forwarding.cpp
  void consume_hello();
  void send_initial();
  void arm_recv(int d);
  void arm_send(int d);
  void on_recv(int d, int res, unsigned flags);
  void on_send(int d, int res, unsigned flags);
  void release_buffer(Direction& d);
  // splice_forwarding.cpp
  void start_splice();
  void splice_wait_readable(int d);
  void on_splice_readable(int d, int res, unsigned flags);
  bool take_pipe(int d);
  void splice_pump(int d);
  void on_splice_writable(int d, int res, unsigned flags);
  void return_pipe(Direction& d);
  // sockmap_forwarding.cpp
  void start_sockmap();
  void sockmap_fallback(const std::string& reason);
  void sockmap_wait(int d);
  void on_sockmap_event(int d, int res, unsigned flags);
  void sockmap_recheck_later(int d);
  void sockmap_look_later(int d, std::chrono::microseconds delay);
  void sockmap_recheck(int d);
  void sockmap_step(int d, bool woken);
  bool sockmap_move_passed(int d, const bpf::ForwardState& state, bpf::ForwardControl& control);
  void on_sockmap_writable(int d, int res, unsigned flags);
  void sockmap_finish_direction(int d);
  void sockmap_release();

  Worker& worker_;
  std::uint64_t id_;
  std::shared_ptr<const Runtime> runtime_;
  std::size_t listener_index_;
  UniqueFd client_;
  UniqueFd upstream_;
  Endpoint client_address_;
  State state_ = State::hello;
  int pending_ = 0;

  // Hello: bytes peeked (and later consumed) from the client.
  std::vector<std::uint8_t> hello_;
  std::size_t fed_ = 0;
  // SO_RCVLOWAT was raised above 1 while the hello was incomplete.
  bool lowat_raised_ = false;
  std::variant<protocol::ClientHelloParser, protocol::HttpHeadParser> parser_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point hello_deadline_;
  __kernel_timespec hello_ts_{};
  __kernel_timespec connect_ts_{};
  std::chrono::steady_clock::time_point connect_started_;
  ConnOp hello_poll_op_;
  ConnOp timeout_op_;
  ConnOp connect_op_;

  // Routing and connecting.
  std::string server_name_;
  const config::Target* target_ = nullptr;
  observe::RouteMetrics* route_metrics_ = nullptr;  // null until a route matched
  std::vector<IpAddress> candidates_;
  std::size_t next_candidate_ = 0;
  std::chrono::steady_clock::time_point descriptor_wait_started_{};
  std::chrono::milliseconds descriptor_backoff_{0};
  reactor::TimerQueue::Id descriptor_timer_ = 0;
  std::uint16_t port_ = 0;
  Endpoint backend_;
  bool backend_known_ = false;
  observe::Outcome connect_outcome_ = observe::Outcome::connect_failed;
  std::string connect_detail_;
  sockaddr_storage connect_addr_{};

  // Forwarding: [0] client -> upstream, [1] upstream -> client.
  config::ForwardingMode mode_ = config::ForwardingMode::copy;
  bool state_reached_forwarding_ = false;
  Direction dirs_[2];
  std::optional<observe::SocketKey> socket_keys_[2];  // [0] client side, [1] backend side
  std::vector<std::uint8_t> initial_;                 // PROXY header + hello, sent first upstream
  std::unique_ptr<bpf::SockPair> sockpair_;           // while in the sockmap
  std::uint64_t kernel_bytes_seen_ = 0;               // redirected both ways, at the last look
  bool sockmap_fell_back_ = false;
  std::chrono::steady_clock::time_point last_active_;

  observe::Outcome outcome_ = observe::Outcome::ok;
  std::string detail_;
};

}  // namespace sniproxy::proxy
