#pragma once
// One connection at a time: `latency --to ADDR --count N --sni NAME
// [--alpn LIST] [--response-bytes 64] [--timeout 300]`. Each connection is
// timed from before connect() until the first response byte arrives (connect
// + hello + the backend's first byte through the proxy), then the rest of the
// response is read and the connection closed before the next starts.
// Prints "count=N p50_us=.. p99_us=.. mean_us=.. min_us=.. max_us=..";
// exits non-zero at the first failed connection.
#include "args.hpp"

namespace proxy_load {

int run_latency(const Args& args);

}  // namespace proxy_load
