#include "bpf/retrans/retrans_table.hpp"

#include <gtest/gtest.h>

namespace sniproxy::bpf {
namespace {

RetransEvent event(std::uint32_t tgid, std::string comm, std::string_view remote) {
  RetransEvent e;
  e.owner_known = tgid != 0;
  e.owner = TaskId{tgid, tgid, std::move(comm)};
  e.remote = *Endpoint::parse(remote);
  e.local = *Endpoint::parse("10.0.0.1:1000");
  return e;
}

TEST(RetransTable, CountsPerProcessAndRemote) {
  RetransTable t;
  t.add(event(10, "alpha", "10.0.0.2:80"));
  t.add(event(10, "alpha", "10.0.0.2:81"));
  t.add(event(20, "beta", "10.0.0.3:80"));
  t.add(event(0, "", "10.0.0.3:80"));
  EXPECT_EQ(t.total(), 4u);
  EXPECT_EQ(t.processes().at({10, "alpha"}), 2u);
  EXPECT_EQ(t.processes().at({20, "beta"}), 1u);
  EXPECT_EQ(t.processes().at({0, "?"}), 1u);
  EXPECT_EQ(t.remotes().at(*IpAddress::parse("10.0.0.2")), 2u);
  EXPECT_EQ(t.remotes().at(*IpAddress::parse("10.0.0.3")), 2u);
  t.clear();
  EXPECT_EQ(t.total(), 0u);
  EXPECT_TRUE(t.processes().empty());
}

TEST(RetransTable, RendersBusiestFirstAndBounded) {
  RetransTable t;
  t.add(event(20, "beta", "10.0.0.3:80"));
  for (int i = 0; i < 3; ++i) t.add(event(10, "alpha", "10.0.0.2:80"));
  std::string text = t.render("T", 1.0, 2, 1);
  EXPECT_NE(text.find("retransmits=4 in 1.0s  lost_events=2"), std::string::npos);
  EXPECT_NE(text.find("alpha"), std::string::npos);
  EXPECT_EQ(text.find("beta"), std::string::npos);  // only the top row
  EXPECT_NE(text.find("10.0.0.2"), std::string::npos);
}

TEST(RetransTable, Json) {
  RetransTable t;
  t.add(event(10, "alpha", "10.0.0.2:80"));
  t.add(event(0, "", "10.0.0.2:80"));
  EXPECT_EQ(
      t.render_json("T", 2.0, 0),
      R"({"time":"T","interval_s":2.000,"retransmits":2,"lost_events":0,"processes":[)"
      R"({"pid":null,"comm":null,"retransmits":1},{"pid":10,"comm":"alpha","retransmits":1}],)"
      R"("remotes":[{"address":"10.0.0.2","retransmits":2}]})");
}

}  // namespace
}  // namespace sniproxy::bpf
