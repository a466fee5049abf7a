#include "dns/cache.hpp"

#include <utility>

namespace sniproxy::dns {

CachedAnswer Cache::find(const std::string& name, TimePoint now, TimePoint* expires) {
  auto it = index_.find(name);
  if (it == index_.end()) return nullptr;
  auto entry = it->second;
  if (entry->expires <= now) {
    if (observer_) observer_->removed(entry->name);
    index_.erase(it);
    order_.erase(entry);
    return nullptr;
  }
  order_.splice(order_.begin(), order_, entry);
  if (expires != nullptr) *expires = entry->expires;
  return entry->answer;
}

void Cache::insert(const std::string& name, CachedAnswer answer, TimePoint expires) {
  if (capacity_ == 0) return;
  if (auto it = index_.find(name); it != index_.end()) {
    auto entry = it->second;
    entry->answer = std::move(answer);
    entry->expires = expires;
    if (observer_) observer_->stored(entry->name, *entry->answer, expires);
    order_.splice(order_.begin(), order_, entry);
    return;
  }
  if (index_.size() >= capacity_) {
    if (observer_) observer_->removed(order_.back().name);
    index_.erase(order_.back().name);
    order_.pop_back();
  }
  order_.push_front(Entry{name, std::move(answer), expires});
  index_.emplace(order_.front().name, order_.begin());
  if (observer_) observer_->stored(name, *order_.front().answer, expires);
}

}  // namespace sniproxy::dns
