#pragma once
// Socket activation: listening sockets that systemd (a .socket unit, or
// systemd-socket-activate) opened and passed in ($LISTEN_FDS, $LISTEN_PID,
// $LISTEN_FDNAMES). A config listener whose address one of them has uses it
// instead of binding: the workers share it, and since systemd keeps it open
// across restarts of the service, clients that come while the proxy
// restarts wait in its backlog instead of being refused.
#include <string>
#include <vector>

#include "common/address.hpp"
#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "config/config.hpp"

namespace sniproxy::app {

struct PassedSocket {
  UniqueFd fd;
  Endpoint address;  // where it listens (getsockname)
  std::string name;  // its FileDescriptorName= (or "unknown")
};

// The sockets passed to this process, now non-blocking; the variables are
// unset so that no child inherits them. None without $LISTEN_FDS. An error
// names a passed descriptor that is not a listening TCP socket.
Result<std::vector<PassedSocket>> take_passed_sockets();

// For each config listener, in order, the passed sockets with its address
// (systemd passes one; the master one per worker thread; none: that
// listener binds as usual). The sockets no listener asked for are left in
// `passed`, for the caller to log and close. Pure: a function of addresses.
std::vector<std::vector<UniqueFd>> match_passed_sockets(
    std::vector<PassedSocket>& passed, const std::vector<config::Listener>& listeners);

// The passed socket listening on `address` (the admin endpoint's), taken out
// of `passed`; invalid when there is none.
UniqueFd take_passed_socket(std::vector<PassedSocket>& passed, const Endpoint& address);

}  // namespace sniproxy::app
