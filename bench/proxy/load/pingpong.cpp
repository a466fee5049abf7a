#include "pingpong.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "client_hello.hpp"
#include "fail.hpp"
#include "net.hpp"

namespace proxy_load {

namespace {

using Clock = std::chrono::steady_clock;

double percentile(const std::vector<double>& sorted, double p) {
  const auto rank =
      static_cast<std::size_t>(std::llround(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

// One connection's round trips, in microseconds; empty with `error` set on
// a failure.
// Every connection arrives at `warm` once, also one that failed before.
void run_connection(const sockaddr_in& to, const std::vector<std::uint8_t>& hello, std::size_t size,
                    std::uint64_t warmup, std::uint64_t messages, std::barrier<>& warm,
                    std::vector<double>& micros, std::string& error) {
  bool arrived = false;
  auto arrive = [&] {
    if (!arrived) warm.arrive_and_wait();
    arrived = true;
  };
  UniqueFd fd = connect_blocking(to, std::chrono::seconds(5));
  if (!fd) {
    error = "connect " + to_string(to);
    arrive();
    return;
  }
  const int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!send_all(fd.get(), hello.data(), hello.size())) {
    error = "send hello";
    arrive();
    return;
  }
  std::vector<std::uint8_t> out(size, 0x5a);
  std::vector<std::uint8_t> back(size);
  micros.reserve(messages);
  for (std::uint64_t i = 0; i < warmup + messages; ++i) {
    if (i == warmup) arrive();
    const auto start = Clock::now();
    if (!send_all(fd.get(), out.data(), out.size()) ||
        !recv_exact(fd.get(), back.data(), back.size())) {
      error = "message " + std::to_string(i) + " not echoed";
      arrive();
      return;
    }
    if (i >= warmup)
      micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
}

}  // namespace

int run_pingpong(const Args& args) {
  const sockaddr_in to = parse_loopback(args.text("to", ""));
  const std::uint64_t connections = args.number("connections", 1);
  const std::size_t size = args.number("size", 64);
  const std::uint64_t messages = args.number("messages", 2000);
  const std::uint64_t warmup = args.number("warmup", 0);
  ClientHelloMaker maker(args.text("sni", "echo.bench.test"), args.text("alpn", ""));
  arm_deadline(static_cast<unsigned>(args.number("timeout", 300)));
  args.reject_unused();
  if (connections == 0 || connections > 1024) die("--connections: 1..1024");
  if (size == 0 || size > 65536) die("--size: 1..65536");
  if (messages == 0) die("--messages must be positive");

  std::vector<std::vector<std::uint8_t>> hellos;
  for (std::uint64_t c = 0; c < connections; ++c) hellos.push_back(maker.next());
  std::vector<std::vector<double>> samples(connections);
  std::vector<std::string> errors(connections);
  std::vector<std::thread> threads;
  // The clock starts once every connection has warmed up.
  std::barrier<> warm(static_cast<std::ptrdiff_t>(connections) + 1);
  for (std::uint64_t c = 0; c < connections; ++c)
    threads.emplace_back(run_connection, std::cref(to), std::cref(hellos[c]), size, warmup,
                         messages, std::ref(warm), std::ref(samples[c]), std::ref(errors[c]));
  warm.arrive_and_wait();
  const auto started = Clock::now();
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  for (std::uint64_t c = 0; c < connections; ++c)
    if (!errors[c].empty()) die("connection " + std::to_string(c) + ": " + errors[c]);
  std::vector<double> all;
  for (const auto& s : samples) all.insert(all.end(), s.begin(), s.end());
  std::sort(all.begin(), all.end());
  const double mean =
      std::accumulate(all.begin(), all.end(), 0.0) / static_cast<double>(all.size());
  std::printf(
      "connections=%llu messages=%zu size=%zu p50_us=%.1f p99_us=%.1f mean_us=%.1f "
      "messages_per_s=%.1f\n",
      static_cast<unsigned long long>(connections), all.size(), size, percentile(all, 50),
      percentile(all, 99), mean, static_cast<double>(all.size()) / seconds);
  return 0;
}

}  // namespace proxy_load
