#pragma once
// Free TCP ports on 127.0.0.1 for listeners the proxy will bind.
#include <cstdint>

namespace sniproxy::integration {

// A port that was bindable just now and has not been handed out before in
// this process. Chosen below the kernel's ephemeral range so that our own
// outgoing connections cannot take it before the proxy binds it.
std::uint16_t free_port();

// A port on which nothing listens (connect gets refused).
std::uint16_t closed_port();

}  // namespace sniproxy::integration
