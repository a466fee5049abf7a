#pragma once
// Bulk throughput: `bulk --to ADDR --bytes N --connections C --sni NAME
// [--alpn LIST] [--timeout 300]`. C connections at once, each sending a
// ClientHello and then its share of N bytes into a `count` backend, which
// confirms the byte count. Prints "bytes=N connections=C seconds=S MBps=R"
// (MB = 10^6 bytes, the hello not counted; the time covers connect to the
// last confirmation). Exits non-zero if any connection failed or lost bytes.
#include "args.hpp"

namespace proxy_load {

int run_bulk(const Args& args);

}  // namespace proxy_load
