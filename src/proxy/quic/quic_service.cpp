#include "proxy/quic/quic_service.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>

#include "common/log.hpp"
#include "common/udp_socket.hpp"
#include "observe/quic_drop.hpp"
#include "protocol/quic/long_header.hpp"
#include "protocol/quic/quic_version.hpp"
#include "protocol/quic/version_negotiation.hpp"
#include "proxy/ending.hpp"
#include "proxy/quic/listener_socket.hpp"
#include "proxy/quic/quic_route.hpp"
#include "proxy/quic/socket_buffers.hpp"
#include "proxy/worker.hpp"
#include "reactor/packet_info.hpp"

namespace sniproxy::proxy::quic {

namespace {

using namespace std::chrono_literals;
using observe::QuicDrop;
using observe::QuicHelloOutcome;
using protocol::quic::QuicHelloError;

// A receive that ended on an error (no buffer free, say) is armed again
// after this, not at once: an error that repeats must not spin the loop.
constexpr auto kRearmDelay = 10ms;
constexpr auto kNegotiationInterval = 1s;
// Client addresses remembered for the Version Negotiation rate limit.
constexpr std::size_t kMaxNegotiated = 4'096;

// The reader's reasons are the first QuicDrop values, in the same order.
static_assert(static_cast<int>(QuicHelloError::too_short) == static_cast<int>(QuicDrop::too_short));
static_assert(static_cast<int>(QuicHelloError::bad_tag) == static_cast<int>(QuicDrop::bad_tag));
static_assert(static_cast<int>(QuicHelloError::internal) == static_cast<int>(QuicDrop::internal));
QuicDrop drop_of(QuicHelloError e) {
  return static_cast<QuicDrop>(static_cast<int>(e));
}

// An IPv4 client of a dual-stack socket is known by its IPv4 address (as
// TCP listeners log theirs) and addressed IPv4-mapped on that socket.
IpAddress as_mapped(const IpAddress& ip) {
  if (ip.family != Family::v4) return ip;
  IpAddress mapped;
  mapped.family = Family::v6;
  mapped.bytes[10] = 0xff;
  mapped.bytes[11] = 0xff;
  std::copy_n(ip.bytes.begin(), 4, mapped.bytes.begin() + 12);
  return mapped;
}

// The process-wide bounds, shared out: each serving thread holds its part
// (a flow is one thread's, by the kernel's hash of its 4-tuple), so the
// operator's maximum is never passed whatever the thread count.
PendingLimits limits_of(const config::Quic& q, unsigned threads) {
  const auto share = [threads](std::size_t n) { return std::max<std::size_t>(1, n / threads); };
  return PendingLimits{share(q.max_pending_flows), share(q.max_pending_per_source),
                       q.max_held_datagrams, q.max_held_bytes};
}

// Why the quic listeners have one thread, or "" when every worker serves
// them.
std::string_view one_thread_reason(const SharedState& shared, const config::Config& cfg) {
  if (shared.worker_count <= 1) return "one_worker";
  if (shared.quic_fast_path != nullptr) return "fast_path";
  for (std::size_t i = 0; i < cfg.listeners.size(); ++i)
    if (cfg.listeners[i].protocol == config::Protocol::quic && i < shared.passed_listeners.size() &&
        !shared.passed_listeners[i].empty())
      return "passed_socket";
  return "";
}

}  // namespace

Result<std::unique_ptr<QuicService>> QuicService::create(Worker& worker) {
  SharedState& shared = worker.shared();
  const auto rt = shared.runtime.load();
  const auto& cfg = rt->config;
  const bool any = std::any_of(cfg.listeners.begin(), cfg.listeners.end(),
                               [](const auto& l) { return l.protocol == config::Protocol::quic; });
  if (!any) return std::unique_ptr<QuicService>{};
  if (!shared.quic_threads) {
    // Worker 0, created first: the workers are made one after another
    // before any runs, so the others find this.
    const std::string_view reason = one_thread_reason(shared, cfg);
    const unsigned threads = reason.empty() ? shared.worker_count : 1;
    shared.quic_threads = std::make_unique<QuicThreads>(threads);
    if (reason.empty())
      log::info("quic_threads", "threads={} socket=reuseport_group", threads);
    else
      log::info("quic_threads", "threads=1 worker=0 reason={}", reason);
  }
  QuicThreads& threads = *shared.quic_threads;
  if (worker.index() >= threads.threads()) return std::unique_ptr<QuicService>{};
  const bool group = threads.threads() > 1;
  std::unique_ptr<QuicService> service(new QuicService(worker, threads));
  for (std::size_t i = 0; i < cfg.listeners.size(); ++i) {
    const config::Listener& l = cfg.listeners[i];
    if (l.protocol != config::Protocol::quic) continue;
    auto opened = open_listener_socket(shared, i, l, group);
    if (!opened) return opened.error();
    service->size_buffers(opened->fd.get(), cfg.quic.socket_buffer, l.name);
    const bool wildcard = l.address.ip.is_unspecified();
    if (wildcard) {
      const int family = l.address.ip.family == Family::v4 ? AF_INET : AF_INET6;
      if (const int err = reactor::request_packet_info(opened->fd.get(), family); err != 0)
        return make_error(fmt::format("listener {}: IP_PKTINFO/IPV6_RECVPKTINFO: {}", l.name,
                                      std::strerror(err)));
    }
    auto socket = std::make_unique<Socket>();
    socket->service = service.get();
    socket->listener = i;
    socket->address = l.address;
    socket->wildcard = wildcard;
    socket->fd = std::move(opened->fd);
    socket->passed = opened->passed;
    service->by_listener_[i] = socket.get();
    service->sockets_.push_back(std::move(socket));
  }
  if (service->sockets_.empty()) return std::unique_ptr<QuicService>{};
  // The hand-over channel is one thread's: under the master the listener
  // is one passed socket, so this is worker 0.
  if (!group) service->take_handover_channel();
  if (group) service->table_.set_observer(&service->publisher_);
  Worker* w = &worker;
  threads.set_waker(worker.index(), [w] { w->wake(); });
  return service;
}

QuicService::QuicService(Worker& worker, QuicThreads& threads)
    : worker_(worker),
      threads_(threads),
      pending_(limits_of(worker.shared().runtime.load()->config.quic, threads.threads())),
      table_(worker.shared().runtime.load()->config.quic.max_sessions),
      fast_path_(threads.threads() == 1 ? worker.shared().quic_fast_path : nullptr) {
  publisher_.directory = &threads.cids();
  publisher_.worker = worker.index();
}

void QuicService::CidPublisher::learnt(std::size_t listener, const std::string& cid) {
  directory->publish(listener, cid, worker);
}

void QuicService::CidPublisher::forgotten(std::size_t listener, const std::string& cid) {
  directory->withdraw(listener, cid, worker);
}

QuicService::~QuicService() = default;

void QuicService::start() {
  const auto rt = worker_.shared().runtime.load();
  for (auto& socket : sockets_) {
    arm(*socket);
    log::info("listening", "worker={} listener={} address={} protocol=quic socket={}",
              worker_.index(), log::quote(rt->config.listeners[socket->listener].name),
              socket->address.to_string(), socket->passed ? "passed" : "bound");
  }
}

void QuicService::size_buffers(int fd, std::uint32_t bytes, const std::string& listener) {
  const SocketBufferGrant grant = size_socket_buffers(fd, bytes, force_buffers_);
  // Refused once (no CAP_NET_ADMIN, or dropped with the privileges): the
  // later sockets do not ask again.
  force_buffers_ = grant.forced;
  const std::string shortfall = socket_buffer_shortfall(grant, bytes);
  if (shortfall.empty()) return;
  // Each listener at start-up (by the first thread: the others' sockets of
  // the group are sized alike), and the first session socket short of it,
  // of all threads.
  if (!listener.empty() && worker_.index() != 0) return;
  if (listener.empty() && !threads_.first_short_session_socket()) return;
  log::warn("quic_socket_buffer", "socket={} asked={} receive={} send={} detail={}",
            listener.empty() ? "session" : "listener:" + listener, bytes, grant.receive, grant.send,
            log::quote(shortfall));
}

void QuicService::arm(Socket& socket) {
  worker_.reactor().recvmsg_multishot(socket.fd.get(), &socket);
  socket.armed = true;
}

void QuicService::rearm_later(Socket& socket) {
  worker_.timers().schedule(reactor::Clock::now() + kRearmDelay, [this, &socket] {
    if (!socket.armed && !socket.closing) arm(socket);
  });
}

void QuicService::Socket::on_complete(const reactor::Event& event) {
  service->on_listener_event(*this, event);
}

void QuicService::on_listener_event(Socket& socket, const reactor::Event& event) {
  if (!event.more) socket.armed = false;
  if (event.res >= 0) {
    if (auto d = worker_.reactor().datagram(event)) {
      auto client = Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&d->peer));
      if (client) client->ip = client->ip.unmapped();
      // A wildcard listener's datagram names the address it was sent to
      // (an IPv4 one for an IPv4 client of a dual-stack socket).
      IpAddress local = socket.address.ip;
      if (d->has_local)
        if (auto to = Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&d->local)))
          local = to->ip;
      if (d->truncated)
        observe::bump(worker_.shared().metrics.quic.drop(QuicDrop::truncated));
      else if (client && !socket.closing)
        on_client_datagram(socket, *client, local, d->payload);
    }
  }
  if (event.buffer >= 0) worker_.buffers().recycle(static_cast<std::uint16_t>(event.buffer));
  if (socket.armed) return;
  if (socket.closing) {
    // Kept while handing over: the sessions reply through it.
    if (!handing_over_) socket.fd.reset();
    return;
  }
  if (event.res < 0 && event.res != -ECANCELED && event.res != -ENOBUFS)
    log::warn("quic_receive_failed", "worker={} address={} error={}", worker_.index(),
              socket.address.to_string(), log::quote(std::strerror(-event.res)));
  rearm_later(socket);
}

