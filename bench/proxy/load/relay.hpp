#pragma once
// The least a userspace relay can do per message, as a floor for the
// ping-pong benchmark (run-pingpong.sh), and per connection, for
// run-modes.sh (accept, a blocking connect to the one backend, relay, carry
// the FINs, close: no hello read, no route). Each thread waits in
// epoll_wait() and, when a socket is readable, recv()s what is there and send()s it to the
// other socket. No parsing, no routing, no buffers held, no timers: one
// wake-up, one recv and one send per message and hop, which every
// event-driven proxy pays at least. Whatever a proxy's round trip costs
// beyond this relay's is its own; what the relay costs beyond direct is
// what any userspace hop costs on this machine.
#include "args.hpp"

namespace proxy_load {

// `relay --to ADDR [--address 127.0.0.1:0] [--threads 1] [--timeout 0]`:
// prints "port=P" once listening, then relays every accepted connection to
// ADDR (TCP_NODELAY on both sockets, a FIN carried as a half-close) on
// --threads threads until killed or for --timeout seconds when nonzero.
int run_relay(const Args& args);

}  // namespace proxy_load
