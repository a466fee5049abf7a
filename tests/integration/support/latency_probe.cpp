#include "latency_probe.hpp"

#include <algorithm>

namespace sniproxy::integration {

std::optional<double> first_byte_latency_us(std::uint16_t proxy_port,
                                            const std::vector<std::uint8_t>& hello,
                                            milliseconds budget) {
  const Deadline deadline = Deadline::in(budget);
  const auto t0 = Clock::now();
  auto c = connect_tcp(loopback(proxy_port), deadline);
  if (!c.fd) return std::nullopt;
  if (send_all(c.fd.get(), hello, deadline) != IoStatus::ok) return std::nullopt;
  std::vector<std::uint8_t> got;
  if (read_exact(c.fd.get(), 1, got, deadline) != IoStatus::ok) return std::nullopt;
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

LatencySummary summarize(std::vector<double> samples_us, std::size_t failed) {
  LatencySummary s;
  s.samples = samples_us.size();
  s.failed = failed;
  if (samples_us.empty()) return s;
  std::sort(samples_us.begin(), samples_us.end());
  s.p50_us = samples_us[samples_us.size() / 2];
  s.max_us = samples_us.back();
  return s;
}

}  // namespace sniproxy::integration
