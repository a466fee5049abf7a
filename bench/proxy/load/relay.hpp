#pragma once
// The least a userspace relay can do per message, as a floor for the
// ping-pong benchmark (run-pingpong.sh): a thread per direction blocked in
// recv(), which sends what it got and blocks again. No event loop, no
// parsing, no routing: one wake-up, one recv and one send per message and
// hop, which every userspace proxy pays at least. Whatever a proxy's round
// trip costs beyond this relay's is its own; what the relay costs beyond
// direct is what any userspace hop costs on this machine.
#include "args.hpp"

namespace proxy_load {

// `relay --to ADDR [--address 127.0.0.1:0] [--timeout 0]`: prints "port=P"
// once listening, then relays every accepted connection to ADDR (TCP_NODELAY
// on both sockets, a FIN carried as a half-close) until killed or for
// --timeout seconds when nonzero.
int run_relay(const Args& args);

}  // namespace proxy_load
