// xdp_filter.bpf.c on crafted frames through BPF_PROG_TEST_RUN: every
// verdict, every counter, and the odd shapes (VLAN, IPv6 extension headers,
// fragments, truncated and invalid headers). No device is involved, so these
// are exact. Needs root.
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "bpf/loader/loader.hpp"
#include "bpf/xdp/xdp_maps.hpp"
#include "config/prefix.hpp"
#include "config/xdp_section.hpp"
#include "frames.hpp"
#include "shared_types.h"

namespace sniproxy::bpf {
namespace {

using frames::Bytes;
using frames::TcpFrame;

constexpr std::uint16_t kPort = 8443;

config::Prefix prefix(std::string_view text) {
  auto p = config::parse_prefix(text);
  EXPECT_TRUE(p.ok()) << text;
  return p.ok() ? *p : config::Prefix{};
}

IpAddress ip(std::string_view text) {
  return *IpAddress::parse(text);
}

TcpFrame syn(std::string_view from, std::string_view to = "", std::uint16_t port = kPort) {
  TcpFrame f;
  f.source = ip(from);
  f.destination = to.empty() ? ip(f.source.family == Family::v4 ? "10.0.0.1" : "fd00::1") : ip(to);
  f.destination_port = port;
  return f;
}

struct Verdict {
  int action = -1;  // XDP_PASS, XDP_DROP; -1 when the run failed
  XdpCounters delta;
};

XdpCounters minus(const XdpCounters& a, const XdpCounters& b) {
  return XdpCounters{a.passed - b.passed,
                     a.dropped_deny - b.dropped_deny,
                     a.dropped_not_allowed - b.dropped_not_allowed,
                     a.dropped_rate - b.dropped_rate,
                     a.malformed - b.malformed,
                     a.ignored - b.ignored};
}

class XdpProgramTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    auto loaded = Module::load(
        ProgramSet{"xdp_filter",
                   {"xdp_filter.bpf.c"},
                   {"-DSNIPROXY_XDP_MAX_PREFIXES=" + std::to_string(config::kXdpMaxPrefixes)},
                   {}});
    if (!loaded.ok()) {
      load_error_ = new std::string(loaded.error().message);
      return;
    }
    module_ = loaded->release();
  }
  static void TearDownTestSuite() {
    delete module_;
    module_ = nullptr;
    delete load_error_;
    load_error_ = nullptr;
  }

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (CAP_BPF, CAP_NET_ADMIN): skipped";
    ASSERT_EQ(load_error_, nullptr) << *load_error_;
    auto fd = module_->program_fd(SNIPROXY_XDP_PROGRAM, ProgramType::xdp);
    ASSERT_TRUE(fd.ok()) << fd.error().message;
    program_ = *fd;
    auto maps = XdpMaps::open(*module_);
    ASSERT_TRUE(maps.ok()) << maps.error().message;
    maps_ = std::make_unique<XdpMaps>(std::move(*maps));
    // Each test starts from an empty policy on the one shared module.
    ASSERT_TRUE(maps_->apply(XdpPolicy{}).ok());
  }
  void TearDown() override {
    // This XdpMaps forgets what it wrote: clear the maps for the next test.
    if (maps_) {
      XdpPolicy none;
      EXPECT_TRUE(maps_->apply(none).ok());
    }
  }

  void apply(XdpPolicy policy) {
    if (policy.ports.empty()) policy.ports = {kPort};
    auto applied = maps_->apply(policy);
    ASSERT_TRUE(applied.ok()) << applied.error().message;
  }

  XdpCounters counters() {
    auto c = maps_->counters();
    EXPECT_TRUE(c.ok()) << c.error().message;
    return c.ok() ? *c : XdpCounters{};
  }

  int run(const Bytes& frame) {
    bpf_attr attr{};
    attr.test.prog_fd = static_cast<std::uint32_t>(program_);
    attr.test.data_in = reinterpret_cast<std::uint64_t>(frame.data());
    attr.test.data_size_in = static_cast<std::uint32_t>(frame.size());
    attr.test.repeat = 1;
    if (::syscall(__NR_bpf, BPF_PROG_TEST_RUN, &attr, sizeof attr) != 0) {
      ADD_FAILURE() << "BPF_PROG_TEST_RUN: " << std::strerror(errno);
      return -1;
    }
    return static_cast<int>(attr.test.retval);
  }

  Verdict judge(const Bytes& frame) {
    XdpCounters before = counters();
    Verdict v;
    v.action = run(frame);
    v.delta = minus(counters(), before);
    return v;
  }
  Verdict judge(const TcpFrame& frame) { return judge(frames::build(frame)); }

  static inline Module* module_ = nullptr;
  static inline std::string* load_error_ = nullptr;
  int program_ = -1;
  std::unique_ptr<XdpMaps> maps_;
};

