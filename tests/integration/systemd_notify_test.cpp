// Type=notify: the proxy tells systemd (through $NOTIFY_SOCKET) when its
// listeners accept, when a reload starts and ends, and how long its drain
// may take. The test plays systemd with a datagram socket of its own.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

#include "support/backend_behaviours.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

// A bound AF_UNIX datagram socket: one datagram per sd_notify call.
class NotifySocket {
 public:
  explicit NotifySocket(std::filesystem::path path) : path_(std::move(path)) {
    fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    bound_ = fd_ && path_.string().size() < sizeof(addr.sun_path) &&
             ::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  [[nodiscard]] bool bound() const { return bound_; }
  [[nodiscard]] std::string env() const { return "NOTIFY_SOCKET=" + path_.string(); }

  // The next datagram, or "" when none came before the deadline.
  std::string next(Deadline deadline) {
    while (!deadline.expired()) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), 0);
      if (n > 0) return std::string(buf, static_cast<std::size_t>(n));
    }
    return "";
  }
  // Skips datagrams until one holds `needle`; returns it, or "".
  std::string next_with(std::string_view needle, Deadline deadline) {
    for (std::string m = next(deadline); !m.empty(); m = next(deadline))
      if (m.find(needle) != std::string::npos) return m;
    return "";
  }

 private:
  std::filesystem::path path_;
  UniqueFd fd_;
  bool bound_ = false;
};

// The lines of a notify message (the last one has no newline).
std::vector<std::string> lines_of(const std::string& message) {
  return split_lines(message + "\n");
}

// The value of KEY= in a notify message ("" if absent).
std::string field(const std::string& message, const std::string& key) {
  for (const auto& line : lines_of(message))
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  return "";
}

bool has_line(const std::string& message, const std::string& line) {
  for (const auto& l : lines_of(message))
    if (l == line) return true;
  return false;
}

class SystemdNotifyTest : public ProxyTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(notify_.bound()) << "cannot bind " << dir_.file("notify.sock");
    proxy_env_ = {notify_.env()};
  }
  ConfigSpec echo_config(const Backend& backend) {
    ConfigSpec spec = base_config();
    spec.table("default").push_back({.match = "notify.test", .backend = backend.address()});
    return spec;
  }
  // Fails the test unless the proxy said READY=1 (after start_proxy).
  void expect_ready() {
    const std::string m = notify_.next_with("READY=1", Deadline::in(milliseconds(5000)));
    ASSERT_FALSE(m.empty()) << "no READY=1; log:\n" << proxy_->log();
    EXPECT_EQ(field(m, "MAINPID"), std::to_string(proxy_->pid())) << m;
  }
  NotifySocket notify_{dir_.file("notify.sock")};
};

TEST_P(SystemdNotifyTest, ReadyOnceTheListenersAccept) {
  Backend backend(echo_handler());
  ConfigSpec spec = echo_config(backend);
  spec.listeners.push_back(ListenerSpec{.name = "second", .port = free_port()});
  ASSERT_NO_FATAL_FAILURE(start_proxy(spec));
  const std::string m = notify_.next(Deadline::in(milliseconds(5000)));
  ASSERT_TRUE(has_line(m, "READY=1")) << "the first message is not READY=1: " << m;
  EXPECT_EQ(field(m, "MAINPID"), std::to_string(proxy_->pid())) << m;
  // Listening since before READY: both accept now, and nothing else was said.
  for (auto port : spec.ports()) EXPECT_TRUE(connect_to(port));
  EXPECT_EQ(notify_.next(Deadline::in(milliseconds(300))), "");
}

TEST_P(SystemdNotifyTest, ReloadingThenReadyAroundAGoodAndABadReload) {
  Backend backend(echo_handler());
  ConfigSpec spec = echo_config(backend);
  ASSERT_NO_FATAL_FAILURE(start_proxy(spec));
  ASSERT_NO_FATAL_FAILURE(expect_ready());

  proxy_->signal(SIGHUP);
  std::string m = notify_.next(Deadline::in(milliseconds(5000)));
  EXPECT_TRUE(has_line(m, "RELOADING=1")) << m;
  EXPECT_FALSE(field(m, "MONOTONIC_USEC").empty()) << m;
  m = notify_.next(Deadline::in(milliseconds(5000)));
  EXPECT_TRUE(has_line(m, "READY=1")) << "after a good reload: " << m;
  EXPECT_TRUE(proxy_->wait_for_log("event=reload result=ok", Deadline::in(milliseconds(1000))));

  rewrite_config(spec.to_toml() + "\nthis is not toml\n");
  proxy_->signal(SIGHUP);
  m = notify_.next(Deadline::in(milliseconds(5000)));
  EXPECT_TRUE(has_line(m, "RELOADING=1")) << m;
  m = notify_.next(Deadline::in(milliseconds(5000)));
  EXPECT_TRUE(has_line(m, "READY=1")) << "after a failed reload: " << m;
  EXPECT_NE(field(m, "STATUS").find("failed"), std::string::npos) << m;
  EXPECT_TRUE(proxy_->wait_for_log("event=reload result=failed", Deadline::in(milliseconds(1000))));
  EXPECT_TRUE(proxy_->running());
}

