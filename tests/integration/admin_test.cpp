// The [admin] endpoint of the real binary: /metrics counts what the proxy
// did (checked against the access log and the bytes the test sent), /status
// describes the process, and the endpoint stays bounded against clients
// that misbehave.
#include <fmt/format.h>
#include <signal.h>
#include <sys/utsname.h>

#include <thread>

#include "support/admin_client.hpp"
#include "support/backend_behaviours.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

class AdminTest : public ProxyTest {
 protected:
  std::uint16_t admin_port_ = free_port();

  ConfigSpec admin_config(const std::string& admin_extra = "") {
    ConfigSpec spec = base_config();
    spec.table("default").push_back({.match = "denied.test", .deny = true});
    spec.extra += fmt::format("[admin]\nlisten = \"127.0.0.1:{}\"\n{}\n", admin_port_, admin_extra);
    return spec;
  }
  void start_with_admin(const ConfigSpec& spec) { start_proxy(spec, {admin_port_}); }
  Scrape scrape() {
    HttpAnswer a = http_get(admin_port_, "/metrics");
    EXPECT_EQ(a.status, 200) << a.head;
    EXPECT_NE(a.head.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
    Scrape s = parse_exposition(a.body);
    EXPECT_TRUE(s.problems.empty()) << s.problems.front();
    return s;
  }
  // Runs a Python expression over the /status JSON document `doc`.
  std::string json_field(const std::string& json, const std::string& expression) {
    write_file(dir_.file("status.json"), json);
    auto r = run_command(
        "/usr/bin/python3",
        {"-c", "import json,sys; doc=json.load(open(sys.argv[1])); print(" + expression + ")",
         dir_.file("status.json").string()},
        dir_.path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    if (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
    return r.out;
  }
};

TEST_P(AdminTest, MetricsCountAProxiedConnectionLikeTheAccessLog) {
  RecordingBackend backend("hello from the backend");
  ConfigSpec spec = admin_config();
  spec.table("default").push_back({.match = "a.test", .backend = backend.address()});
  ASSERT_NO_FATAL_FAILURE(start_with_admin(spec));
  const std::uint16_t port = spec.listeners[0].port;
  // The start-up probe connected to every port: count from when the proxy
  // has accepted and closed it.
  Scrape before = scrape();
  for (int i = 0; i < 150; ++i) {
    if (before.at("sniproxy_connections_accepted_total{listener=\"tls\"}") >= 1 &&
        before.at("sniproxy_connections_active{listener=\"tls\"}") == 0)
      break;
    std::this_thread::sleep_for(milliseconds(20));
    before = scrape();
  }

  UniqueFd c = connect_to(port);
  ASSERT_TRUE(c);
  const std::uint16_t client_port = local_endpoint(c.get()).port;
  auto hello = build_client_hello({.server_name = "a.test"});
  const std::string payload(10'000, 'x');
  hello.insert(hello.end(), payload.begin(), payload.end());
  ASSERT_EQ(send_all(c.get(), hello, Deadline::in(milliseconds(3000))), IoStatus::ok);
  std::vector<std::uint8_t> greeting;
  ASSERT_EQ(read_exact(c.get(), 22, greeting, Deadline::in(milliseconds(3000))), IoStatus::ok);
  backend.recording().wait_bytes(0, hello.size(), Deadline::in(milliseconds(3000)));
  c.reset();
  auto entry = access_entry(client_port);
  ASSERT_TRUE(entry);

  // A hello that is not TLS at all: counted by reason.
  UniqueFd bad = connect_to(port);
  ASSERT_EQ(
      send_all(bad.get(), std::string("GET / HTTP/1.1\r\n\r\n"), Deadline::in(milliseconds(3000))),
      IoStatus::ok);
  read_until_closed(bad.get(), Deadline::in(milliseconds(3000)));

  // The second connection's end is counted once the proxy wrote its log line.
  ASSERT_TRUE(wait_access_line(access_log_path(), local_endpoint(bad.get()).port,
                               Deadline::in(milliseconds(5000))));
  Scrape s = scrape();
  EXPECT_EQ(s.since(before, "sniproxy_connections_accepted_total{listener=\"tls\"}"), 2);
  EXPECT_EQ(s.at("sniproxy_connections_active{listener=\"tls\"}"), 0);
  EXPECT_EQ(s.since(before, "sniproxy_connections_closed_total{listener=\"tls\",outcome=\"" +
                                (*entry)["outcome"] + "\"}"),
            1);
  EXPECT_EQ(s.at("sniproxy_connections_closed_total{listener=\"tls\",outcome=\"hello_rejected\"}"),
            1);
  EXPECT_EQ(s.at("sniproxy_hello_failures_total{reason=\"not_tls\"}"), 1);
  EXPECT_EQ(s.at("sniproxy_route_connections_total{table=\"default\",route=\"a.test\"}"), 1);
  // Bytes: the access log's figures, and what the test sent.
  const double in = std::stod((*entry)["bytes_in"]);
  EXPECT_EQ(in, static_cast<double>(hello.size()));
  EXPECT_EQ(s.at("sniproxy_route_bytes_total{table=\"default\",route=\"a.test\",direction=\""
                 "client_to_backend\"}"),
            in);
  EXPECT_EQ(s.at("sniproxy_route_bytes_total{table=\"default\",route=\"a.test\",direction=\""
                 "backend_to_client\"}"),
            std::stod((*entry)["bytes_out"]));
  EXPECT_GE(s.at("sniproxy_bytes_total{listener=\"tls\",direction=\"client_to_backend\"}"), in);
  EXPECT_EQ(s.at("sniproxy_upstream_connect_seconds_count"), 1);
  EXPECT_EQ(s.at("sniproxy_upstream_connect_seconds_bucket{le=\"+Inf\"}"), 1);
  EXPECT_EQ(s.at("sniproxy_listener_forwarding_mode{listener=\"tls\",mode=\"" + GetParam() + "\"}"),
            1);
  double forwarded = 0;
  for (const auto& [key, value] : s.samples)
    if (key.rfind("sniproxy_forwarded_connections_total{", 0) == 0) forwarded += value;
  EXPECT_EQ(forwarded, 1);
  EXPECT_GE(s.at("sniproxy_dns_cache_hits_total"), 0);
  EXPECT_EQ(s.at("sniproxy_build_info{version=\"" SNIPROXY_VERSION "\"}"), 1);
  // The suite runs on both backends; auto (unset) is io_uring on this kernel.
  const std::string loop = backend_under_test().empty() ? "io_uring" : backend_under_test();
  EXPECT_EQ(s.at("sniproxy_reactor_backend{backend=\"" + loop + "\"}"), 1);
}

TEST_P(AdminTest, StatusDescribesTheProcess) {
  ConfigSpec spec = admin_config();
  ASSERT_NO_FATAL_FAILURE(start_with_admin(spec));
  HttpAnswer a = http_get(admin_port_, "/status");
  ASSERT_EQ(a.status, 200) << a.head;
  EXPECT_NE(a.head.find("Content-Type: application/json"), std::string::npos);
  utsname u{};
  ASSERT_EQ(uname(&u), 0);
  EXPECT_EQ(json_field(a.body, "doc['version']"), SNIPROXY_VERSION);
  EXPECT_EQ(json_field(a.body, "doc['pid']"), std::to_string(proxy_->pid()));
  EXPECT_EQ(json_field(a.body, "doc['config']['file']"), config_path().string());
  EXPECT_EQ(json_field(a.body, "doc['workers']"), "2");
  EXPECT_EQ(json_field(a.body, "doc['kernel']['release']"), u.release);
  EXPECT_EQ(json_field(a.body, "doc['kernel']['io_uring']['available']"), "True");
  const std::string backend = backend_under_test().empty() ? "io_uring" : backend_under_test();
  EXPECT_EQ(json_field(a.body, "doc['reactor']['backend']"), backend);
  EXPECT_EQ(json_field(a.body, "doc['reactor']['fallback_reason']"), "");
  EXPECT_EQ(json_field(a.body, "doc['listeners'][0]['name']"), "tls");
  EXPECT_EQ(json_field(a.body, "doc['listeners'][0]['mode']"), GetParam());
  EXPECT_EQ(json_field(a.body, "doc['bpf']['programs']"), "[]");  // no [xdp]: nothing loaded
  EXPECT_EQ(json_field(a.body, "doc['uptime_seconds'] >= 0"), "True");

  // A reload is visible in /status and /metrics.
  proxy_->signal(SIGHUP);
  ASSERT_TRUE(proxy_->wait_for_log("event=reload result=ok", Deadline::in(milliseconds(5000))));
  rewrite_config("not = [valid");
  proxy_->signal(SIGHUP);
  ASSERT_TRUE(proxy_->wait_for_log("event=reload result=failed", Deadline::in(milliseconds(5000))));
  a = http_get(admin_port_, "/status");
  EXPECT_EQ(json_field(a.body, "doc['config']['reloads_ok']"), "1");
  EXPECT_EQ(json_field(a.body, "doc['config']['reloads_failed']"), "1");
  Scrape s = scrape();
  EXPECT_EQ(s.at("sniproxy_config_reloads_total{result=\"ok\"}"), 1);
  EXPECT_EQ(s.at("sniproxy_config_reloads_total{result=\"failed\"}"), 1);
}

TEST_P(AdminTest, AnswersWhatItDoesNotServeWithClearStatuses) {
  ConfigSpec spec = admin_config("max_clients = 2\nrequest_timeout = \"1500ms\"");
  ASSERT_NO_FATAL_FAILURE(start_with_admin(spec));
  EXPECT_EQ(http_get(admin_port_, "/nope").status, 404);
  EXPECT_EQ(http_get(admin_port_, "/metrics?x=1").status, 200);
  HttpAnswer post = http_exchange(admin_port_, "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(post.status, 405);
  EXPECT_NE(post.head.find("Allow: GET, HEAD"), std::string::npos);
  EXPECT_EQ(http_exchange(admin_port_, "\x16\x03\x01garbage\r\n\r\n").status, 400);
  HttpAnswer head = http_exchange(admin_port_, "HEAD /status HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  // A head larger than the bound: 400, not a growing buffer.
  EXPECT_EQ(http_exchange(admin_port_,
                          "GET /metrics HTTP/1.1\r\nX: " + std::string(9000, 'a') + "\r\n\r\n")
                .status,
            400);

  // Two clients that never finish their request hold both slots: a third
  // is answered 503 at once; the two get 408 at the deadline.
  std::vector<UniqueFd> slow;
  for (int i = 0; i < 2; ++i) {
    auto c = connect_tcp(loopback(admin_port_), Deadline::in(milliseconds(3000)));
    ASSERT_TRUE(c.fd);
    ASSERT_EQ(send_all(c.fd.get(), std::string("GET /met"), Deadline::in(milliseconds(1000))),
              IoStatus::ok);
    slow.push_back(std::move(c.fd));
  }
  std::this_thread::sleep_for(milliseconds(100));  // both accepted and reading
  EXPECT_EQ(http_get(admin_port_, "/metrics").status, 503);
  for (auto& fd : slow) {
    auto r = read_until_closed(fd.get(), Deadline::in(milliseconds(3000)));
    EXPECT_EQ(to_text(r.bytes).rfind("HTTP/1.1 408 ", 0), 0u) << to_text(r.bytes);
  }
  // Slots are free again.
  EXPECT_EQ(http_get(admin_port_, "/metrics").status, 200);
}

TEST_P(AdminTest, TakenPortFailsTheStartNamingIt) {
  UniqueFd taken = listen_tcp(loopback(admin_port_));
  ASSERT_TRUE(taken);
  ConfigSpec spec = admin_config();
  write_file(config_path(), spec.to_toml());
  auto r = run_command(sniproxy_binary(), {"--config", config_path().string()}, dir_.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("[admin] listen"), std::string::npos) << r.err;
}

// The endpoint does not depend on the forwarding mode: one mode is enough.
INSTANTIATE_TEST_SUITE_P(Modes, AdminTest, ::testing::Values("copy"), mode_name);

// What only sockmap mode has: its program and map in /status, and how the
// bytes of its connections moved in /metrics.
class SockmapAdminTest : public AdminTest {};

TEST_P(SockmapAdminTest, ShowsTheSockmapAndCountsTheBytesItMovedInTheKernel) {
  Backend backend(echo_handler());
  ConfigSpec spec = admin_config();
  spec.table("default").push_back({.match = "echo.test", .backend = backend.address()});
  ASSERT_NO_FATAL_FAILURE(start_with_admin(spec));
  UniqueFd c = connect_to(spec.listeners[0].port);
  ASSERT_TRUE(c);
  const std::uint16_t client_port = local_endpoint(c.get()).port;
  auto sent = build_client_hello({.server_name = "echo.test"});
  sent.resize(sent.size() + 1'000'000, 'k');
  ASSERT_EQ(send_all(c.get(), sent, Deadline::in(milliseconds(3000))), IoStatus::ok);
  std::vector<std::uint8_t> echoed;
  ASSERT_EQ(read_exact(c.get(), sent.size(), echoed, Deadline::in(milliseconds(5000))),
            IoStatus::ok);
  EXPECT_EQ(echoed, sent);

  // While the connection is open: its two sockets are in the map.
  EXPECT_EQ(scrape().at("sniproxy_sockmap_connections"), 1);
  const std::string status = http_get(admin_port_, "/status").body;
  EXPECT_EQ(json_field(status,
                       "[p['type'] for p in doc['bpf']['programs'] if p['name'] == "
                       "'sockmap']"),
            "['sk_skb_stream_verdict']");
  EXPECT_EQ(json_field(status,
                       "[(m['entries'], m['max_entries']) for m in doc['bpf']['maps'] "
                       "if m['name'] == 'sock_pairs']"),
            "[(2, 65536)]");

  c.reset();
  ASSERT_TRUE(access_entry(client_port));
  Scrape s = scrape();
  EXPECT_EQ(s.at("sniproxy_sockmap_connections"), 0);
  // Both ways: the hello and the payload, then their echo. A test client
  // that reads as fast as it writes keeps the bound from being reached.
  EXPECT_EQ(s.at("sniproxy_sockmap_bytes_total{path=\"kernel\"}") +
                s.at("sniproxy_sockmap_bytes_total{path=\"userspace\"}"),
            2.0 * static_cast<double>(sent.size()));
  EXPECT_GT(s.at("sniproxy_sockmap_bytes_total{path=\"kernel\"}"), 0);
  EXPECT_EQ(s.at("sniproxy_sockmap_fallbacks_total"), 0);
  EXPECT_EQ(s.at("sniproxy_forwarded_connections_total{mode=\"sockmap\"}"), 1);
}

INSTANTIATE_TEST_SUITE_P(Sockmap, SockmapAdminTest, ::testing::Values("sockmap"), mode_name);

}  // namespace
}  // namespace sniproxy::integration
