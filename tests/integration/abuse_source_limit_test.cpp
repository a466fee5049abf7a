// [limits] max_connections_per_source: the connection past the limit from
// one address is refused with a reset and logged as outcome=limit, while
// another source address is still served, and a freed slot is usable again.
#include <cstring>
#include <thread>

#include "support/backend_behaviours.hpp"
#include "support/client_crowd.hpp"
#include "support/proxy_fixture.hpp"
#include "support/proxy_health.hpp"

namespace sniproxy::integration {
namespace {

constexpr int kPerSource = 4;

class SourceLimitTest : public ProxyTest {
 protected:
  // A connection from `source` that completed its hello and got the
  // backend's greeting: the proxy has certainly counted it.
  UniqueFd served_from(const IpAddress& source, std::uint16_t port) {
    auto c = connect_from(source, loopback(port), Deadline::in(milliseconds(3000)));
    if (!c.fd) return UniqueFd();
    if (send_all(c.fd.get(), hello_for("limit.test"), Deadline::in(milliseconds(3000))) !=
        IoStatus::ok)
      return UniqueFd();
    std::vector<std::uint8_t> got;
    if (read_exact(c.fd.get(), 1, got, Deadline::in(milliseconds(3000))) != IoStatus::ok)
      return UniqueFd();
    return std::move(c.fd);
  }
};

TEST_P(SourceLimitTest, ConnectionPastThePerSourceLimitIsResetAndOthersAreServed) {
  RecordingBackend backend("g");
  ConfigSpec spec = base_config();
  spec.extra += "[limits]\nmax_connections_per_source = " + std::to_string(kPerSource) + "\n";
  ASSERT_NO_FATAL_FAILURE(start_routing(spec, {route("limit.test", backend)}));
  const std::uint16_t port = listener_port();
  const IpAddress first = IpAddress::v4(127, 0, 0, 1);
  const IpAddress second = IpAddress::v4(127, 0, 0, 2);

  std::vector<UniqueFd> held;
  for (int i = 0; i < kPerSource; ++i) {
    held.push_back(served_from(first, port));
    ASSERT_TRUE(held.back()) << "connection " << i << " within the limit was not served";
  }

  // One more from 127.0.0.1: TCP completes in the kernel, then the proxy
  // refuses it with a reset before reading anything -- often before this
  // side has even looked at its connect, so the reset is read, not waited
  // for as a connect result.
  UniqueFd over = begin_connect(first, loopback(port));
  ASSERT_TRUE(over) << std::strerror(errno);
  const std::uint16_t over_port = local_endpoint(over.get()).port;
  const auto refused = read_until_closed(over.get(), Deadline::in(milliseconds(3000)));
  EXPECT_EQ(refused.status, IoStatus::reset) << to_string(refused.status);
  auto entry = access_entry(over_port);
  ASSERT_TRUE(entry) << "no access-log line for the refused connection";
  EXPECT_EQ((*entry)["outcome"], "limit");
  EXPECT_EQ((*entry)["detail"], "max_connections_per_source");

  // Another source address is counted on its own.
  UniqueFd other = served_from(second, port);
  EXPECT_TRUE(other) << "a connection from 127.0.0.2 was not served";

  // Closing one held connection frees its slot.
  held.pop_back();
  const Deadline freed = Deadline::in(milliseconds(3000));
  UniqueFd again;
  while (!again && !freed.expired()) {
    again = served_from(first, port);  // the close may not have reached the proxy yet
    if (!again) std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_TRUE(again) << "a freed per-source slot was not given to a new connection";

  expect_alive_and_quiet(*proxy_);
  expect_clean_exit_on_sigterm(*proxy_);
}

// Admission happens at accept, before any forwarding: one mode suffices.
INSTANTIATE_TEST_SUITE_P(Copy, SourceLimitTest, ::testing::Values(std::string("copy")), mode_name);

}  // namespace
}  // namespace sniproxy::integration
