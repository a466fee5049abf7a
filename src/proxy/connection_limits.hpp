#pragma once
// Connection counts shared by all workers: the total and one count per
// source address. Touched once at accept and once at close, never per byte;
// the per-source map is sharded so workers rarely meet on a lock.
#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "common/address.hpp"

namespace sniproxy::proxy {

class ConnectionLimits {
 public:
  enum class Admit : std::uint8_t { yes, over_total, over_source };
  // Counts the connection in when admitted. per_source 0 = unlimited.
  Admit admit(const IpAddress& source, std::uint32_t max_total, std::uint32_t per_source);
  void release(const IpAddress& source);
  // The connection counted under `from` now comes from `to` (the client a
  // PROXY header names): counted there if `to` is under `per_source`, and
  // false (still counted under `from`) if not.
  bool move_source(const IpAddress& from, const IpAddress& to, std::uint32_t per_source);
  [[nodiscard]] std::uint64_t active() const { return total_.load(std::memory_order_relaxed); }

 private:
  struct Shard {
    std::mutex mu;
    std::unordered_map<IpAddress, std::uint32_t, IpAddressHash> counts;
  };
  Shard& shard_for(const IpAddress& a) { return shards_[IpAddressHash{}(a) % shards_.size()]; }
  std::atomic<std::uint64_t> total_{0};
  std::array<Shard, 64> shards_;
};

}  // namespace sniproxy::proxy
