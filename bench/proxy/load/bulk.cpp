#include "bulk.hpp"

#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client_hello.hpp"
#include "fail.hpp"
#include "net.hpp"

namespace proxy_load {

namespace {

using Clock = std::chrono::steady_clock;

struct Job {
  sockaddr_in to{};
  std::string sni;
  std::string alpn;
  std::uint64_t bytes = 0;
};

// Returns an error message, or nothing when the backend confirmed every byte.
std::optional<std::string> transfer(const Job& job) {
  ClientHelloMaker maker(job.sni, job.alpn);
  const auto& hello = maker.next();
  UniqueFd fd = connect_blocking(job.to, std::chrono::seconds(60));
  if (!fd) return "connect " + to_string(job.to) + " failed";
  if (!send_all(fd.get(), hello.data(), hello.size())) return "sending the hello failed";
  std::vector<std::uint8_t> chunk(1 << 20);
  for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<std::uint8_t>(i * 31);
  for (std::uint64_t sent = 0; sent < job.bytes;) {
    const auto n =
        static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), job.bytes - sent));
    if (!send_all(fd.get(), chunk.data(), n))
      return "send failed after " + std::to_string(sent) + " bytes";
    sent += n;
  }
  ::shutdown(fd.get(), SHUT_WR);
  std::uint8_t answer[8];
  if (!recv_exact(fd.get(), answer, sizeof answer))
    return "no byte count from the backend (closed or timed out)";
  std::uint64_t counted = 0;
  for (int i = 0; i < 8; ++i) counted |= std::uint64_t{answer[i]} << (8 * i);
  const std::uint64_t expected = job.bytes + hello.size();
  if (counted != expected)
    return "backend counted " + std::to_string(counted) + " bytes, expected " +
           std::to_string(expected);
  return std::nullopt;
}

}  // namespace

int run_bulk(const Args& args) {
  const sockaddr_in to = parse_loopback(args.text("to", ""));
  const std::uint64_t bytes = args.number("bytes", 1ull << 30);
  const std::uint64_t connections = args.number("connections", 4);
  const std::string sni = args.text("sni", "bulk.bench.test");
  const std::string alpn = args.text("alpn", "");
  arm_deadline(static_cast<unsigned>(args.number("timeout", 300)));
  args.reject_unused();
  if (connections == 0 || connections > 1024) die("--connections: 1..1024");

  std::vector<std::optional<std::string>> errors(connections);
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (std::uint64_t i = 0; i < connections; ++i) {
    // The first connection carries the remainder of an uneven split.
    const std::uint64_t share = bytes / connections + (i == 0 ? bytes % connections : 0);
    threads.emplace_back(
        [&errors, i, job = Job{to, sni, alpn, share}] { errors[i] = transfer(job); });
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  int failed = 0;
  for (std::uint64_t i = 0; i < connections; ++i) {
    if (!errors[i]) continue;
    ++failed;
    std::fprintf(stderr, "proxy_load: bulk connection %llu: %s\n",
                 static_cast<unsigned long long>(i), errors[i]->c_str());
  }
  if (failed > 0) return 1;
  std::printf("bytes=%llu connections=%llu seconds=%.4f MBps=%.1f\n",
              static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(connections),
              seconds, static_cast<double>(bytes) / seconds / 1e6);
  return 0;
}

}  // namespace proxy_load
