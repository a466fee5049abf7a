#pragma once
// systemd's readiness protocol (sd_notify(3)) for Type=notify: the unit
// learns when the listeners accept, when a reload starts and ends, and how
// long the drain at stop may take. Without $NOTIFY_SOCKET (not started by
// systemd) every call does nothing.
#include <chrono>
#include <string_view>

namespace sniproxy::app::notify {

// READY=1 with MAINPID and a one-line STATUS; also ends a reload.
void ready(std::string_view status);
// RELOADING=1 (with MONOTONIC_USEC, which newer systemd wants with it).
void reloading();
// STOPPING=1 and EXTEND_TIMEOUT_USEC: the drain of `drain` plus a margin,
// so the stop timeout follows [timeouts] shutdown even past TimeoutStopSec.
void stopping(std::chrono::milliseconds drain);

// What stopping() asks for: the drain and time to close and exit after it.
std::chrono::microseconds stop_extension(std::chrono::milliseconds drain);

}  // namespace sniproxy::app::notify