// --- client datagrams ----------------------------------------------------------

void QuicService::on_client_datagram(Socket& socket, const Endpoint& client, const IpAddress& local,
                                     std::span<const std::uint8_t> payload) {
  const FlowKey key{socket.listener, client, local};
  if (auto id = table_.find(key)) {
    // An Initial with a DCID the session never saw, from the same address:
    // the client starts a new connection (RFC 9000 has it reuse its port
    // at will). Read it afresh; anything else is the session's.
    auto header = protocol::quic::read_long_header_ids(payload);
    if (header && header->version != 0 && !table_.knows_cid(*id, header->dcid)) {
      const auto rt = worker_.shared().runtime.load();
      auto start = protocol::quic::read_first_initial(payload, rt->config.quic.max_hello_size);
      if (start.reader) {
        end_session(*id, observe::Outcome::ok, "new connection from the same address");
        add_flow(key, std::move(*start.reader), payload, rt->config.quic);
        return;
      }
    }
    forward_to_backend(*id, payload);
    return;
  }
  if (PendingFlow* flow = pending_.find(key)) {
    feed_flow(*flow, payload);
    return;
  }
  if (auto waiting = resolving_.find(key); waiting != resolving_.end()) {
    // Routed, its backend's name being resolved: held for it.
    if (!pending_.hold(waiting->second->flow, payload))
      observe::bump(worker_.shared().metrics.quic.drop(QuicDrop::held_limit));
    return;
  }
  if (auto id = table_.match_cid(socket.listener, payload); id && rebind_session(*id, key)) {
    forward_to_backend(*id, payload);
    return;
  }
  // The same after a rebinding onto this thread's share of the group: the
  // session is another thread's.
  if (threads_.threads() > 1 && pass_to_owner(key, payload)) return;
  new_flow(key, payload);
}

