#include "bpf/retrans/retrans_event.hpp"

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "shared_types.h"

namespace sniproxy::bpf {
namespace {

std::vector<std::byte> bytes_of(const sniproxy_retrans_event& raw, std::size_t extra = 0) {
  std::vector<std::byte> out(sizeof raw + extra);
  std::memcpy(out.data(), &raw, sizeof raw);
  return out;
}

sniproxy_retrans_event v4_event() {
  sniproxy_retrans_event raw{};
  raw.time_ns = 5'000'000'000;
  raw.skaddr = 0xffff888012345678;
  raw.cgroup_id = 77;
  raw.owner_tgid = 1234;
  raw.owner_pid = 1235;
  raw.current_tgid = 0;
  raw.current_pid = 0;
  raw.state = 1;
  raw.family = 2;
  raw.sport = 40000;
  raw.dport = 443;
  raw.owner_known = 1;
  const std::uint8_t s[4] = {10, 0, 0, 1}, d[4] = {10, 0, 0, 2};
  std::memcpy(raw.saddr, s, 4);
  std::memcpy(raw.daddr, d, 4);
  std::strcpy(raw.owner_comm, "curl");
  std::strcpy(raw.current_comm, "swapper/0");
  return raw;
}

TEST(RetransEvent, DecodesV4) {
  auto e = decode_retrans_event(bytes_of(v4_event(), 4));  // perf pads records
  ASSERT_TRUE(e);
  EXPECT_EQ(e->local.to_string(), "10.0.0.1:40000");
  EXPECT_EQ(e->remote.to_string(), "10.0.0.2:443");
  EXPECT_TRUE(e->owner_known);
  EXPECT_EQ(e->owner.tgid, 1234u);
  EXPECT_EQ(e->owner.pid, 1235u);
  EXPECT_EQ(e->owner.comm, "curl");
  EXPECT_EQ(e->cgroup_id, 77u);
  EXPECT_EQ(e->current.comm, "swapper/0");
  EXPECT_EQ(e->state, 1);
}

TEST(RetransEvent, DecodesV6AndFullLengthComm) {
  auto raw = v4_event();
  raw.family = 10;
  std::memset(raw.saddr, 0, 16);
  raw.saddr[0] = 0xfd;
  raw.saddr[15] = 1;
  std::memset(raw.daddr, 0, 16);
  raw.daddr[0] = 0xfd;
  raw.daddr[15] = 2;
  std::memcpy(raw.owner_comm, "0123456789abcdef", 16);  // no terminator
  auto e = decode_retrans_event(bytes_of(raw));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->local.to_string(), "[fd00::1]:40000");
  EXPECT_EQ(e->remote.to_string(), "[fd00::2]:443");
  EXPECT_EQ(e->owner.comm, "0123456789abcdef");
}

TEST(RetransEvent, RejectsShortAndUnknownFamily) {
  auto raw = v4_event();
  auto bytes = bytes_of(raw);
  bytes.pop_back();
  EXPECT_FALSE(decode_retrans_event(bytes));
  raw.family = 1;
  EXPECT_FALSE(decode_retrans_event(bytes_of(raw)));
}

TEST(RetransEvent, UnknownOwnerIgnoresOwnerFields) {
  auto raw = v4_event();
  raw.owner_known = 0;
  auto e = decode_retrans_event(bytes_of(raw));
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->owner_known);
  EXPECT_EQ(e->owner.tgid, 0u);
  EXPECT_EQ(e->cgroup_id, 0u);
}

TEST(RetransEvent, StateNames) {
  EXPECT_EQ(tcp_state_name(1), "ESTABLISHED");
  EXPECT_EQ(tcp_state_name(4), "FIN_WAIT1");
  EXPECT_EQ(tcp_state_name(12), "NEW_SYN_RECV");
  EXPECT_EQ(tcp_state_name(0), "STATE_0");
  EXPECT_EQ(tcp_state_name(99), "STATE_99");
}

TEST(RetransEvent, WallTime) {
  EXPECT_EQ(format_wall_time(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_wall_time(1'700'000'000'123'456'789), "2023-11-14T22:13:20.123456Z");
}

TEST(RetransEvent, KvValueQuotesOnlyWhenNeeded) {
  EXPECT_EQ(kv_value("curl"), "curl");
  EXPECT_EQ(kv_value("Web Content"), "\"Web Content\"");
  EXPECT_EQ(kv_value("a\"b"), "\"a\\\"b\"");
  EXPECT_EQ(kv_value(""), "\"\"");
}

TEST(RetransEvent, Line) {
  auto e = decode_retrans_event(bytes_of(v4_event()));
  ASSERT_TRUE(e);
  EXPECT_EQ(format_event_line(*e, 1'700'000'000'000'000'000 - 5'000'000'000),
            "time=2023-11-14T22:13:20.000000Z pid=1234 tid=1235 comm=curl cgroup=77 "
            "local=10.0.0.1:40000 remote=10.0.0.2:443 state=ESTABLISHED owner=known "
            "current_pid=0 current_comm=swapper/0");
  e->owner_known = false;
  EXPECT_NE(format_event_line(*e, 0).find("pid=? tid=? comm=? cgroup=? "), std::string::npos);
  EXPECT_NE(format_event_line(*e, 0).find("owner=unknown"), std::string::npos);
}

TEST(RetransEvent, Json) {
  auto e = decode_retrans_event(bytes_of(v4_event()));
  ASSERT_TRUE(e);
  EXPECT_EQ(format_event_json(*e, 0),
            R"({"time":"1970-01-01T00:00:05.000000Z","time_ns":5000000000,"family":"ipv4",)"
            R"("local":"10.0.0.1:40000","remote":"10.0.0.2:443","local_addr":"10.0.0.1",)"
            R"("local_port":40000,"remote_addr":"10.0.0.2","remote_port":443,)"
            R"("state":"ESTABLISHED","owner_known":true,"pid":1234,"tid":1235,"comm":"curl",)"
            R"("cgroup_id":77,"current_pid":0,"current_tid":0,"current_comm":"swapper/0"})");
  e->owner_known = false;
  EXPECT_NE(format_event_json(*e, 0).find(R"("owner_known":false,"pid":null,)"), std::string::npos);
}

}  // namespace
}  // namespace sniproxy::bpf
