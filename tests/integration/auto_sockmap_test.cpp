// mode = "auto" with auto_sockmap = true: a long-lived exchange of small
// messages moves to the sockmap (proxy/exchange_watch.hpp), both directions
// at once, and loses, doubles or reorders nothing, also with both ends
// sending while it moves; without the key nothing loads the sockmap and
// such a connection stays copied. (Streams still move to splice:
// auto_mode_test.cpp.)
#include <atomic>
#include <thread>

#include "support/backend_behaviours.hpp"
#include "support/pattern.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

constexpr std::size_t kMessage = 64;

// Sends `bytes` in pieces of `piece` with a short pause after each, so the
// other end's bytes interleave with them for a while.
IoStatus send_in_pieces(int fd, std::span<const std::uint8_t> bytes, std::size_t piece,
                        Deadline d) {
  for (std::size_t at = 0; at < bytes.size(); at += piece) {
    const IoStatus s = send_all(fd, bytes.subspan(at, std::min(piece, bytes.size() - at)), d);
    if (s != IoStatus::ok) return s;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return IoStatus::ok;
}

// `count` round trips of kMessage-byte messages through an echo, each
// checked; messages are numbered from `first`.
void round_trips(int fd, int first, int count, Deadline d) {
  std::vector<std::uint8_t> back;
  for (int i = first; i < first + count; ++i) {
    const auto message = pattern_bytes(static_cast<std::uint64_t>(i), kMessage);
    ASSERT_EQ(send_all(fd, message, d), IoStatus::ok) << i;
    back.clear();
    ASSERT_EQ(read_exact(fd, kMessage, back, d), IoStatus::ok) << i;
    ASSERT_EQ(back, message) << i;
  }
}

class AutoSockmapTest : public ProxyTest {
 protected:
  void start(bool auto_sockmap, const Backend& backend) {
    ConfigSpec spec = base_config();
    if (auto_sockmap) spec.forwarding_extra = "auto_sockmap = true\n";
    ASSERT_NO_FATAL_FAILURE(start_routing(spec, {route("chat.test", backend)}));
  }
  // A client whose hello went to a backend that does not echo it, then
  // `count` round trips; its port in `client_port`.
  UniqueFd chatting_client(int count, Deadline d, std::uint16_t& client_port) {
    UniqueFd c = connect_to(listener_port());
    if (!c) return c;
    client_port = local_endpoint(c.get()).port;
    EXPECT_EQ(send_all(c.get(), hello_for("chat.test"), d), IoStatus::ok);
    round_trips(c.get(), 0, count, d);
    return c;
  }
};

// A chatty client through an echo backend: the hello, `count` round trips,
// then a half-close and the echo's EOF. Returns the client's port.
std::uint16_t chat(UniqueFd c, int count) {
  const std::uint16_t port = local_endpoint(c.get()).port;
  const auto hello = hello_for("chat.test");
  const Deadline d = Deadline::in(milliseconds(10'000));
  std::vector<std::uint8_t> back;
  EXPECT_EQ(send_all(c.get(), hello, d), IoStatus::ok);
  EXPECT_EQ(read_exact(c.get(), hello.size(), back, d), IoStatus::ok);
  round_trips(c.get(), 0, count, d);
  if (::testing::Test::HasFatalFailure()) return port;
  shutdown_write(c.get());
  EXPECT_EQ(read_until_closed(c.get(), d).status, IoStatus::eof);
  return port;
}

TEST_P(AutoSockmapTest, ChattyConnectionMovesToSockmapIntactAndClosesCleanly) {
  constexpr int kRoundTrips = 250;
  Backend backend(echo_handler());
  ASSERT_NO_FATAL_FAILURE(start(true, backend));
  const std::uint16_t port = chat(connect_to(listener_port()), kRoundTrips);
  if (HasFatalFailure()) return;
  auto entry = access_entry(port);
  ASSERT_TRUE(entry) << "no access-log line for client port " << port;
  EXPECT_EQ((*entry)["mode"], "auto/sockmap") << proxy_->log();
  EXPECT_EQ((*entry)["outcome"], "ok");
  // Every byte each way, once: the copied ones before the move and the
  // kernel's after it (the echo sends the hello back too).
  const std::size_t each_way = hello_for("chat.test").size() + kRoundTrips * kMessage;
  EXPECT_EQ((*entry)["bytes_in"], std::to_string(each_way));
  EXPECT_EQ((*entry)["bytes_out"], std::to_string(each_way));
  const std::string log = proxy_->log();
  EXPECT_NE(log.find("event=sockmap_ready"), std::string::npos) << log;
  EXPECT_NE(log.find("event=forwarding_auto listeners=tls policy=\"copy; sockmap for both "
                     "directions once the connection's traffic has turned 16 times"),
            std::string::npos)
      << log;
}

// What the backend of the simultaneous test saw.
struct BothWays {
  std::atomic<bool> intact{false};  // every byte from the client, in order
  std::atomic<bool> eof{false};     // then the client's end of stream
};

constexpr int kPingsBefore = 7;  // 13 turns: the move comes during the burst
constexpr int kPingsAfter = 20;
constexpr std::size_t kBurst = 40'000;
constexpr std::size_t kPiece = 100;

BackendHandler both_ways_backend(std::shared_ptr<BothWays> seen) {
  return [seen](BackendConnection& c) {
    const Deadline d = c.within(milliseconds(10'000));
    const int fd = c.fd.get();
    std::vector<std::uint8_t> in;
    auto echo = [&](int count) {
      for (int i = 0; i < count; ++i) {
        in.clear();
        if (read_exact(fd, kMessage, in, d) != IoStatus::ok) return false;
        if (send_all(fd, in, d) != IoStatus::ok) return false;
      }
      return true;
    };
    if (read_exact(fd, hello_for("chat.test").size(), in, d) != IoStatus::ok) return;
    if (!echo(kPingsBefore)) return;
    const auto mine = pattern_bytes(2, kBurst);
    std::thread sender([&] { send_in_pieces(fd, mine, kPiece, d); });
    in.clear();
    const bool burst_ok =
        read_exact(fd, kBurst, in, d) == IoStatus::ok && in == pattern_bytes(1, kBurst);
    sender.join();
    if (!burst_ok || !echo(kPingsAfter)) return;
    seen->intact = true;
    seen->eof = read_until_closed(fd, d).status == IoStatus::eof;
    shutdown_write(fd);
  };
}

TEST_P(AutoSockmapTest, BothEndsSendingAtOnceNearTheMoveLoseAndReorderNothing) {
  auto seen = std::make_shared<BothWays>();
  Backend backend(both_ways_backend(seen));
  ASSERT_NO_FATAL_FAILURE(start(true, backend));
  const Deadline d = Deadline::in(milliseconds(10'000));
  std::uint16_t port = 0;
  UniqueFd c = chatting_client(kPingsBefore, d, port);
  ASSERT_TRUE(c);
  if (HasFatalFailure()) return;
  const auto hello = hello_for("chat.test");
  const auto mine = pattern_bytes(1, kBurst);
  IoStatus sent = IoStatus::error;
  std::thread sender([&] { sent = send_in_pieces(c.get(), mine, kPiece, d); });
  std::vector<std::uint8_t> theirs;
  const IoStatus got = read_exact(c.get(), kBurst, theirs, d);
  sender.join();
  ASSERT_EQ(sent, IoStatus::ok);
  ASSERT_EQ(got, IoStatus::ok);
  ASSERT_TRUE(theirs == pattern_bytes(2, kBurst)) << "the backend's burst arrived altered";
  ASSERT_NO_FATAL_FAILURE(round_trips(c.get(), 100, kPingsAfter, d));
  shutdown_write(c.get());
  EXPECT_EQ(read_until_closed(c.get(), d).status, IoStatus::eof);
  c.reset();

  auto entry = access_entry(port);
  ASSERT_TRUE(entry) << "no access-log line for client port " << port;
  EXPECT_TRUE(seen->intact) << "the client's bytes arrived altered";
  EXPECT_TRUE(seen->eof) << "the backend did not see the client's end of stream";
  EXPECT_EQ((*entry)["mode"], "auto/sockmap") << proxy_->log();
  const std::size_t pings = (kPingsBefore + kPingsAfter) * kMessage;
  EXPECT_EQ((*entry)["bytes_in"], std::to_string(hello.size() + pings + kBurst));
  EXPECT_EQ((*entry)["bytes_out"], std::to_string(pings + kBurst));
}

TEST_P(AutoSockmapTest, BackendEndingFirstAfterTheMoveClosesCleanly) {
  // The backend echoes, then ends its side first with a last message in
  // front of its FIN; the client reads to that end, then ends its own.
  constexpr int kRoundTrips = 40;
  const auto last = pattern_bytes(9, 1000);
  auto seen = std::make_shared<BothWays>();
  Backend backend([seen, &last](BackendConnection& c) {
    const Deadline d = c.within(milliseconds(10'000));
    const int fd = c.fd.get();
    std::vector<std::uint8_t> in;
    if (read_exact(fd, hello_for("chat.test").size(), in, d) != IoStatus::ok) return;
    for (int i = 0; i < kRoundTrips; ++i) {
      in.clear();
      if (read_exact(fd, kMessage, in, d) != IoStatus::ok || send_all(fd, in, d) != IoStatus::ok)
        return;
    }
    if (send_all(fd, last, d) != IoStatus::ok) return;
    shutdown_write(fd);
    seen->intact = true;
    seen->eof = read_until_closed(fd, d).status == IoStatus::eof;
  });
  ASSERT_NO_FATAL_FAILURE(start(true, backend));
  const Deadline d = Deadline::in(milliseconds(10'000));
  std::uint16_t port = 0;
  UniqueFd c = chatting_client(kRoundTrips, d, port);
  ASSERT_TRUE(c);
  if (HasFatalFailure()) return;
  const auto hello = hello_for("chat.test");
  const auto rest = read_until_closed(c.get(), d);
  EXPECT_EQ(rest.status, IoStatus::eof);
  EXPECT_TRUE(rest.bytes == last) << "the last message did not arrive whole before the end";
  shutdown_write(c.get());
  c.reset();

  auto entry = access_entry(port);
  ASSERT_TRUE(entry) << "no access-log line for client port " << port;
  // The backend notes the end on its own thread, maybe after the log line.
  for (int i = 0; i < 300 && !seen->eof; ++i) std::this_thread::sleep_for(milliseconds(10));
  EXPECT_TRUE(seen->eof) << "the backend did not see the client's end of stream";
  EXPECT_EQ((*entry)["mode"], "auto/sockmap") << proxy_->log();
  EXPECT_EQ((*entry)["outcome"], "ok");
  EXPECT_EQ((*entry)["bytes_in"], std::to_string(hello.size() + kRoundTrips * kMessage));
  EXPECT_EQ((*entry)["bytes_out"], std::to_string(kRoundTrips * kMessage + last.size()));
}

TEST_P(AutoSockmapTest, WithoutTheKeyNothingLoadsAndChattyStaysCopied) {
  constexpr int kRoundTrips = 200;
  Backend backend(echo_handler());
  ASSERT_NO_FATAL_FAILURE(start(false, backend));
  const std::uint16_t port = chat(connect_to(listener_port()), kRoundTrips);
  if (HasFatalFailure()) return;
  auto entry = access_entry(port);
  ASSERT_TRUE(entry) << "no access-log line for client port " << port;
  EXPECT_EQ((*entry)["mode"], "auto/copy");
  const std::string log = proxy_->log();
  EXPECT_EQ(log.find("event=sockmap"), std::string::npos) << log;
  EXPECT_NE(log.find("event=forwarding_auto listeners=tls policy=\"copy, then splice"),
            std::string::npos)
      << log;
}

INSTANTIATE_TEST_SUITE_P(Auto, AutoSockmapTest, ::testing::Values(std::string("auto")), mode_name);

}  // namespace
}  // namespace sniproxy::integration
