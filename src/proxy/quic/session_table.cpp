#include "proxy/quic/session_table.hpp"

#include <algorithm>
#include <cstring>

#include "protocol/quic/long_header.hpp"
#include "proxy/quic/cid_lookup.hpp"

namespace sniproxy::proxy::quic {

bool SessionTable::add(SessionId id, const FlowKey& key,
                       std::span<const std::uint8_t> original_dcid,
                       std::chrono::milliseconds idle_timeout, Clock::time_point now) {
  if (sessions_.size() >= max_sessions_ || by_address_.contains(key)) return false;
  Entry& e = sessions_[id];
  e.key = key;
  e.idle_timeout = idle_timeout;
  e.last_active = now;
  by_address_.emplace(key, id);
  learn(id, e, original_dcid);
  return true;
}

void SessionTable::remove(SessionId id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  Entry& e = it->second;
  for (const std::string& cid : e.cids) {
    auto k =
        cid_key(e.key.listener, {reinterpret_cast<const std::uint8_t*>(cid.data()), cid.size()});
    auto found = by_cid_.find(k);
    if (found != by_cid_.end() && found->second == id) {
      by_cid_.erase(found);
      if (observer_ != nullptr) observer_->forgotten(e.key.listener, cid);
    }
    auto length = cid_lengths_.find({e.key.listener, cid.size()});
    if (length != cid_lengths_.end() && --length->second == 0) cid_lengths_.erase(length);
  }
  by_address_.erase(e.key);
  sessions_.erase(it);
}

std::optional<SessionId> SessionTable::find(const FlowKey& key) const {
  auto it = by_address_.find(key);
  if (it == by_address_.end()) return std::nullopt;
  return it->second;
}

const FlowKey* SessionTable::key_of(SessionId id) const {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : &it->second.key;
}

void SessionTable::learn(SessionId id, Entry& e, std::span<const std::uint8_t> cid) {
  // A zero-length ID names nothing (RFC 9000 5.1); too many are not kept.
  if (cid.empty() || cid.size() > kMaxCidLength || e.cids.size() >= kMaxCidsPerSession) return;
  const std::string bytes(reinterpret_cast<const char*>(cid.data()), cid.size());
  if (std::find(e.cids.begin(), e.cids.end(), bytes) != e.cids.end()) return;
  // An ID another session holds stays with it: the first to learn it wins.
  if (!by_cid_.emplace(cid_key(e.key.listener, cid), id).second) return;
  e.cids.push_back(bytes);
  ++cid_lengths_[{e.key.listener, cid.size()}];
  if (observer_ != nullptr) observer_->learnt(e.key.listener, bytes);
}

void SessionTable::learn_from_backend(SessionId id, std::span<const std::uint8_t> datagram) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  auto header = protocol::quic::read_long_header_ids(datagram);
  if (!header || header->version == 0) return;  // short header, or Version Negotiation
  learn(id, it->second, header->scid);
}

bool SessionTable::knows_cid(SessionId id, std::span<const std::uint8_t> dcid) const {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return false;
  const std::string bytes(reinterpret_cast<const char*>(dcid.data()), dcid.size());
  return std::find(it->second.cids.begin(), it->second.cids.end(), bytes) != it->second.cids.end();
}

std::optional<SessionId> SessionTable::match_cid(std::size_t listener,
                                                 std::span<const std::uint8_t> datagram) const {
  return match_datagram_cid(listener, datagram, cid_lengths_,
                            [this](const std::string& key) -> std::optional<SessionId> {
                              auto it = by_cid_.find(key);
                              if (it == by_cid_.end()) return std::nullopt;
                              return it->second;
                            });
}

bool SessionTable::rebind(SessionId id, const Endpoint& client, const IpAddress& local) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return false;
  FlowKey next{it->second.key.listener, client, local};
  if (by_address_.contains(next)) return false;
  by_address_.erase(it->second.key);
  it->second.key = next;
  by_address_.emplace(next, id);
  return true;
}

void SessionTable::touch(SessionId id, Clock::time_point now) {
  auto it = sessions_.find(id);
  if (it != sessions_.end()) it->second.last_active = std::max(it->second.last_active, now);
}

bool SessionTable::is_expired(SessionId id, Clock::time_point now) const {
  auto it = sessions_.find(id);
  return it != sessions_.end() && it->second.last_active + it->second.idle_timeout <= now;
}

std::vector<SessionId> SessionTable::expired(Clock::time_point now) const {
  std::vector<SessionId> out;
  for (const auto& [id, e] : sessions_)
    if (e.last_active + e.idle_timeout <= now) out.push_back(id);
  return out;
}

}  // namespace sniproxy::proxy::quic

namespace sniproxy::proxy::quic {

std::chrono::milliseconds session_idle_timeout(std::chrono::milliseconds floor,
                                               std::chrono::milliseconds cap,
                                               std::optional<std::uint64_t> client_ms) {
  std::chrono::milliseconds t = cap;
  if (client_ms && *client_ms > 0 && *client_ms < static_cast<std::uint64_t>(cap.count()))
    t = std::chrono::milliseconds(static_cast<std::int64_t>(*client_ms));
  return std::max(t, floor);
}

}  // namespace sniproxy::proxy::quic
