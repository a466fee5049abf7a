// preconnect on a route: each worker keeps spare connected sockets per
// backend address, and a routed client's hello goes out on one at once. The
// real binary in every forwarding mode: a spare carries the next client's
// bytes exactly and is replaced; a spare the backend closed is skipped; and
// spares unused for preconnect_idle are closed and, without clients, not
// replaced.
#include <fmt/format.h>
#include <poll.h>

#include <chrono>
#include <thread>

#include "support/access_log.hpp"
#include "support/admin_client.hpp"
#include "support/backend_behaviours.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

// Echoes a connection that sends within `patience`; closes one that does
// not (a server's timeout for connections that send nothing).
BackendHandler impatient_echo(milliseconds patience) {
  return [patience, echo = echo_handler()](BackendConnection& c) {
    if (!wait_for(c.fd.get(), POLLIN, c.within(patience))) return;  // closed by the fd's end
    echo(c);
  };
}

class PreconnectTest : public ProxyTest {
 protected:
  void start_preconnect_proxy(const std::string& backend, int spares,
                              const std::string& idle = "10s") {
    admin_port_ = free_port();
    ConfigSpec spec = base_config();
    spec.workers = 1;
    spec.timeouts_extra = fmt::format("preconnect_idle = \"{}\"\n", idle);
    spec.extra = fmt::format(
        "[admin]\nlisten = \"127.0.0.1:{}\"\n\n"
        "[[tables.default]]\nmatch = \"a.example\"\nbackend = \"{}\"\npreconnect = {}\n",
        admin_port_, backend, spares);
    start_proxy(spec, {admin_port_});
  }

  // A hello and `payload` more bytes through to an echo and back exactly,
  // then the half-close carried both ways. The client's port, 0 on failure.
  std::uint16_t echoed_exactly(std::size_t payload) {
    UniqueFd c = connect_to(listener_port());
    if (!c) return 0;
    const std::uint16_t port = local_endpoint(c.get()).port;
    std::vector<std::uint8_t> sent = hello_for("a.example");
    for (std::size_t i = 0; i < payload; ++i) sent.push_back(static_cast<std::uint8_t>(i * 13));
    const bool sent_ok = send_all(c.get(), sent, Deadline::in(milliseconds(3000))) == IoStatus::ok;
    std::vector<std::uint8_t> back;
    const bool back_ok =
        read_exact(c.get(), sent.size(), back, Deadline::in(milliseconds(5000))) == IoStatus::ok;
    shutdown_write(c.get());
    const ReadAll rest = read_until_closed(c.get(), Deadline::in(milliseconds(5000)));
    const bool ok = sent_ok && back_ok && back == sent && rest.bytes.empty();
    EXPECT_TRUE(ok) << "sent " << sent.size() << ", back " << back.size() << " + "
                    << rest.bytes.size();
    return ok ? port : 0;
  }

  [[nodiscard]] double preconnect(const std::string& result) {
    const Scrape s = parse_exposition(http_get(admin_port_, "/metrics").body);
    return s.at(fmt::format("sniproxy_preconnect_total{{result=\"{}\"}}", result));
  }

  std::uint16_t admin_port_ = 0;
};

TEST_P(PreconnectTest, ASpareCarriesTheNextClientExactlyAndIsReplaced) {
  Backend backend(echo_handler());
  start_preconnect_proxy(backend.address(), 2);
  if (HasFatalFailure()) return;
  // The first client finds no spare (it connects itself) and sets two up.
  EXPECT_NE(echoed_exactly(1000), 0);
  EXPECT_TRUE(backend.wait_accepted(3, Deadline::in(milliseconds(3000))));
  EXPECT_EQ(preconnect("missed"), 1);
  // The next ones go out on spares, each replaced as it is taken.
  const std::uint16_t second = echoed_exactly(300'000);
  EXPECT_NE(second, 0);
  EXPECT_NE(echoed_exactly(10), 0);
  EXPECT_EQ(preconnect("used"), 2);
  EXPECT_TRUE(backend.wait_accepted(5, Deadline::in(milliseconds(3000))));
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(backend.accepted(), 5);  // 3 clients' connections, 2 spares waiting
  auto entry = access_entry(second);
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["outcome"], "ok");
  EXPECT_EQ((*entry)["bytes_in"], std::to_string(hello_for("a.example").size() + 300'000));
  EXPECT_EQ((*entry)["bytes_out"], std::to_string(hello_for("a.example").size() + 300'000));
}

TEST_P(PreconnectTest, ASpareTheBackendClosedIsSkipped) {
  Backend backend(impatient_echo(milliseconds(150)));
  start_preconnect_proxy(backend.address(), 1);
  if (HasFatalFailure()) return;
  EXPECT_NE(echoed_exactly(100), 0);
  EXPECT_TRUE(backend.wait_accepted(2, Deadline::in(milliseconds(3000))));
  // The backend gives up on the silent spare; the next client is not sent
  // into it but connects by itself.
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_NE(echoed_exactly(100), 0);
  EXPECT_EQ(preconnect("stale"), 1);
  EXPECT_EQ(preconnect("used"), 0);
  EXPECT_EQ(preconnect("missed"), 2);
}

TEST_P(PreconnectTest, UnusedSparesExpireAndAreNotReplacedWithoutClients) {
  Backend backend(echo_handler());
  start_preconnect_proxy(backend.address(), 2, "300ms");
  if (HasFatalFailure()) return;
  EXPECT_NE(echoed_exactly(100), 0);
  EXPECT_TRUE(backend.wait_accepted(3, Deadline::in(milliseconds(3000))));
  std::this_thread::sleep_for(milliseconds(1200));
  EXPECT_EQ(preconnect("expired"), 2);
  EXPECT_EQ(backend.accepted(), 3);
}

SNIPROXY_INSTANTIATE_FOR_MODES(PreconnectTest);

}  // namespace
}  // namespace sniproxy::integration
