// Packets/s, loss and CPU per GB of QUIC datagrams through the real
// sniproxy binary, userspace path and TC fast path, against the same
// topology with the middle namespace only routing ("direct"), in the same
// rounds. Needs root.
//
//   quic_bench SNIPROXY_BINARY [DATAGRAMS] [ROUNDS]      (200000 5)
//
// client ns -- proxy ns -- backend ns (tests/quic_tc/topology.hpp), IPv4.
// Per target and round: a sealed client Initial (tests/support's builder)
// opens the session and the backend answers it with a long header (the
// server's connection ID); then DATAGRAMS short-header datagrams of 1200
// bytes go client -> backend on that 4-tuple, as fast as the socket takes
// them, and as many 1200-byte datagrams backend -> client; the receiver
// counts (until all arrived or 250 ms pass without one). The proxy is
// started afresh for each of its targets, so the classifier is attached
// only while fast_path runs. The order of the targets rotates per round.
// userspace runs the proxy with workers = 1, userspace_2w with workers = 2
// (each thread serves its share of the listener's SO_REUSEPORT group). With
// $FLOWS > 1 (at most 64) that many clients each open a session and the
// datagrams go round-robin over them, each way: one 4-tuple is one
// thread's, so only several flows can use a second thread.
#include <sys/socket.h>
#include <unistd.h>

#include <poll.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "cpu_clock.hpp"
#include "quic_initial_builder.hpp"
#include "support/admin_client.hpp"
#include "support/netns.hpp"
#include "support/proxy_process.hpp"
#include "support/temp_dir.hpp"
#include "support/udp_peer.hpp"
#include "topology.hpp"
#include "udp_io.hpp"

namespace sniproxy::quic_bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using integration::run_in;
using protocol::test::Bytes;
using quic_tc_test::bound_udp_socket;
using quic_tc_test::local_endpoint;
using quic_tc_test::Topology;

constexpr std::size_t kDatagramSize = 1200;
constexpr std::uint16_t kListenPort = 4433;
constexpr std::uint16_t kAdminPort = 9901;  // in the proxy's namespace
constexpr auto kArrival = 2000ms;
const Bytes kServerCid{0x5e, 0x4f, 0x3d, 0x2c, 0x1b, 0x0a, 0x99, 0x88};
const char* const kName = "bench.quic.test";
const std::string kFastPathSessions = "sniproxy_quic_fast_path_sessions_total";

std::atomic<bool> g_stop{false};  // SIGINT/SIGTERM: finish early, namespaces removed

std::string text(const Bytes& b) {
  return {b.begin(), b.end()};
}

// Flow `k`'s server connection ID.
Bytes server_cid(std::size_t k) {
  Bytes cid = kServerCid;
  cid.back() = static_cast<std::uint8_t>(cid.back() + k);
  return cid;
}

// The backend's first answer: a Handshake long header carrying the server's
// connection ID as its SCID (what the proxy learns), padded.
std::string backend_answer(const Bytes& cid) {
  Bytes p{0xe0, 0, 0, 0, 1, 4, 1, 2, 3, 4, static_cast<std::uint8_t>(cid.size())};
  p.insert(p.end(), cid.begin(), cid.end());
  p.resize(kDatagramSize, 0x42);
  return text(p);
}

enum class Target { direct, userspace, userspace_2w, fast_path };
constexpr Target kTargets[] = {Target::direct, Target::userspace, Target::userspace_2w,
                               Target::fast_path};
const char* name_of(Target t) {
  switch (t) {
    case Target::direct:
      return "direct";
    case Target::userspace:
      return "userspace";
    case Target::userspace_2w:
      return "userspace_2w";
    case Target::fast_path:
      return "fast_path";
  }
  return "?";
}

// One direction's run.
struct Leg {
  std::uint64_t sent = 0, received = 0;
  double seconds = 0;  // first send to last receipt
};

struct Sample {
  Leg up, down;  // client -> backend, backend -> client
  double machine_cpu = 0, proxy_cpu = 0;
  double kernel_packets = 0;  // the proxy's fast-path counters, both ways