bool QuicService::rebind_session(SessionId id, const FlowKey& key) {
  const FlowKey* old = table_.key_of(id);
  const std::string from = old != nullptr ? old->client.to_string() : "-";
  if (!table_.rebind(id, key.client, key.local)) return false;
  log::info("quic_rebind", "worker={} listener={} from={} to={}", worker_.index(),
            log::quote(worker_.shared().runtime.load()->config.listeners[key.listener].name), from,
            key.client.to_string());
  // The kernel entries name the old address: replaced by the new one's
  // (the session keeps what the old ones carried).
  if (fast_paths_.contains(id))
    if (auto s = sessions_.find(id); s != sessions_.end()) enter_fast_path(*s->second, key);
  return true;
}

bool QuicService::pass_to_owner(const FlowKey& key, std::span<const std::uint8_t> payload) {
  const auto owner = threads_.cids().owner(key.listener, payload);
  if (!owner || *owner == worker_.index()) return false;
  auto& metrics = worker_.shared().metrics.quic;
  const auto pushed = threads_.inbox(*owner).push(key.listener, key.client, key.local, payload);
  if (!pushed.queued) {
    observe::bump(metrics.thread_inbox_full);
    return true;
  }
  observe::bump(metrics.thread_passed);
  // The owner empties its inbox when woken: one wake per batch.
  if (pushed.was_empty) threads_.wake(*owner);
  return true;
}

