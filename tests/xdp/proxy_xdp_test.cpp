// The real proxy with [xdp] in a network namespace, clients and floods in
// another, joined by a veth pair: allowed sources are proxied, denied ones
// never get an answer, the counters add up to the frames sent, a SYN flood
// from one source leaves room for everyone else, reloads apply in place, and
// the program's lifecycle (stale after a crash, someone else's) is safe.
#include <grp.h>
#include <pwd.h>
#include <signal.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "bpf/loader/loader.hpp"
#include "packet_socket.hpp"
#include "support/credentials.hpp"
#include "xdp_fixture.hpp"

namespace sniproxy::xdp_test {
namespace {

using namespace std::chrono_literals;

bpf::XdpCounters minus(const bpf::XdpCounters& a, const bpf::XdpCounters& b) {
  return {a.passed - b.passed,
          a.dropped_deny - b.dropped_deny,
          a.dropped_not_allowed - b.dropped_not_allowed,
          a.dropped_rate - b.dropped_rate,
          a.malformed - b.malformed,
          a.ignored - b.ignored};
}

constexpr std::string_view kAllowBoth =
    "allow = [\"10.77.0.0/24\", \"fd77::/64\"]\n"
    "deny = [\"10.77.0.3\", \"fd77::3\"]\n";

TEST_F(XdpProxyTest, AllowedSourcesAreProxiedDeniedSourcesNeverConnect) {
  ASSERT_EQ(start_proxy(config(std::string(kAllowBoth))), "");
  EXPECT_TRUE(proxy_->wait_for_log(
      "event=xdp_attached interface=" + topology_.server_if() + " mode=native requested=auto",
      Deadline::in(20'000ms)))
      << proxy_->log();
  EXPECT_TRUE(proxied_from(kAllowed4));
  EXPECT_TRUE(proxied_from(kAllowed6));
  EXPECT_TRUE(silently_dropped_from(kDenied4));
  EXPECT_TRUE(silently_dropped_from(kDenied6));
  // The allowed address still works after the denied one was turned away.
  EXPECT_TRUE(proxied_from(kAllowed4));
  auto counters = wait_counters(
      [](const bpf::XdpCounters& c) { return c.dropped_deny >= 4 && c.passed >= 6; }, 2000ms);
  ASSERT_TRUE(counters.has_value()) << proxy_->log();
  // Two SYNs (first try and one retransmission) per denied connect.
  EXPECT_GE(counters->dropped_deny, 4u) << describe(*counters);
  EXPECT_EQ(counters->dropped_not_allowed, 0u) << describe(*counters);
  EXPECT_GE(counters->passed, 6u) << describe(*counters);
}

TEST_F(XdpProxyTest, CountersMatchTheFramesSent) {
  // Spoofed sources nobody owns: the server's answers (SYN-ACK, RST) find
  // no neighbour, so the only frames to the port are the ones sent here.
  ASSERT_EQ(start_proxy(config("allow = [\"10.77.0.0/26\", \"fd77::/64\"]\n"
                               "deny = [\"10.77.0.50\", \"fd77::50\"]\n")),
            "");
  auto baseline = wait_counters([](const bpf::XdpCounters&) { return true; }, 2000ms);
  ASSERT_TRUE(baseline.has_value()) << proxy_->log();

  std::vector<frames::Bytes> list;
  auto add = [&](int count, frames::TcpFrame f) {
    for (int i = 0; i < count; ++i) {
      f.source_port = static_cast<std::uint16_t>(20000 + list.size());
      list.push_back(frames::build(f));
    }
  };
  add(100, segment_from("10.77.0.50"));     // denied
  add(40, segment_from("fd77::50"));        // denied
  add(70, segment_from("10.77.0.99"));      // outside the allow list
  add(30, segment_from("fd78::1"));         // outside the allow list
  add(50, segment_from("10.77.0.50", 22));  // denied, but not to the proxy's port
  frames::TcpFrame ack = segment_from("10.77.0.40");
  ack.flags = frames::kAck;
  add(25, ack);                   // allowed
  for (int i = 0; i < 15; ++i) {  // IHL 4: malformed
    frames::Bytes broken = frames::build(segment_from("10.77.0.50"));
    broken[frames::kEthernetLength] = 0x44;
    list.push_back(broken);
  }
  ASSERT_EQ(send_frames(list), list.size());

  const bpf::XdpCounters b = *baseline;
  auto counters = wait_counters(
      [&](const bpf::XdpCounters& c) {
        return c.dropped_deny - b.dropped_deny == 140 &&
               c.dropped_not_allowed - b.dropped_not_allowed == 100 && c.passed - b.passed == 25 &&
               c.malformed - b.malformed == 15;
      },
      3000ms);
  ASSERT_TRUE(counters.has_value());
  const bpf::XdpCounters& c = *counters;
  EXPECT_EQ(c.dropped_deny - b.dropped_deny, 140u) << describe(c);
  EXPECT_EQ(c.dropped_not_allowed - b.dropped_not_allowed, 100u) << describe(c);
  EXPECT_EQ(c.passed - b.passed, 25u) << describe(c);
  EXPECT_EQ(c.malformed - b.malformed, 15u) << describe(c);
  EXPECT_EQ(c.dropped_rate - b.dropped_rate, 0u) << describe(c);
  // Port 22 and whatever else the namespace says (ARP, neighbour discovery).
  EXPECT_GE(c.ignored - b.ignored, 50u) << describe(c);
}

TEST_F(XdpProxyTest, SynFloodFromOneSourceDoesNotStopALegitimateClient) {
  constexpr int kFlood = 50'000;
  constexpr int kRate = 20;
  ASSERT_EQ(start_proxy(config(fmt::format("syn_rate = {}\nsyn_burst = {}\n", kRate, kRate))), "");
  auto baseline = wait_counters([](const bpf::XdpCounters&) { return true; }, 2000ms);
  ASSERT_TRUE(baseline.has_value()) << proxy_->log();

  // 50,000 SYNs from one spoofed source with changing ports, paced over
  // about a second so that the legitimate client connects during the flood.
  std::vector<frames::Bytes> flood;
  flood.reserve(kFlood);
  for (int i = 0; i < kFlood; ++i) {
    frames::TcpFrame f = segment_from("10.77.0.66");
    f.source_port = static_cast<std::uint16_t>(1024 + i % 60000);
    f.sequence = static_cast<std::uint32_t>(i);
    flood.push_back(frames::build(f));
  }
  std::atomic<std::size_t> sent{0};
  std::atomic<bool> flooding{true};
  const auto started = std::chrono::steady_clock::now();
  std::thread flooder([&] {
    integration::run_in(topology_.client_ns(), [&] {
      auto socket = frames::PacketSocket::open(topology_.client_if());
      if (!socket.ok()) return;
      constexpr std::size_t kSlice = 500;
      for (std::size_t at = 0; at < flood.size(); at += kSlice) {
        const std::size_t n = std::min(kSlice, flood.size() - at);
        sent += socket->send(std::span(flood).subspan(at, n));
        std::this_thread::sleep_for(10ms);
      }
    });
    flooding = false;
  });
  int proxied = 0;
  int tried = 0;
  for (; tried < 20 && flooding; ++tried) {
    if (proxied_from(kAllowed4)) ++proxied;
  }
  flooder.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(sent.load(), static_cast<std::size_t>(kFlood));
  EXPECT_GT(tried, 0) << "the flood ended before the client tried";
  EXPECT_EQ(proxied, tried);
  EXPECT_TRUE(proxied_from(kAllowed4));

  // Every flood SYN was judged: at most the burst plus the rate over the
  // flood's duration passed, the rest were dropped by the guard.
  const std::uint64_t may_pass = kRate + static_cast<std::uint64_t>(kRate * (seconds + 1));
  const bpf::XdpCounters b = *baseline;
  auto counters = wait_counters(
      [&](const bpf::XdpCounters& c) {
        return c.dropped_rate - b.dropped_rate >= kFlood - may_pass;
      },
      3000ms);
  ASSERT_TRUE(counters.has_value());
  std::printf("flood: %zu SYNs in %.2f s, %d/%d client connections proxied meanwhile, %s\n",
              sent.load(), seconds, proxied, tried, describe(minus(*counters, b)).c_str());
  EXPECT_GE(counters->dropped_rate - b.dropped_rate, kFlood - may_pass) << describe(*counters);
  EXPECT_LE(counters->dropped_rate - b.dropped_rate, static_cast<std::uint64_t>(kFlood))
      << describe(*counters);
  EXPECT_EQ(counters->dropped_deny, 0u);
}

TEST_F(XdpProxyTest, ReloadMovesAnAddressFromAllowToDenyInPlace) {
  integration::write_file(file("allow.txt"), "# clients\n10.77.0.0/24\nfd77::/64\n");
  integration::write_file(file("deny.txt"), "# nobody yet\n");
  ASSERT_EQ(start_proxy(config("allow_file = \"allow.txt\"\ndeny_file = \"deny.txt\"\n")), "");
  const std::uint32_t program = server_device().native_program;
  ASSERT_NE(program, 0u);
  EXPECT_TRUE(proxied_from(kDenied4));  // allowed for now
  EXPECT_TRUE(proxied_from(kDenied6));

  integration::write_file(file("deny.txt"), "10.77.0.3  # moved here\nfd77::3\n");
  proxy_->signal(SIGHUP);
  ASSERT_TRUE(proxy_->wait_for_log("event=xdp_reload result=ok", Deadline::in(5000ms)))
      << proxy_->log();
  EXPECT_TRUE(silently_dropped_from(kDenied4));
  EXPECT_TRUE(silently_dropped_from(kDenied6));
  EXPECT_TRUE(proxied_from(kAllowed4));
  EXPECT_TRUE(proxied_from(kAllowed6));
  // Updated in place: the same program stayed attached all along.
  EXPECT_EQ(server_device().native_program, program);

  // A bad prefix file is refused with its own FILE:LINE:COL; the old lists stay.
  integration::write_file(file("deny.txt"), "10.77.0.3\n10.77.0.2/8\n");
  proxy_->signal(SIGHUP);
  ASSERT_TRUE(proxy_->wait_for_log("event=reload result=failed", Deadline::in(5000ms)));
  EXPECT_NE(proxy_->log().find(file("deny.txt").string() + ":2:1: invalid prefix '10.77.0.2/8'"),
            std::string::npos)
      << proxy_->log();
  EXPECT_TRUE(proxied_from(kAllowed4));
  EXPECT_TRUE(silently_dropped_from(kDenied4));
}

TEST_F(XdpProxyTest, InterfacesCannotChangeOnReload) {
  ASSERT_EQ(start_proxy(config("")), "");
  std::string toml = config("");
  const std::string from = "interfaces = [\"" + topology_.server_if() + "\"]";
  toml.replace(toml.find(from), from.size(), "interfaces = [\"lo\"]");
  integration::write_file(file("proxy.toml"), toml);
  proxy_->signal(SIGHUP);
  EXPECT_TRUE(
      proxy_->wait_for_log("[xdp] interfaces changed; restart to apply", Deadline::in(5000ms)))
      << proxy_->log();
  EXPECT_TRUE(proxied_from(kAllowed4));
}

TEST_F(XdpProxyTest, StaleProgramAfterACrashIsReplacedAndACleanExitDetaches) {
  ASSERT_EQ(start_proxy(config(std::string(kAllowBoth))), "");
  const std::uint32_t crashed = server_device().native_program;
  ASSERT_NE(crashed, 0u);
  proxy_->signal(SIGKILL);
  ASSERT_TRUE(proxy_->wait_exit(5000ms).has_value());
  // The kernel keeps it attached, still filtering, with nobody to detach it.
  EXPECT_EQ(server_device().native_program, crashed);
  EXPECT_TRUE(silently_dropped_from(kDenied4));

  ASSERT_EQ(start_proxy(config(std::string(kAllowBoth))), "");
  EXPECT_TRUE(
      proxy_->wait_for_log(fmt::format("replaced_stale_program={} replaced=atomically", crashed),
                           Deadline::in(20'000ms)))
      << proxy_->log();
  const std::uint32_t now = server_device().native_program;
  EXPECT_NE(now, 0u);
  EXPECT_NE(now, crashed);
  EXPECT_TRUE(proxied_from(kAllowed4));

  proxy_->signal(SIGTERM);
  EXPECT_EQ(proxy_->wait_exit(10'000ms), std::optional<int>(0));
  EXPECT_TRUE(proxy_->log().find("event=xdp_detached") != std::string::npos);
  const bpf::XdpDevice after = server_device();
  EXPECT_EQ(after.native_program, 0u);
  EXPECT_EQ(after.generic_program, 0u);
}

// Under a master, an upgrade (SIGUSR2) starts a worker generation that takes
// the filter over from the old one in one atomic replace: the interface is
// never without it, a denied source stays dropped throughout, and the old
// worker's exit leaves the new program attached.
TEST_F(XdpProxyTest, AnUpgradeHandsTheFilterOverWithoutAGap) {
  std::string toml = config(std::string(kAllowBoth));
  toml.replace(toml.find("[process]\n"), 10, "[process]\nmaster = true\n");
  ASSERT_EQ(start_proxy(toml), "");
  ASSERT_TRUE(proxy_->wait_for_log("event=generation_ready generation=1", Deadline::in(30'000ms)))
      << proxy_->log();
  const std::uint32_t first = server_device().native_program;
  ASSERT_NE(first, 0u);

  std::atomic<bool> done{false};
  std::atomic<int> unfiltered{0};
  std::atomic<int> looks{0};
  std::thread watch([&] {
    while (!done.load()) {
      if (server_device().native_program == 0) ++unfiltered;
      ++looks;
      std::this_thread::sleep_for(1ms);
    }
  });
  proxy_->signal(SIGUSR2);
  const bool ready =
      proxy_->wait_for_log("event=generation_ready generation=2", Deadline::in(30'000ms));
  EXPECT_TRUE(silently_dropped_from(kDenied4));
  const bool drained =
      proxy_->wait_for_log("event=worker_exited generation=1 ", Deadline::in(30'000ms));
  done = true;
  watch.join();
  ASSERT_TRUE(ready) << proxy_->log();
  EXPECT_TRUE(drained) << proxy_->log();
  EXPECT_GT(looks.load(), 10);
  EXPECT_EQ(unfiltered.load(), 0) << "the interface was seen without the filter";
  EXPECT_NE(
      proxy_->log().find(fmt::format("replaced_generation_program={} replaced=atomically", first)),
      std::string::npos)
      << proxy_->log();
  const std::uint32_t second = server_device().native_program;
  EXPECT_NE(second, 0u);
  EXPECT_NE(second, first);
  EXPECT_TRUE(silently_dropped_from(kDenied4));
  EXPECT_TRUE(proxied_from(kAllowed4));

  proxy_->signal(SIGTERM);
  EXPECT_EQ(proxy_->wait_exit(20'000ms), std::optional<int>(0));
  EXPECT_EQ(server_device().native_program, 0u);
}

// [process] user: after the switch every task of the proxy keeps only
// CAP_NET_ADMIN, and that is enough for what the filter does later: a
// reload rewrites its maps through descriptors already held, and the exit
// detaches it (RTM_SETLINK). Both start paths: root switching to nobody,
// and nobody holding the packaged unit's ambient capabilities.
TEST_F(XdpProxyTest, AsAnUnprivilegedUserTheFilterStillReloadsAndDetaches) {
  // nobody reads the config and the prefix files again on SIGHUP.
  std::filesystem::permissions(
      dir_.path(), std::filesystem::perms::others_read | std::filesystem::perms::others_exec,
      std::filesystem::perm_options::add);
  const unsigned uid = ::getpwnam("nobody")->pw_uid;
  const unsigned gid = ::getgrnam("nogroup")->gr_gid;
  for (const bool ambient : {false, true}) {
    SCOPED_TRACE(ambient ? "started as nobody with ambient capabilities" : "started as root");
    std::string binary;
    if (ambient) {
      const std::string launcher = integration::ambient_caps_launcher();
      if (launcher.empty()) GTEST_SKIP() << "needs /usr/sbin/capsh (libcap2-bin)";
      binary = integration::launcher_script(file("ambient-caps.sh"), launcher,
                                            integration::sniproxy_binary());
    }
    integration::write_file(file("deny.txt"), "# nobody yet\n");
    std::string toml =
        config("allow = [\"10.77.0.0/24\", \"fd77::/64\"]\ndeny_file = \"deny.txt\"\n");
    const std::string root_allowed = "allow_root = true";
    toml.replace(toml.find(root_allowed), root_allowed.size(),
                 "user = \"nobody\"\ngroup = \"nogroup\"");
    ASSERT_EQ(start_proxy(toml, binary), "");
    // The switch is logged by the supervisor just after the ports answer:
    // wait for the line (read at once, it was missing once under ASan on 2
    // cores).
    EXPECT_TRUE(proxy_->wait_for_log("event=privileges user=nobody",
                                     integration::Deadline::in(std::chrono::milliseconds(5000))))
        << proxy_->log();
    EXPECT_TRUE(proxy_->log().find("kept_caps=cap_net_admin\n") != std::string::npos)
        << proxy_->log();
    EXPECT_TRUE(proxied_from(kDenied4));
    integration::expect_every_task(proxy_->pid(), uid, gid, "0000000000001000", 2);

    integration::write_file(file("deny.txt"), "10.77.0.3\n");
    proxy_->signal(SIGHUP);
    ASSERT_TRUE(proxy_->wait_for_log("event=xdp_reload result=ok", Deadline::in(5000ms)))
        << proxy_->log();
    EXPECT_TRUE(silently_dropped_from(kDenied4));
    EXPECT_TRUE(proxied_from(kAllowed4));

    proxy_->signal(SIGTERM);
    EXPECT_EQ(proxy_->wait_exit(10'000ms), std::optional<int>(0));
    const bpf::XdpDevice after = server_device();
    EXPECT_EQ(after.native_program, 0u) << "the filter must not outlive the proxy";
    EXPECT_EQ(after.generic_program, 0u);
    proxy_.reset();
  }
}

TEST_F(XdpProxyTest, StaleGenericProgramIsReplacedWhenNativeIsWanted) {
  ASSERT_EQ(start_proxy(config("mode = \"generic\"\n")), "");
  ASSERT_TRUE(proxy_->wait_for_log("mode=generic requested=generic", Deadline::in(20'000ms)));
  const std::uint32_t crashed = server_device().generic_program;
  ASSERT_NE(crashed, 0u);
  proxy_->signal(SIGKILL);
  ASSERT_TRUE(proxy_->wait_exit(5000ms).has_value());

  ASSERT_EQ(start_proxy(config("mode = \"native\"\n")), "");
  // The killed proxy's listening socket can outlive it briefly (io_uring
  // closes it in the background), so the readiness probe may have reached
  // that one: wait for the new proxy's attach line, compile included.
  ASSERT_TRUE(
      proxy_->wait_for_log(fmt::format("mode=native requested=native replaced_stale_program={} "
                                       "replaced=detach_then_attach",
                                       crashed),
                           Deadline::in(20'000ms)))
      << proxy_->log();
  const bpf::XdpDevice device = server_device();
  EXPECT_EQ(device.generic_program, 0u);
  EXPECT_NE(device.native_program, 0u);
}

TEST_F(XdpProxyTest, SomeoneElsesProgramIsNeverReplaced) {
  // Another XDP program (the feature probe's) on the interface, attached by
  // this test process, which holds it.
  auto module = bpf::Module::load(bpf::ProgramSet{"other", {"probe.bpf.c"}, {}, {}});
  ASSERT_TRUE(module.ok()) << module.error().message;
  std::optional<bpf::Attachment> other;
  integration::run_in(topology_.server_ns(), [&] {
    auto attached = (*module)->attach_xdp(topology_.server_if(), "probe_xdp", bpf::XdpMode::native);
    if (attached.ok()) {
      other = std::move(*attached);
    } else {
      ADD_FAILURE() << attached.error().message;
    }
  });
  ASSERT_TRUE(other.has_value());
  const std::uint32_t theirs = server_device().native_program;
  ASSERT_NE(theirs, 0u);

  auto result = run_proxy_to_exit(config(std::string(kAllowBoth)));
  EXPECT_EQ(result.exit_code, std::optional<int>(1));
  EXPECT_NE(result.err.find(fmt::format("event=startup result=failed detail=\"XDP: interface {}: "
                                        "another XDP program, 'probe_xdp' (id {}, native mode), is "
                                        "attached and is not sniproxy's, so it is left alone",
                                        topology_.server_if(), theirs)),
            std::string::npos)
      << result.err;
  EXPECT_EQ(server_device().native_program, theirs);
  other.reset();  // detaches through the netlink socket of the server namespace
  EXPECT_EQ(server_device().native_program, 0u);
}

TEST_F(XdpProxyTest, AttachFailureIsAClearStartupError) {
  std::string toml = config("");
  const std::string from = "interfaces = [\"" + topology_.server_if() + "\"]";
  toml.replace(toml.find(from), from.size(), "interfaces = [\"nosuch0\"]");
  auto result = run_proxy_to_exit(toml);
  EXPECT_EQ(result.exit_code, std::optional<int>(1));
  EXPECT_NE(result.err.find("event=startup result=failed detail=\"XDP: interface nosuch0: no "
                            "network interface nosuch0"),
            std::string::npos)
      << result.err;
}

TEST_F(XdpProxyTest, AutoModeFallsBackToGenericOnLoopbackAndSaysWhy) {
  std::string toml = config("");
  const std::string from = "interfaces = [\"" + topology_.server_if() + "\"]";
  toml.replace(toml.find(from), from.size(), "interfaces = [\"lo\"]");
  ASSERT_EQ(start_proxy(toml), "");
  EXPECT_TRUE(
      proxy_->wait_for_log("event=xdp_attached interface=lo mode=generic requested=auto "
                           "native_error=",
                           Deadline::in(20'000ms)))
      << proxy_->log();
  EXPECT_TRUE(proxied_from(kAllowed4));
}

}  // namespace
}  // namespace sniproxy::xdp_test
