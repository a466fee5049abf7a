// Packets per second and CPU per GB of UDP datagrams through the QUIC fast
// path's TC program, against the same topology with the proxy namespace
// routing (kernel IP forwarding, "direct") and with a userspace relay (one
// thread: recv on the listener, send from the session socket, as the
// userspace path would at best), alternating in one run. Needs root.
//
//   quic_tc_bench [DATAGRAMS] [SIZE] [ROUNDS]     (200000 1200 3)
//
// client ns -- proxy ns -- backend ns (tests/quic_tc/topology.hpp), IPv4.
// One sender thread in the client namespace sends DATAGRAMS of SIZE bytes
// as fast as its socket takes them; one receiver in the backend namespace
// counts them (until all arrived or 1 s passes without one). Per variant:
//   kpps        datagrams received per second (first send to last receipt)
//   cpu_s/GB    CPU time of this process (sender, receiver, relay) plus
//               kernel threads (ksoftirqd, kworkers) per GB of payload
//               received. On veth the receive side runs in softirq on the
//               sending CPU, in the sender's system calls or in ksoftirqd,
//               so this is the cost of the packets and nothing else.
//   busy_s/GB   whole-machine busy time per GB: exact only on an idle machine.
#include <net/if.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <dirent.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <poll.h>

#include "bpf/quic_fast_path/quic_fast_path.hpp"
#include "support/netns.hpp"
#include "topology.hpp"
#include "udp_io.hpp"

namespace sniproxy::quic_tc_test {
namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

double process_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return tv(usage.ru_utime) + tv(usage.ru_stime);
}

// utime+stime of the kernel's own threads (children of kthreadd), seconds.
double kernel_threads_cpu_seconds() {
  const auto ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  double total = 0;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return 0;
  for (int entries = 0; entries < 1'000'000; ++entries) {
    dirent* entry = ::readdir(proc);
    if (entry == nullptr) break;
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    std::ifstream file(std::string("/proc/") + entry->d_name + "/stat");
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    const std::size_t close = text.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(text.substr(close + 2));
    std::string state;
    long ppid = 0, skip = 0;
    unsigned long utime = 0, stime = 0;
    fields >> state >> ppid;
    for (int i = 0; i < 9; ++i) fields >> skip;
    fields >> utime >> stime;
    if (ppid == 2) total += static_cast<double>(utime + stime) / ticks;
  }
  ::closedir(proc);
  return total;
}

// Busy time of the whole machine from /proc/stat, seconds.
double machine_busy_seconds() {
  std::ifstream file("/proc/stat");
  std::string cpu;
  unsigned long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                steal = 0;
  file >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  return static_cast<double>(user + nice + system + irq + softirq + steal) /
         static_cast<double>(::sysconf(_SC_CLK_TCK));
}

struct Sample {
  double kpps = 0, cpu_per_gb = 0, busy_per_gb = 0;
  std::uint64_t received = 0;
};

struct Bench {
  Topology topology;
  std::unique_ptr<bpf::QuicFastPath> fast_path;
  UniqueFd client, listener, session, backend;
  Endpoint client_at, listener_at, session_at, backend_at;
  int client_ifindex = 0, backend_ifindex = 0;
  std::uint64_t datagrams = 200000;
  std::size_t size = 1200;
};