void QuicService::take_inbox() {
  auto& metrics = worker_.shared().metrics.quic;
  for (const InboxDatagram& d : threads_.inbox(worker_.index()).take_all()) {
    // The owner keeps the session: it forwards, and replies from its own
    // socket of the group (the same address and port).
    if (draining_ || !deliver_handed(d.listener, d.client, d.local, d.payload))
      observe::bump(metrics.thread_unplaced);
  }
}

void QuicService::new_flow(const FlowKey& key, std::span<const std::uint8_t> payload) {
  auto& metrics = worker_.shared().metrics.quic;
  const auto rt = worker_.shared().runtime.load();
  auto start = protocol::quic::read_first_initial(payload, rt->config.quic.max_hello_size);
  if (!start.reader) {
    // During an upgrade, likely a datagram of the draining worker's sessions.
    if (start.error != QuicHelloError::unknown_version && hand_over(key, payload)) return;
    observe::bump(metrics.drop(drop_of(start.error)));
    if (start.error == QuicHelloError::unknown_version && rt->config.quic.version_negotiation)
      answer_unknown_version(key, payload);
    return;
  }
  add_flow(key, std::move(*start.reader), payload, rt->config.quic);
}

void QuicService::add_flow(const FlowKey& key, protocol::quic::QuicHelloReader reader,
                           std::span<const std::uint8_t> first, const config::Quic& bounds) {
  auto& metrics = worker_.shared().metrics.quic;
  auto added = pending_.add(key, std::move(reader), first, Clock::now() + bounds.hello_timeout);
  if (added.evicted > 0) {
    observe::bump(metrics.drop(QuicDrop::evicted), added.evicted);
    observe::bump(metrics.hello(QuicHelloOutcome::evicted), added.evicted);
  }
  publish_gauges();
  // A hello in one datagram is complete at once.
  if (added.flow->reader.status() != protocol::ParseStatus::need_more) route_flow(key);
}

void QuicService::feed_flow(PendingFlow& flow, std::span<const std::uint8_t> payload) {
  auto& metrics = worker_.shared().metrics.quic;
  const FlowKey key = flow.key;
  if (!pending_.hold(flow, payload)) {
    pending_.take(key);
    observe::bump(metrics.drop(QuicDrop::held_limit));
    observe::bump(metrics.hello(QuicHelloOutcome::rejected));
    publish_gauges();
    return;
  }
  if (flow.reader.feed(payload) == protocol::ParseStatus::need_more) return;
  route_flow(key);
}

