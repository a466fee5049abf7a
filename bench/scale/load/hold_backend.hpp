#pragma once
// `backend --listen 127.0.0.1:P1,127.0.0.1:P2,... [--seconds 1800]`: accepts
// on every address, answers each connection's first bytes (the forwarded
// ClientHello) with one byte, then holds it, reading and discarding, until
// the peer closes. One thread, one epoll: 100,000 connections cost their
// sockets and 8 bytes of state each. Prints "listening" once ready, and
// "held=N" when SIGUSR1 asks; ends on SIGTERM/SIGINT or after --seconds.
#include "args.hpp"

namespace scale_load {

int run_hold_backend(const proxy_load::Args& args);

}  // namespace scale_load
