#pragma once
// Told of every change to a resolver's cache, so that the cache can be
// mirrored somewhere an operator can look (bpf/dns_mirror.hpp puts it in a
// BPF map) while src/dns itself stays free of BPF. The cache still answers
// every lookup; an observer only watches.
#include <chrono>
#include <string_view>

#include "common/result.hpp"
#include "dns/addresses.hpp"

namespace sniproxy::dns {

class CacheObserver {
 public:
  virtual ~CacheObserver() = default;
  // `name` now holds `answer` (addresses, or the failure cached as a
  // negative answer) until `expires` on the steady clock.
  virtual void stored(std::string_view name, const Result<Addresses>& answer,
                      std::chrono::steady_clock::time_point expires) = 0;
  // `name` left the cache: found expired, or evicted to make room.
  virtual void removed(std::string_view name) = 0;
};

}  // namespace sniproxy::dns
