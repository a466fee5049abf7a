#pragma once
// `hold --to 127.0.0.1:PORT --connections N --sources 2-9 --names 8
//  [--batch 1000] [--seconds 1800]`: opens N proxied connections and holds
// them. Each connection binds a source address 127.0.0.S (S cycling through
// --sources, so that N can exceed one address's ephemeral ports), sends a
// real ClientHello for h<K>.scale.test (K cycling through --names, one route
// and backend port each, so the proxy's own upstream connections are spread
// over as many destinations), and counts as held once the backend's one-byte
// answer came back through the proxy. Connections open in batches, each
// finished before the next starts, so no listen backlog overflows.
// Prints "held=N open_s=SECONDS" once all are up, then holds them until
// SIGTERM/SIGINT or --seconds, and prints "lost=N" (closed by the proxy
// meanwhile) at the end.
#include "args.hpp"

namespace scale_load {

int run_hold_clients(const proxy_load::Args& args);

}  // namespace scale_load
