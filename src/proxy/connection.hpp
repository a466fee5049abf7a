#pragma once
// One proxied connection: its two sockets, its hello, its route, its
// connect, and its two directions, each moved by one forwarder
// (proxy/forward/) that this class chooses and never looks into. It owns
// both fds and releases everything in one place (finish()), after the last
// of its reactor operations has completed.
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
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
#include "protocol/proxy_protocol.hpp"
#include "proxy/exchange_watch.hpp"
#include "proxy/forward/forwarder.hpp"
#include "proxy/idle_list.hpp"
#include "proxy/runtime.hpp"
#include "proxy/worker_pools.hpp"
#include "reactor/reactor.hpp"
#include "reactor/timer_queue.hpp"

namespace sniproxy::proxy {

class Worker;
class Connection;

// A reactor operation slot of a connection. Connection::begin() counts it in
// flight and its completion counts it out: the one place that keeps the
// connection alive until every completion that points at it has come.
struct ConnOp final : reactor::Completion {
  // `dir` and `side` say which forwarding slot it is (for the others only
  // the handler matters), so one handler serves both directions.
  using Handler = void (Connection::*)(int dir, forward::Side side, const reactor::Event& event);
  Connection* conn = nullptr;
  Handler handler = nullptr;
  int dir = 0;
  forward::Side side = forward::Side::source;
  void on_complete(const reactor::Event& event) override;
};

// Members are grouped by concern (client, hello, attempts, forwarding);
// packing them by size would save 56 bytes per connection but reorder the
// construction and destruction of ~60 members (fds, pending ops,
// forwarders), a change that wants its own tests.
// NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding): see above
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
  // Called by the worker when a buffer or a pipe the direction waited for
  // is free again.
  void resume(int direction);
  // Called by the worker's idle sweep and drain.
  [[nodiscard]] bool forwarding() const { return state_ == State::forwarding; }
  [[nodiscard]] std::chrono::steady_clock::time_point last_active() const { return last_active_; }
  // Whether bytes moved in the kernel since the last call (sockmap, where
  // userspace sees none of them); if so the connection counts as active.
  bool forwarded_in_kernel();

  [[nodiscard]] std::uint64_t id() const { return id_; }
  [[nodiscard]] bool closing() const { return state_ == State::closing; }
  [[nodiscard]] int in_flight() const { return in_flight_; }
  // Frees fds, counts and writes the access log line. Called once.
  void finish();

  // Its place in the worker's IdleList (only the list touches it).
  IdleLink& idle_link() { return idle_link_; }

 private:
  friend struct ConnOp;
  enum class State : std::uint8_t { hello, resolving, connecting, forwarding, closing };

  // What a direction's forwarder sees of this connection (forward::Host).
  class DirectionHost final : public forward::Host {
   public:
    DirectionHost(Connection& c, int d) : c_(c), d_(d) {}
    reactor::Completion* begin(forward::Side side) override;
    reactor::Reactor& reactor() override;
    reactor::TimerQueue& timers() override;
    PipePool& pipes() override;
    void wait_for_buffer() override;
    void wait_for_pipe() override;
    void active() override { c_.touch(); }
    void end_of_stream() override { c_.end_of_stream(d_); }
    void failed(bool reading, int err) override { c_.direction_failed(d_, reading, err); }
    void abort(std::string detail) override;
    void change_mode(forward::Mode next) override { c_.change_mode(d_, next); }
    void received(bool filled_buffer) override { c_.received(d_, filled_buffer); }
    bool at_rest() override { return c_.at_rest(d_); }
    [[nodiscard]] bool closing() const override { return c_.closing(); }
    [[nodiscard]] std::uint64_t connection_id() const override { return c_.id_; }
    [[nodiscard]] int direction() const override { return d_; }

   private:
    Connection& c_;
    int d_;
  };