std::string setup(Bench& b) {
  if (auto error = b.topology.setup(); !error.empty()) return error;
  const std::string& p = b.topology.proxy_ns();
  for (const std::vector<std::string>& step : std::vector<std::vector<std::string>>{
           {"-n", b.topology.client_ns(), "route", "add", "10.92.2.0/24", "via", "10.92.1.1"},
           {"-n", b.topology.backend_ns(), "route", "add", "10.92.1.0/24", "via", "10.92.2.1"}}) {
    if (auto error = integration::ip(step); !error.empty()) return error;
  }
  if (auto error = integration::netns_exec(p, {"sysctl", "-q", "-w", "net.ipv4.ip_forward=1"});
      !error.empty()) {
    return error;
  }
  std::string error;
  auto buffer = [](int fd) {
    int bytes = 64 << 20;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes));
  };
  integration::run_in(b.topology.client_ns(), [&] {
    b.client = bound_udp_socket({Topology::client(Family::v4), 0});
  });
  integration::run_in(p, [&] {
    b.listener = bound_udp_socket({Topology::proxy_client_side(Family::v4), 4433});
    b.session = bound_udp_socket({Topology::proxy_backend_side(Family::v4), 0});
    b.client_ifindex = static_cast<int>(::if_nametoindex(b.topology.proxy_client_if().c_str()));
    b.backend_ifindex = static_cast<int>(::if_nametoindex(b.topology.proxy_backend_if().c_str()));
    bpf::QuicFastPathOptions options;
    options.interfaces = {b.topology.proxy_client_if(), b.topology.proxy_backend_if()};
    auto created = bpf::QuicFastPath::create(options);
    if (created.ok()) {
      b.fast_path = std::move(*created);
    } else {
      error = created.error().message;
    }
  });
  integration::run_in(b.topology.backend_ns(), [&] {
    b.backend = bound_udp_socket({Topology::backend(Family::v4), 8443});
  });
  if (!error.empty()) return error;
  for (const UniqueFd* fd : {&b.client, &b.listener, &b.session, &b.backend}) {
    if (!fd->valid()) return "a socket could not be opened";
    buffer(fd->get());
  }
  b.client_at = local_endpoint(b.client.get());
  b.listener_at = local_endpoint(b.listener.get());
  b.session_at = local_endpoint(b.session.get());
  b.backend_at = local_endpoint(b.backend.get());
  return "";
}

// Sends the datagrams to `to` and counts what reaches the backend.
Sample run_once(Bench& b, const Endpoint& to) {
  const std::string payload = pattern(b.size, 1);
  std::atomic<std::uint64_t> received{0};
  std::atomic<bool> receiver_ready{false};
  Clock::time_point last_receipt;
  std::thread receiver([&] {
    std::string buffer(65536, '\0');
    receiver_ready = true;
    while (received < b.datagrams) {
      pollfd p{b.backend.get(), POLLIN, 0};
      if (::poll(&p, 1, 1000) != 1) break;  // 1 s without a datagram: the rest were lost
      for (int burst = 0; burst < 64; ++burst) {
        if (::recv(b.backend.get(), buffer.data(), buffer.size(), MSG_DONTWAIT) < 0) break;
        ++received;
      }
      last_receipt = Clock::now();
    }
  });
  while (!receiver_ready) std::this_thread::yield();
  const double cpu0 = process_cpu_seconds() + kernel_threads_cpu_seconds();
  const double busy0 = machine_busy_seconds();
  const auto start = Clock::now();
  sockaddr_storage storage{};
  const unsigned length = to.to_sockaddr(storage);
  for (std::uint64_t i = 0; i < b.datagrams; ++i) {
    for (int tries = 0; tries < 1000; ++tries) {
      if (::sendto(b.client.get(), payload.data(), payload.size(), 0,
                   reinterpret_cast<sockaddr*>(&storage), length) >= 0) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));  // ENOBUFS: let it drain
    }
  }
  receiver.join();
  const double cpu = process_cpu_seconds() + kernel_threads_cpu_seconds() - cpu0;
  const double busy = machine_busy_seconds() - busy0;
  Sample s;
  s.received = received;
  const double gb = static_cast<double>(received) * static_cast<double>(b.size) / 1e9;
  const double elapsed = seconds(last_receipt - start);
  s.kpps = elapsed > 0 ? static_cast<double>(received) / elapsed / 1e3 : 0;
  s.cpu_per_gb = gb > 0 ? cpu / gb : 0;
  s.busy_per_gb = gb > 0 ? busy / gb : 0;
  return s;
}