void QuicService::refuse_flow(QuicDrop drop) {
  auto& metrics = worker_.shared().metrics.quic;
  observe::bump(metrics.drop(drop));
  observe::bump(metrics.hello(drop == QuicDrop::denied     ? QuicHelloOutcome::denied
                              : drop == QuicDrop::no_route ? QuicHelloOutcome::no_route
                                                           : QuicHelloOutcome::rejected));
}

void QuicService::route_flow(const FlowKey& key) {
  auto flow = pending_.take(key);
  publish_gauges();
  if (!flow) return;
  if (flow->reader.status() == protocol::ParseStatus::rejected) {
    auto& metrics = worker_.shared().metrics.quic;
    observe::bump(metrics.drop(drop_of(flow->reader.error())));
    observe::bump(metrics.hello(QuicHelloOutcome::rejected));
    return;
  }
  if (flow->held.size() > 1) observe::bump(worker_.shared().metrics.quic.multi_datagram_hellos);
  auto rt = worker_.shared().runtime.load();
  QuicDestination dest = route_quic_hello(flow->reader.info(), *rt, key.listener, key.client,
                                          worker_.pools(), worker_.shared().metrics);
  if (!dest.backend && dest.resolve_host.empty()) {
    refuse_flow(dest.drop);
    return;
  }
  // Flows waiting for DNS count against the sessions they are to become;
  // all threads' together.
  if (!threads_.take_session_slot(rt->config.quic.max_sessions)) {
    refuse_flow(QuicDrop::session_limit);
    return;
  }
  if (dest.backend) {
    if (!open_session(key, *flow, dest, std::move(rt))) threads_.give_session_slots();
    return;
  }
  // A name to resolve first; the flow waits (its datagrams still held).
  const std::uint64_t token = next_token_++;
  const std::string host = dest.resolve_host;
  resolving_[key] = std::make_unique<Resolving>(
      Resolving{std::move(*flow), std::move(dest), std::move(rt), token});
  Worker* worker = &worker_;
  // A cache hit answers at once, from inside resolve().
  worker_.resolver().resolve(host, [worker, key, token](const Result<dns::Addresses>& answer) {
    if (QuicService* service = worker->quic()) service->on_resolved(key, token, answer);
  });
}

void QuicService::on_resolved(const FlowKey& key, std::uint64_t token,
                              const Result<dns::Addresses>& answer) {
  auto it = resolving_.find(key);
  if (it == resolving_.end() || it->second->token != token) return;  // drained, or replaced
  std::unique_ptr<Resolving> waiting = std::move(it->second);
  resolving_.erase(it);
  QuicDestination& dest = waiting->dest;
  if (!answer) {
    threads_.give_session_slots();
    refuse_flow(QuicDrop::dns_failed);
    return;
  }
  for (const IpAddress& ip : *answer) {
    if (dest.guarded && !waiting->runtime->guard.allowed(ip, dest.allow_private)) continue;
    dest.backend = Endpoint{ip, dest.port};
    break;
  }
  if (!dest.backend) {
    threads_.give_session_slots();
    refuse_flow(QuicDrop::guard_refused);
    return;
  }
  if (!open_session(key, waiting->flow, dest, std::move(waiting->runtime)))
    threads_.give_session_slots();
}

