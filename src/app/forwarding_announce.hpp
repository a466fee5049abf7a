#pragma once
// The start-up line that says what `auto` will do and why.
#include "config/config.hpp"

namespace sniproxy::app {

// Logs event=forwarding_auto once, naming the listeners that use auto.
void announce_forwarding(const config::Config& config);

}  // namespace sniproxy::app
