#include "latency.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <vector>

#include "client_hello.hpp"
#include "fail.hpp"
#include "net.hpp"

namespace proxy_load {

namespace {

using Clock = std::chrono::steady_clock;

// Nearest-rank percentile of sorted samples.
double percentile(const std::vector<double>& sorted, double p) {
  const auto rank =
      static_cast<std::size_t>(std::llround(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace

int run_latency(const Args& args) {
  const sockaddr_in to = parse_loopback(args.text("to", ""));
  const std::uint64_t count = args.number("count", 1000);
  const std::size_t response_bytes = args.number("response-bytes", 64);
  ClientHelloMaker maker(args.text("sni", "reply.bench.test"), args.text("alpn", ""));
  arm_deadline(static_cast<unsigned>(args.number("timeout", 300)));
  args.reject_unused();
  if (count == 0) die("--count must be positive");
  if (response_bytes == 0) die("--response-bytes must be positive");

  std::vector<double> micros;
  micros.reserve(count);
  std::vector<std::uint8_t> response(response_bytes);
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto& hello = maker.next();  // drawn before the clock starts
    const auto start = Clock::now();
    UniqueFd fd = connect_blocking(to, std::chrono::seconds(5));
    if (!fd) die_errno("connection " + std::to_string(i) + ": connect " + to_string(to));
    if (!send_all(fd.get(), hello.data(), hello.size()))
      die_errno("connection " + std::to_string(i) + ": send hello");
    if (!recv_exact(fd.get(), response.data(), 1))
      die("connection " + std::to_string(i) + ": no response (closed or timed out)");
    micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    if (!recv_exact(fd.get(), response.data() + 1, response.size() - 1))
      die("connection " + std::to_string(i) + ": response cut short");
  }
  std::sort(micros.begin(), micros.end());
  const double mean = std::accumulate(micros.begin(), micros.end(), 0.0) / micros.size();
  std::printf("count=%llu p50_us=%.1f p99_us=%.1f mean_us=%.1f min_us=%.1f max_us=%.1f\n",
              static_cast<unsigned long long>(count), percentile(micros, 50),
              percentile(micros, 99), mean, micros.front(), micros.back());
  return 0;
}

}  // namespace proxy_load
