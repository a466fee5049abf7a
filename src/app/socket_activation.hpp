#pragma once
// Socket activation: sockets that systemd (a .socket unit, or
// systemd-socket-activate) opened and passed in ($LISTEN_FDS, $LISTEN_PID,
// $LISTEN_FDNAMES): listening TCP sockets (ListenStream=) and UDP sockets
// (ListenDatagram=). A config listener whose address one of them has, of
// its kind (a quic listener's is UDP, every other's TCP), uses it instead of
// binding: the workers share it, and since systemd keeps it open across
// restarts of the service, clients that come while the proxy restarts wait
// in its backlog (or receive queue) instead of being refused.
#include <sys/socket.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/address.hpp"
#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "config/config.hpp"

namespace sniproxy::app {

// The master's QUIC hand-over channel ends (docs/quic.md): unix
// SOCK_SEQPACKET sockets passed among the listeners under these names.
inline constexpr std::string_view kQuicHandoverIn = "quic-handover-in";
inline constexpr std::string_view kQuicHandoverOut = "quic-handover-out";

struct PassedSocket {
  UniqueFd fd;
  Endpoint address;        // where it listens (getsockname)
  std::string name;        // its FileDescriptorName= (or "unknown")
  int type = SOCK_STREAM;  // or SOCK_DGRAM; SOCK_SEQPACKET: a hand-over end
};

// The socket type a listener takes: SOCK_DGRAM for quic, else SOCK_STREAM.
int socket_type_of(const config::Listener& listener);

// The sockets passed to this process, now non-blocking; the variables are
// unset so that no child inherits them. None without $LISTEN_FDS. An error
// names a passed descriptor that is neither a listening TCP socket nor a
// UDP socket.
Result<std::vector<PassedSocket>> take_passed_sockets();

// For each config listener, in order, the passed sockets with its address
// and type (systemd passes one; the master one per worker thread of a TCP
// listener, one for a quic listener; none: that listener binds as usual). The sockets no listener
// asked for are left in `passed`, for the caller to log and close. Pure: a function of addresses.
std::vector<std::vector<UniqueFd>> match_passed_sockets(
    std::vector<PassedSocket>& passed, const std::vector<config::Listener>& listeners);

// The passed socket of `type` on `address` (a listener's, or the admin
// endpoint's), taken out of `passed`; invalid when there is none.
UniqueFd take_passed_socket(std::vector<PassedSocket>& passed, const Endpoint& address,
                            int type = SOCK_STREAM);

// The passed socket named `name` (a hand-over channel end), taken out of
// `passed`; invalid when there is none.
UniqueFd take_named_socket(std::vector<PassedSocket>& passed, std::string_view name);

// A passed socket on a listener's address but of the other type (a
// ListenStream= for a quic listener, a ListenDatagram= for a TLS one) when
// no listener takes it as it is: what is wrong, for a start-up error; empty
// when every socket fits. Pure.
std::string passed_type_problem(const std::vector<PassedSocket>& passed,
                                const std::vector<config::Listener>& listeners);

}  // namespace sniproxy::app
