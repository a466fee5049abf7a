#pragma once
// One worker thread: its own reactor (with its receive buffers), SO_REUSEPORT
// listeners, DNS resolver and connections. Nothing here is shared with other
// workers except SharedState.
#include <sys/eventfd.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <unordered_map>
#include <vector>

#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "dns/resolver.hpp"
#include "observe/admin_server.hpp"
#include "proxy/idle_list.hpp"
#include "proxy/pipe_pool.hpp"
#include "proxy/quic/quic_service.hpp"
#include "proxy/shared_state.hpp"
#include "proxy/spare_connections.hpp"
#include "proxy/worker_pools.hpp"
#include "reactor/reactor.hpp"
#include "reactor/timer_queue.hpp"

namespace sniproxy::proxy {

class Connection;
class Worker;

// A listening socket of this worker and its multishot accept.
struct ListenerSlot final : reactor::Completion {
  Worker* worker = nullptr;
  std::size_t index = 0;  // into Config::listeners
  UniqueFd fd;
  bool armed = false;    // a multishot accept is in flight
  bool paused = false;   // backing off after EMFILE/ENFILE
  bool closing = false;  // draining: close the fd when the accept ends
  bool passed = false;   // systemd's socket (shared, kept open across restarts)
  std::chrono::milliseconds backoff{0};
  void on_complete(const reactor::Event& event) override;
};

class Worker final : public dns::IoDriver {
 public:
  // Binds this worker's listeners (SO_REUSEPORT); errors name the address.
  static Result<std::unique_ptr<Worker>> create(unsigned index, SharedState& shared);
  ~Worker() override;

  // The thread body: runs until stop() and the drain are done.
  void run();
  // From any thread: begin the shutdown drain.
  void stop();
  // From any thread: the loop wakes (for the quic inbox, or stopping).
  void wake();
  // Before run(): this worker's reactor also serves the [admin] endpoint.
  void serve_admin(std::unique_ptr<observe::AdminServer> admin) { admin_ = std::move(admin); }

  // --- for Connection ---
  reactor::Reactor& reactor() { return *reactor_; }
  reactor::BufferPool& buffers() { return reactor_->buffers(); }
  dns::Resolver& resolver() { return *resolver_; }
  reactor::TimerQueue& timers() { return timers_; }
  SharedState& shared() { return shared_; }
  WorkerPools& pools() { return pools_; }
  SpareConnections& spares() { return *spares_; }
  // The quic listeners' service (every worker, or worker 0 only: see
  // docs/quic.md), or nullptr (none, or torn down: a late DNS answer finds
  // nothing).
  quic::QuicService* quic() { return quic_.get(); }
  [[nodiscard]] unsigned index() const { return index_; }
  Connection* find(std::uint64_t id);
  // A connection closed with no operation left in flight (it calls this
  // once): finished and freed after the current batch of completions.
  void reap(Connection* c);
  // A receive that found no free buffer waits here for one.
  void wait_for_buffer(std::uint64_t id, int direction);
  PipePool& pipes() { return *pipes_; }
  // A splice that found the pipe pool exhausted waits here for a pipe.
  void wait_for_pipe(std::uint64_t id, int direction);
  // Idle tracking: most recently active connections at the back.
  void touch(Connection* c);
  void forget_idle(Connection* c);

  // dns::IoDriver
  void watch(int fd, bool readable, bool writable) override;
  void arm_timer(std::chrono::milliseconds delay) override;

 private:
  friend struct ListenerSlot;
  // Out of line, like the destructor: Connection is incomplete here.
  Worker(unsigned index, SharedState& shared);
  void arm_accept(ListenerSlot& slot);
  void on_accept(ListenerSlot& slot, const reactor::Event& event);
  void accept_connection(ListenerSlot& slot, int fd);
  void take_queued(ListenerSlot& slot);
  void begin_drain();
  void sweep_idle();
  void resume_buffer_waiters();
  void resume_pipe_waiters();
  void arm_wake();

  struct WakeOp final : reactor::Completion {
    Worker* worker = nullptr;
    std::uint64_t value = 0;
    void on_complete(const reactor::Event& event) override;
  };
  struct DnsWatch final : reactor::Completion {
    Worker* worker = nullptr;
    int fd = -1;
    unsigned events = 0;
    bool live = true;
    bool in_flight = false;
    void on_complete(const reactor::Event& event) override;
  };
  void arm_dns_watch(DnsWatch* w);

  unsigned index_;
  SharedState& shared_;
  std::unique_ptr<reactor::Reactor> reactor_;
  std::unique_ptr<dns::Resolver> resolver_;
  reactor::TimerQueue timers_;
  std::unique_ptr<SpareConnections> spares_;  // preconnect; before the reactor goes
  std::vector<std::unique_ptr<ListenerSlot>> listeners_;
  UniqueFd wake_fd_;
  WakeOp wake_op_;
  bool draining_ = false;
  reactor::Clock::time_point drain_deadline_{};
  bool drain_expired_ = false;  // the deadline passed: what was left is closed
  reactor::TimerQueue::Id dns_timer_ = 0;
  std::unordered_map<int, std::unique_ptr<DnsWatch>> dns_watches_;
  std::vector<std::unique_ptr<DnsWatch>> dns_retired_;

  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> connections_;
  std::vector<Connection*> reap_;
  std::deque<std::pair<std::uint64_t, int>> buffer_waiters_;
  std::unique_ptr<PipePool> pipes_;
  std::deque<std::pair<std::uint64_t, int>> pipe_waiters_;
  IdleList idle_;  // forwarding connections, least recently active first
  bool fd_exhaustion_logged_ = false;
  std::unique_ptr<observe::AdminServer> admin_;  // worker 0 only, when [admin] is set
  WorkerPools pools_{index_ + 1};
  // This thread's quic listener sockets and their sessions (null without).
  std::unique_ptr<quic::QuicService> quic_;
};

}  // namespace sniproxy::proxy
