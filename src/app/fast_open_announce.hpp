#pragma once
// The start-up lines that say when the host will not do the TCP Fast Open
// the config asks for: net.ipv4.tcp_fastopen is the host's (or the network
// namespace's), and the proxy leaves it alone.
#include "config/config.hpp"

namespace sniproxy::app {

// Reads the sysctl once when the config asks for Fast Open, and logs
// event=fast_open_disabled when a listener sets fast_open_queue and the
// server bit (2) is off, event=fast_open_connect_disabled when a route or
// pool sets fast_open and the client bit (1) is off.
void announce_fast_open(const config::Config& config);

}  // namespace sniproxy::app
