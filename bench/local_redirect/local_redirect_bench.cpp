// Loopback TCP against the same connection with local redirect on
// (bpf/local_redirect.*: every send moved straight into the peer's receive
// queue), alternating in one run: throughput and whole-machine CPU seconds
// per GiB (/proc/stat, so softirq and kworker time count). As root.
//
// usage: local_redirect_bench [ROUNDS] [MIB_PER_ROUND] [SEND_KIB]
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bpf/local_redirect/local_redirect.hpp"
#include "common/unique_fd.hpp"

namespace {

using sniproxy::UniqueFd;

// Busy jiffies of the whole machine (everything but idle and iowait).
long long busy_jiffies() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  return user + nice + system + irq + softirq + steal;
}

struct Listener {
  UniqueFd fd;
  std::uint16_t port = 0;
};

Listener listen_loopback() {
  Listener listener{UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)), 0};
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (::bind(listener.fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::listen(listener.fd.get(), 4) != 0 ||
      ::getsockname(listener.fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::perror("listener");
    std::exit(1);
  }
  listener.port = ntohs(address.sin_port);
  return listener;
}

struct Round {
  double seconds = 0;
  double cpu_seconds = 0;
};

// One connection to `listener`, `bytes` sent from one thread and read in another.
Round transfer(const Listener& listener, std::size_t bytes, std::size_t send_size) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(listener.port);
  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::connect(client.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  UniqueFd server(::accept4(listener.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  const long long cpu_before = busy_jiffies();
  const auto start = std::chrono::steady_clock::now();
  std::thread reader([&] {
    std::vector<char> buffer(1 << 16);
    std::size_t got = 0;
    while (got < bytes) {
      const ssize_t n = ::recv(server.get(), buffer.data(), buffer.size(), 0);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
  });
  std::vector<char> chunk(send_size, 'x');
  std::size_t sent = 0;
  while (sent < bytes) {
    const ssize_t n = ::send(client.get(), chunk.data(), std::min(chunk.size(), bytes - sent), 0);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  reader.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {seconds, static_cast<double>(busy_jiffies() - cpu_before) /
                       static_cast<double>(::sysconf(_SC_CLK_TCK))};
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 9;
  const std::size_t mib = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1024;
  const std::size_t send_kib = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 64;
  auto redirect =
      sniproxy::bpf::LocalRedirect::create({.max_sockets = 64, .load = {}, .cgroup = {}});
  if (!redirect.ok()) {
    std::fprintf(stderr, "%s\n", redirect.error().message.c_str());
    return 1;
  }
  Listener plain = listen_loopback();
  Listener redirected = listen_loopback();
  sniproxy::Endpoint endpoint{*sniproxy::IpAddress::parse("127.0.0.1"), redirected.port};
  if (auto added = (*redirect)->add_endpoint(endpoint); !added.ok()) {
    std::fprintf(stderr, "%s\n", added.error().message.c_str());
    return 1;
  }
  const std::size_t bytes = mib << 20;
  std::vector<double> rate[2], cpu[2];
  for (int round = 0; round < rounds; ++round) {
    for (int kind = 0; kind < 2; ++kind) {
      const Round r = transfer(kind == 0 ? plain : redirected, bytes, send_kib << 10);
      rate[kind].push_back(static_cast<double>(bytes) / r.seconds / 1e9);
      cpu[kind].push_back(r.cpu_seconds / (static_cast<double>(bytes) / (1 << 30)));
    }
  }
  std::printf("%d rounds of %zu MiB in %zu KiB sends, one connection, medians\n", rounds, mib,
              send_kib);
  std::printf("%-16s %10s %14s\n", "path", "GB/s", "CPU-s/GiB");
  const char* names[2] = {"loopback TCP", "local redirect"};
  for (int kind = 0; kind < 2; ++kind) {
    std::printf("%-16s %10.2f %14.3f\n", names[kind], median(rate[kind]), median(cpu[kind]));
  }
  std::printf("ratio redirect/TCP: throughput %.2fx, CPU per GiB %.2fx\n",
              median(rate[1]) / median(rate[0]), median(cpu[1]) / median(cpu[0]));
  return 0;
}