bool QuicService::open_session(const FlowKey& key, PendingFlow& flow, const QuicDestination& dest,
                               std::shared_ptr<const Runtime> rt) {
  auto& metrics = worker_.shared().metrics.quic;
  table_.set_max_sessions(rt->config.quic.max_sessions);
  auto fd = open_udp_connected_socket(*dest.backend);
  if (!fd) {
    refuse_flow(QuicDrop::backend_error);
    log::warn("quic_backend_failed", "server_name={} backend={} error={}",
              dest.server_name.empty() ? "-" : log::quote(dest.server_name),
              dest.backend->to_string(), log::quote(fd.error().message));
    return false;
  }
  size_buffers(fd->get(), rt->config.quic.socket_buffer, "");
  const SessionId id = next_id_++;
  const auto idle =
      session_idle_timeout(rt->config.quic.idle_timeout, rt->config.quic.max_idle_timeout,
                           flow.reader.info().max_idle_timeout_ms);
  // Full, or (a rebinding meanwhile) another session has the address.
  if (!table_.add(id, key, flow.reader.dcid(), idle, Clock::now())) {
    refuse_flow(QuicDrop::session_limit);
    return false;
  }
  auto session =
      std::make_unique<QuicSession>(*this, id, std::move(rt), key.listener, std::move(fd).value(),
                                    *dest.backend, dest.server_name, dest.member_id);
  QuicSession& s = *session;
  sessions_.emplace(id, std::move(session));
  if (dest.member_id) worker_.pools().opened(*dest.member_id);
  observe::bump(worker_.shared().metrics.listener(key.listener).accepted);
  observe::bump(metrics.hello(QuicHelloOutcome::routed));
  observe::bump(metrics.sessions_total);
  publish_gauges();
  s.start(worker_.reactor());
  // The datagrams held go on unchanged and in order: the backend reads the
  // same Initials the client sent.
  for (const auto& datagram : flow.held) forward_to_backend(id, datagram);
  return true;
}

void QuicService::forward_to_backend(SessionId id, std::span<const std::uint8_t> payload) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  auto& metrics = worker_.shared().metrics.quic;
  if (!it->second->send_to_backend(payload)) {
    observe::bump(metrics.drop(QuicDrop::backend_error));
    return;
  }
  table_.touch(id, Clock::now());
  observe::bump(metrics.bytes_from_client, payload.size());
  observe::bump(metrics.packets_from_client);
}

void QuicService::send_to_client(const FlowKey& key, std::span<const std::uint8_t> payload) {
  auto it = by_listener_.find(key.listener);
  if (it == by_listener_.end() || !it->second->fd) return;
  sockaddr_storage to{};
  Endpoint client = key.client;
  if (it->second->address.ip.family == Family::v6) client.ip = as_mapped(client.ip);
  const unsigned length = client.to_sockaddr(to);
  iovec iov{const_cast<std::uint8_t*>(payload.data()), payload.size()};
  msghdr message{};
  message.msg_name = &to;
  message.msg_namelen = length;
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  // A socket bound to a specific address sends from it; a wildcard one is
  // told the source, or the route's preferred address would answer.
  reactor::SourceControl source;
  if (it->second->wildcard) {
    sockaddr_storage from{};
    Endpoint{key.local, 0}.to_sockaddr(from);
    source = reactor::source_control(from);
    message.msg_control = source.bytes;
    message.msg_controllen = source.length;
  }
  ::sendmsg(it->second->fd.get(), &message, MSG_DONTWAIT | MSG_NOSIGNAL);
}

void QuicService::answer_unknown_version(const FlowKey& key,
                                         std::span<const std::uint8_t> payload) {
  // read_first_initial reports unknown_version only for a long header of
  // >= 1200 bytes that is not itself a Version Negotiation (RFC 9000 6.1).
  auto header = protocol::quic::read_long_header_ids(payload);
  if (!header || payload.size() < protocol::quic::kMinInitialDatagram) return;
  const auto now = Clock::now();
  auto [it, fresh] = negotiated_.try_emplace(key.client.ip, now);
  if (!fresh) {
    if (now - it->second < kNegotiationInterval) return;
    it->second = now;
  }
  if (negotiated_.size() > kMaxNegotiated) negotiated_.clear();
  constexpr std::array<std::uint32_t, 2> kVersions{protocol::quic::kQuicV1,
                                                   protocol::quic::kQuicV2};
  vn_random_ = vn_random_ * 1'664'525 + 1'013'904'223;  // arbitrary bits, not a secret
  auto packet = protocol::quic::version_negotiation_packet(
      header->dcid, header->scid, kVersions, static_cast<std::uint8_t>(vn_random_ >> 24));
  send_to_client(key, packet);
  observe::bump(worker_.shared().metrics.quic.version_negotiations);
}

