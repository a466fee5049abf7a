#pragma once
// The loopback backend every target forwards to (and `direct` connects to).
//
// Each connection starts with a TLS ClientHello. In `count` mode (bulk) the
// backend discards everything to EOF and answers with the byte count, hello
// included (8 bytes, little-endian), so the client can verify nothing was
// lost. In `reply` mode (rate, latency) it answers `reply-bytes` bytes as
// soon as the whole hello has arrived -- the stand-in for a ServerHello --
// then discards to EOF and closes.
//
// It runs `threads` epoll loops sharing one listening socket
// (EPOLLEXCLUSIVE wakes one loop per new connection): cheap per connection,
// so the direct baseline is not limited by the backend.
#include "args.hpp"

namespace proxy_load {

// `backend --mode count|reply [--reply-bytes 64] [--end-after-reply 0|1]
//  [--port 0] [--threads 2] [--timeout 0]`: prints "port=P" once listening,
// then serves until killed (or for --timeout seconds when nonzero). With
// --end-after-reply 1 a reply is followed at once by the backend's FIN
// (shutdown SHUT_WR), as from a server that closes after its response.
int run_backend(const Args& args);

}  // namespace proxy_load
