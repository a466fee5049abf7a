#pragma once
// The master's side of the QUIC hand-over (docs/quic.md): a unix
// SOCK_SEQPACKET pair for each generation with quic listeners. The
// generation reads one end once it drains; the master keeps the other, to
// pass to the next generation (which hands over there the datagrams of the
// draining one's sessions) and to say, before it tells the old one to
// drain, that a successor reads the listeners now.
#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "config/config.hpp"

namespace sniproxy::app {

struct HandoverPair {
  UniqueFd read;   // passed to the generation it belongs to
  UniqueFd write;  // kept by the master, passed to its successor
};

// Non-blocking, close-on-exec.
Result<HandoverPair> open_handover_pair();

bool has_quic_listener(const config::Config& config);

// Queues the successor message on `write`; false when it could not (the
// old worker then ends its sessions at the drain, as on a stop).
bool announce_successor(int write);

}  // namespace sniproxy::app
