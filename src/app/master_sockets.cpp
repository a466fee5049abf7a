#include "app/master_sockets.hpp"

#include <fmt/format.h>

#include <set>
#include <utility>

#include "common/listen_socket.hpp"
#include "common/udp_socket.hpp"

namespace sniproxy::app {

namespace {
constexpr int kListenBacklog = 4096;  // as the workers bind their own
constexpr int kAdminBacklog = 64;
}  // namespace

std::string listener_key(const config::Listener& listener) {
  // A UDP port is not the TCP port of the same number.
  std::string key = listener.protocol == config::Protocol::quic ? "udp " : "";
  key += listener.address.to_string();
  if (listener.address.ip.family == Family::v6 && listener.v6only) key += " v6only";
  return key;
}

void MasterSockets::adopt(std::vector<PassedSocket> passed) {
  for (auto& s : passed) systemd_.push_back(std::move(s));
}

Result<bool> MasterSockets::prepare(const config::Config& config, unsigned threads) {
  for (const auto& listener : config.listeners) {
    const std::string key = listener_key(listener);
    auto& held = listeners_[key];
    const int type = socket_type_of(listener);
    if (held.empty()) {
      if (UniqueFd fd = take_passed_socket(systemd_, listener.address, type)) {
        held.push_back(std::move(fd));
        from_systemd_.insert(key);
      }
    }
    // systemd's socket is the listener's only one (the workers share it):
    // it is not SO_REUSEPORT, so no other could bind beside it.
    if (from_systemd_.contains(key)) continue;
    if (type == SOCK_DGRAM) {
      // One UDP socket, read by one worker thread (see quic_service.hpp).
      if (!held.empty()) continue;
      auto fd = open_udp_listen_socket(listener.address, listener.v6only);
      if (!fd) return make_error(fmt::format("listener {}: {}", listener.name, fd.error().message));
      held.push_back(std::move(fd).value());
      continue;
    }
    while (held.size() < threads) {
      auto fd = open_listen_socket(listener.address, kListenBacklog, listener.v6only);
      if (!fd) return make_error(fmt::format("listener {}: {}", listener.name, fd.error().message));
      held.push_back(std::move(fd).value());
    }
  }
  if (config.admin) {
    const std::string key = config.admin->listen.to_string();
    if (!admin_[key]) {
      UniqueFd passed = take_passed_socket(systemd_, config.admin->listen);
      if (passed) {
        admin_[key] = std::move(passed);
      } else {
        auto fd = open_listen_socket(config.admin->listen, kAdminBacklog);
        if (!fd) return make_error(fmt::format("[admin] listen: {}", fd.error().message));
        admin_[key] = std::move(fd).value();
      }
    }
  }
  return true;
}

std::vector<SocketToPass> MasterSockets::for_config(const config::Config& config) const {
  std::vector<SocketToPass> out;
  for (const auto& listener : config.listeners) {
    auto it = listeners_.find(listener_key(listener));
    if (it == listeners_.end()) continue;
    for (const UniqueFd& fd : it->second) out.push_back({fd.get(), "listener"});
  }
  if (config.admin) {
    auto it = admin_.find(config.admin->listen.to_string());
    if (it != admin_.end() && it->second) out.push_back({it->second.get(), "admin"});
  }
  return out;
}

std::vector<PassedSocket> MasterSockets::take_unused_systemd() {
  return std::exchange(systemd_, {});
}

void MasterSockets::keep_only(const config::Config& config) {
  std::set<std::string> used;
  for (const auto& listener : config.listeners) used.insert(listener_key(listener));
  std::erase_if(listeners_, [&](const auto& entry) { return !used.contains(entry.first); });
  std::erase_if(from_systemd_, [&](const std::string& key) { return !used.contains(key); });
  const std::string admin = config.admin ? config.admin->listen.to_string() : "";
  std::erase_if(admin_, [&](const auto& entry) { return entry.first != admin; });
}

}  // namespace sniproxy::app
