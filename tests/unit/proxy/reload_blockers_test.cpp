// What a SIGHUP reload cannot apply: the sockmap programs are compiled and
// their maps sized at start-up.
#include <gtest/gtest.h>

#include "proxy/runtime.hpp"

namespace sniproxy::proxy {
namespace {

TEST(ReloadBlockers, EnablingSockmapNeedsARestart) {
  config::Config running;
  config::Config next;
  EXPECT_EQ(reload_blockers(running, next), "");
  next.forwarding.mode = config::ForwardingMode::sockmap;
  EXPECT_NE(reload_blockers(running, next).find("sockmap"), std::string::npos);
  running.forwarding.mode = config::ForwardingMode::sockmap;
  EXPECT_EQ(reload_blockers(running, next), "");
  // Leaving sockmap mode is fine: the programs simply go unused.
  next.forwarding.mode = config::ForwardingMode::splice;
  EXPECT_EQ(reload_blockers(running, next), "");
}

TEST(ReloadBlockers, SockmapMapSizeIsFixed) {
  config::Config running;
  running.forwarding.mode = config::ForwardingMode::sockmap;
  config::Config next = running;
  next.forwarding.sockmap_queue_cap *= 2;  // read per connection: reloadable
  EXPECT_EQ(reload_blockers(running, next), "");
  next.forwarding.sockmap_connections /= 2;
  EXPECT_NE(reload_blockers(running, next).find("sockmap_connections"), std::string::npos);
}

TEST(UsesSockmap, GlobalOrAnyListener) {
  config::Config c;
  EXPECT_FALSE(uses_sockmap(c));
  c.listeners.emplace_back();
  c.listeners.back().mode = config::ForwardingMode::sockmap;
  EXPECT_TRUE(uses_sockmap(c));
}

}  // namespace
}  // namespace sniproxy::proxy
