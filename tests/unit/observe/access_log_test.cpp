#include "observe/access_log.hpp"

#include <gtest/gtest.h>

namespace sniproxy::proxy {
namespace {

observe::AccessRecord sample() {
  observe::AccessRecord r;
  r.client = "127.0.0.1:5000";
  r.listener = "tls";
  r.server_name = "a.test";
  r.backend = "127.0.0.1:9000";
  r.bytes_in = 517;
  r.bytes_out = 1024;
  r.duration_ms = 12;
  r.mode = "splice";
  r.outcome = observe::Outcome::ok;
  return r;
}

TEST(AccessLogFormat, TextIsOneKeyValueLine) {
  EXPECT_EQ(observe::format_access_text(sample(), "T"),
            "ts=T event=access client=127.0.0.1:5000 listener=tls server_name=a.test "
            "backend=127.0.0.1:9000 bytes_in=517 bytes_out=1024 duration_ms=12 mode=splice "
            "outcome=ok\n");
}

TEST(AccessLogFormat, TextMarksMissingNamesAndQuotesDetail) {
  observe::AccessRecord r = sample();
  r.server_name.clear();
  r.backend.clear();
  r.mode.clear();
  r.outcome = observe::Outcome::hello_rejected;
  r.detail = "not tls";
  EXPECT_EQ(observe::format_access_text(r, "T"),
            "ts=T event=access client=127.0.0.1:5000 listener=tls server_name=- backend=- "
            "bytes_in=517 bytes_out=1024 duration_ms=12 mode=- outcome=hello_rejected "
            "detail=\"not tls\"\n");
}

TEST(AccessLogFormat, JsonEscapesAndUsesNumbers) {
  observe::AccessRecord r = sample();
  r.detail = "quote\" and \x01";
  EXPECT_EQ(observe::format_access_json(r, "T"),
            "{\"ts\":\"T\",\"event\":\"access\",\"client\":\"127.0.0.1:5000\",\"listener\":\"tls\","
            "\"server_name\":\"a.test\",\"backend\":\"127.0.0.1:9000\",\"bytes_in\":517,"
            "\"bytes_out\":1024,\"duration_ms\":12,\"mode\":\"splice\",\"outcome\":\"ok\","
            "\"detail\":\"quote\\\" and \\u0001\"}\n");
}

// A QUIC session's line carries its packets each way; TCP lines read as before.
TEST(AccessLogFormat, DatagramSessionsCountPackets) {
  observe::AccessRecord r = sample();
  r.mode = "datagram";
  r.datagrams = true;
  r.packets_in = 3;
  r.packets_out = 5;
  r.outcome = observe::Outcome::idle_timeout;
  EXPECT_EQ(observe::format_access_text(r, "T"),
            "ts=T event=access client=127.0.0.1:5000 listener=tls server_name=a.test "
            "backend=127.0.0.1:9000 bytes_in=517 bytes_out=1024 duration_ms=12 mode=datagram "
            "outcome=idle_timeout packets_in=3 packets_out=5\n");
  EXPECT_NE(observe::format_access_json(r, "T").find(",\"packets_in\":3,\"packets_out\":5}"),
            std::string::npos);
}

// A QUIC session names the address its client sent to (which one, on a
// wildcard listener) after its packets.
TEST(AccessLogFormat, DatagramSessionsNameTheirLocalAddress) {
  observe::AccessRecord r = sample();
  r.mode = "datagram";
  r.datagrams = true;
  r.packets_in = 1;
  r.packets_out = 2;
  r.local = "127.0.0.2:443";
  EXPECT_EQ(observe::format_access_text(r, "T"),
            "ts=T event=access client=127.0.0.1:5000 listener=tls server_name=a.test "
            "backend=127.0.0.1:9000 bytes_in=517 bytes_out=1024 duration_ms=12 mode=datagram "
            "outcome=ok packets_in=1 packets_out=2 local=127.0.0.2:443\n");
  EXPECT_NE(observe::format_access_json(r, "T").find(
                ",\"packets_in\":1,\"packets_out\":2,\"local\":\"127.0.0.2:443\"}"),
            std::string::npos);
}

TEST(AccessLogFormat, EchOfferIsMarkedBeforeDetail) {
  observe::AccessRecord r = sample();
  r.ech = true;
  r.outcome = observe::Outcome::no_route;
  r.detail = "no route";
  EXPECT_EQ(observe::format_access_text(r, "T"),
            "ts=T event=access client=127.0.0.1:5000 listener=tls server_name=a.test "
            "backend=127.0.0.1:9000 bytes_in=517 bytes_out=1024 duration_ms=12 mode=splice "
            "outcome=no_route ech=1 detail=\"no route\"\n");
  EXPECT_EQ(observe::format_access_json(r, "T"),
            "{\"ts\":\"T\",\"event\":\"access\",\"client\":\"127.0.0.1:5000\",\"listener\":\"tls\","
            "\"server_name\":\"a.test\",\"backend\":\"127.0.0.1:9000\",\"bytes_in\":517,"
            "\"bytes_out\":1024,\"duration_ms\":12,\"mode\":\"splice\",\"outcome\":\"no_route\","
            "\"ech\":true,\"detail\":\"no route\"}\n");
}

}  // namespace
}  // namespace sniproxy::proxy
