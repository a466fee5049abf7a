#pragma once
// The QUIC listeners of one worker thread (each serving thread has its own
// socket in each listener's SO_REUSEPORT group; one thread when a socket is
// passed in or with the fast path) and their flows: each client datagram goes to its session, or
// feeds its pending flow, or opens a new flow if it is a verified Initial; a flow whose ClientHello
// is complete is routed and becomes a session with its own backend socket. Replies leave from the
// listener's socket, from the address the client sent to (on a wildcard listener, named per
// datagram with IP_PKTINFO / IPV6_PKTINFO). Idle sessions and late hellos are swept periodically,
// not timed per datagram.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/address.hpp"
#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "config/config.hpp"
#include "dns/addresses.hpp"
#include "observe/outcome.hpp"
#include "observe/quic_drop.hpp"
#include "proxy/quic/handover_channel.hpp"
#include "proxy/quic/pending_flows.hpp"
#include "proxy/quic/quic_route.hpp"
#include "proxy/quic/quic_session.hpp"
#include "proxy/quic/quic_threads.hpp"
#include "proxy/quic/session_fast_path.hpp"
#include "proxy/quic/session_table.hpp"
#include "reactor/reactor.hpp"

namespace sniproxy::proxy {
class Worker;
}

namespace sniproxy::proxy::quic {

class QuicService {
 public:
  // Binds the config's quic listeners; nullptr when it has none or this
  // worker does not serve them.
  static Result<std::unique_ptr<QuicService>> create(Worker& worker);
  ~QuicService();

  // Arms the receives and logs each listener.
  void start();
  // Ends late hellos and idle sessions; applies [quic] from a reload.
  void sweep(Clock::time_point now);
  // Stops receiving and ends every session (outcome shutdown).
  void begin_drain();
  // Drained: no receive in flight, no session left.
  [[nodiscard]] bool quiet() const;
  // The worker's drain deadline passed: sessions kept for a hand-over end.
  void drain_expired();

  // Woken: the datagrams other threads received for this one's sessions.
  void take_inbox();

  // From QuicSession: a completion of its backend receive.
  void on_backend_event(QuicSession& session, const reactor::Event& event);

 private:
  struct Socket final : reactor::Completion {
    QuicService* service = nullptr;
    std::size_t listener = 0;  // index into Config::listeners
    Endpoint address;
    bool wildcard = false;  // 0.0.0.0 or [::]: each datagram names its local address
    UniqueFd fd;
    bool passed = false;  // the master's or systemd's (this worker's copy)
    bool armed = false;
    bool closing = false;
    void on_complete(const reactor::Event& event) override;
  };

  // Publishes this thread's connection IDs in the process-wide directory.
  struct CidPublisher final : CidObserver {
    CidDirectory* directory = nullptr;
    unsigned worker = 0;
    void learnt(std::size_t listener, const std::string& cid) override;
    void forgotten(std::size_t listener, const std::string& cid) override;
  };

  QuicService(Worker& worker, QuicThreads& threads);
  // [quic] socket_buffer on a listener's (named) or a session's socket ("");
  // a shortfall is logged for each listener and for the first session.
  void size_buffers(int fd, std::uint32_t bytes, const std::string& listener);
  void arm(Socket& socket);
  void rearm_later(Socket& socket);
  void on_listener_event(Socket& socket, const reactor::Event& event);
  void on_client_datagram(Socket& socket, const Endpoint& client, const IpAddress& local,
                          std::span<const std::uint8_t> payload);
  void new_flow(const FlowKey& key, std::span<const std::uint8_t> payload);
  void add_flow(const FlowKey& key, protocol::quic::QuicHelloReader reader,
                std::span<const std::uint8_t> first, const config::Quic& bounds);
  void feed_flow(PendingFlow& flow, std::span<const std::uint8_t> payload);
  void route_flow(const FlowKey& key);
  void refuse_flow(observe::QuicDrop drop);
  void on_resolved(const FlowKey& key, std::uint64_t token, const Result<dns::Addresses>& answer);
  // False when it could not open (the caller gives its session slot back).
  bool open_session(const FlowKey& key, PendingFlow& flow, const QuicDestination& dest,
                    std::shared_ptr<const Runtime> rt);
  void forward_to_backend(SessionId id, std::span<const std::uint8_t> payload);
  // NAT rebinding (RFC 9000 9.3): the session's client from a new address.
  bool rebind_session(SessionId id, const FlowKey& key);
  // A datagram whose connection ID another thread's session has: queued
  // for that thread; false when none has it.
  bool pass_to_owner(const FlowKey& key, std::span<const std::uint8_t> payload);
  // From the listener's socket, from the address `key` says the client
  // sent to.
  void send_to_client(const FlowKey& key, std::span<const std::uint8_t> payload);
  void answer_unknown_version(const FlowKey& key, std::span<const std::uint8_t> payload);
  void end_session(SessionId id, observe::Outcome outcome, std::string detail);
  void rearm_session_later(SessionId id);
  // The backend answered: the session's datagrams may go through the
  // kernel from now on (tried once per session and client address; after
  // a rebinding the entries are replaced).
  void enter_fast_path(QuicSession& session, const FlowKey& key);
  // The kernel counters of an expired session: whether it was active there
  // within its idle timeout after all.
  bool active_in_kernel(SessionId id, Clock::time_point now);
  void count_fast_path(const FastPathPoll& poll);
  void publish_gauges();

