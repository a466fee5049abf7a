// bpf::LocalRedirect on real loopback connections: the sock_ops program on
// the cgroup inserts both ends of a connection to a listed endpoint, the
// sk_msg program moves every send into the peer's receive queue, and no
// byte is lost or reordered, also across the switch to TCP. Every transfer
// is bounded in bytes and time.
#include "bpf/local_redirect.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

#include <gtest/gtest.h>

#include "bpf/cgroup_mount.hpp"
#include "bpf/socket_info.hpp"
#include "sockmap_sockets.hpp"
#include "test_support.hpp"

namespace sniproxy::bpf {
namespace local_redirect_test {

using namespace std::chrono_literals;
using testing::first_mismatch;
using testing::read_and_check;
using testing::write_pattern;

constexpr std::uint64_t kMiB = 1 << 20;

TEST(CgroupMount, FindsTheCgroup2LineAndDecodesItsPath) {
  const char* mountinfo =
      "25 30 0:23 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n"
      "35 25 0:30 / /sys/fs/cgroup/memory rw,relatime shared:13 - cgroup cgroup rw,memory\n"
      "40 30 0:37 / /sys/fs/cgroup/my\\040cgroups rw,relatime shared:9 - cgroup2 cgroup2 rw\n";
  EXPECT_EQ(find_cgroup2_mount(mountinfo), "/sys/fs/cgroup/my cgroups");
  EXPECT_EQ(find_cgroup2_mount("35 25 0:30 / /x rw - cgroup cgroup rw\n"), std::nullopt);
  EXPECT_EQ(find_cgroup2_mount(""), std::nullopt);
  EXPECT_EQ(find_cgroup2_mount("garbage\n- cgroup2\n"), std::nullopt);
}

// One instance for the suite: each compile costs about half a second.
LocalRedirect* shared_redirect() {
  static std::unique_ptr<LocalRedirect> redirect = [] {
    auto created = LocalRedirect::create({.max_sockets = 256, .load = {}, .cgroup = {}});
    EXPECT_TRUE(created.ok()) << created.error().message;
    return created.ok() ? std::move(*created) : nullptr;
  }();
  return redirect.get();
}

struct Listener {
  UniqueFd fd;
  Endpoint endpoint;
};

Listener listen_on(const char* address) {
  auto ip = IpAddress::parse(address);
  EXPECT_TRUE(ip.has_value());
  Endpoint endpoint{*ip, 0};
  sockaddr_storage storage{};
  socklen_t length = endpoint.to_sockaddr(storage);
  UniqueFd fd(::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) != 0 ||
      ::listen(fd.get(), 8) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    ADD_FAILURE() << "listener on " << address << ": " << std::strerror(errno);
  }
  return {std::move(fd), *Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&storage))};
}

