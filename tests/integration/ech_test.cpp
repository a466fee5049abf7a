// A hello offering Encrypted Client Hello on the real binary: routed on its
// outer name (the proxy holds no ECH keys), marked `ech=1` in the access log
// and counted in /metrics.
#include <fmt/format.h>

#include "support/admin_client.hpp"
#include "support/backend_behaviours.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

class EchTest : public ProxyTest {};

TEST_P(EchTest, OuterNameIsRoutedAndTheOfferLoggedAndCounted) {
  RecordingBackend front("FRONT");
  const std::uint16_t admin_port = free_port();
  ConfigSpec spec = base_config();
  spec.extra += fmt::format("[admin]\nlisten = \"127.0.0.1:{}\"\n", admin_port);
  spec.table("default").push_back(route("public.example", front));
  ASSERT_NO_FATAL_FAILURE(start_proxy(spec, {admin_port}));

  std::uint16_t client_ports[2] = {};
  for (const bool ech : {true, false}) {
    UniqueFd c = connect_to(listener_port());
    ASSERT_TRUE(c);
    client_ports[ech ? 0 : 1] = local_endpoint(c.get()).port;
    const auto hello = build_client_hello({.server_name = "public.example", .ech = ech});
    ASSERT_EQ(send_all(c.get(), hello, Deadline::in(milliseconds(3000))), IoStatus::ok);
    std::vector<std::uint8_t> got;
    EXPECT_EQ(read_exact(c.get(), 5, got, Deadline::in(milliseconds(3000))), IoStatus::ok);
    EXPECT_EQ(to_text(got), "FRONT");
  }
  auto offered = access_entry(client_ports[0]);
  ASSERT_TRUE(offered);
  EXPECT_EQ((*offered)["server_name"], "public.example");
  EXPECT_EQ((*offered)["ech"], "1");
  auto plain = access_entry(client_ports[1]);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->count("ech"), 0u);

  const Scrape s = parse_exposition(http_get(admin_port, "/metrics").body);
  EXPECT_EQ(s.at("sniproxy_ech_offers_total"), 1);
}

SNIPROXY_INSTANTIATE_FOR_MODES(EchTest);

}  // namespace
}  // namespace sniproxy::integration
