#pragma once
// The proxy's forwarding sockets by 4-tuple, so a retransmit the kernel
// reports (addresses and ports only) can be joined with the connection it
// belongs to. Shared by all workers; touched twice per connection (start of
// forwarding, end), never per byte; sharded so workers rarely meet on a lock.
// Exists only when [retrans] is configured.
#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/address.hpp"

namespace sniproxy::observe {

// Which of a connection's two sockets: the one facing the client or the one
// facing the backend.
enum class SocketSide : std::uint8_t { client, backend };
std::string_view to_string(SocketSide side);

struct SocketKey {
  Endpoint local;
  Endpoint remote;
  friend bool operator==(const SocketKey&, const SocketKey&) = default;
};

// IPv4-mapped addresses (an IPv4 client of a "[::]" listener) as IPv4, so
// the key matches however the kernel reports the socket.
SocketKey socket_key(const Endpoint& local, const Endpoint& remote);

struct SocketKeyHash {
  std::size_t operator()(const SocketKey& k) const noexcept;
};

struct SocketOwner {
  unsigned worker = 0;
  std::uint64_t connection = 0;  // the worker's connection id
  SocketSide side = SocketSide::client;
  std::string listener;
  std::string server_name;  // "" when the connection had none (fallback)
  std::string backend;      // IP:PORT
};

class SocketIndex {
 public:
  void add(const SocketKey& key, SocketOwner owner);
  void remove(const SocketKey& key);
  [[nodiscard]] std::optional<SocketOwner> find(const SocketKey& key) const;
  [[nodiscard]] std::size_t size() const;

 private:
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<SocketKey, SocketOwner, SocketKeyHash> owners;
  };
  const Shard& shard_for(const SocketKey& k) const {
    return shards_[SocketKeyHash{}(k) % shards_.size()];
  }
  Shard& shard_for(const SocketKey& k) { return shards_[SocketKeyHash{}(k) % shards_.size()]; }
  std::array<Shard, 16> shards_;
};

}  // namespace sniproxy::observe