  // One direction of forwarding: from -> to, moved by `forwarder`.
  struct Direction {
    int from = -1;
    int to = -1;
    ConnOp slots[2];  // forward::Side::source, forward::Side::peer
    std::unique_ptr<forward::Forwarder> forwarder;
    // Forwarders replaced from inside their own calls, destroyed later.
    std::vector<std::unique_ptr<forward::Forwarder>> retired;
    std::uint64_t carried = 0;  // bytes moved by forwarders it replaced
    bool spliced = false;       // a splice forwarder moved it at some point
    bool eof = false;
    bool resting = false;  // stopped with no bytes held, for a move to the sockmap
  };

  const config::Listener& listener() const;
  reactor::Completion* begin(ConnOp& op);
  void retire();
  void submit_hello_poll();
  void on_hello_poll(int, forward::Side, const reactor::Event& event);
  bool peek_hello(bool peer_closed);
  // A PROXY-header listener: reads the header in front of the hello (within
  // the hello deadline), then goes on to the hello. True: poll again.
  bool read_proxy_header(bool peer_closed);
  // The header read: its client replaces the peer as this connection's
  // client (limits, access log, the header sent upstream). False: closed.
  bool take_proxy_header(const protocol::ProxyHeader& header);
  void hello_complete();
  void route_tls();
  // Routes a parsed name (or, without one, the listener's fallback); false
  // when neither applies and `detail` says why.
  // `alpn`: the client's offered protocols (none for HTTP).
  bool route_name(const std::optional<std::string>& name, std::span<const std::string> alpn,
                  std::string& detail);
  void route_http();
  void use_target(const config::Target& target, const std::string& name);
  void refuse(observe::Outcome outcome, std::string detail = {});
  void on_resolved(const Result<std::vector<IpAddress>>& addresses, bool guarded);
  void try_next_address();
  // A pool target: the next member its plan picks, or the end of trying.
  void try_next_member();
  // A connect to a pool member ended: passive health, and the attempt noted.
  void report_member_connect(bool ok, const std::string& detail);
  // Passive health and the member's counters, for a connect or a reset.
  void report_member_health(bool ok, const std::string& detail);
  // A socket for backend_ and its connect; on failure, the next address.
  void connect_backend();
  // Out of descriptors for the backend socket: connect_backend again when
  // one may be free, until the connect timeout. False once it is over.
  bool wait_for_descriptor();
  void on_connect(int, forward::Side, const reactor::Event& event);
  // The connect succeeded (or, deferred by Fast Open, its handshake did).
  void connected();
  // The connect to backend_ failed with -errno `res` (-ECANCELED: it timed
  // out): noted, then the next address or pool member.
  void connect_failed(int res);
  [[nodiscard]] std::chrono::milliseconds connect_timeout() const;
  // TCP Fast Open toward the backend, when the connect was deferred
  // (connection_fast_open.cpp): the PROXY header and the hello go in the
  // SYN, then the handshake is awaited within the connect timeout.
  void send_in_syn();
  void on_syn_sent(int, forward::Side, const reactor::Event& event);
  void on_fast_open_handshake(int, forward::Side, const reactor::Event& event);
  void start_forwarding();
  // The bytes that go upstream before the client's: a PROXY header.
  std::vector<std::uint8_t> proxy_header() const;
  // Takes the peeked hello off the client socket (copy forwarding sends it
  // from memory); false when it is gone (the connection is closed then).
  bool take_hello();
  void start_sockmap(std::vector<std::uint8_t> preamble);
  void install(int d, std::unique_ptr<forward::Forwarder> forwarder);
  void change_mode(int d, forward::Mode next);
  // auto with auto_sockmap (exchange_watch.hpp): every receive is watched;
  // once it is a chatty exchange, both directions come to rest (no bytes
  // held, nothing in flight) and are handed to the sockmap together.
  void received(int d, bool filled_buffer);
  bool at_rest(int d);
  bool begin_sockmap_move(int d);
  void move_to_sockmap();
  // The other direction did not come to rest in time, or a direction ended:
  // both go on copying, and the watch starts over.
  void give_up_sockmap_move();
  void on_forwarding_op(int d, forward::Side side, const reactor::Event& event);
  void end_of_stream(int d);
  // [retrans]: makes both sockets findable by 4-tuple until finish().
  void index_sockets();
  // Bytes received from each peer, for the access log and the counters.
  [[nodiscard]] std::uint64_t bytes_from(int d) const;
  // What the access log calls the forwarding ("auto/splice", ...).
  [[nodiscard]] std::string mode_label() const;
  // Its route's bytes and how it was forwarded, once, at its end (the
  // listener's counters and the access line: record_ending).
  void count_route_and_mode(std::uint64_t from_client, std::uint64_t from_backend);
  void direction_failed(int d, bool reading, int res);
  void touch();

