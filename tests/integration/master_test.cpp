// [process] master = true with the real binary: a master process holds the
// listening sockets and runs the proxy in worker processes. Upgrades
// (SIGUSR2) and reloads that change listeners or workers start a new worker
// generation beside the old one; clients see nothing of it: none refused,
// reset or cut short, every transfer byte-exact. A generation that fails
// leaves the old one serving; a worker that dies is replaced.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "support/admin_client.hpp"
#include "support/backend_behaviours.hpp"
#include "support/pattern.hpp"
#include "support/planned_duplex.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

constexpr const char* kName = "gen.test";

// The proxy's own processes: the master's children.
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  std::ifstream in(fmt::format("/proc/{}/task/{}/children", parent, parent));
  pid_t pid = 0;
  while (in >> pid) out.push_back(pid);
  return out;
}

// What the clients of a load saw go wrong, by kind.
struct LoadTally {
  std::atomic<int> ok{0};
  std::atomic<int> refused{0};  // connect failed
  std::atomic<int> broken{0};   // reset, cut short or wrong bytes
  std::mutex mutex;
  std::string first_problem;  // under mutex
  void problem(const std::string& what) {
    std::lock_guard lock(mutex);
    if (first_problem.empty()) first_problem = what;
  }
};

// One short connection: hello, 64 bytes each way checked, close.
enum class Exchange { ok, refused, broken };
Exchange short_exchange(std::uint16_t port, std::uint64_t seed, std::string* problem = nullptr) {
  auto c = connect_tcp(loopback(port), Deadline::in(milliseconds(3000)));
  if (!c.fd) {
    if (problem) *problem = fmt::format("connect: {}", std::strerror(c.error));
    return Exchange::refused;
  }
  const ExchangePlan plan{.up_seed = seed, .up_bytes = 64, .down_seed = seed + 1, .down_bytes = 64};
  const DuplexPlan mine{.send_seed = plan.up_seed,
                        .send_bytes = plan.up_bytes,
                        .receive_seed = plan.down_seed,
                        .receive_bytes = plan.down_bytes};
  const Deadline d = Deadline::in(milliseconds(10'000));
  if (!send_plan(c.fd.get(), hello_for(kName), plan, d)) {
    if (problem) *problem = "sending the hello failed";
    return Exchange::broken;
  }
  const DuplexResult r = run_client_side(c.fd.get(), plan, d);
  if (r.complete(mine)) return Exchange::ok;
  if (problem)
    *problem = fmt::format("{} after {} bytes sent, {} received (port {})", to_string(r.status),
                           r.sent, r.received, local_endpoint(c.fd.get()).port);
  return Exchange::broken;
}

// Short exchanges one after another at up to `per_second`, until `stop`.
void run_short_load(std::uint16_t port, int per_second, const std::atomic<bool>& stop,
                    LoadTally& tally) {
  const auto gap = std::chrono::microseconds(1'000'000 / per_second);
  auto next = Clock::now();
  std::uint64_t seed = 1000;
  while (!stop.load()) {
    next += gap;
    std::string problem;
    switch (short_exchange(port, seed += 2, &problem)) {
      case Exchange::ok:
        ++tally.ok;
        break;
      case Exchange::refused:
        ++tally.refused;
        tally.problem(problem);
        break;
      case Exchange::broken:
        ++tally.broken;
        tally.problem(problem);
        break;
    }
    std::this_thread::sleep_until(next);
  }
}

// One download of `bytes` read at about `rate` bytes/s, checked byte for
// byte: long enough to be in flight across the generation changes.
struct Download {
  std::uint64_t received = 0;
  bool exact = false;
  std::string problem;
};
Download paced_download(std::uint16_t port, std::uint64_t seed, std::uint64_t bytes,
                        std::uint64_t rate) {
  Download out;
  auto c = connect_tcp(loopback(port), Deadline::in(milliseconds(3000)));
  if (!c.fd) {
    out.problem = "connect failed";
    return out;
  }
  const Deadline d = Deadline::in(milliseconds(60'000));
  const ExchangePlan plan{
      .up_seed = seed, .up_bytes = 0, .down_seed = seed + 1, .down_bytes = bytes};
  if (!send_plan(c.fd.get(), hello_for(kName), plan, d)) {
    out.problem = "sending the hello failed";
    return out;
  }
  ::shutdown(c.fd.get(), SHUT_WR);
  PatternChecker check(seed + 1);
  std::vector<std::uint8_t> chunk(256 * 1024);
  const auto start = Clock::now();
  while (!d.expired()) {
    const ssize_t n = ::recv(c.fd.get(), chunk.data(), chunk.size(), 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd p{c.fd.get(), POLLIN, 0};
        ::poll(&p, 1, 100);
        continue;
      }
      out.problem = fmt::format("recv: {}", std::strerror(errno));
      break;
    }
    check.consume({chunk.data(), static_cast<std::size_t>(n)});
    // Pace: sleep until the bytes so far are due at `rate`.
    const auto due = start + std::chrono::microseconds(check.bytes() * 1'000'000 / rate);
    std::this_thread::sleep_until(due);
  }
  out.received = check.bytes();
  out.exact = out.problem.empty() && out.received == bytes && !check.first_mismatch();
  if (check.first_mismatch()) out.problem = fmt::format("mismatch at {}", *check.first_mismatch());
  return out;
}

class MasterTest : public ProxyTest {
 protected:
  ConfigSpec master_config() {
    ConfigSpec spec = base_config();
    spec.process += "master = true\n";
    spec.shutdown_timeout = "20s";
    return spec;
  }

  // Starts the master and waits for its first generation.
  void start_master(ConfigSpec& spec, const std::vector<RouteSpec>& routes) {
    ASSERT_NO_FATAL_FAILURE(start_routing(spec, routes));
    ASSERT_TRUE(proxy_->wait_for_log("event=generation_ready generation=1",
                                     Deadline::in(milliseconds(60'000))))
        << proxy_->log();
  }

  bool wait_ready(int generation) {
    return proxy_->wait_for_log(fmt::format("event=generation_ready generation={}", generation),
                                Deadline::in(milliseconds(60'000)));
  }
  bool wait_drained(int generation) {
    return proxy_->wait_for_log(fmt::format("event=worker_exited generation={} ", generation),
                                Deadline::in(milliseconds(60'000)));
  }
};

TEST_P(MasterTest, UpgradeTwiceUnderLoadLosesNoClient) {
  auto tally = std::make_shared<ExchangeTally>();
  Backend backend(planned_exchange_handler(tally));
  ConfigSpec spec = master_config();
  ASSERT_NO_FATAL_FAILURE(start_master(spec, {route(kName, backend)}));
  const std::uint16_t port = listener_port();
  const pid_t first_worker = children_of(proxy_->pid()).at(0);

  std::atomic<bool> stop{false};
  LoadTally load;
  std::vector<std::thread> clients;
  for (int i = 0; i < 2; ++i) clients.emplace_back([&] { run_short_load(port, 150, stop, load); });
  constexpr std::uint64_t kDownload = 64ull << 20;
  std::vector<Download> downloads(4);
  std::vector<std::thread> transfers;
  for (std::size_t i = 0; i < downloads.size(); ++i)
    transfers.emplace_back([&, i] {
      // 64 MiB over about 6 s: in flight across both upgrades.
      downloads[i] = paced_download(port, 100 + 10 * i, kDownload, 11 << 20);
    });

  std::this_thread::sleep_for(milliseconds(700));
  proxy_->signal(SIGUSR2);
  EXPECT_TRUE(wait_ready(2)) << proxy_->log();
  std::this_thread::sleep_for(milliseconds(300));
  proxy_->signal(SIGUSR2);
  EXPECT_TRUE(wait_ready(3)) << proxy_->log();
  std::this_thread::sleep_for(milliseconds(500));
  stop = true;
  for (auto& t : clients) t.join();
  for (auto& t : transfers) t.join();

  EXPECT_GT(load.ok.load(), 200);
  EXPECT_EQ(load.refused.load(), 0) << load.first_problem;
  EXPECT_EQ(load.broken.load(), 0) << load.first_problem;
  for (const auto& d : downloads) {
    EXPECT_TRUE(d.exact) << d.problem << " after " << d.received << " bytes";
  }
  EXPECT_EQ(tally->mismatched.load(), 0u);
  EXPECT_EQ(tally->incomplete.load(), 0u);
  // Each old generation drains and exits; the newest serves alone.
  EXPECT_TRUE(wait_drained(1)) << proxy_->log();
  EXPECT_TRUE(wait_drained(2)) << proxy_->log();
  const auto workers = children_of(proxy_->pid());
  ASSERT_EQ(workers.size(), 1u);
  EXPECT_NE(workers[0], first_worker);
}

SNIPROXY_INSTANTIATE_FOR_MODES(MasterTest);

// What the master does, whatever the forwarding mode: run once.
class MasterControlTest : public MasterTest {
 protected:
  std::string config_with(ConfigSpec spec, const std::vector<RouteSpec>& routes) {
    spec.table("default") = routes;
    return spec.to_toml();
  }
};

// A SIGHUP whose config adds a listener and changes `workers` cannot be
// taken in place: a new generation binds nothing twice, serves both
// listeners, and the old one drains.
TEST_P(MasterControlTest, ReloadWithANewListenerAndWorkerCountStartsAGeneration) {
  auto tally = std::make_shared<ExchangeTally>();
  Backend backend(planned_exchange_handler(tally));
  ConfigSpec spec = master_config();
  ASSERT_NO_FATAL_FAILURE(start_master(spec, {route(kName, backend)}));
  const std::uint16_t port = listener_port();
  std::atomic<bool> stop{false};
  LoadTally load;
  std::vector<std::thread> clients;
  for (int i = 0; i < 2; ++i) clients.emplace_back([&] { run_short_load(port, 150, stop, load); });
  std::vector<Download> downloads(4);
  std::vector<std::thread> transfers;
  for (std::size_t i = 0; i < downloads.size(); ++i)
    transfers.emplace_back(
        [&, i] { downloads[i] = paced_download(port, 200 + 10 * i, 64ull << 20, 16 << 20); });
  std::this_thread::sleep_for(milliseconds(700));

  ConfigSpec next = spec;
  next.workers = 3;
  ListenerSpec second = next.listeners.at(0);
  second.name = "second";
  second.port = free_port();
  next.listeners.push_back(second);
  rewrite_config(config_with(next, {route(kName, backend)}));
  proxy_->signal(SIGHUP);
  EXPECT_TRUE(wait_ready(2)) << proxy_->log();
  EXPECT_NE(proxy_->log().find("reason=\"reload: "), std::string::npos) << proxy_->log();
  std::this_thread::sleep_for(milliseconds(700));
  stop = true;
  for (auto& t : clients) t.join();
  for (auto& t : transfers) t.join();
  EXPECT_GT(load.ok.load(), 100);
  EXPECT_EQ(load.refused.load(), 0) << load.first_problem;
  EXPECT_EQ(load.broken.load(), 0) << load.first_problem;
  for (const auto& d : downloads) EXPECT_TRUE(d.exact) << d.problem << " after " << d.received;
  EXPECT_EQ(tally->mismatched.load(), 0u);
  EXPECT_EQ(tally->incomplete.load(), 0u);
  EXPECT_TRUE(wait_drained(1)) << proxy_->log();

  // The new listener serves too.
  EXPECT_EQ(short_exchange(second.port, 1), Exchange::ok);
  EXPECT_NE(proxy_->log().find("workers=3"), std::string::npos);
}

// The admin endpoint's socket is the master's too: it answers before, during
// and after an upgrade, from whichever generation accepts.
TEST_P(MasterControlTest, TheAdminEndpointAnswersAcrossAnUpgrade) {
  RecordingBackend backend;
  ConfigSpec spec = master_config();
  const std::uint16_t admin = free_port();
  spec.extra += fmt::format("[admin]\nlisten = \"127.0.0.1:{}\"\n", admin);
  ASSERT_NO_FATAL_FAILURE(start_master(spec, {route(kName, backend)}));
  EXPECT_EQ(http_get(admin, "/status").status, 200);
  proxy_->signal(SIGUSR2);
  int answered = 0;
  int asked = 0;
  const Deadline until = Deadline::in(milliseconds(30'000));
  while (!(proxy_->log().find("event=worker_exited generation=1 ") != std::string::npos) &&
         !until.expired()) {
    ++asked;
    if (http_get(admin, "/status").status == 200) ++answered;
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_TRUE((proxy_->log().find("event=worker_exited generation=1 ") != std::string::npos))
      << proxy_->log();
  EXPECT_EQ(answered, asked);
  EXPECT_GT(asked, 0);
  const HttpAnswer after = http_get(admin, "/status");
  EXPECT_EQ(after.status, 200);
  EXPECT_NE(after.body.find("\"listeners\""), std::string::npos) << after.body;
}

// A config that does not load and a binary that does not start: the
// serving generation goes on, and says why the new one failed.
TEST_P(MasterControlTest, AFailedGenerationLeavesTheOldOneServing) {
  // The master runs a copy of the binary, so the test can break it.
  const auto binary = dir_.file("sniproxy");
  std::filesystem::copy_file(sniproxy_binary(), binary);
  proxy_binary_ = binary.string();
  auto tally = std::make_shared<ExchangeTally>();
  Backend backend(planned_exchange_handler(tally));
  ConfigSpec spec = master_config();
  ASSERT_NO_FATAL_FAILURE(start_master(spec, {route(kName, backend)}));
  const std::uint16_t port = listener_port();
  const std::string good = read_file(config_path());

  rewrite_config(good + "\n[oops\n");
  proxy_->signal(SIGUSR2);
  EXPECT_TRUE(
      proxy_->wait_for_log("event=upgrade result=failed", Deadline::in(milliseconds(10'000))))
      << proxy_->log();

  rewrite_config(good);
  // Replaced as a package upgrade does: a new file renamed over the old.
  const auto broken = dir_.file("sniproxy.new");
  {
    std::ofstream out(broken);
    out << "#!/bin/sh\necho broken build >&2\nexit 3\n";
  }
  std::filesystem::permissions(broken, std::filesystem::perms::owner_all);
  std::filesystem::rename(broken, binary);
  proxy_->signal(SIGHUP);  // the binary changed: a reload starts a generation
  EXPECT_TRUE(proxy_->wait_for_log("event=generation_failed generation=2",
                                   Deadline::in(milliseconds(10'000))))
      << proxy_->log();
  EXPECT_NE(proxy_->log().find("exit status 3 before it was ready"), std::string::npos);
  EXPECT_NE(proxy_->log().find("serving=1"), std::string::npos);

  EXPECT_EQ(short_exchange(port, 1), Exchange::ok) << "the first generation stopped serving";
  EXPECT_EQ(children_of(proxy_->pid()).size(), 1u);
}

// A worker that dies is replaced; clients that came meanwhile waited in the
// master's backlog instead of being refused.
TEST_P(MasterControlTest, ADeadWorkerIsReplaced) {
  auto tally = std::make_shared<ExchangeTally>();
  Backend backend(planned_exchange_handler(tally));
  ConfigSpec spec = master_config();
  ASSERT_NO_FATAL_FAILURE(start_master(spec, {route(kName, backend)}));
  const auto workers = children_of(proxy_->pid());
  ASSERT_EQ(workers.size(), 1u);
  ::kill(workers[0], SIGKILL);
  // Once it is gone (a client its ring had accepted as it was killed is
  // lost with it, as with any process killed): a client now waits in the
  // master's backlog until the next worker takes it.
  ASSERT_TRUE(
      proxy_->wait_for_log("event=worker_exited generation=1", Deadline::in(milliseconds(5000))));
  EXPECT_EQ(short_exchange(listener_port(), 1), Exchange::ok) << proxy_->log();
  EXPECT_TRUE(wait_ready(2)) << proxy_->log();
  EXPECT_NE(proxy_->log().find("detail=unexpected"), std::string::npos);
  EXPECT_NE(proxy_->log().find("reason=restart"), std::string::npos);
}

// SIGTERM to the master drains the worker and ends both.
TEST_P(MasterControlTest, SigtermStopsMasterAndWorker) {
  RecordingBackend backend;
  ConfigSpec spec = master_config();
  spec.shutdown_timeout = "2s";
  ASSERT_NO_FATAL_FAILURE(start_master(spec, {route(kName, backend)}));
  const pid_t worker = children_of(proxy_->pid()).at(0);
  proxy_->signal(SIGTERM);
  auto code = proxy_->wait_exit(milliseconds(10'000));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  EXPECT_NE(::kill(worker, 0), 0) << "the worker outlived its master";
}

INSTANTIATE_TEST_SUITE_P(Copy, MasterControlTest, ::testing::Values(std::string("copy")),
                         mode_name);

}  // namespace
}  // namespace sniproxy::integration
