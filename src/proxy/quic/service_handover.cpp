// The QuicService's part in an upgrade under the master (docs/quic.md):
// the new generation's worker reads the shared listener sockets and hands
// the datagrams it cannot place to the draining worker, which delivers them
// to its sessions and replies through its own copy of the listener socket
// until those sessions go idle or its drain deadline passes.
#include <vector>

#include "common/log.hpp"
#include "proxy/quic/handover_message.hpp"
#include "proxy/quic/quic_service.hpp"
#include "proxy/worker.hpp"

namespace sniproxy::proxy::quic {

void QuicService::take_handover_channel() {
  SharedState& shared = worker_.shared();
  if (shared.quic_handover_out)
    handover_out_ = std::make_unique<HandoverOut>(std::move(shared.quic_handover_out));
  if (shared.quic_handover_in)
    handover_in_ = std::make_unique<HandoverIn>(
        std::move(shared.quic_handover_in),
        [this](std::span<const std::uint8_t> bytes) { on_handover_message(bytes); });
}

bool QuicService::hand_over(const FlowKey& key, std::span<const std::uint8_t> payload) {
  auto it = by_listener_.find(key.listener);
  if (it == by_listener_.end()) return false;
  // The address the client sent to: on a wildcard listener, not the
  // listener's own.
  return pass_on(key.client, Endpoint{key.local, it->second->address.port}, payload);
}

bool QuicService::pass_on(const Endpoint& client, const Endpoint& local,
                          std::span<const std::uint8_t> payload) {
  if (!relaying()) return false;
  auto& metrics = worker_.shared().metrics.quic;
  switch (handover_out_->hand(client, local, payload)) {
    case HandoverOut::Sent::handed:
      ++handed_;
      observe::bump(metrics.handover_handed);
      return true;
    case HandoverOut::Sent::full:
      observe::bump(metrics.handover_send_failed);
      return true;
    case HandoverOut::Sent::ended:
      break;
  }
  log_successor_end();
  return false;
}

void QuicService::log_successor_end() {
  log::info("quic_handover", "result=ended side=successor worker={} handed={} detail={}",
            worker_.index(), handed_, log::quote("the draining worker is gone"));
}

bool QuicService::relaying() const {
  return handover_out_ && handover_out_->open();
}

void QuicService::sweep_handover() {
  if (relaying() && handover_out_->reader_gone()) log_successor_end();
  if (!handing_over_) return;
  // Kept while an older generation's sessions may still be reached through
  // this one (two upgrades within one drain).
  if (sessions_.empty() && !relaying()) {
    end_handover("sessions_ended");
    return;
  }
  if (handover_in_) handover_in_->rearm(worker_.reactor());
}

bool QuicService::begin_handover_drain() {
  if (!handover_in_) return false;
  // The master queued its successor message before the SIGTERM; datagrams
  // the successor read before it may be queued ahead of it.
  auto queued = handover_in_->read_queued();
  bool successor = false;
  for (const auto& bytes : queued)
    if (auto m = decode_handover(bytes); m && m->kind == HandoverKind::successor) successor = true;
  if (!successor) {
    handover_in_.reset();  // a stop: nobody takes over
    return false;
  }
  handing_over_ = true;
  log::info("quic_handover", "result=started worker={} sessions={} queued={}", worker_.index(),
            sessions_.size(), queued.size() - 1);
  for (const auto& bytes : queued) on_handover_message(bytes);
  handover_in_->arm(worker_.reactor());
  if (sessions_.empty() && !relaying()) end_handover("no_sessions");
  return true;
}

void QuicService::on_handover_message(std::span<const std::uint8_t> bytes) {
  auto m = decode_handover(bytes);
  if (!m || m->kind != HandoverKind::datagram) return;
  auto& metrics = worker_.shared().metrics.quic;
  if (handing_over_) {
    for (const auto& socket : sockets_) {
      // Generations may number their listeners apart: the socket is found
      // by address (a wildcard one by its port).
      const bool takes = socket->address == m->local ||
                         (socket->wildcard && socket->address.port == m->local.port);
      if (!takes) continue;
      if (deliver_handed(socket->listener, m->client, m->local.ip, m->payload)) {
        ++delivered_;
        observe::bump(metrics.handover_delivered);
        return;
      }
      break;
    }
  }
  // Not a session of this worker: perhaps of an older generation still
  // draining (two upgrades within one drain), to which this one passes it.
  if (pass_on(m->client, m->local, m->payload)) return;
  ++unplaced_;
  observe::bump(metrics.handover_unplaced);
}

bool QuicService::deliver_handed(std::size_t listener, const Endpoint& client,
                                 const IpAddress& local, std::span<const std::uint8_t> payload) {
  const FlowKey key{listener, client, local};
  if (auto id = table_.find(key)) {
    forward_to_backend(*id, payload);
    return true;
  }
  // The session's connection ID from a new client address (NAT rebinding
  // during the hand-over, or onto another thread's share of the group).
  if (auto id = table_.match_cid(listener, payload); id && rebind_session(*id, key)) {
    forward_to_backend(*id, payload);
    return true;
  }
  return false;
}

void QuicService::end_handover(std::string_view reason) {
  if (!handing_over_) return;
  handing_over_ = false;
  if (handover_in_) handover_in_->close(worker_.reactor());
  for (auto& socket : sockets_)
    if (!socket->armed) socket->fd.reset();
  log::info("quic_handover", "result=ended worker={} reason={} delivered={} unplaced={}",
            worker_.index(), reason, delivered_, unplaced_);
}

void QuicService::drain_expired() {
  if (!handing_over_) return;
  std::vector<SessionId> ids;
  for (const auto& entry : sessions_) ids.push_back(entry.first);
  for (SessionId id : ids) end_session(id, observe::Outcome::shutdown, "drain ended");
  end_handover("deadline");
  publish_gauges();
}

}  // namespace sniproxy::proxy::quic
