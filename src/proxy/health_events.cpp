#include "proxy/health_events.hpp"

#include "common/log.hpp"

namespace sniproxy::proxy {

void log_health_transition(const upstream::MemberKey& member,
                           const upstream::HealthTransition& transition, std::string_view detail) {
  if (transition.up) {
    log::info("server_up", "pool={} server={} address={} reason={} in_a_row={}",
              log::quote(member.pool), log::quote(member.server), member.address,
              log::quote(upstream::to_string(transition.cause)), transition.in_a_row);
    return;
  }
  log::warn("server_down", "pool={} server={} address={} reason={} in_a_row={} detail={}",
            log::quote(member.pool), log::quote(member.server), member.address,
            log::quote(upstream::to_string(transition.cause)), transition.in_a_row,
            log::quote(detail));
}

}  // namespace sniproxy::proxy
