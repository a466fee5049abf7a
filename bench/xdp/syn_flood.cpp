// A bounded SYN flood from one source address: COUNT TCP SYNs sent as raw
// Ethernet frames out of one interface, for run-xdp-bench.sh; run it inside
// the sending network namespace.
//
//   syn_flood --interface IF --source-mac MAC --destination-mac MAC
//             --source IP --destination IP --port PORT --count N
//             [--method packet|xdp] [--rate PPS]
//   syn_flood --gro-on IF
//
// --method packet (default): a packet socket, one skb per frame, source
// ports changing, as fast as the kernel takes them or at --rate frames per
// second. --method xdp: the kernel's XDP live-frames generator repeats one
// frame (see xdp_generator.hpp), as a NIC's receive ring would deliver it.
// --gro-on IF: turn GRO on for IF, as on a NIC, and exit.
//
#include <getopt.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "frames.hpp"
#include "packet_socket.hpp"
#include "xdp_generator.hpp"

namespace {

using sniproxy::IpAddress;
using namespace sniproxy::frames;

// Distinct frames built once and sent round-robin: building (checksums) is
// not part of what is measured.
constexpr std::size_t kDistinct = 4096;
constexpr std::size_t kSlice = 256;
constexpr std::uint64_t kMaxCount = 1'000'000'000;

struct Options {
  std::string interface;
  std::string gro_on;
  bool xdp = false;
  std::optional<Mac> source_mac, destination_mac;
  std::optional<IpAddress> source, destination;
  std::uint16_t port = 0;
  std::uint64_t count = 0;
  std::uint64_t rate = 0;  // 0: as fast as possible
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "syn_flood: %s\nusage: syn_flood --interface IF --source-mac MAC "
               "--destination-mac MAC --source IP --destination IP --port PORT --count N "
               "[--method packet|xdp] [--rate PPS]\n       syn_flood --gro-on IF\n",
               why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  static const option kLong[] = {{"interface", required_argument, nullptr, 'i'},
                                 {"source-mac", required_argument, nullptr, 'm'},
                                 {"destination-mac", required_argument, nullptr, 'M'},
                                 {"source", required_argument, nullptr, 's'},
                                 {"destination", required_argument, nullptr, 'd'},
                                 {"port", required_argument, nullptr, 'p'},
                                 {"count", required_argument, nullptr, 'n'},
                                 {"rate", required_argument, nullptr, 'r'},
                                 {"method", required_argument, nullptr, 'x'},
                                 {"gro-on", required_argument, nullptr, 'g'},
                                 {nullptr, 0, nullptr, 0}};
  Options o;
  for (int c; (c = getopt_long(argc, argv, "", kLong, nullptr)) != -1;) {
    const std::string value = optarg != nullptr ? optarg : "";
    switch (c) {
      case 'i':
        o.interface = value;
        break;
      case 'm':
        o.source_mac = Mac::parse(value);
        break;
      case 'M':
        o.destination_mac = Mac::parse(value);
        break;
      case 's':
        o.source = IpAddress::parse(value);
        break;
      case 'd':
        o.destination = IpAddress::parse(value);
        break;
      case 'p':
        o.port = static_cast<std::uint16_t>(std::strtoul(value.c_str(), nullptr, 10));
        break;
      case 'n':
        o.count = std::strtoull(value.c_str(), nullptr, 10);
        break;
      case 'r':
        o.rate = std::strtoull(value.c_str(), nullptr, 10);
        break;
      case 'x':
        if (value != "packet" && value != "xdp") usage("--method is packet or xdp");
        o.xdp = value == "xdp";
        break;
      case 'g':
        o.gro_on = value;
        break;
      default:
        usage("unknown option");
    }
  }
  if (!o.gro_on.empty()) return o;
  if (o.interface.empty() || !o.source_mac || !o.destination_mac || !o.source || !o.destination ||
      o.port == 0 || o.count == 0 || o.count > kMaxCount) {
    usage("missing or invalid option");
  }
  if (o.source->family != o.destination->family) usage("source and destination families differ");
  if (o.xdp && (o.rate != 0 || o.count > UINT32_MAX))
    usage("--method xdp: no --rate, at most 2^32-1");
  return o;
}

// Time this process has run on a CPU, in ns (the scheduler's own clock,
// precise, unlike tick-sampled rusage); 0 when unreadable.
unsigned long long own_cpu_ns() {
  unsigned long long ns = 0;
  std::ifstream schedstat("/proc/self/schedstat");
  if (!(schedstat >> ns)) ns = 0;
  return ns;
}

TcpFrame syn(const Options& o, std::size_t i) {
  TcpFrame f;
  f.source_mac = *o.source_mac;
  f.destination_mac = *o.destination_mac;
  f.source = *o.source;
  f.destination = *o.destination;
  f.source_port = static_cast<std::uint16_t>(1024 + i);
  f.destination_port = o.port;
  f.sequence = static_cast<std::uint32_t>(i * 7919);
  return f;
}

// Sends through a packet socket; returns false (and says why) on a failure.
bool send_packets(const Options& o) {
  std::vector<Bytes> ring;
  ring.reserve(kDistinct);
  for (std::size_t i = 0; i < kDistinct; ++i) ring.push_back(build(syn(o, i)));
  auto socket = PacketSocket::open(o.interface);
  if (!socket.ok()) {
    std::fprintf(stderr, "syn_flood: %s\n", socket.error().message.c_str());
    return false;
  }
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t sent = 0;
  while (sent < o.count) {
    const std::size_t at = sent % kDistinct;
    const auto n =
        static_cast<std::size_t>(std::min<std::uint64_t>({kSlice, kDistinct - at, o.count - sent}));
    const std::size_t done = socket->send(std::span(ring).subspan(at, n));
    sent += done;
    if (done < n) {
      std::fprintf(stderr, "syn_flood: send failed after %llu frames: %s\n",
                   static_cast<unsigned long long>(sent), socket->error().c_str());
      return false;
    }
    if (o.rate != 0) {
      // Pace: never ahead of rate * elapsed.
      const auto due = start + std::chrono::nanoseconds(sent * 1'000'000'000ULL / o.rate);
      std::this_thread::sleep_until(due);
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  if (!o.gro_on.empty()) {
    auto done = enable_gro(o.gro_on);
    if (done.ok()) return 0;
    std::fprintf(stderr, "syn_flood: %s\n", done.error().message.c_str());
    return 1;
  }
  const Bytes first = build(syn(o, 0));
  const auto start = std::chrono::steady_clock::now();
  const unsigned long long cpu_at_start = own_cpu_ns();  // building frames is not counted
  if (o.xdp) {
    auto done = redirect_frames(o.interface, first, static_cast<std::uint32_t>(o.count));
    if (!done.ok()) {
      std::fprintf(stderr, "syn_flood: %s\n", done.error().message.c_str());
      return 1;
    }
  } else if (!send_packets(o)) {
    return 1;
  }
  const unsigned long long cpu_ns = own_cpu_ns() - cpu_at_start;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("sent=%llu seconds=%.3f pps=%.0f cpu_ns=%llu\n",
              static_cast<unsigned long long>(o.count), seconds,
              static_cast<double>(o.count) / seconds, cpu_ns);
  return 0;
}
