#pragma once
// The listening sockets the master holds for its workers. They outlive every
// worker generation: a new generation accepts from the very sockets the old
// one did, so no client queued in a backlog is lost to a handover. Each
// listener has one SO_REUSEPORT socket per worker thread (the kernel spreads
// clients over them as when each thread binds its own), a quic listener one
// UDP socket (one thread reads it), or the one socket systemd passed for its
// address.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "app/socket_activation.hpp"
#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "config/config.hpp"

namespace sniproxy::app {

// A descriptor to pass to a worker and its $LISTEN_FDNAMES name.
struct SocketToPass {
  int fd = -1;
  std::string name;
};

class MasterSockets {
 public:
  // systemd's sockets (socket activation), taken once at start: a listener
  // with one of their addresses uses it instead of binding.
  void adopt(std::vector<PassedSocket> passed);

  // Binds what `config` needs and is not held yet: `threads` sockets for
  // each listener (never fewer than it held: closing one would reset the
  // clients queued in it) and the admin endpoint's. An error names the
  // listener; what was bound before it stays held.
  Result<bool> prepare(const config::Config& config, unsigned threads);

  // What a worker of `config` takes, after prepare(config).
  [[nodiscard]] std::vector<SocketToPass> for_config(const config::Config& config) const;

  // systemd's sockets that no listener of the first config took (the caller
  // logs them; they close with the vector), as a proxy without a master does.
  std::vector<PassedSocket> take_unused_systemd();

  // Closes the master's copies of sockets `config` does not use (listeners
  // a new generation dropped). A worker still holding one keeps it open
  // until it stops accepting.
  void keep_only(const config::Config& config);

 private:
  std::map<std::string, std::vector<UniqueFd>> listeners_;  // by listener_key
  std::map<std::string, UniqueFd> admin_;                   // by address
  std::vector<PassedSocket> systemd_;                       // not yet given to a listener
  std::set<std::string> from_systemd_;  // listener keys whose one socket is systemd's
};

// Pure: sockets are shared by listeners that bind alike (same protocol
// family of socket, address and v6only).
std::string listener_key(const config::Listener& listener);

}  // namespace sniproxy::app
