#pragma once
// A quic listener's UDP socket in the worker: the one passed in (by the
// master process, or systemd's ListenDatagram=), duplicated so that this
// worker closes its own descriptor at its drain while whoever passed it
// keeps the socket (and the datagrams queued in it) for the next
// generation; else one bound here, one per serving thread.
#include <cstddef>

#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "config/config.hpp"
#include "proxy/shared_state.hpp"

namespace sniproxy::proxy::quic {

struct ListenerSocket {
  UniqueFd fd;
  bool passed = false;
};

// For config listener `index` (a quic one). A socket bound here joins the
// address's SO_REUSEPORT group when `reuse_port` (several threads serve it).
// An error names the listener.
Result<ListenerSocket> open_listener_socket(const SharedState& shared, std::size_t index,
                                            const config::Listener& listener, bool reuse_port);

}  // namespace sniproxy::proxy::quic
