#include "proxy/quic/cid_directory.hpp"

namespace sniproxy::proxy::quic {

namespace {
std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
}  // namespace

void CidDirectory::publish(std::size_t listener, const std::string& cid, unsigned worker) {
  std::lock_guard lock(mutex_);
  if (owners_.emplace(cid_key(listener, bytes_of(cid)), worker).second)
    ++lengths_[{listener, cid.size()}];
}

void CidDirectory::withdraw(std::size_t listener, const std::string& cid, unsigned worker) {
  std::lock_guard lock(mutex_);
  auto it = owners_.find(cid_key(listener, bytes_of(cid)));
  if (it == owners_.end() || it->second != worker) return;
  owners_.erase(it);
  auto length = lengths_.find({listener, cid.size()});
  if (length != lengths_.end() && --length->second == 0) lengths_.erase(length);
}

std::optional<unsigned> CidDirectory::owner(std::size_t listener,
                                            std::span<const std::uint8_t> datagram) const {
  std::shared_lock lock(mutex_);
  return match_datagram_cid(listener, datagram, lengths_,
                            [this](const std::string& key) -> std::optional<unsigned> {
                              auto it = owners_.find(key);
                              if (it == owners_.end()) return std::nullopt;
                              return it->second;
                            });
}

std::size_t CidDirectory::size() const {
  std::shared_lock lock(mutex_);
  return owners_.size();
}

}  // namespace sniproxy::proxy::quic