Sample run_variant(Bench& b, const std::string& variant) {
  if (variant == "direct") return run_once(b, b.backend_at);
  if (variant == "tc") {
    bpf::FastPathSession session;
    session.client_side = {b.client_at, b.listener_at};
    session.backend_side = {b.session_at, b.backend_at};
    session.client_ifindex = b.client_ifindex;
    session.backend_ifindex = b.backend_ifindex;
    auto handle = b.fast_path->add_session(session);
    if (!handle.ok()) {
      std::fprintf(stderr, "%s\n", handle.error().message.c_str());
      std::exit(1);
    }
    Sample s = run_once(b, b.listener_at);
    b.fast_path->remove_session(*handle);
    return s;
  }
  // userspace: a relay thread in the proxy namespace (its sockets are there).
  std::atomic<bool> stop{false};
  std::thread relay([&] {
    std::string buffer(65536, '\0');
    sockaddr_storage storage{};
    const unsigned length = b.backend_at.to_sockaddr(storage);
    while (!stop) {
      pollfd p{b.listener.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) != 1) continue;
      for (int burst = 0; burst < 64; ++burst) {
        ssize_t got = ::recv(b.listener.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (got < 0) break;
        ::sendto(b.session.get(), buffer.data(), static_cast<std::size_t>(got), 0,
                 reinterpret_cast<sockaddr*>(&storage), length);
      }
    }
  });
  Sample s = run_once(b, b.listener_at);
  stop = true;
  relay.join();
  return s;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

}  // namespace
}  // namespace sniproxy::quic_tc_test

int main(int argc, char** argv) {
  using namespace sniproxy::quic_tc_test;
  if (::geteuid() != 0) {
    std::fprintf(stderr, "needs root (network namespaces, BPF)\n");
    return 2;
  }
  Bench b;
  if (argc > 1) b.datagrams = std::strtoull(argv[1], nullptr, 10);
  if (argc > 2) b.size = std::strtoull(argv[2], nullptr, 10);
  const int rounds = argc > 3 ? static_cast<int>(std::strtol(argv[3], nullptr, 10)) : 3;
  if (b.datagrams == 0 || b.datagrams > 100'000'000 || b.size == 0 || b.size > 1400 || rounds < 1 ||
      rounds > 100) {
    std::fprintf(stderr, "usage: quic_tc_bench [DATAGRAMS<=1e8] [SIZE<=1400] [ROUNDS<=100]\n");
    return 2;
  }
  if (auto error = setup(b); !error.empty()) {
    std::fprintf(stderr, "setup: %s\n", error.c_str());
    return 1;
  }
  const std::vector<std::string> variants = {"direct", "tc", "userspace"};
  std::vector<std::vector<Sample>> samples(variants.size());
  std::printf("%-10s %5s %10s %10s %10s %10s\n", "variant", "round", "received", "kpps", "cpu_s/GB",
              "busy_s/GB");
  for (int round = 0; round < rounds; ++round) {
    for (std::size_t v = 0; v < variants.size(); ++v) {
      Sample s = run_variant(b, variants[v]);
      samples[v].push_back(s);
      std::printf("%-10s %5d %10llu %10.1f %10.2f %10.2f\n", variants[v].c_str(), round,
                  static_cast<unsigned long long>(s.received), s.kpps, s.cpu_per_gb, s.busy_per_gb);
      std::fflush(stdout);
    }
  }
  std::printf("\nmedians over %d rounds, %llu datagrams of %zu bytes each:\n", rounds,
              static_cast<unsigned long long>(b.datagrams), b.size);
  for (std::size_t v = 0; v < variants.size(); ++v) {
    std::vector<double> kpps, cpu, busy;
    for (const Sample& s : samples[v]) {
      kpps.push_back(s.kpps);
      cpu.push_back(s.cpu_per_gb);
      busy.push_back(s.busy_per_gb);
    }
    std::printf("%-10s kpps %8.1f  cpu_s/GB %6.2f  busy_s/GB %6.2f\n", variants[v].c_str(),
                median(kpps), median(cpu), median(busy));
  }
  return 0;
}