  [[nodiscard]] std::uint64_t received() const { return up.received + down.received; }
  [[nodiscard]] std::uint64_t sent() const { return up.sent + down.sent; }
  [[nodiscard]] double gb() const { return static_cast<double>(received()) * kDatagramSize / 1e9; }
  [[nodiscard]] double seconds() const { return up.seconds + down.seconds; }
  [[nodiscard]] double kpps() const {
    return seconds() > 0 ? static_cast<double>(received()) / seconds() / 1e3 : 0;
  }
  [[nodiscard]] double gb_per_s() const { return seconds() > 0 ? gb() / seconds() : 0; }
  [[nodiscard]] double loss() const {
    return sent() > 0 ? 1.0 - static_cast<double>(received()) / static_cast<double>(sent()) : 0;
  }
  [[nodiscard]] double machine_cpu_per_gb() const { return gb() > 0 ? machine_cpu / gb() : 0; }
  [[nodiscard]] double proxy_cpu_per_gb() const { return gb() > 0 ? proxy_cpu / gb() : 0; }
  // Of the datagrams received, the share the proxy counted in the kernel.
  [[nodiscard]] double in_kernel() const {
    return received() > 0 ? kernel_packets / static_cast<double>(received()) : 0;
  }
};

// The numbers after each `key` in `text`, summed (one per session's
// access-log line); 0 when there is none.
double sum_after(const std::string& text, const std::string& key) {
  double sum = 0;
  for (std::size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + 1))
    sum += std::strtod(text.c_str() + at + key.size(), nullptr);
  return sum;
}

void drain(int fd) {
  char buffer[2048];
  for (int i = 0; i < 1'000'000; ++i) {
    if (::recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT) < 0) return;
  }
}

// One sending socket, where it sends, and what.
struct Sender {
  int fd = -1;
  Endpoint to;
  std::string payload;
};

// Sends `count` datagrams round-robin over `senders` as fast as the sockets
// take them, while a thread counts what the `sinks` receive.
Leg blast(const std::vector<Sender>& senders, const std::vector<int>& sinks, std::uint64_t count) {
  for (int sink : sinks) drain(sink);
  std::atomic<std::uint64_t> received{0};
  std::atomic<bool> ready{false};
  Clock::time_point last_receipt;
  std::thread receiver([&] {
    std::string buffer(65536, '\0');
    std::vector<pollfd> polls;
    polls.reserve(sinks.size());
    for (int sink : sinks) polls.push_back({sink, POLLIN, 0});
    ready = true;
    while (received < count) {
      // 250 ms without a datagram: the rest were lost. Short, because the
      // whole machine's CPU is read over this wait too.
      if (::poll(polls.data(), polls.size(), 250) < 1) break;
      for (const pollfd& p : polls) {
        if ((p.revents & POLLIN) == 0) continue;
        for (int burst = 0; burst < 64; ++burst) {
          if (::recv(p.fd, buffer.data(), buffer.size(), MSG_DONTWAIT) < 0) break;
          ++received;
        }
      }
      last_receipt = Clock::now();
    }
  });
  while (!ready) std::this_thread::yield();
  std::vector<std::pair<sockaddr_storage, unsigned>> to(senders.size());
  for (std::size_t i = 0; i < senders.size(); ++i)
    to[i].second = senders[i].to.to_sockaddr(to[i].first);
  const auto start = Clock::now();
  Leg leg;
  for (; leg.sent < count && !g_stop; ++leg.sent) {
    const std::size_t i = leg.sent % senders.size();
    const Sender& s = senders[i];
    for (int tries = 0; tries < 1000; ++tries) {
      if (::sendto(s.fd, s.payload.data(), s.payload.size(), 0,
                   reinterpret_cast<sockaddr*>(&to[i].first), to[i].second) >= 0) {
        break;
      }
      std::this_thread::sleep_for(50us);  // ENOBUFS: let the device queue drain
    }
  }
  receiver.join();
  leg.received = received;
  if (leg.received > 0) leg.seconds = std::chrono::duration<double>(last_receipt - start).count();
  return leg;
}

class Bench {
 public:
  Bench(std::string sniproxy, std::uint64_t datagrams, std::size_t flows)
      : sniproxy_(std::move(sniproxy)), datagrams_(datagrams), clients_(flows) {}