const XdpCounters kPassed{1, 0, 0, 0, 0, 0};
const XdpCounters kDeny{0, 1, 0, 0, 0, 0};
const XdpCounters kNotAllowed{0, 0, 1, 0, 0, 0};
const XdpCounters kRate{0, 0, 0, 1, 0, 0};
const XdpCounters kMalformed{0, 0, 0, 0, 1, 0};
const XdpCounters kIgnored{0, 0, 0, 0, 0, 1};

void expect(const Verdict& v, int action, const XdpCounters& delta, const char* what) {
  EXPECT_EQ(v.action, action) << what;
  EXPECT_EQ(v.delta, delta) << what << ": passed=" << v.delta.passed
                            << " deny=" << v.delta.dropped_deny
                            << " not_allowed=" << v.delta.dropped_not_allowed
                            << " rate=" << v.delta.dropped_rate
                            << " malformed=" << v.delta.malformed << " ignored=" << v.delta.ignored;
}

TEST_F(XdpProgramTest, EmptyPolicyPassesEverySource) {
  apply({});
  expect(judge(syn("192.0.2.1")), XDP_PASS, kPassed, "v4");
  expect(judge(syn("2001:db8::1")), XDP_PASS, kPassed, "v6");
}

TEST_F(XdpProgramTest, DenyListDropsMatchingPrefixesOfBothFamilies) {
  apply({.deny = {prefix("10.0.0.0/8"), prefix("192.0.2.7"), prefix("2001:db8:bad::/48")}});
  expect(judge(syn("10.200.3.4")), XDP_DROP, kDeny, "inside 10/8");
  expect(judge(syn("192.0.2.7")), XDP_DROP, kDeny, "the /32");
  expect(judge(syn("192.0.2.8")), XDP_PASS, kPassed, "next to the /32");
  expect(judge(syn("11.0.0.1")), XDP_PASS, kPassed, "outside 10/8");
  expect(judge(syn("2001:db8:bad:1::5")), XDP_DROP, kDeny, "inside the /48");
  expect(judge(syn("2001:db8:bae::5")), XDP_PASS, kPassed, "outside the /48");
}

TEST_F(XdpProgramTest, DenyJudgesEverySegmentNotOnlySyns) {
  apply({.deny = {prefix("192.0.2.0/24")}});
  TcpFrame ack = syn("192.0.2.1");
  ack.flags = frames::kAck;
  expect(judge(ack), XDP_DROP, kDeny, "ACK");
  ack.flags = frames::kRst;
  expect(judge(ack), XDP_DROP, kDeny, "RST");
}

TEST_F(XdpProgramTest, AllowListDropsEverythingElseIncludingTheOtherFamily) {
  apply({.allow = {prefix("198.51.100.0/24")}});
  expect(judge(syn("198.51.100.20")), XDP_PASS, kPassed, "allowed");
  expect(judge(syn("198.51.101.20")), XDP_DROP, kNotAllowed, "not in the list");
  // An allow list of IPv4 prefixes only: no IPv6 source is allowed.
  expect(judge(syn("2001:db8::1")), XDP_DROP, kNotAllowed, "IPv6 with a v4-only allow list");
}

TEST_F(XdpProgramTest, DenyWinsOverAllow) {
  apply({.allow = {prefix("198.51.100.0/24"), prefix("2001:db8::/32")},
         .deny = {prefix("198.51.100.66"), prefix("2001:db8::66")}});
  expect(judge(syn("198.51.100.66")), XDP_DROP, kDeny, "v4 in both");
  expect(judge(syn("198.51.100.67")), XDP_PASS, kPassed, "v4 allowed");
  expect(judge(syn("2001:db8::66")), XDP_DROP, kDeny, "v6 in both");
  expect(judge(syn("2001:db8::67")), XDP_PASS, kPassed, "v6 allowed");
}

