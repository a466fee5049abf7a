#pragma once
// The start-up line that says when the host will drop the SYN data a
// fast_open_queue listener asks for: net.ipv4.tcp_fastopen is the host's (or
// the network namespace's), and the proxy leaves it alone.
#include "config/config.hpp"

namespace sniproxy::app {

// With a listener that sets fast_open_queue: reads the sysctl once and logs
// event=fast_open_disabled when its server bit (2) is off.
void announce_fast_open(const config::Config& config);

}  // namespace sniproxy::app