// --- backend datagrams ---------------------------------------------------------

void QuicService::on_backend_event(QuicSession& session, const reactor::Event& event) {
  const SessionId id = session.id();
  if (event.res >= 0 && !session.closing()) {
    if (auto d = worker_.reactor().datagram(event)) {
      const FlowKey* key = table_.key_of(id);
      if (d->truncated) {
        observe::bump(worker_.shared().metrics.quic.drop(QuicDrop::truncated));
      } else if (key != nullptr) {
        table_.learn_from_backend(id, d->payload);
        table_.touch(id, Clock::now());
        send_to_client(*key, d->payload);
        session.count_to_client(d->payload.size());
        if (fast_path_ != nullptr && !fast_paths_.contains(id)) enter_fast_path(session, *key);
        observe::bump(worker_.shared().metrics.quic.bytes_from_backend, d->payload.size());
        observe::bump(worker_.shared().metrics.quic.packets_from_backend);
      }
    }
  }
  if (event.buffer >= 0) worker_.buffers().recycle(static_cast<std::uint16_t>(event.buffer));
  if (event.more) return;
  if (session.closing()) {
    ending_.erase(id);  // frees `session`
    return;
  }
  // An ICMP unreachable ends a connected socket's receive with
  // ECONNREFUSED; the client may retry, so the session stays and listens on.
  rearm_session_later(id);
}

void QuicService::rearm_session_later(SessionId id) {
  worker_.timers().schedule(reactor::Clock::now() + kRearmDelay, [this, id] {
    auto it = sessions_.find(id);
    if (it != sessions_.end() && !it->second->closing()) it->second->start(worker_.reactor());
  });
}

// --- the kernel fast path ----------------------------------------------------

void QuicService::enter_fast_path(QuicSession& session, const FlowKey& key) {
  auto it = by_listener_.find(key.listener);
  auto local = session.local_address();
  if (fast_path_ == nullptr || it == by_listener_.end() || !local) return;
  auto& entry = fast_paths_[session.id()];
  const bool first = entry == nullptr;
  if (first) entry = std::make_unique<SessionFastPath>(*fast_path_);
  // Entries of an earlier address go first (counted): a rebinding.
  if (entry->entered()) count_fast_path(entry->leave());
  // The address the client sent to, not the wildcard (an IPv4 client of a
  // dual-stack listener sent to an IPv4 one, as its packets carry it).
  const Endpoint listener{key.local, it->second->address.port};
  auto entered = entry->enter({key.client, listener, *local, session.backend()});
  if (!entered) {
    // It stays in userspace, as without the fast path.
    log::info("quic_fast_path", "result=skipped client={} backend={} detail={}",
              key.client.to_string(), session.backend().to_string(),
              log::quote(entered.error().message));
    return;
  }
  if (first) observe::bump(worker_.shared().metrics.quic.fast_path_sessions);
}

void QuicService::count_fast_path(const FastPathPoll& poll) {
  auto& m = worker_.shared().metrics.quic;
  observe::bump(m.fast_path_packets_from_client, poll.added.packets_to_backend);
  observe::bump(m.fast_path_bytes_from_client, poll.added.bytes_to_backend);
  observe::bump(m.fast_path_packets_from_backend, poll.added.packets_to_client);
  observe::bump(m.fast_path_bytes_from_backend, poll.added.bytes_to_client);
}

bool QuicService::active_in_kernel(SessionId id, Clock::time_point now) {
  auto it = fast_paths_.find(id);
  if (it == fast_paths_.end() || !it->second->entered()) return false;
  const FastPathPoll poll = it->second->poll();
  count_fast_path(poll);
  if (poll.last_seen) table_.touch(id, *poll.last_seen);
  return !table_.is_expired(id, now);
}

// --- endings ---------------------------------------------------------------------