TEST_F(XdpProgramTest, OnlyTheListenersPortsAreJudged) {
  apply({.ports = {kPort, 9443}, .allow = {prefix("198.51.100.0/24")}});
  expect(judge(syn("203.0.113.1", "", 22)), XDP_PASS, kIgnored, "ssh from anywhere");
  expect(judge(syn("203.0.113.1", "", 9443)), XDP_DROP, kNotAllowed, "second listener");
  TcpFrame udp = syn("203.0.113.1");
  udp.protocol = 17;
  expect(judge(udp), XDP_PASS, kIgnored, "UDP to the same port number");
  Bytes arp(60, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  expect(judge(arp), XDP_PASS, kIgnored, "ARP");
  // A reload that drops a port stops judging it.
  apply({.ports = {9443}, .allow = {prefix("198.51.100.0/24")}});
  expect(judge(syn("203.0.113.1")), XDP_PASS, kIgnored, "port no longer listened on");
}

TEST_F(XdpProgramTest, VlanTaggedFramesAreJudged) {
  apply({.deny = {prefix("192.0.2.0/24")}});
  TcpFrame one = syn("192.0.2.1");
  one.vlans = {100};
  expect(judge(one), XDP_DROP, kDeny, "one tag");
  TcpFrame two = syn("192.0.2.1");
  two.vlans = {100, 200};
  expect(judge(two), XDP_DROP, kDeny, "two tags");
  TcpFrame three = syn("192.0.2.1");
  three.vlans = {100, 200, 300};
  expect(judge(three), XDP_PASS, kIgnored, "three tags: not parsed past two");
}

TEST_F(XdpProgramTest, Ipv6ExtensionHeadersAreWalked) {
  apply({.deny = {prefix("2001:db8::/32")}});
  TcpFrame f = syn("2001:db8::1");
  f.ipv6_extensions = {frames::kHopByHop, frames::kDestinationOptions};
  expect(judge(f), XDP_DROP, kDeny, "hop-by-hop and destination options");
  f.destination_port = 22;
  expect(judge(f), XDP_PASS, kIgnored, "other port behind extension headers");
  // More than are walked: judged by source alone, even to another port,
  // so a long chain is no way around the lists.
  TcpFrame chain = syn("2001:db8::1", "", 22);
  chain.ipv6_extensions.assign(9, frames::kDestinationOptions);
  expect(judge(chain), XDP_DROP, kDeny, "nine extension headers");
  TcpFrame allowed_chain = syn("2001:db9::1", "", 22);
  allowed_chain.ipv6_extensions.assign(9, frames::kDestinationOptions);
  expect(judge(allowed_chain), XDP_PASS, kPassed, "nine extension headers, not denied");
}

TEST_F(XdpProgramTest, FragmentsFirstJudgedRestIgnoredTinyFirstJudgedBySource) {
  apply({.deny = {prefix("192.0.2.0/24"), prefix("2001:db8::/32")}});
  TcpFrame first = syn("192.0.2.1");
  first.ipv4_fragment = 0x2000;  // more fragments, offset 0
  expect(judge(first), XDP_DROP, kDeny, "v4 first fragment");
  TcpFrame later = syn("192.0.2.1");
  later.ipv4_fragment = 0x0003;  // offset 24 bytes, last
  expect(judge(later), XDP_PASS, kIgnored, "v4 later fragment");
  // A first fragment cut inside the TCP header (RFC 1858): the port is
  // unknown, the source decides.
  Bytes tiny =
      frames::truncated(frames::build(first), frames::kEthernetLength + frames::kIpv4Length + 8);
  expect(judge(tiny), XDP_DROP, kDeny, "v4 tiny first fragment");

  TcpFrame first6 = syn("2001:db8::1");
  first6.ipv6_extensions = {frames::kFragmentHeader};
  first6.ipv6_fragment = 0x0001;  // offset 0, more fragments
  expect(judge(first6), XDP_DROP, kDeny, "v6 first fragment");
  TcpFrame later6 = first6;
  later6.ipv6_fragment = 0x0008;  // offset 8 bytes
  expect(judge(later6), XDP_PASS, kIgnored, "v6 later fragment");
}

TEST_F(XdpProgramTest, MalformedHeadersPassAndAreCounted) {
  apply({.deny = {prefix("192.0.2.0/24"), prefix("2001:db8::/32")}});
  const Bytes good4 = frames::build(syn("192.0.2.1"));
  const Bytes good6 = frames::build(syn("2001:db8::1"));
  constexpr std::size_t ip4 = frames::kEthernetLength;
  constexpr std::size_t tcp4 = ip4 + frames::kIpv4Length;
  constexpr std::size_t tcp6 = ip4 + frames::kIpv6Length;

  expect(judge(frames::truncated(good4, ip4 + 10)), XDP_PASS, kMalformed, "IPv4 header cut");
  expect(judge(frames::truncated(good6, ip4 + 30)), XDP_PASS, kMalformed, "IPv6 header cut");
  expect(judge(frames::truncated(good4, tcp4 + 12)), XDP_PASS, kMalformed, "TCP header cut");
  expect(judge(frames::truncated(good6, tcp6 + 4)), XDP_PASS, kMalformed, "v6 TCP header cut");
  Bytes short_ihl = good4;
  short_ihl[ip4] = 0x44;  // IHL 4: 16 bytes, less than the minimum
  expect(judge(short_ihl), XDP_PASS, kMalformed, "IHL < 5");
  Bytes long_ihl = frames::truncated(good4, tcp4 + 20);
  long_ihl[ip4] = 0x4f;  // IHL 15: options run past the end of the frame
  expect(judge(long_ihl), XDP_PASS, kMalformed, "IHL past the end");
  Bytes version = good4;
  version[ip4] = 0x65;  // IPv4 ethertype, version 6
  expect(judge(version), XDP_PASS, kMalformed, "wrong IP version");
  Bytes offset = good4;
  offset[tcp4 + 12] = 0x40;  // TCP data offset 4
  expect(judge(offset), XDP_PASS, kMalformed, "TCP data offset < 5");
  TcpFrame vlan = syn("192.0.2.1");
  vlan.vlans = {7};
  expect(judge(frames::truncated(frames::build(vlan), 16)), XDP_PASS, kMalformed, "VLAN tag cut");
  TcpFrame ext = syn("2001:db8::1");
  ext.ipv6_extensions = {frames::kHopByHop};
  expect(judge(frames::truncated(frames::build(ext), tcp6 + 4)), XDP_PASS, kMalformed,
         "extension header cut");
}

TEST_F(XdpProgramTest, SynRateGuardDropsAboveTheBurstAndSparesEstablishedTraffic) {
  apply({.syn_rate = 1, .syn_burst = 5});
  XdpCounters before = counters();
  int passed = 0;
  for (int i = 0; i < 20; ++i) {
    TcpFrame f = syn("192.0.2.1");
    f.source_port = static_cast<std::uint16_t>(40000 + i);
    if (run(frames::build(f)) == XDP_PASS) ++passed;
  }
  // One SYN a second: within these microseconds, the burst and no more.
  EXPECT_EQ(passed, 5);
  XdpCounters delta = minus(counters(), before);
  EXPECT_EQ(delta.passed, 5u);
  EXPECT_EQ(delta.dropped_rate, 15u);

  TcpFrame ack = syn("192.0.2.1");
  ack.flags = frames::kAck;
  for (int i = 0; i < 10; ++i) expect(judge(ack), XDP_PASS, kPassed, "ACK of a connection");
  TcpFrame syn_ack = syn("192.0.2.1");
  syn_ack.flags = frames::kSyn | frames::kAck;
  expect(judge(syn_ack), XDP_PASS, kPassed, "SYN+ACK is not a new connection");
  expect(judge(syn("192.0.2.2")), XDP_PASS, kPassed, "another source has its own bucket");
  expect(judge(syn("2001:db8::1")), XDP_PASS, kPassed, "an IPv6 source too");
  expect(judge(syn("192.0.2.1")), XDP_DROP, kRate, "still above the rate");
}

TEST_F(XdpProgramTest, UpdatesInPlaceMoveAnAddressFromAllowToDeny) {
  apply({.allow = {prefix("198.51.100.0/24"), prefix("203.0.113.5")}});
  expect(judge(syn("203.0.113.5")), XDP_PASS, kPassed, "allowed at first");
  apply({.allow = {prefix("198.51.100.0/24")}, .deny = {prefix("203.0.113.5")}});
  expect(judge(syn("203.0.113.5")), XDP_DROP, kDeny, "denied after the update");
  expect(judge(syn("198.51.100.1")), XDP_PASS, kPassed, "the rest still allowed");
  apply({});
  expect(judge(syn("203.0.113.5")), XDP_PASS, kPassed, "lists emptied: passes");
  expect(judge(syn("192.0.2.200")), XDP_PASS, kPassed, "no allow list any more");
}

TEST(XdpSettingsTest, RateAndBurstBecomeGcraIntervals) {
  XdpPolicy p;
  EXPECT_EQ(xdp_settings_for(p).syn_rate, 0u);
  EXPECT_EQ(xdp_settings_for(p).allow_set, 0u);
  p.syn_rate = 100;
  p.syn_burst = 400;
  p.allow = {config::Prefix{}};
  const sniproxy_xdp_settings s = xdp_settings_for(p);
  EXPECT_EQ(s.allow_set, 1u);
  EXPECT_EQ(s.syn_rate, 100u);
  EXPECT_EQ(s.interval_ns, 10'000'000u);
  EXPECT_EQ(s.burst_ns, 399u * 10'000'000u);
}

}  // namespace
}  // namespace sniproxy::bpf
