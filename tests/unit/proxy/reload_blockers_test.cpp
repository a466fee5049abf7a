// What a SIGHUP reload cannot apply: the sockmap programs are compiled and
// their maps sized at start-up (the reload is refused); [dns] builds each
// worker's resolver at start-up (the reload goes ahead and names the keys it
// left out).
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

TEST(ReloadBlockers, QuicFastPathIsAttachedAtStartUp) {
  config::Config running;
  config::Config next;
  next.quic.fast_path = true;
  next.quic.fast_path_interfaces = {"eth0"};
  EXPECT_NE(reload_blockers(running, next).find("[quic] fast_path enabled"), std::string::npos);
  EXPECT_NE(reload_blockers(next, running).find("[quic] fast_path disabled"), std::string::npos);
  running = next;
  EXPECT_EQ(reload_blockers(running, next), "");
  next.quic.fast_path_interfaces.push_back("eth1");
  EXPECT_NE(reload_blockers(running, next).find("fast_path_interfaces"), std::string::npos);
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

TEST(ReloadBlockers, FastOpenQueueIsSetWhenTheListenerIsBound) {
  config::Config running;
  running.listeners.emplace_back();
  running.listeners.back().name = "tls";
  config::Config next = running;
  EXPECT_EQ(reload_blockers(running, next), "");
  next.listeners.back().fast_open_queue = 16;
  EXPECT_EQ(reload_blockers(running, next), "listener tls fast_open_queue changed");
}

TEST(ReloadIgnored, NamesEveryDnsKeyThatChanged) {
  config::Config running;
  config::Config next = running;
  EXPECT_EQ(reload_ignored(running, next), "");
  next.dns.timeout *= 2;
  EXPECT_EQ(reload_ignored(running, next), "dns.timeout");
  next.dns.servers.push_back(*Endpoint::parse("127.0.0.53:53"));
  next.dns.prefer = config::AddressPreference::ipv6_only;
  next.dns.negative_ttl *= 2;
  next.dns.min_ttl *= 2;
  next.dns.max_ttl *= 2;
  next.dns.cache_size *= 2;
  next.dns.bpf_mirror = !next.dns.bpf_mirror;
  EXPECT_EQ(reload_ignored(running, next),
            "dns.servers,dns.prefer,dns.negative_ttl,dns.min_ttl,dns.max_ttl,dns.timeout,"
            "dns.cache_size,dns.bpf_mirror");
  // Ignored keys never refuse the reload: the rest of it applies.
  EXPECT_EQ(reload_blockers(running, next), "");
}

TEST(ReloadIgnored, WhatAReloadAppliesIsNotReported) {
  config::Config running;
  config::Config next = running;
  next.timeouts.idle *= 2;
  next.limits.max_connections /= 2;
  next.forwarding.mode = config::ForwardingMode::splice;
  next.log_level = "debug";
  next.access_log.format = config::LogFormat::json;
  EXPECT_EQ(reload_ignored(running, next), "");
}

TEST(UsesSockmap, GlobalOrAnyListener) {
  config::Config c;
  EXPECT_FALSE(uses_sockmap(c));
  c.listeners.emplace_back();
  c.listeners.back().mode = config::ForwardingMode::sockmap;
  EXPECT_TRUE(uses_sockmap(c));
}

TEST(UsesSockmap, AutoOnlyWhenItOptsIn) {
  config::Config c;
  c.forwarding.mode = config::ForwardingMode::automatic;
  c.listeners.emplace_back();
  EXPECT_FALSE(uses_sockmap(c));
  c.forwarding.auto_sockmap = true;
  EXPECT_TRUE(uses_sockmap(c));
  EXPECT_TRUE(uses_auto_sockmap(c));
  // No listener forwards in auto: nothing to load.
  c.listeners.back().mode = config::ForwardingMode::copy;
  EXPECT_FALSE(uses_sockmap(c));
}

TEST(ReloadBlockers, AutoSockmapNeedsARestart) {
  config::Config running;
  running.forwarding.mode = config::ForwardingMode::automatic;
  running.listeners.emplace_back();
  config::Config next = running;
  next.forwarding.auto_sockmap = true;
  EXPECT_EQ(reload_blockers(running, next),
            "sockmap mode or auto_sockmap enabled (its BPF programs are loaded at start-up)");
}

}  // namespace
}  // namespace sniproxy::proxy
