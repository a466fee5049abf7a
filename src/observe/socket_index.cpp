#include "observe/socket_index.hpp"

namespace sniproxy::observe {

std::string_view to_string(SocketSide side) {
  return side == SocketSide::client ? "client" : "backend";
}

SocketKey socket_key(const Endpoint& local, const Endpoint& remote) {
  return SocketKey{Endpoint{local.ip.unmapped(), local.port},
                   Endpoint{remote.ip.unmapped(), remote.port}};
}

std::size_t SocketKeyHash::operator()(const SocketKey& k) const noexcept {
  const IpAddressHash ip;
  std::size_t h = ip(k.local.ip);
  h = h * 31 + k.local.port;
  h = h * 31 + ip(k.remote.ip);
  return h * 31 + k.remote.port;
}

void SocketIndex::add(const SocketKey& key, SocketOwner owner) {
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  s.owners.insert_or_assign(key, std::move(owner));
}

void SocketIndex::remove(const SocketKey& key) {
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  s.owners.erase(key);
}

std::optional<SocketOwner> SocketIndex::find(const SocketKey& key) const {
  const Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  auto it = s.owners.find(key);
  if (it == s.owners.end()) return std::nullopt;
  return it->second;
}

std::size_t SocketIndex::size() const {
  std::size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.owners.size();
  }
  return n;
}

}  // namespace sniproxy::observe