  // The upgrade hand-over (docs/quic.md), in service_handover.cpp.
  void take_handover_channel();
  // New generation: a datagram no flow takes, handed to the draining
  // worker; false when there is none to hand it to.
  bool hand_over(const FlowKey& key, std::span<const std::uint8_t> payload);
  // The same, and for a handed datagram not ours: on to the predecessor.
  bool pass_on(const Endpoint& client, const Endpoint& local,
               std::span<const std::uint8_t> payload);
  // Draining generation, at the drain: whether a successor reads the
  // listeners now (the master said so); then the sessions stay, fed with
  // what the successor hands over, and reply through the listener sockets.
  bool begin_handover_drain();
  void on_handover_message(std::span<const std::uint8_t> bytes);
  bool deliver_handed(std::size_t listener, const Endpoint& client, const IpAddress& local,
                      std::span<const std::uint8_t> payload);
  void end_handover(std::string_view reason);
  // From the sweep: notices a predecessor gone; ends a hand-over whose
  // sessions (and any older generation's it relays to) are gone.
  void sweep_handover();
  [[nodiscard]] bool relaying() const;
  void log_successor_end();

  Worker& worker_;
  QuicThreads& threads_;
  CidPublisher publisher_;
  std::vector<std::unique_ptr<Socket>> sockets_;
  std::unordered_map<std::size_t, Socket*> by_listener_;
  PendingFlows pending_;
  SessionTable table_;
  std::unordered_map<SessionId, std::unique_ptr<QuicSession>> sessions_;
  // Routed flows whose backend's name is being resolved.
  struct Resolving {
    PendingFlow flow;
    QuicDestination dest;
    std::shared_ptr<const Runtime> runtime;
    std::uint64_t token = 0;  // tells this wait from a later one of the same client
  };
  std::unordered_map<FlowKey, std::unique_ptr<Resolving>, FlowKeyHash> resolving_;
  std::uint64_t next_token_ = 1;
  // Ended sessions whose backend receive has not completed yet.
  std::unordered_map<SessionId, std::unique_ptr<QuicSession>> ending_;
  SessionId next_id_ = 1;
  // [quic] fast_path: the kernel half, and each session's entries in it
  // (absent: not tried yet; present but not entered: it could not be).
  bpf::QuicFastPath* fast_path_ = nullptr;
  std::unordered_map<SessionId, std::unique_ptr<SessionFastPath>> fast_paths_;
  // Version Negotiation sent, per client address: one a second at most.
  std::unordered_map<IpAddress, Clock::time_point, IpAddressHash> negotiated_;
  std::uint32_t vn_random_ = 0x9e3779b9;
  bool draining_ = false;
  std::unique_ptr<HandoverOut> handover_out_;  // to the draining predecessor
  std::unique_ptr<HandoverIn> handover_in_;    // from a successor, once draining
  bool handing_over_ = false;                  // draining, sessions kept for a successor
  std::uint64_t handed_ = 0;                   // for the log lines
  std::uint64_t delivered_ = 0;
  std::uint64_t unplaced_ = 0;
  // What this thread last added to the process-wide gauges.
  std::size_t published_pending_ = 0;
  std::size_t published_sessions_ = 0;
  bool force_buffers_ = true;  // SO_RCVBUFFORCE not refused yet
};

}  // namespace sniproxy::proxy::quic