  // The namespaces, routes for direct, and one socket at each end. "" or
  // what failed.
  std::string setup() {
    if (auto error = topology_.setup(); !error.empty()) return error;
    for (const std::vector<std::string>& step : std::vector<std::vector<std::string>>{
             {"-n", topology_.client_ns(), "route", "add", "10.92.2.0/24", "via", "10.92.1.1"},
             {"-n", topology_.backend_ns(), "route", "add", "10.92.1.0/24", "via", "10.92.2.1"}}) {
      if (auto error = integration::ip(step); !error.empty()) return error;
    }
    if (auto error = integration::netns_exec(topology_.proxy_ns(),
                                             {"sysctl", "-q", "-w", "net.ipv4.ip_forward=1"});
        !error.empty()) {
      return error;
    }
    if (auto error = run_in(topology_.client_ns(),
                            [&] {
                              for (UniqueFd& c : clients_)
                                c = bound_udp_socket({Topology::client(Family::v4), 0});
                            });
        !error.empty()) {
      return error;
    }
    if (auto error = run_in(topology_.backend_ns(),
                            [&] {
                              backend_ = bound_udp_socket({Topology::backend(Family::v4), 8443});
                            });
        !error.empty()) {
      return error;
    }
    std::vector<const UniqueFd*> fds{&backend_};
    for (const UniqueFd& c : clients_) fds.push_back(&c);
    for (const UniqueFd* fd : fds) {
      if (!fd->valid()) return "a socket could not be opened";
      int bytes = 64 << 20;
      ::setsockopt(fd->get(), SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes));
      ::setsockopt(fd->get(), SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes));
    }
    backend_at_ = local_endpoint(backend_.get());
    listener_at_ = Endpoint{Topology::proxy_client_side(Family::v4), kListenPort};
    return "";
  }

  // One target's run; "" in `error` or what went wrong.
  Sample run(Target target, std::string& error) {
    std::unique_ptr<integration::ProxyProcess> proxy;
    Endpoint client_to = backend_at_;
    if (target != Target::direct) {
      proxy =
          start_proxy(target == Target::fast_path, target == Target::userspace_2w ? 2 : 1, error);
      if (!error.empty()) return {};
      client_to = listener_at_;
    }
    drain(backend_.get());
    // Each flow's session: a real client Initial, and the backend's answer.
    std::vector<Sender> up, down;
    std::vector<int> client_fds;
    const std::string down_payload = quic_tc_test::pattern(kDatagramSize, 7);
    for (std::size_t k = 0; k < clients_.size(); ++k) {
      const int client = clients_[k].get();
      client_fds.push_back(client);
      protocol::test::InitialSpec spec;
      spec.dcid = {0xf0,
                   1,
                   2,
                   3,
                   4,
                   5,
                   static_cast<std::uint8_t>(k),
                   static_cast<std::uint8_t>(++sessions_)};
      spec.frames =
          protocol::test::crypto_frame(0, protocol::test::quic_client_hello(kName, 30'000));
      drain(client);
      if (!quic_tc_test::send_to(client, client_to,
                                 text(protocol::test::padded_initial(spec, kDatagramSize)))) {
        error = "the Initial could not be sent";
        return {};
      }
      auto first = quic_tc_test::receive(backend_.get(), kArrival);
      if (!first) {
        error = "the Initial did not reach the backend" + (proxy ? "\n" + proxy->log() : "");
        return {};
      }
      // The session's socket when proxied.
      if (!quic_tc_test::send_to(backend_.get(), first->from, backend_answer(server_cid(k))) ||
          !quic_tc_test::receive(client, kArrival)) {
        error = "the backend's answer did not reach the client";
        return {};
      }
      const Bytes cid = server_cid(k);
      up.push_back({client, client_to,
                    text(integration::short_header_packet(cid, kDatagramSize - 1 - cid.size()))});
      down.push_back({backend_.get(), first->from, down_payload});
    }
    if (target == Target::fast_path && metric(kFastPathSessions, 1) < 1) {
      error = "the session did not enter the fast path\n" + proxy->log();
      return {};
    }

    const pid_t pid = proxy ? proxy->pid() : 0;
    Sample s;
    const double machine0 = machine_busy_seconds();
    const double proxy0 = pid ? process_cpu_seconds(pid) : 0;
    s.up = blast(up, {backend_.get()}, datagrams_);
    s.down = blast(down, client_fds, datagrams_);
    s.machine_cpu = machine_busy_seconds() - machine0;
    s.proxy_cpu = pid ? process_cpu_seconds(pid) - proxy0 : 0;
    if (proxy) {
      error = stop(*proxy);
      // The session's access-log line (stderr), written as the proxy
      // stops: the kernel's counts are read into it at the session's end.
      const std::string log = proxy->log();
      s.kernel_packets =
          sum_after(log, "fast_path_packets_in=") + sum_after(log, "fast_path_packets_out=");
    }
    return s;
  }

 private:
  // SIGTERM, so that the proxy detaches its tc hooks (without tcx they are
  // netlink filters that would outlive a SIGKILL and sit in the next
  // target's path). "" or what went wrong.
  static std::string stop(integration::ProxyProcess& proxy) {
    if (!proxy.running()) return "the proxy exited during the run\n" + proxy.log();
    proxy.signal(SIGTERM);
    if (proxy.wait_exit(10'000ms) != 0) return "the proxy did not stop cleanly\n" + proxy.log();
    return "";
  }

  std::unique_ptr<integration::ProxyProcess> start_proxy(bool fast_path, int workers,
                                                         std::string& error) {
    std::string config = fmt::format(
        "workers = {}\n[process]\nallow_root = true\n\n[admin]\nlisten = \"127.0.0.1:{}\"\n\n"
        "[quic]\nidle_timeout = \"30s\"\nfast_path = {}\n",
        workers, kAdminPort, fast_path ? "true" : "false");
    // The proxy's socket buffers ([quic] socket_buffer), to compare sizes:
    // 106496 gives the kernel's usual default (208 KiB once doubled).
    if (const char* bytes = std::getenv("SOCKET_BUFFER"); bytes != nullptr && *bytes != 0)
      config += fmt::format("socket_buffer = {}\n", bytes);
    if (fast_path) {
      config += fmt::format("fast_path_interfaces = [\"{}\", \"{}\"]\n",
                            topology_.proxy_client_if(), topology_.proxy_backend_if());
    }
    config += fmt::format(
        "\n[[listener]]\nname = \"quic\"\naddress = \"{}:{}\"\nprotocol = \"quic\"\n"
        "table = \"t\"\n\n[[tables.t]]\nmatch = \"{}\"\nbackend = \"{}:{}\"\n",
        listener_at_.ip.to_string(), listener_at_.port, kName, backend_at_.ip.to_string(),
        backend_at_.port);
    const auto path = dir_.file("proxy.toml");
    std::ofstream(path) << config;
    std::unique_ptr<integration::ProxyProcess> proxy;
    error = "not started";
    if (auto failed = run_in(topology_.proxy_ns(),
                             [&] {
                               proxy = std::make_unique<integration::ProxyProcess>(sniproxy_, path,
                                                                                   dir_.path());
                               error = proxy->start({kAdminPort});
                             });
        !failed.empty()) {
      error = failed;
    }
    if (error.empty() && fast_path &&
        !proxy->wait_for_log("quic_fast_path", integration::Deadline::in(5000ms))) {
      error = "the fast path did not start\n" + proxy->log();
    }
    return proxy;
  }

  // The proxy's metric `key` once it reaches `at_least` (polled for 2 s),
  // or its last value (-1: missing).
  double metric(const std::string& key, double at_least) {
    double value = -1;
    for (int i = 0; i < 100; ++i) {
      run_in(topology_.proxy_ns(), [&] {
        auto answer = integration::http_get(kAdminPort, "/metrics");
        value = integration::parse_exposition(answer.body).at(key);
      });
      if (value >= at_least) break;
      std::this_thread::sleep_for(20ms);
    }
    return value;
  }

  std::string sniproxy_;
  std::uint64_t datagrams_;
  Topology topology_;
  integration::TempDir dir_;
  std::vector<UniqueFd> clients_;  // one per flow
  UniqueFd backend_;
  Endpoint backend_at_, listener_at_;
  int sessions_ = 0;
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  if (values.empty()) return 0;
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

void on_signal(int) {
  g_stop = true;
}

}  // namespace
}  // namespace sniproxy::quic_bench

int main(int argc, char** argv) {
  using namespace sniproxy::quic_bench;
  if (argc < 2) {
    std::fprintf(stderr, "usage: quic_bench SNIPROXY_BINARY [DATAGRAMS<=1e7] [ROUNDS<=100]\n");
    return 2;
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "needs root (network namespaces, BPF)\n");
    return 2;
  }
  const std::uint64_t datagrams = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 200000;
  const int rounds = argc > 3 ? static_cast<int>(std::strtol(argv[3], nullptr, 10)) : 5;
  if (datagrams == 0 || datagrams > 10'000'000 || rounds < 1 || rounds > 100) {
    std::fprintf(stderr, "usage: quic_bench SNIPROXY_BINARY [DATAGRAMS<=1e7] [ROUNDS<=100]\n");
    return 2;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const char* flows_env = std::getenv("FLOWS");
  const long flows =
      flows_env != nullptr && *flows_env != 0 ? std::strtol(flows_env, nullptr, 10) : 1;
  if (flows < 1 || flows > 64) {
    std::fprintf(stderr, "FLOWS must be 1..64\n");
    return 2;
  }
  Bench bench(argv[1], datagrams, static_cast<std::size_t>(flows));
  if (auto error = bench.setup(); !error.empty()) {
    std::fprintf(stderr, "setup: %s\n", error.c_str());
    return 1;
  }
  constexpr std::size_t kCount = std::size(kTargets);
  std::vector<std::vector<Sample>> samples(kCount);
  std::printf("%-10s %5s %9s %9s %8s %8s %7s %12s %12s %10s\n", "target", "round", "up_kpps",
              "down_kpps", "kpps", "GB/s", "loss%", "machine_s/GB", "proxy_s/GB", "in_kernel%");
  for (int round = 0; round < rounds && !g_stop; ++round) {
    for (std::size_t i = 0; i < kCount && !g_stop; ++i) {
      const std::size_t t = (i + static_cast<std::size_t>(round)) % kCount;
      std::string error;
      Sample s = bench.run(kTargets[t], error);
      if (!error.empty()) {
        std::fprintf(stderr, "%s, round %d: %s\n", name_of(kTargets[t]), round, error.c_str());
        return 1;
      }
      samples[t].push_back(s);
      auto leg_kpps = [](const Leg& l) {
        return l.seconds > 0 ? static_cast<double>(l.received) / l.seconds / 1e3 : 0;
      };
      std::printf("%-10s %5d %9.1f %9.1f %8.1f %8.3f %7.2f %12.2f %12.2f %10.1f\n",
                  name_of(kTargets[t]), round, leg_kpps(s.up), leg_kpps(s.down), s.kpps(),
                  s.gb_per_s(), 100 * s.loss(), s.machine_cpu_per_gb(), s.proxy_cpu_per_gb(),
                  100 * s.in_kernel());
      std::fflush(stdout);
    }
  }
  if (g_stop) return 1;
  std::printf(
      "\nmedians over %d rounds, %llu datagrams of %zu bytes each way; x direct: the median of "
      "the ratios to direct in the same round\n",
      rounds, static_cast<unsigned long long>(datagrams), kDatagramSize);
  std::printf(
      "| target | kpps | x direct | GB/s | loss | machine CPU-s/GB | x direct | proxy "
      "CPU-s/GB | in kernel |\n|---|---|---|---|---|---|---|---|---|\n");
  for (std::size_t t = 0; t < kCount; ++t) {
    std::vector<double> kpps, gbps, loss, machine, proxy, in_kernel, kpps_ratio, machine_ratio;
    for (std::size_t r = 0; r < samples[t].size(); ++r) {
      const Sample& s = samples[t][r];
      const Sample& direct = samples[0][r];
      kpps.push_back(s.kpps());
      gbps.push_back(s.gb_per_s());
      loss.push_back(s.loss());
      machine.push_back(s.machine_cpu_per_gb());
      proxy.push_back(s.proxy_cpu_per_gb());
      in_kernel.push_back(s.in_kernel());
      if (direct.kpps() > 0) kpps_ratio.push_back(s.kpps() / direct.kpps());
      if (direct.machine_cpu_per_gb() > 0)
        machine_ratio.push_back(s.machine_cpu_per_gb() / direct.machine_cpu_per_gb());
    }
    const bool direct = kTargets[t] == Target::direct;
    std::printf("| %s | %.1f | %.2f | %.3f | %.2f%% | %.2f | %.2f | %s | %s |\n",
                name_of(kTargets[t]), median(kpps), median(kpps_ratio), median(gbps),
                100 * median(loss), median(machine), median(machine_ratio),
                direct ? "-" : fmt::format("{:.2f}", median(proxy)).c_str(),
                direct ? "-" : fmt::format("{:.1f}%", 100 * median(in_kernel)).c_str());
  }
  return 0;
}
