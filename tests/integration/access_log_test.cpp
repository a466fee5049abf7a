// The access log: one line per connection with what moved each way.
#include "support/backend_behaviours.hpp"
#include "support/pattern.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

class AccessLogTest : public ProxyTest {
 protected:
  struct Exchange {
    std::uint16_t client_port = 0;
    std::size_t sent = 0;      // client -> backend, hello included
    std::size_t received = 0;  // backend -> client
  };

  // The client sends hello + 1000 bytes and half-closes; the backend reads
  // it all, answers 5000 bytes and closes.
  Exchange exchange(std::uint16_t port) {
    Exchange e;
    UniqueFd c = connect_to(port);
    if (!c) return e;
    e.client_port = local_endpoint(c.get()).port;
    auto bytes = hello_for("log.test");
    auto body = pattern_bytes(1, 1000);
    bytes.insert(bytes.end(), body.begin(), body.end());
    EXPECT_EQ(send_all(c.get(), bytes, Deadline::in(milliseconds(3000))), IoStatus::ok);
    e.sent = bytes.size();
    shutdown_write(c.get());
    auto r = read_until_closed(c.get(), Deadline::in(milliseconds(5000)));
    EXPECT_EQ(r.status, IoStatus::eof);
    e.received = r.bytes.size();
    EXPECT_EQ(e.received, 5000u);
    return e;
  }

  static BackendHandler answer_after_eof() {
    return [](BackendConnection& c) {
      const Deadline d = c.within(milliseconds(10'000));
      auto r = read_until_closed(c.fd.get(), d);
      if (r.status == IoStatus::eof) send_all(c.fd.get(), pattern_bytes(2, 5000), d);
    };
  }
};

TEST_P(AccessLogTest, TextLineHasCountsAndOutcome) {
  Backend backend(answer_after_eof());
  ASSERT_NO_FATAL_FAILURE(start_routing({route("log.test", backend)}));
  Exchange ex = exchange(listener_port());
  ASSERT_NE(ex.client_port, 0);
  auto entry = access_entry(ex.client_port);
  ASSERT_TRUE(entry) << "no access-log line for client port " << ex.client_port;
  auto& e = *entry;
  EXPECT_EQ(e["event"], "access");
  EXPECT_EQ(e["client"], "127.0.0.1:" + std::to_string(ex.client_port));
  EXPECT_EQ(e["listener"], "tls");
  EXPECT_EQ(e["server_name"], "log.test");
  EXPECT_EQ(e["backend"], backend.address());
  EXPECT_EQ(e["bytes_in"], std::to_string(ex.sent));
  EXPECT_EQ(e["bytes_out"], std::to_string(ex.received));
  EXPECT_EQ(e["outcome"], "ok");
  // auto names what it chose: this short exchange stays copied. The client
  // here sends its hello and shuts down at once, so a sockmap insert finds
  // its socket in CLOSE_WAIT, which the kernel refuses: the connection falls
  // back to splice and says so.
  if (GetParam() == "sockmap")
    EXPECT_TRUE(e["mode"] == "sockmap" || e["mode"] == "sockmap/splice") << e["mode"];
  else
    EXPECT_EQ(e["mode"], GetParam() == "auto" ? "auto/copy" : GetParam());
  EXPECT_TRUE(e.contains("ts"));
  ASSERT_TRUE(e.contains("duration_ms"));
  EXPECT_GE(std::stoll(e["duration_ms"]), 0);
}

TEST_P(AccessLogTest, OneLinePerConnection) {
  Backend backend(answer_after_eof());
  ASSERT_NO_FATAL_FAILURE(start_routing({route("log.test", backend)}));
  std::vector<std::uint16_t> ports;
  for (int i = 0; i < 5; ++i) ports.push_back(exchange(listener_port()).client_port);
  for (auto p : ports) ASSERT_TRUE(access_entry(p)) << "no line for client port " << p;
  int lines_for_ours = 0;
  for (const auto& line : split_lines(read_file(access_log_path()))) {
    auto e = parse_access_line(line);
    for (auto p : ports)
      if (e["client"] == "127.0.0.1:" + std::to_string(p)) ++lines_for_ours;
  }
  EXPECT_EQ(lines_for_ours, 5);
}

TEST_P(AccessLogTest, JsonLineParsesAsAnObjectWithTheSameKeys) {
  Backend backend(answer_after_eof());
  ConfigSpec spec = base_config();
  spec.access_log_format = "json";
  ASSERT_NO_FATAL_FAILURE(start_routing(spec, {route("log.test", backend)}));
  Exchange ex = exchange(listener_port());
  auto line = wait_access_line(access_log_path(), ex.client_port, Deadline::in(milliseconds(5000)));
  ASSERT_TRUE(line) << "no access-log line for client port " << ex.client_port;
  EXPECT_EQ(line->front(), '{') << *line;
  EXPECT_EQ(line->back(), '}') << *line;
  auto has = [&](const std::string& fragment) {
    // Tolerate a space after the colon.
    std::string spaced = fragment;
    auto colon = spaced.find("\":");
    if (colon != std::string::npos) spaced.insert(colon + 2, " ");
    return line->find(fragment) != std::string::npos || line->find(spaced) != std::string::npos;
  };
  EXPECT_TRUE(has("\"outcome\":\"ok\"")) << *line;
  EXPECT_TRUE(has("\"bytes_in\":" + std::to_string(ex.sent))) << *line;
  EXPECT_TRUE(has("\"bytes_out\":" + std::to_string(ex.received))) << *line;
  EXPECT_TRUE(has("\"server_name\":\"log.test\"")) << *line;
  EXPECT_TRUE(has("\"client\":\"127.0.0.1:" + std::to_string(ex.client_port) + "\"")) << *line;
}

TEST_P(AccessLogTest, RefusedConnectionsAreLoggedWithTheirOutcome) {
  ASSERT_NO_FATAL_FAILURE(start_routing({{.match = "denied.test", .deny = true}}));
  for (const auto& [name, outcome] : std::vector<std::pair<std::string, std::string>>{
           {"denied.test", "denied"}, {"other.test", "no_route"}}) {
    UniqueFd c = connect_to(listener_port());
    ASSERT_TRUE(c);
    const std::uint16_t client_port = local_endpoint(c.get()).port;
    const auto hello = hello_for(name);
    ASSERT_EQ(send_all(c.get(), hello, Deadline::in(milliseconds(3000))), IoStatus::ok);
    read_until_closed(c.get(), Deadline::in(milliseconds(3000)));
    auto entry = access_entry(client_port);
    ASSERT_TRUE(entry) << name;
    EXPECT_EQ((*entry)["outcome"], outcome) << name;
    EXPECT_EQ((*entry)["server_name"], name);
    EXPECT_EQ((*entry)["backend"], "-");
  }
}

SNIPROXY_INSTANTIATE_FOR_MODES(AccessLogTest);

}  // namespace
}  // namespace sniproxy::integration
