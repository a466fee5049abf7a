#pragma once
// The start-up line that says what `auto` will do and why.
#include <string>

#include "config/config.hpp"

namespace sniproxy::app {

// Logs event=forwarding_auto once, naming the listeners that use auto;
// `sockmap_loaded`: the sockmap programs are there for auto_sockmap.
void announce_forwarding(const config::Config& config, bool sockmap_loaded);

// Logs event=sockmap_receive_buffer (a warning) when the sockmap is loaded
// but net.core.rmem_max keeps its sockets' receive buffers from being fixed
// for the cap (proxy/forward/sockmap_session.cpp).
void announce_sockmap_buffers(const config::Config& config, bool sockmap_loaded);

// What the connections that would have used the sockmap do instead, for
// event=sockmap_unavailable: "splice" (sockmap mode), "auto_without_sockmap"
// (auto with auto_sockmap), or both.
std::string sockmap_fallback_plan(const config::Config& config);

}  // namespace sniproxy::app
