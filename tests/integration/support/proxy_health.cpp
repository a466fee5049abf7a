#include "proxy_health.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace sniproxy::integration {

std::uint64_t cpu_time_ms(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces; fields are counted after its ')'.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  std::uint64_t utime = 0, stime = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) {
      stime = std::stoull(field);
      break;
    }
  }
  const long ticks = ::sysconf(_SC_CLK_TCK);
  return (utime + stime) * 1000 / static_cast<std::uint64_t>(ticks > 0 ? ticks : 100);
}

std::uint64_t resident_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

int open_fds(pid_t pid) {
  std::error_code ec;
  int n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

double cpu_share_over(pid_t pid, milliseconds period) {
  const std::uint64_t before = cpu_time_ms(pid);
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(period);
  const std::uint64_t after = cpu_time_ms(pid);
  const auto wall = std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
  return wall > 0 ? static_cast<double>(after - before) / static_cast<double>(wall) : 0.0;
}

std::uint64_t raise_own_fd_limit(std::uint64_t wanted) {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < wanted) {
    rlimit raised{wanted, std::max<rlim_t>(rl.rlim_max, wanted)};
    if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
      raised.rlim_cur = rl.rlim_max;  // not root: take what the hard limit allows
      raised.rlim_max = rl.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &raised);
    }
  }
  ::getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

std::uint64_t sanitizer_slack_kib() {
#if defined(__SANITIZE_ADDRESS__)
  return 320 * 1024;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return 320 * 1024;
#else
  return 0;
#endif
#else
  return 0;
#endif
}

void expect_alive_and_quiet(ProxyProcess& proxy, milliseconds quiet, double max_cpu_share) {
  ASSERT_TRUE(proxy.running()) << "sniproxy died";
  const double share = cpu_share_over(proxy.pid(), quiet);
  std::fprintf(stderr, "proxy CPU while quiet: %.1f%% of one core over %lld ms\n", share * 100,
               static_cast<long long>(quiet.count()));
  EXPECT_LT(share, max_cpu_share) << "sniproxy spins while nothing is asked of it";
  EXPECT_TRUE(proxy.running()) << "sniproxy died";
}

void expect_clean_exit_on_sigterm(ProxyProcess& proxy) {
  proxy.signal(SIGTERM);
  const auto code = proxy.wait_exit(milliseconds(10'000));
  ASSERT_TRUE(code.has_value()) << "sniproxy still running 10 s after SIGTERM";
  EXPECT_EQ(*code, 0) << "sniproxy exit code after SIGTERM";
}

}  // namespace sniproxy::integration
