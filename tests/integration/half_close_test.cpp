// A half-close travels through the proxy: the side that shut down writing
// still receives, and the other side sees EOF while still able to send.
#include <atomic>
#include <thread>

#include "support/backend_behaviours.hpp"
#include "support/pattern.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

class HalfCloseTest : public ProxyTest {
 protected:
  std::uint16_t start_with(Backend& backend) {
    start_routing({route("half.test", backend)});
    return listener_port();
  }
};

TEST_P(HalfCloseTest, ClientShutdownWriteBackendKeepsSending) {
  const auto hello = hello_for("half.test");
  const std::string request = "request body";
  constexpr std::size_t kReply = 1 << 20;
  std::atomic<bool> backend_saw_eof{false};
  Backend backend([&](BackendConnection& c) {
    const Deadline d = c.within(milliseconds(10'000));
    // Everything the client sent, then its EOF, and only then the reply.
    auto r = read_until_closed(c.fd.get(), d);
    if (r.status != IoStatus::eof || r.bytes.size() != hello.size() + request.size()) return;
    backend_saw_eof = true;
    if (send_all(c.fd.get(), pattern_bytes(3, kReply), d) != IoStatus::ok) return;
    c.fd.reset();
  });
  const std::uint16_t port = start_with(backend);
  ASSERT_FALSE(HasFatalFailure());
  UniqueFd c = connect_to(port);
  ASSERT_TRUE(c);
  auto first = hello;
  first.insert(first.end(), request.begin(), request.end());
  ASSERT_EQ(send_all(c.get(), first, Deadline::in(milliseconds(3000))), IoStatus::ok);
  shutdown_write(c.get());
  auto r = read_until_closed(c.get(), Deadline::in(milliseconds(10'000)));
  EXPECT_EQ(r.status, IoStatus::eof);
  EXPECT_TRUE(backend_saw_eof.load());
  EXPECT_EQ(r.bytes.size(), kReply);
  EXPECT_TRUE(r.bytes == pattern_bytes(3, kReply));
}

// The backend's FIN arrives while most of its reply still waits in the
// proxy's path (the client reads only later): the proxy's upstream socket
// then reaches TIME_WAIT with bytes unread, and none may be lost. (A sockmap
// ingress redirect discards them on 6.18; docs/design-notes.md.)
TEST_P(HalfCloseTest, AHalfClosedClientThatReadsLateGetsTheWholeReply) {
  const auto hello = hello_for("half.test");
  constexpr std::size_t kReply = 2 << 20;
  std::atomic<bool> hello_arrived{false};
  std::atomic<bool> reply_sent{false};
  Backend backend([&](BackendConnection& c) {
    const Deadline d = c.within(milliseconds(10'000));
    std::vector<std::uint8_t> got;
    if (read_exact(c.fd.get(), hello.size(), got, d) != IoStatus::ok) return;
    hello_arrived = true;
    if (read_until_closed(c.fd.get(), d).status != IoStatus::eof) return;
    if (send_all(c.fd.get(), pattern_bytes(5, kReply), d) != IoStatus::ok) return;
    c.fd.reset();
    reply_sent = true;
  });
  const std::uint16_t port = start_with(backend);
  ASSERT_FALSE(HasFatalFailure());
  UniqueFd c = connect_to(port);
  ASSERT_TRUE(c);
  ASSERT_EQ(send_all(c.get(), hello, Deadline::in(milliseconds(3000))), IoStatus::ok);
  // The EOF only once forwarding runs (a kernel mode has taken the sockets).
  const Deadline forwarding = Deadline::in(milliseconds(3000));
  while (!hello_arrived && !forwarding.expired()) std::this_thread::sleep_for(milliseconds(5));
  ASSERT_TRUE(hello_arrived.load());
  shutdown_write(c.get());
  // Not reading until the backend has sent everything and closed, or the
  // path between is full (then the rest must wait for this client anyway).
  const Deadline unread = Deadline::in(milliseconds(1000));
  while (!reply_sent && !unread.expired()) std::this_thread::sleep_for(milliseconds(5));
  auto r = read_until_closed(c.get(), Deadline::in(milliseconds(10'000)));
  EXPECT_EQ(r.status, IoStatus::eof);
  EXPECT_EQ(r.bytes.size(), kReply);
  EXPECT_TRUE(r.bytes == pattern_bytes(5, kReply));
}

TEST_P(HalfCloseTest, BackendShutdownWriteClientKeepsSending) {
  const auto hello = hello_for("half.test");
  constexpr std::size_t kUpload = 1 << 20;
  auto rec = std::make_shared<Recording>();
  Backend backend([&, rec](BackendConnection& c) {
    rec->begin(c.index, c.peer);
    const Deadline d = c.within(milliseconds(10'000));
    std::vector<std::uint8_t> got;
    if (read_exact(c.fd.get(), hello.size(), got, d) != IoStatus::ok) return;
    if (send_all(c.fd.get(), "server done", d) != IoStatus::ok) return;
    shutdown_write(c.fd.get());
    // Now only receive: what the client sends after seeing our EOF.
    auto rest = read_until_closed(c.fd.get(), d);
    rec->add(c.index, rest.bytes);
    rec->close(c.index, rest.status);
  });
  const std::uint16_t port = start_with(backend);
  ASSERT_FALSE(HasFatalFailure());
  UniqueFd c = connect_to(port);
  ASSERT_TRUE(c);
  ASSERT_EQ(send_all(c.get(), hello, Deadline::in(milliseconds(3000))), IoStatus::ok);
  auto r = read_until_closed(c.get(), Deadline::in(milliseconds(5000)));
  ASSERT_EQ(r.status, IoStatus::eof) << "the backend's half-close did not arrive as EOF";
  EXPECT_EQ(to_text(r.bytes), "server done");
  ASSERT_EQ(send_all(c.get(), pattern_bytes(4, kUpload), Deadline::in(milliseconds(10'000))),
            IoStatus::ok);
  shutdown_write(c.get());
  auto seen = rec->wait_closed(0, Deadline::in(milliseconds(10'000)));
  EXPECT_TRUE(seen.closed);
  EXPECT_EQ(seen.close_status, IoStatus::eof);
  EXPECT_EQ(seen.bytes.size(), kUpload);
  EXPECT_TRUE(seen.bytes == pattern_bytes(4, kUpload));
}

SNIPROXY_INSTANTIATE_FOR_MODES(HalfCloseTest);

}  // namespace
}  // namespace sniproxy::integration
