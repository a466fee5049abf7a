#pragma once
// Connection rate: `rate --to ADDR --connections N --concurrency K --sni NAME
// [--alpn LIST] [--response-bytes 64] [--connect-timeout 5] [--timeout 300]`.
// Keeps K connections in flight from one epoll loop until N have completed;
// each connects, sends a fresh ClientHello, reads the `reply` backend's
// response in full and closes. Prints
// "connections=N failed=F seconds=S cps=R"; exits non-zero if any failed.
#include "args.hpp"

namespace proxy_load {

int run_rate(const Args& args);

}  // namespace proxy_load
