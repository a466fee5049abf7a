#pragma once
// The latency a normal client sees: connect, send a ClientHello, receive
// the backend's first byte through the proxy.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "socket_io.hpp"

namespace sniproxy::integration {

// One sample in microseconds, or nullopt when any step failed or took
// longer than `budget`. The backend must send at least one byte at once.
std::optional<double> first_byte_latency_us(std::uint16_t proxy_port,
                                            const std::vector<std::uint8_t>& hello,
                                            milliseconds budget = milliseconds(5000));

struct LatencySummary {
  std::size_t samples = 0;
  std::size_t failed = 0;
  double p50_us = 0;
  double max_us = 0;
};
LatencySummary summarize(std::vector<double> samples_us, std::size_t failed);

}  // namespace sniproxy::integration
