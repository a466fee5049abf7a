#pragma once
// Messages back and forth on persistent connections: `pingpong --to ADDR
// --sni NAME --connections 1 --size 64 --messages 2000 [--warmup 0]
// [--timeout 300]` against `backend --mode echo`. Each connection (a thread
// of its own) sends its hello, then sends `size` bytes and waits for them
// to come back, `warmup` times unmeasured, then (once every connection has
// warmed up) `messages` times; each measured round trip is one sample. Prints "connections=N
// messages=N size=B p50_us=.. p99_us=.. mean_us=.. messages_per_s=..";
// exits non-zero at the first failed connection.
#include "args.hpp"

namespace proxy_load {

int run_pingpong(const Args& args);

}  // namespace proxy_load
