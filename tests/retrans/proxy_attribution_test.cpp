// The proxy's own retransmits, joined with its connections ([retrans]): the
// real binary runs in the sender namespace of a lossy link and routes two
// server names to two backends behind it. Each retransmit it reports must
// name the server name whose backend the retransmitting socket talks to,
// and /metrics must count the same per server name.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <atomic>
#include <map>
#include <thread>

#include "bulk_traffic.hpp"
#include "lossy_link.hpp"
#include "retrans_support.hpp"
#include "support/access_log.hpp"
#include "support/admin_client.hpp"
#include "support/config_text.hpp"
#include "support/netns.hpp"
#include "support/ports.hpp"
#include "support/proxy_process.hpp"
#include "support/temp_dir.hpp"
#include "support/tls_hello.hpp"

namespace sniproxy::retrans_test {
namespace {

using integration::Deadline;
using std::chrono::milliseconds;

// Streams 16 KiB writes after the hello until `stop`.
void stream(int fd, const std::atomic<bool>& stop) {
  const std::string chunk(16384, 'r');
  while (!stop)
    if (integration::send_all(fd, chunk, Deadline::in(milliseconds(5000))) !=
        integration::IoStatus::ok)
      return;
}

integration::Scrape scrape_in(const std::string& ns, std::uint16_t admin_port) {
  integration::Scrape scrape;
  const std::string error = integration::run_in(ns, [&] {
    scrape = integration::parse_exposition(integration::http_get(admin_port, "/metrics").body);
  });
  if (!error.empty()) scrape.problems.push_back(error);
  return scrape;
}

constexpr const char* kRetransA =
    "sniproxy_retransmits_by_server_name_total{server_name=\"a.test\"}";
constexpr const char* kRetransB =
    "sniproxy_retransmits_by_server_name_total{server_name=\"b.test\"}";

TEST(ProxyRetransAttribution, TwoServerNamesOverLossyPath) {
  SKIP_UNLESS_RETRANS_POSSIBLE();
  LossyLink link(0.02);
  ASSERT_EQ(link.setup(), "");
  Receiver backend_a(link.receiver_ns(), kReceiver4);
  Receiver backend_b(link.receiver_ns(), kReceiver4);
  ASSERT_EQ(backend_a.error(), "");
  ASSERT_EQ(backend_b.error(), "");

  integration::TempDir dir;
  const std::uint16_t port = integration::free_port();
  const std::uint16_t admin_port = integration::free_port();
  const std::string config = fmt::format(
      "workers = 2\n[process]\nallow_root = true\n"
      "[retrans]\nlog_rate = 100000\n"
      "[admin]\nlisten = \"127.0.0.1:{}\"\n"
      "[access_log]\npath = \"off\"\n"
      "[[listener]]\nname = \"tls\"\naddress = \"127.0.0.1:{}\"\ntable = \"default\"\n"
      "[[tables.default]]\nmatch = \"a.test\"\nbackend = \"{}\"\n"
      "[[tables.default]]\nmatch = \"b.test\"\nbackend = \"{}\"\n",
      admin_port, port, backend_a.endpoint().to_string(), backend_b.endpoint().to_string());
  integration::write_file(dir.file("proxy.toml"), config + integration::reactor_section());
  integration::ProxyProcess proxy(integration::sniproxy_binary(), dir.file("proxy.toml"),
                                  dir.path());

  // The proxy, its clients and the scrape all live in the sender namespace.
  std::string started;
  std::vector<UniqueFd> clients;
  ASSERT_EQ(integration::run_in(
                link.sender_ns(),
                [&] {
                  started = proxy.start({port, admin_port}, milliseconds(20'000));
                  if (!started.empty()) return;
                  for (const char* name : {"a.test", "b.test"}) {
                    auto c = integration::connect_tcp(integration::loopback(port),
                                                      Deadline::in(milliseconds(3000)));
                    auto hello = integration::build_client_hello({.server_name = name});
                    integration::send_all(c.fd.get(), hello, Deadline::in(milliseconds(3000)));
                    clients.push_back(std::move(c.fd));
                  }
                }),
            "");
  ASSERT_EQ(started, "");
  ASSERT_EQ(clients.size(), 2u);
  ASSERT_TRUE(clients[0] && clients[1]);

  // Stream until each name saw a few retransmits (the 2% drop is random),
  // at most 20 s.
  std::atomic<bool> stop{false};
  std::vector<std::thread> senders;
  for (auto& c : clients) senders.emplace_back([&c, &stop] { stream(c.get(), stop); });
  const auto give_up = std::chrono::steady_clock::now() + milliseconds(20'000);
  while (std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(milliseconds(500));
    const auto s = scrape_in(link.sender_ns(), admin_port);
    if (s.at(kRetransA) >= 5 && s.at(kRetransB) >= 5) break;
  }
  stop = true;
  for (auto& t : senders) t.join();
  for (auto& c : clients) integration::shutdown_write(c.get());
  // Bytes still queued are retransmitted too: wait until both backends saw EOF.
  EXPECT_TRUE(backend_a.wait_finished(1, milliseconds(20'000)));
  EXPECT_TRUE(backend_b.wait_finished(1, milliseconds(20'000)));
  std::this_thread::sleep_for(milliseconds(300));  // the monitor drains at once; margin

  const integration::Scrape scrape = scrape_in(link.sender_ns(), admin_port);

  // Every logged retransmit: its server name must be the one routed to the
  // backend it talks to.
  const std::map<std::string, std::uint16_t> backend_port = {{"a.test", backend_a.endpoint().port},
                                                             {"b.test", backend_b.endpoint().port}};
  std::map<std::string, int> lines;
  int wrong = 0;
  for (const auto& line : integration::split_lines(proxy.log())) {
    if (line.find("event=retransmit ") == std::string::npos) continue;
    auto e = integration::parse_access_line(line);
    ++lines[e["server_name"]];
    auto expected = backend_port.find(e["server_name"]);
    const auto remote = Endpoint::parse(e["remote"]);
    if (expected == backend_port.end() || !remote || remote->port != expected->second ||
        e["side"] != "backend") {
      ++wrong;
      std::printf("wrong: %s\n", line.c_str());
    }
  }
  const double a = scrape.at(kRetransA);
  const double b = scrape.at(kRetransB);
  const double unattributed = scrape.at("sniproxy_retransmits_unattributed_total");
  std::printf(
      "retransmits joined: a.test %d, b.test %d (metrics %.0f, %.0f); wrong %d; "
      "unattributed %.0f; lost %.0f\n",
      lines["a.test"], lines["b.test"], a, b, wrong, unattributed,
      scrape.at("sniproxy_retrans_events_lost_total"));
  const int joined = lines["a.test"] + lines["b.test"];
  if (joined + unattributed > 0)
    std::printf("joined fraction of the proxy's retransmits: %.4f\n",
                joined / (joined + unattributed));

  EXPECT_TRUE(scrape.problems.empty());
  EXPECT_EQ(wrong, 0);
  EXPECT_GT(lines["a.test"], 0);
  EXPECT_GT(lines["b.test"], 0);
  EXPECT_EQ(a, lines["a.test"]);
  EXPECT_EQ(b, lines["b.test"]);
  EXPECT_EQ(scrape.at("sniproxy_retransmits_total{side=\"backend\"}"), joined);
  EXPECT_EQ(scrape.at("sniproxy_retrans_events_lost_total"), 0);
  EXPECT_GE(joined / (joined + unattributed), 0.99);
  proxy.signal(SIGTERM);
  EXPECT_EQ(proxy.wait_exit(milliseconds(10'000)), 0);
}

}  // namespace
}  // namespace sniproxy::retrans_test
