#pragma once
// The resolver's answer cache: positive and negative answers by name, each
// with its own expiry, bounded by evicting the least recently used entry.
// Pure: the caller passes the time, so tests can move it.
#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.hpp"
#include "dns/addresses.hpp"
#include "dns/cache_observer.hpp"

namespace sniproxy::dns {

// Shared so a hit can be handed to a callback that may itself change the cache.
using CachedAnswer = std::shared_ptr<const Result<Addresses>>;

class Cache {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // capacity 0 disables caching: insert() stores nothing.
  explicit Cache(std::size_t capacity) : capacity_(capacity) {}

  // The live answer for `name`, or null. A hit becomes the most recently
  // used entry; an entry found expired at `now` is dropped. `expires`, if
  // given, receives a hit's expiry (a caller that re-asks then).
  CachedAnswer find(const std::string& name, TimePoint now, TimePoint* expires = nullptr);
  // Adds or replaces `name`, evicting the least recently used entry when full.
  void insert(const std::string& name, CachedAnswer answer, TimePoint expires);

  // Includes expired entries not yet looked up (they are dropped lazily).
  [[nodiscard]] std::size_t size() const { return index_.size(); }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }

  // Told of every store and removal from now on; null: nobody.
  void set_observer(std::unique_ptr<CacheObserver> observer) { observer_ = std::move(observer); }

 private:
  struct Entry {
    std::string name;
    CachedAnswer answer;
    TimePoint expires;
  };
  using Order = std::list<Entry>;  // most recently used first

  std::size_t capacity_;
  Order order_;
  std::unordered_map<std::string_view, Order::iterator> index_;  // keys view Entry::name
  std::unique_ptr<CacheObserver> observer_;
};

}  // namespace sniproxy::dns