// (client, accepted) of a new connection to `listener`.
std::pair<UniqueFd, UniqueFd> connect_to(const Listener& listener) {
  sockaddr_storage storage{};
  socklen_t length = listener.endpoint.to_sockaddr(storage);
  UniqueFd client(::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::connect(client.get(), reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    ADD_FAILURE() << "connect: " << std::strerror(errno);
  }
  UniqueFd accepted(::accept4(listener.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  EXPECT_TRUE(accepted.valid()) << std::strerror(errno);
  return {std::move(client), std::move(accepted)};
}

// Bytes of the connection's stream that arrived through TCP segments.
std::uint64_t tcp_bytes_received(int fd) {
  auto counters = tcp_counters(fd);
  EXPECT_TRUE(counters.ok()) << counters.error().message;
  return counters.ok() ? counters->bytes_received : 0;
}

LocalSendState send_state(LocalRedirect& redirect, int fd) {
  auto state = redirect.send_state(fd);
  EXPECT_TRUE(state.ok()) << state.error().message;
  EXPECT_TRUE(state.ok() && state->has_value()) << "socket " << fd << " never sent in the map";
  return state.ok() && state->has_value() ? **state : LocalSendState{};
}

class LocalRedirectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_UNLESS_ROOT();
    redirect_ = shared_redirect();
    ASSERT_NE(redirect_, nullptr);
  }
  void TearDown() override {
    if (redirect_ != nullptr && listed_) (void)redirect_->remove_endpoint(*listed_);
  }
  Listener listed(const char* address) {
    Listener listener = listen_on(address);
    auto added = redirect_->add_endpoint(listener.endpoint);
    EXPECT_TRUE(added.ok()) << added.error().message;
    listed_ = listener.endpoint;
    return listener;
  }
  bool in_map(int fd) {
    auto found = redirect_->contains(fd);
    EXPECT_TRUE(found.ok()) << found.error().message;
    return found.ok() && *found;
  }

  LocalRedirect* redirect_ = nullptr;
  std::optional<Endpoint> listed_;
};

TEST_F(LocalRedirectTest, BulkBothWaysSkipsTcpAndArrivesInOrder) {
  Listener listener = listed("127.0.0.1");
  auto connection = connect_to(listener);
  UniqueFd& client = connection.first;
  UniqueFd& accepted = connection.second;
  ASSERT_TRUE(in_map(client.get()));
  ASSERT_TRUE(in_map(accepted.get()));

  constexpr std::uint64_t kEachWay = 64 * kMiB;
  std::int64_t at_accepted = 0;
  std::int64_t at_client = 0;
  std::thread upload([&] { write_pattern(client.get(), 1, kEachWay); });
  std::thread download([&] { write_pattern(accepted.get(), 2, kEachWay); });
  std::thread read_up([&] { at_accepted = read_and_check(accepted.get(), 1, kEachWay, 30s); });
  at_client = read_and_check(client.get(), 2, kEachWay, 30s);
  upload.join();
  download.join();
  read_up.join();
  EXPECT_EQ(at_accepted, static_cast<std::int64_t>(kEachWay));
  EXPECT_EQ(at_client, static_cast<std::int64_t>(kEachWay));

  const LocalSendState up = send_state(*redirect_, client.get());
  const LocalSendState down = send_state(*redirect_, accepted.get());
  EXPECT_EQ(up.redirected, kEachWay);
  EXPECT_EQ(down.redirected, kEachWay);
  EXPECT_EQ(up.passed + down.passed, 0u);
  EXPECT_FALSE(up.tcp_used || down.tcp_used);
  // Not one byte of either stream went through a TCP segment.
  EXPECT_EQ(tcp_bytes_received(accepted.get()), 0u);
  EXPECT_EQ(tcp_bytes_received(client.get()), 0u);
}

TEST_F(LocalRedirectTest, TheFinArrivesAfterTheBytesBeforeIt) {
  Listener listener = listed("127.0.0.1");
  auto connection = connect_to(listener);
  UniqueFd& client = connection.first;
  UniqueFd& accepted = connection.second;
  ASSERT_TRUE(in_map(accepted.get()));
  // The reader starts only after the FIN went out: the FIN (through TCP)
  // is then older in the socket than nothing, and still read last.
  ASSERT_EQ(write_pattern(client.get(), 3, 2 * kMiB), 2 * kMiB);
  ASSERT_EQ(::shutdown(client.get(), SHUT_WR), 0);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(read_and_check(accepted.get(), 3, 4 * kMiB, 10s), static_cast<std::int64_t>(2 * kMiB))
      << "every byte, then end of stream";
  // And the other way still works after the half-close.
  std::thread reply([&] { write_pattern(accepted.get(), 4, kMiB); });
  EXPECT_EQ(read_and_check(client.get(), 4, kMiB, 10s), static_cast<std::int64_t>(kMiB));
  reply.join();
}

TEST_F(LocalRedirectTest, OnceABytePassedThroughTcpEveryLaterByteDoesToo) {
  Listener listener = listed("127.0.0.1");
  auto connection = connect_to(listener);
  UniqueFd& client = connection.first;
  UniqueFd& accepted = connection.second;
  ASSERT_TRUE(in_map(accepted.get()));
  // The accepted socket leaves the map: the client's next send finds no
  // peer and goes through TCP, where it waits unread.
  ASSERT_TRUE(redirect_->remove(accepted.get()).ok());
  constexpr std::uint64_t kFirst = 20000;
  constexpr std::uint64_t kSecond = 30000;
  ASSERT_EQ(write_pattern(client.get(), 5, kFirst), kFirst);
  // Back in the map: a redirected send now would be read before the bytes
  // still waiting in the TCP queue. It must go through TCP as well. (Both
  // sends fit the receive buffer, so neither waits for the reader.)
  auto inserted = redirect_->insert(accepted.get());
  ASSERT_TRUE(inserted.ok()) << inserted.error().message;
  std::vector<std::uint8_t> chunk(kSecond);
  testing::fill_pattern(5, kFirst, chunk);
  ASSERT_EQ(::send(client.get(), chunk.data(), chunk.size(), 0), static_cast<ssize_t>(kSecond));
  ASSERT_EQ(::shutdown(client.get(), SHUT_WR), 0);
  EXPECT_EQ(read_and_check(accepted.get(), 5, kMiB, 10s),
            static_cast<std::int64_t>(kFirst + kSecond));
  const LocalSendState up = send_state(*redirect_, client.get());
  EXPECT_TRUE(up.tcp_used);
  EXPECT_EQ(up.redirected, 0u);
  EXPECT_EQ(up.passed, kFirst + kSecond);
}

TEST_F(LocalRedirectTest, AResetStillResetsThePeer) {
  Listener listener = listed("127.0.0.1");
  auto connection = connect_to(listener);
  UniqueFd& client = connection.first;
  UniqueFd& accepted = connection.second;
  ASSERT_TRUE(in_map(accepted.get()));
  ASSERT_EQ(write_pattern(client.get(), 6, 1000), 1000u);
  linger abort{1, 0};
  ASSERT_EQ(::setsockopt(client.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof(abort)), 0);
  client.reset();
  ASSERT_NE(testing::wait_for(accepted.get(), POLLIN, 5s), 0);
  // The reset may discard the unread bytes; what must come is the error.
  char buffer[4096];
  ssize_t n = 0;
  for (int i = 0; i < 4 && (n = ::recv(accepted.get(), buffer, sizeof(buffer), 0)) > 0; ++i) {
  }
  EXPECT_EQ(n, -1);
  EXPECT_EQ(errno, ECONNRESET);
}

TEST_F(LocalRedirectTest, IPv6LoopbackConnectionsAreRedirectedToo) {
  Listener listener = listed("::1");
  auto connection = connect_to(listener);
  UniqueFd& client = connection.first;
  UniqueFd& accepted = connection.second;
  ASSERT_TRUE(in_map(client.get()));
  ASSERT_TRUE(in_map(accepted.get()));
  std::thread upload([&] { write_pattern(client.get(), 7, 4 * kMiB); });
  EXPECT_EQ(read_and_check(accepted.get(), 7, 4 * kMiB, 10s), static_cast<std::int64_t>(4 * kMiB));
  upload.join();
  EXPECT_EQ(send_state(*redirect_, client.get()).redirected, 4 * kMiB);
  EXPECT_EQ(tcp_bytes_received(accepted.get()), 0u);
}

TEST_F(LocalRedirectTest, ConnectionsToOtherEndpointsAreLeftAlone) {
  Listener unlisted = listen_on("127.0.0.1");
  auto connection = connect_to(unlisted);
  UniqueFd& client = connection.first;
  UniqueFd& accepted = connection.second;
  EXPECT_FALSE(in_map(client.get()));
  EXPECT_FALSE(in_map(accepted.get()));
  std::thread upload([&] { write_pattern(client.get(), 8, kMiB); });
  EXPECT_EQ(read_and_check(accepted.get(), 8, kMiB, 10s), static_cast<std::int64_t>(kMiB));
  upload.join();
  auto state = redirect_->send_state(client.get());
  ASSERT_TRUE(state.ok());
  EXPECT_FALSE(state->has_value()) << "the sk_msg program never ran for it";
  EXPECT_EQ(tcp_bytes_received(accepted.get()), kMiB);
}

// Programs of type sock_ops attached to the cgroup (BPF_PROG_QUERY).
std::uint32_t sock_ops_programs(const std::string& cgroup) {
  UniqueFd fd(::open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  bpf_attr attr{};
  attr.query.target_fd = static_cast<std::uint32_t>(fd.get());
  attr.query.attach_type = BPF_CGROUP_SOCK_OPS;
  EXPECT_EQ(::syscall(__NR_bpf, BPF_PROG_QUERY, &attr, sizeof(attr)), 0) << std::strerror(errno);
  return attr.query.prog_cnt;
}

TEST_F(LocalRedirectTest, AProcessKilledWhileAttachedLeavesNothingOnTheCgroup) {
  const std::string cgroup = redirect_->cgroup();
  const std::uint32_t before = sock_ops_programs(cgroup);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto created = LocalRedirect::create({.max_sockets = 16, .load = {}, .cgroup = cgroup});
    const char byte = created.ok() ? 1 : 0;
    (void)::write(ready[1], &byte, 1);
    ::pause();  // killed here, no destructor runs
    ::_exit(0);
  }
  ::close(ready[1]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ::close(ready[0]);
  EXPECT_EQ(byte, 1) << "the child could not attach";
  EXPECT_EQ(sock_ops_programs(cgroup), before + 1);
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  // The link closed with the process; the program left the cgroup with it.
  EXPECT_EQ(sock_ops_programs(cgroup), before);
}

}  // namespace local_redirect_test
}  // namespace sniproxy::bpf
