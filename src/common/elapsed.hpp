#pragma once
// Time since a steady-clock start, in whole milliseconds: what start-up and
// probe logs report.
#include <chrono>

namespace sniproxy {

inline std::chrono::milliseconds elapsed_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

}  // namespace sniproxy
