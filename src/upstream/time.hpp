#pragma once
// The clock of health and balancing. Callers pass the time in; nothing in
// upstream/ reads a clock, so tests step time by hand.
#include <chrono>

namespace sniproxy::upstream {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Millis = std::chrono::milliseconds;

}  // namespace sniproxy::upstream
