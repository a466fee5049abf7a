#pragma once
// One log line per change of a pool member's health, whoever saw it (a
// connection's connect, or the active checker): event=server_down with the
// reason, event=server_up.
#include <string_view>

#include "upstream/health_state.hpp"
#include "upstream/member.hpp"

namespace sniproxy::proxy {

// `detail`: what the last event was (an errno text, "timed out", ...).
void log_health_transition(const upstream::MemberKey& member,
                           const upstream::HealthTransition& transition, std::string_view detail);

}  // namespace sniproxy::proxy
