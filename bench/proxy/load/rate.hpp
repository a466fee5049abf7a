#pragma once
// Connection rate: `rate --to ADDR --connections N --concurrency K --sni NAME
// [--alpn LIST] [--response-bytes 64] [--connect-timeout 5] [--timeout 300]
// [--wait-close 0|1]`.
// Keeps K connections in flight from one epoll loop until N have completed;
// each connects, sends a fresh ClientHello, reads the `reply` backend's
// response in full and closes. With --wait-close 1 it half-closes instead
// and counts the connection done only when the end of stream comes back
// (the backend closes on our FIN, and the proxy carries both ends): what a
// client that reads to the close waits, the end-of-stream path's cost. Prints
// "connections=N failed=F seconds=S cps=R"; exits non-zero if any failed.
#include "args.hpp"

namespace proxy_load {

int run_rate(const Args& args);

}  // namespace proxy_load
