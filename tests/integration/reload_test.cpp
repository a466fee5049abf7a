// SIGHUP reloads the config: a good file changes routing for new
// connections while old ones keep going; a bad file changes nothing.
#include <signal.h>

#include <algorithm>
#include <regex>

#include "support/backend_behaviours.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

class ReloadTest : public ProxyTest {
 protected:
  // Routes `name`, sends some bytes through the echo backend, checks them.
  static void expect_echo(int fd, const std::string& text) {
    ASSERT_EQ(send_all(fd, text, Deadline::in(milliseconds(3000))), IoStatus::ok);
    std::vector<std::uint8_t> got;
    ASSERT_EQ(read_exact(fd, text.size(), got, Deadline::in(milliseconds(3000))), IoStatus::ok);
    EXPECT_EQ(to_text(got), text);
  }

  // Opens a connection for `name` and returns it after the backend echoed the hello.
  UniqueFd open_routed(std::uint16_t port, const std::string& name) {
    UniqueFd c = connect_to(port);
    if (!c) return c;
    const auto hello = hello_for(name);
    EXPECT_EQ(send_all(c.get(), hello, Deadline::in(milliseconds(3000))), IoStatus::ok);
    std::vector<std::uint8_t> got;
    EXPECT_EQ(read_exact(c.get(), hello.size(), got, Deadline::in(milliseconds(3000))),
              IoStatus::ok);
    EXPECT_EQ(got, hello);
    return c;
  }

  // True when a hello for `name` is answered with the unrecognized_name alert.
  bool refused_as_unknown(std::uint16_t port, const std::string& name) {
    UniqueFd c = connect_to(port);
    if (!c) return false;
    send_all(c.get(), hello_for(name), Deadline::in(milliseconds(3000)));
    auto r = read_until_closed(c.get(), Deadline::in(milliseconds(3000)));
    return r.bytes == kAlertUnrecognizedName;
  }
};

TEST_P(ReloadTest, GoodFileAddsRouteAndExistingConnectionKeepsWorking) {
  Backend a(echo_handler());
  Backend b(echo_handler());
  ConfigSpec spec = base_config();
  ASSERT_NO_FATAL_FAILURE(start_routing(spec, {route("a.test", a)}));
  const std::uint16_t port = listener_port();

  UniqueFd old_conn = open_routed(port, "a.test");
  ASSERT_TRUE(old_conn);
  expect_echo(old_conn.get(), "before reload");
  EXPECT_TRUE(refused_as_unknown(port, "b.test"));

  spec.table("default").push_back({.match = "b.test", .backend = b.address()});
  rewrite_config(spec.to_toml());
  proxy_->signal(SIGHUP);
  ASSERT_TRUE(proxy_->wait_for_log("event=reload result=ok", Deadline::in(milliseconds(5000))))
      << "no 'event=reload result=ok' in the log";

  UniqueFd new_conn = open_routed(port, "b.test");
  ASSERT_TRUE(new_conn);
  expect_echo(new_conn.get(), "routed by the new table");
  EXPECT_EQ(b.accepted(), 1);
  expect_echo(old_conn.get(), "after reload, same connection");
  EXPECT_EQ(a.accepted(), 1);
}

TEST_P(ReloadTest, BadFileKeepsOldRoutesAndLogsWhere) {
  Backend a(echo_handler());
  Backend b(echo_handler());
  ConfigSpec spec = base_config();
  ASSERT_NO_FATAL_FAILURE(start_routing(spec, {route("a.test", a)}));
  const std::uint16_t port = listener_port();

  // A route for b.test followed by a line that is not TOML.
  spec.table("default").push_back({.match = "b.test", .backend = b.address()});
  std::string bad = spec.to_toml();
  const int bad_line = static_cast<int>(std::count(bad.begin(), bad.end(), '\n')) + 1;
  bad += "this line = = is not toml\n";
  rewrite_config(bad);
  proxy_->signal(SIGHUP);
  ASSERT_TRUE(proxy_->wait_for_log("event=reload result=failed", Deadline::in(milliseconds(5000))))
      << "no 'event=reload result=failed' in the log";
  const std::string where = config_path().string() + ":" + std::to_string(bad_line) + ":";
  EXPECT_TRUE(proxy_->wait_for_log(where, Deadline::in(milliseconds(1000))))
      << "the log does not point at " << where;
  EXPECT_TRUE(std::regex_search(
      proxy_->log(),
      std::regex(std::regex_replace(where, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                 "[0-9]+:")))
      << "no FILE:LINE:COL";
  EXPECT_TRUE(proxy_->running());

  UniqueFd c = open_routed(port, "a.test");
  ASSERT_TRUE(c);
  expect_echo(c.get(), "old routes still in force");
  EXPECT_TRUE(refused_as_unknown(port, "b.test"));
  EXPECT_EQ(b.accepted(), 0);
}

SNIPROXY_INSTANTIATE_FOR_MODES(ReloadTest);

}  // namespace
}  // namespace sniproxy::integration