  Worker& worker_;
  std::uint64_t id_;
  std::shared_ptr<const Runtime> runtime_;
  std::size_t listener_index_;
  UniqueFd client_;
  UniqueFd upstream_;
  Endpoint client_address_;
  // The address the client connected to, as a PROXY header from a load
  // balancer names it (else the listening socket's own).
  std::optional<Endpoint> proxied_destination_;
  // A pool target: its members as this connection's config has them, the
  // connection's attempts, and the member tried last (or connected to).
  const PoolMembers* pool_ = nullptr;
  std::optional<upstream::AttemptPlan> plan_;
  std::optional<WorkerPools::Pick> member_;
  bool member_counted_ = false;  // counted open to member_ (least_conn)
  observe::PoolServerMetrics* member_metrics_ = nullptr;
  std::string attempts_;  // each failed attempt, for the access log
  // The socket's own peer (a load balancer, when a PROXY header names the
  // client), and the source this connection is counted under in the limits.
  Endpoint peer_address_;
  IpAddress counted_source_;
  bool awaiting_proxy_header_ = false;
  State state_ = State::hello;
  int in_flight_ = 0;

  // Hello: bytes peeked (and later consumed) from the client.
  std::vector<std::uint8_t> hello_;
  std::size_t fed_ = 0;
  // SO_RCVLOWAT was raised above 1 while the hello was incomplete.
  bool lowat_raised_ = false;
  std::variant<protocol::ClientHelloParser, protocol::HttpHeadParser> parser_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point hello_deadline_;
  std::chrono::steady_clock::time_point connect_started_;
  ConnOp hello_poll_op_;
  ConnOp connect_op_;
  ConnOp fast_open_op_;  // the send in the SYN, then the wait for the handshake

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
  // A deferred Fast Open connect: the PROXY header and the hello, as sent in
  // the SYN (`in_syn_sent_` of them taken); once the handshake is done, the
  // hello is upstream already and forwarding sends only the rest.
  std::vector<std::uint8_t> in_syn_;
  std::size_t in_syn_sent_ = 0;
  bool hello_sent_in_syn_ = false;

  // Forwarding: [0] client -> upstream, [1] upstream -> client.
  config::ForwardingMode mode_ = config::ForwardingMode::copy;
  bool state_reached_forwarding_ = false;
  bool ech_offered_ = false;  // the hello carried encrypted_client_hello
  DirectionHost hosts_[2] = {DirectionHost(*this, 0), DirectionHost(*this, 1)};
  Direction dirs_[2];
  std::optional<observe::SocketKey> socket_keys_[2];  // [0] client side, [1] backend side
  bool sockmap_fell_back_ = false;
  std::optional<ExchangeWatch> watch_;  // auto with auto_sockmap, until it moves
  bool move_pending_ = false;           // one direction rests, the other is cancelling
  reactor::TimerQueue::Id move_timer_ = 0;
  bool auto_sockmap_ = false;  // auto moved it to the sockmap
  std::chrono::steady_clock::time_point last_active_;

  observe::Outcome outcome_ = observe::Outcome::ok;
  std::string detail_;
  IdleLink idle_link_;
  bool reaped_ = false;  // handed to the worker to finish (once)
};

}  // namespace sniproxy::proxy