void QuicService::end_session(SessionId id, observe::Outcome outcome, std::string detail) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  std::unique_ptr<QuicSession> session = std::move(it->second);
  sessions_.erase(it);
  const FlowKey* key = table_.key_of(id);
  const FlowKey flow = key != nullptr ? *key : FlowKey{};
  table_.remove(id);
  threads_.give_session_slots();
  observe::AccessRecord record =
      session->close(worker_.reactor(), flow.client, outcome, std::move(detail));
  if (key != nullptr)
    if (auto it = by_listener_.find(flow.listener); it != by_listener_.end())
      record.local = Endpoint{flow.local, it->second->address.port}.to_string();
  if (auto fp = fast_paths_.find(id); fp != fast_paths_.end()) {
    // Both paths' datagrams in one line: the kernel's are added to the
    // userspace counts, and named apart.
    count_fast_path(fp->second->leave());
    const FastPathCounts& k = fp->second->totals();
    record.bytes_in += k.bytes_to_backend;
    record.bytes_out += k.bytes_to_client;
    record.packets_in += k.packets_to_backend;
    record.packets_out += k.packets_to_client;
    record.fast_path = true;
    record.fast_path_packets_in = k.packets_to_backend;
    record.fast_path_packets_out = k.packets_to_client;
    fast_paths_.erase(fp);
  }
  record_ending(worker_.shared().metrics, session->runtime(), session->listener(), record);
  if (auto member = session->member_id()) worker_.pools().closed(*member);
  if (!session->ended()) ending_.emplace(id, std::move(session));
  publish_gauges();
}

void QuicService::sweep(Clock::time_point now) {
  const auto rt = worker_.shared().runtime.load();
  pending_.set_limits(limits_of(rt->config.quic, threads_.threads()));
  auto& metrics = worker_.shared().metrics.quic;
  const auto late = pending_.expire(now);
  if (!late.empty()) {
    observe::bump(metrics.drop(QuicDrop::hello_timeout), late.size());
    observe::bump(metrics.hello(QuicHelloOutcome::timeout), late.size());
  }
  for (SessionId id : table_.expired(now)) {
    if (active_in_kernel(id, now)) continue;
    end_session(id, observe::Outcome::idle_timeout, "no datagram either way");
  }
  sweep_handover();
  publish_gauges();
}

void QuicService::begin_drain() {
  if (draining_) return;
  draining_ = true;
  const bool successor = begin_handover_drain();
  for (auto& socket : sockets_) {
    socket->closing = true;
    if (socket->armed)
      worker_.reactor().cancel(socket.get());  // fd closed when the receive ends
    else if (!successor)
      socket->fd.reset();
  }
  // Without the listener (and no successor handing over) no client
  // datagram reaches a session any more.
  std::vector<SessionId> ids;
  ids.reserve(sessions_.size());
  if (!successor)
    for (const auto& entry : sessions_) ids.push_back(entry.first);
  for (SessionId id : ids) end_session(id, observe::Outcome::shutdown, "drain");
  pending_.expire(Clock::time_point::max());
  threads_.give_session_slots(resolving_.size());
  resolving_.clear();  // their answers find nothing
  publish_gauges();
}

bool QuicService::quiet() const {
  for (const auto& socket : sockets_)
    if (socket->fd) return false;
  if (handover_in_ && handover_in_->busy()) return false;
  return sessions_.empty() && ending_.empty();
}

void QuicService::publish_gauges() {
  // Each thread adds its change: the gauges are the process's sums
  // (unsigned wrap-around makes a decrease a subtraction).
  auto& metrics = worker_.shared().metrics.quic;
  metrics.pending_flows.fetch_add(pending_.size() - published_pending_, std::memory_order_relaxed);
  metrics.sessions.fetch_add(sessions_.size() - published_sessions_, std::memory_order_relaxed);
  published_pending_ = pending_.size();
  published_sessions_ = sessions_.size();
  threads_.set_thread_sessions(worker_.index(), sessions_.size());
}

}  // namespace sniproxy::proxy::quic