TEST_P(SystemdNotifyTest, StoppingExtendsTheTimeoutByTheDrain) {
  Backend backend(echo_handler());
  ConfigSpec spec = echo_config(backend);
  spec.shutdown_timeout = "3s";
  ASSERT_NO_FATAL_FAILURE(start_proxy(spec));
  ASSERT_NO_FATAL_FAILURE(expect_ready());

  // A forwarding connection holds the drain open.
  UniqueFd c = connect_echoed(spec.listeners[0].port, "notify.test");
  ASSERT_TRUE(c);

  proxy_->signal(SIGTERM);
  const std::string m = notify_.next(Deadline::in(milliseconds(5000)));
  EXPECT_TRUE(has_line(m, "STOPPING=1")) << m;
  const std::string usec = field(m, "EXTEND_TIMEOUT_USEC");
  ASSERT_FALSE(usec.empty()) << m;
  // At least the 3 s drain, and not unbounded.
  EXPECT_GE(std::stoll(usec), 3'000'000) << m;
  EXPECT_LE(std::stoll(usec), 60'000'000) << m;
  EXPECT_TRUE(proxy_->running()) << "the held connection should keep the drain open";

  shutdown_write(c.get());
  EXPECT_EQ(read_until_closed(c.get(), Deadline::in(milliseconds(5000))).status, IoStatus::eof);
  c.reset();
  auto code = proxy_->wait_exit(milliseconds(5000));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
}

// Under a master, systemd hears the master only (its main process): READY=1
// once the first worker generation is, and RELOADING=1 ... READY=1 around a
// SIGHUP the worker takes in place and around an upgrade.
TEST_P(SystemdNotifyTest, AMasterSpeaksForItsWorkers) {
  Backend backend(echo_handler());
  ConfigSpec spec = echo_config(backend);
  spec.process += "master = true\n";
  ASSERT_NO_FATAL_FAILURE(start_proxy(spec));
  std::string m = notify_.next(Deadline::in(milliseconds(30'000)));
  ASSERT_TRUE(has_line(m, "READY=1")) << "the first message is not READY=1: " << m;
  EXPECT_EQ(field(m, "MAINPID"), std::to_string(proxy_->pid())) << m;
  EXPECT_NE(field(m, "STATUS").find("generation 1"), std::string::npos) << m;

  proxy_->signal(SIGHUP);  // nothing changed: taken in place by the worker
  m = notify_.next(Deadline::in(milliseconds(5000)));
  EXPECT_TRUE(has_line(m, "RELOADING=1")) << m;
  m = notify_.next(Deadline::in(milliseconds(5000)));
  EXPECT_TRUE(has_line(m, "READY=1")) << "after an in-place reload: " << m;
  EXPECT_EQ(field(m, "MAINPID"), std::to_string(proxy_->pid())) << m;
  EXPECT_TRUE(proxy_->wait_for_log("event=reload result=ok", Deadline::in(milliseconds(1000))));

  proxy_->signal(SIGUSR2);
  m = notify_.next(Deadline::in(milliseconds(5000)));
  EXPECT_TRUE(has_line(m, "RELOADING=1")) << m;
  m = notify_.next(Deadline::in(milliseconds(30'000)));
  EXPECT_TRUE(has_line(m, "READY=1")) << "after an upgrade: " << m;
  EXPECT_NE(field(m, "STATUS").find("generation 2"), std::string::npos) << m;
  EXPECT_EQ(field(m, "MAINPID"), std::to_string(proxy_->pid())) << m;
  // Nothing the workers say reaches systemd (their drain's STOPPING=1).
  EXPECT_EQ(notify_.next(Deadline::in(milliseconds(500))), "");
}

INSTANTIATE_TEST_SUITE_P(Copy, SystemdNotifyTest, ::testing::Values(std::string("copy")),
                         mode_name);

}  // namespace
}  // namespace sniproxy::integration
