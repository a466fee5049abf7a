#pragma once
// [forwarding] local_redirect: the BPF programs that let the proxy's
// connections to backends on this host skip the TCP stack, loaded once at
// start-up.
#include <memory>

#include "bpf/local_redirect.hpp"
#include "config/config.hpp"

namespace sniproxy::app {

// Sockets the redirect map holds: two per backend connection on this host.
// More connections than half of this simply go through TCP.
inline constexpr std::uint32_t kLocalRedirectSockets = 131'072;

// Null when the config does not ask for it, or when this kernel or set-up
// cannot give it: then every connection goes through TCP as without the
// option, said once as event=local_redirect_unavailable.
std::unique_ptr<bpf::LocalRedirect> start_local_redirect(const config::Config& config);

}  // namespace sniproxy::app
