// The resolver against a real (fake) DNS server on 127.0.0.1, driven by a
// poll loop; the cache's clock is a fake the tests move.
#include "dns/resolver.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "answers.hpp"
#include "fake_dns_server.hpp"
#include "poll_loop.hpp"

namespace sniproxy::dns {
namespace {

using namespace std::chrono_literals;
using config::AddressPreference;
using testing::FakeDnsServer;
using testing::kTypeA;
using testing::kTypeAaaa;
using testing::PollLoop;
using testing::texts;

IpAddress ip(const char* text) {
  return *IpAddress::parse(text);
}

// What one resolve() call produced.
struct Outcome {
  std::optional<Result<Addresses>> result;
  bool synchronous = false;  // called before resolve() returned
  bool returned = false;
  int calls = 0;
};

class ResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.add("v4only.test", ip("192.0.2.10"), 300);
    server_.add("v6only.test", ip("2001:db8::10"), 300);
    server_.add("dual.test", ip("192.0.2.1"), 30);
    server_.add("dual.test", ip("2001:db8::1"), 60);
    server_.add("dual.test", ip("192.0.2.2"), 30);
    server_.add("dual.test", ip("2001:db8::2"), 60);
    server_.add("short.test", ip("192.0.2.20"), 1);
    server_.add("long.test", ip("192.0.2.30"), 86400);
    server_.add("a.test", ip("192.0.2.41"), 300);
    server_.add("b.test", ip("192.0.2.42"), 300);
    server_.add("c.test", ip("192.0.2.43"), 300);
    server_.add_empty("empty.test");
    server_.set_behaviour("silent.test", FakeDnsServer::Behaviour::silent);
    server_.set_behaviour("servfail.test", FakeDnsServer::Behaviour::servfail);
    server_.set_behaviour("refused.test", FakeDnsServer::Behaviour::refused);
    loop_.add_server(&server_);

    config_.servers = {server_.endpoint()};
    config_.timeout = 200ms;
    config_.negative_ttl = 5s;
    config_.min_ttl = 1s;
    config_.max_ttl = 1h;
  }

  void make_resolver() {
    auto created = Resolver::create(config_, loop_, [this] { return now_; });
    ASSERT_TRUE(created.ok()) << created.error().message;
    resolver_ = std::move(created).value();
    loop_.set_resolver(resolver_.get());
  }

  std::shared_ptr<Outcome> start(std::string_view name) {
    auto outcome = std::make_shared<Outcome>();
    resolver_->resolve(name, [outcome](const Result<Addresses>& r) {
      outcome->result.emplace(r);
      outcome->synchronous = !outcome->returned;
      ++outcome->calls;
    });
    outcome->returned = true;
    return outcome;
  }

  // Resolves `name`, running the loop until the answer (bounded).
  std::shared_ptr<Outcome> resolve(std::string_view name) {
    auto outcome = start(name);
    EXPECT_TRUE(loop_.run_until([&] { return outcome->result.has_value(); }))
        << "no answer for " << name;
    return outcome;
  }

  std::chrono::steady_clock::time_point now_{std::chrono::hours(1)};
  FakeDnsServer server_;
  PollLoop loop_;
  config::Dns config_;
  std::unique_ptr<Resolver> resolver_;  // last: destroyed before the loop
};

TEST_F(ResolverTest, IpLiteralsAnswerSynchronouslyWithoutDns) {
  make_resolver();
  auto v4 = start("192.0.2.7");
  auto v6 = start("2001:db8::7");
  ASSERT_TRUE(v4->result && v6->result);
  EXPECT_TRUE(v4->synchronous);
  EXPECT_TRUE(v6->synchronous);
  EXPECT_EQ(texts(*v4->result), std::vector<std::string>{"192.0.2.7"});
  EXPECT_EQ(texts(*v6->result), std::vector<std::string>{"2001:db8::7"});
  EXPECT_TRUE(loop_.watches().empty());
  EXPECT_EQ(resolver_->stats().queries, 0u);
  EXPECT_EQ(server_.total_queries(), 0);
}

TEST_F(ResolverTest, InvalidNameFailsSynchronously) {
  make_resolver();
  auto bad = start("bad..name");
  ASSERT_TRUE(bad->result);
  EXPECT_TRUE(bad->synchronous);
  ASSERT_FALSE(*bad->result);
  EXPECT_EQ(bad->result->error().message, "invalid DNS name: 'bad..name'");
  EXPECT_EQ(server_.total_queries(), 0);
}

TEST_F(ResolverTest, NameWithOnlyARecord) {
  make_resolver();
  auto out = resolve("v4only.test");
  ASSERT_TRUE(out->result && *out->result) << out->result->error().message;
  EXPECT_FALSE(out->synchronous);
  EXPECT_EQ(texts(*out->result), std::vector<std::string>{"192.0.2.10"});
  EXPECT_EQ(server_.queries("v4only.test", kTypeA), 1);
  EXPECT_EQ(server_.queries("v4only.test", kTypeAaaa), 1);
}

TEST_F(ResolverTest, NameWithOnlyAaaaRecord) {
  make_resolver();
  auto out = resolve("v6only.test");
  ASSERT_TRUE(out->result && *out->result) << out->result->error().message;
  EXPECT_EQ(texts(*out->result), std::vector<std::string>{"2001:db8::10"});
}

TEST_F(ResolverTest, NameIsNormalisedBeforeLookup) {
  make_resolver();
  auto out = resolve("V4Only.Test.");
  ASSERT_TRUE(out->result && *out->result) << out->result->error().message;
  EXPECT_EQ(texts(*out->result), std::vector<std::string>{"192.0.2.10"});
  EXPECT_TRUE(start("v4only.test")->synchronous);  // same cache entry
}

TEST_F(ResolverTest, Ipv4FirstPutsAllIpv4BeforeIpv6) {
  config_.prefer = AddressPreference::ipv4_first;
  make_resolver();
  auto out = resolve("dual.test");
  ASSERT_TRUE(out->result && *out->result) << out->result->error().message;
  EXPECT_EQ(texts(*out->result),
            (std::vector<std::string>{"192.0.2.1", "192.0.2.2", "2001:db8::1", "2001:db8::2"}));
}

TEST_F(ResolverTest, Ipv6FirstPutsAllIpv6BeforeIpv4) {
  config_.prefer = AddressPreference::ipv6_first;
  make_resolver();
  auto out = resolve("dual.test");
  ASSERT_TRUE(out->result && *out->result) << out->result->error().message;
  EXPECT_EQ(texts(*out->result),
            (std::vector<std::string>{"2001:db8::1", "2001:db8::2", "192.0.2.1", "192.0.2.2"}));
}

TEST_F(ResolverTest, Ipv4OnlyAsksOnlyForAAndKeepsOnlyIpv4) {
  config_.prefer = AddressPreference::ipv4_only;
  make_resolver();
  auto out = resolve("dual.test");
  ASSERT_TRUE(out->result && *out->result) << out->result->error().message;
  EXPECT_EQ(texts(*out->result), (std::vector<std::string>{"192.0.2.1", "192.0.2.2"}));
  EXPECT_EQ(server_.queries("dual.test", kTypeA), 1);
  EXPECT_EQ(server_.queries("dual.test", kTypeAaaa), 0);
}

TEST_F(ResolverTest, Ipv4OnlyWithoutIpv4IsANegativelyCachedError) {
  config_.prefer = AddressPreference::ipv4_only;
  make_resolver();
  auto out = resolve("v6only.test");
  ASSERT_TRUE(out->result);
  ASSERT_FALSE(*out->result);
  EXPECT_EQ(out->result->error().message, "no IPv4 address for v6only.test");
  auto again = start("v6only.test");
  EXPECT_TRUE(again->synchronous);
  EXPECT_EQ(again->result->error().message, "no IPv4 address for v6only.test");
  EXPECT_EQ(server_.queries("v6only.test"), 1);
}

TEST_F(ResolverTest, Ipv6OnlyWithoutIpv6IsAnError) {
  config_.prefer = AddressPreference::ipv6_only;
  make_resolver();
  auto out = resolve("v4only.test");
  ASSERT_TRUE(out->result);
  ASSERT_FALSE(*out->result);
  EXPECT_EQ(out->result->error().message, "no IPv6 address for v4only.test");
  EXPECT_EQ(server_.queries("v4only.test", kTypeA), 0);
}

TEST_F(ResolverTest, AnswerIsCachedForItsSmallestTtl) {
  make_resolver();  // dual.test: A records TTL 30, AAAA records TTL 60
  ASSERT_TRUE(*resolve("dual.test")->result);
  EXPECT_EQ(server_.queries("dual.test"), 2);

  now_ += 29s;
  auto hit = start("dual.test");
  EXPECT_TRUE(hit->synchronous);
  ASSERT_TRUE(hit->result && *hit->result);
  EXPECT_EQ(hit->result->value().size(), 4u);
  EXPECT_EQ(server_.queries("dual.test"), 2);

  now_ += 2s;  // 31 s: past the A records' TTL
  auto refreshed = resolve("dual.test");
  EXPECT_FALSE(refreshed->synchronous);
  EXPECT_TRUE(*refreshed->result);
  EXPECT_EQ(server_.queries("dual.test"), 4);
  EXPECT_EQ(resolver_->stats().cache_hits, 1u);
  EXPECT_EQ(resolver_->stats().cache_misses, 2u);
  EXPECT_EQ(resolver_->stats().queries, 2u);
}

// What resolve_timed() reports: the answer and until when it holds.
struct TimedOutcome {
  std::optional<Result<Addresses>> result;
  std::chrono::steady_clock::time_point expires{};
};

TEST_F(ResolverTest, TimedAnswersTellWhenTheyExpire) {
  make_resolver();  // dual.test: A records TTL 30, AAAA records TTL 60
  const auto asked_at = now_;
  auto fresh = std::make_shared<TimedOutcome>();
  resolver_->resolve_timed("dual.test", [fresh](const Result<Addresses>& r, auto expires) {
    fresh->result.emplace(r);
    fresh->expires = expires;
  });
  ASSERT_TRUE(loop_.run_until([&] { return fresh->result.has_value(); }));
  ASSERT_TRUE(*fresh->result);
  EXPECT_EQ(fresh->expires, asked_at + 30s);  // the smallest TTL

  now_ += 10s;  // a cache hit tells the same expiry, not a new one
  auto hit = std::make_shared<TimedOutcome>();
  resolver_->resolve_timed("dual.test", [hit](const Result<Addresses>& r, auto expires) {
    hit->result.emplace(r);
    hit->expires = expires;
  });
  ASSERT_TRUE(hit->result.has_value());
  EXPECT_EQ(hit->expires, asked_at + 30s);
}

TEST_F(ResolverTest, TimedAnswersOfShortTtlsAndFailures) {
  config_.min_ttl = 1s;
  make_resolver();
  const auto timed = [&](std::string_view name) {
    auto out = std::make_shared<TimedOutcome>();
    resolver_->resolve_timed(name, [out](const Result<Addresses>& r, auto expires) {
      out->result.emplace(r);
      out->expires = expires;
    });
    EXPECT_TRUE(loop_.run_until([&] { return out->result.has_value(); })) << name;
    return out;
  };
  const auto asked_at = now_;
  auto short_ttl = timed("short.test");  // TTL 1: min_ttl holds it for 1 s
  ASSERT_TRUE(*short_ttl->result);
  EXPECT_EQ(short_ttl->expires, asked_at + 1s);
  auto nxdomain = timed("unknown.test");  // cached for negative_ttl
  ASSERT_FALSE(*nxdomain->result);
  EXPECT_EQ(nxdomain->expires, asked_at + 5s);
  auto literal = timed("192.0.2.7");
  ASSERT_TRUE(*literal->result);
  EXPECT_EQ(literal->expires, std::chrono::steady_clock::time_point::max());
}

TEST_F(ResolverTest, ShortTtlIsRaisedToMinTtl) {
  config_.min_ttl = 10s;
  make_resolver();  // short.test has TTL 1
  ASSERT_TRUE(*resolve("short.test")->result);
  now_ += 5s;
  EXPECT_TRUE(start("short.test")->synchronous);
  now_ += 6s;
  EXPECT_FALSE(start("short.test")->synchronous);
}

TEST_F(ResolverTest, LongTtlIsCutToMaxTtl) {
  config_.max_ttl = 20s;
  make_resolver();  // long.test has TTL 86400
  ASSERT_TRUE(*resolve("long.test")->result);
  now_ += 19s;
  EXPECT_TRUE(start("long.test")->synchronous);
  now_ += 2s;
  EXPECT_FALSE(start("long.test")->synchronous);
}

TEST_F(ResolverTest, NxdomainIsCachedForNegativeTtlThenAskedAgain) {
  make_resolver();
  auto out = resolve("unknown.test");
  ASSERT_TRUE(out->result);
  ASSERT_FALSE(*out->result);
  EXPECT_EQ(out->result->error().message, "unknown.test: no such domain (NXDOMAIN)");
  const int asked = server_.queries("unknown.test");
  EXPECT_GE(asked, 1);
  EXPECT_EQ(resolver_->stats().failures, 1u);

  now_ += 4s;
  auto cached = start("unknown.test");
  EXPECT_TRUE(cached->synchronous);
  EXPECT_EQ(cached->result->error().message, "unknown.test: no such domain (NXDOMAIN)");
  EXPECT_EQ(server_.queries("unknown.test"), asked);

  now_ += 2s;  // past negative_ttl (5 s)
  auto again = resolve("unknown.test");
  EXPECT_FALSE(again->synchronous);
  EXPECT_GT(server_.queries("unknown.test"), asked);
}

TEST_F(ResolverTest, NameWithoutAddressRecordsIsAnError) {
  make_resolver();
  auto out = resolve("empty.test");
  ASSERT_TRUE(out->result);
  ASSERT_FALSE(*out->result);
  EXPECT_EQ(out->result->error().message, "no address for empty.test");
  EXPECT_TRUE(start("empty.test")->synchronous);
}

TEST_F(ResolverTest, ServfailIsNamedAndCached) {
  make_resolver();
  auto out = resolve("servfail.test");
  ASSERT_TRUE(out->result);
  ASSERT_FALSE(*out->result);
  EXPECT_EQ(out->result->error().message, "servfail.test: server failure (SERVFAIL)");
  EXPECT_TRUE(start("servfail.test")->synchronous);
}

TEST_F(ResolverTest, RefusedIsNamed) {
  make_resolver();
  auto out = resolve("refused.test");
  ASSERT_TRUE(out->result);
  ASSERT_FALSE(*out->result);
  EXPECT_EQ(out->result->error().message, "refused.test: query refused (REFUSED)");
}

TEST_F(ResolverTest, SilentServerTimesOutWithinBoundedTime) {
  config_.timeout = 200ms;
  make_resolver();
  const auto began = std::chrono::steady_clock::now();
  auto out = resolve("silent.test");
  const auto took = std::chrono::steady_clock::now() - began;
  ASSERT_TRUE(out->result);
  ASSERT_FALSE(*out->result);
  EXPECT_EQ(out->result->error().message, "silent.test: timed out");
  // Two tries: 200 ms then 400 ms (c-ares doubles the per-try timeout).
  EXPECT_GE(took, 500ms);
  EXPECT_LT(took, 2s);
  EXPECT_EQ(server_.queries("silent.test", kTypeA), 2);
  EXPECT_EQ(resolver_->stats().failures, 1u);
  EXPECT_TRUE(start("silent.test")->synchronous);  // timeouts are cached too
  EXPECT_TRUE(loop_.watches().empty());            // socket closed when idle
}

TEST_F(ResolverTest, TimerIsArmedWhileAQueryIsOutstanding) {
  make_resolver();
  auto out = start("silent.test");
  EXPECT_TRUE(loop_.timer_armed());
  EXPECT_FALSE(loop_.watches().empty());
  EXPECT_TRUE(loop_.run_until([&] { return out->result.has_value(); }));
}

TEST_F(ResolverTest, ConcurrentResolvesOfOneNameShareOneQuery) {
  make_resolver();
  auto first = start("dual.test");
  auto second = start("dual.test");
  auto third = start("DUAL.test");
  EXPECT_TRUE(loop_.run_until([&] { return first->result && second->result && third->result; }));
  for (const auto& out : {first, second, third}) {
    ASSERT_TRUE(out->result && *out->result);
    EXPECT_EQ(out->calls, 1);
    EXPECT_EQ(texts(*out->result), texts(*first->result));
  }
  EXPECT_EQ(server_.queries("dual.test", kTypeA), 1);
  EXPECT_EQ(server_.queries("dual.test", kTypeAaaa), 1);
  EXPECT_EQ(resolver_->stats().queries, 1u);
  EXPECT_EQ(resolver_->stats().cache_misses, 3u);
}

TEST_F(ResolverTest, DifferentNamesResolveConcurrently) {
  make_resolver();
  auto a = start("a.test");
  auto b = start("b.test");
  auto silent = start("silent.test");
  EXPECT_TRUE(loop_.run_until([&] { return a->result && b->result; }, 1s));
  EXPECT_FALSE(silent->result);
  EXPECT_EQ(texts(*a->result), std::vector<std::string>{"192.0.2.41"});
  EXPECT_EQ(texts(*b->result), std::vector<std::string>{"192.0.2.42"});
  EXPECT_TRUE(loop_.run_until([&] { return silent->result.has_value(); }));
}

TEST_F(ResolverTest, CallbackMayResolveAgain) {
  make_resolver();
  std::shared_ptr<Outcome> inner;
  resolver_->resolve("a.test", [&](const Result<Addresses>&) { inner = start("a.test"); });
  EXPECT_TRUE(loop_.run_until([&] { return inner != nullptr; }));
  ASSERT_TRUE(inner && inner->result && *inner->result);
  EXPECT_TRUE(inner->synchronous);  // the answer is cached before callbacks run
}

TEST_F(ResolverTest, CacheSizeBoundEvictsLeastRecentlyUsed) {
  config_.cache_size = 2;
  make_resolver();
  ASSERT_TRUE(*resolve("a.test")->result);
  ASSERT_TRUE(*resolve("b.test")->result);
  EXPECT_TRUE(start("a.test")->synchronous);  // a is now the most recently used
  ASSERT_TRUE(*resolve("c.test")->result);    // evicts b
  EXPECT_EQ(resolver_->cache_entries(), 2u);
  EXPECT_TRUE(start("a.test")->synchronous);
  EXPECT_TRUE(start("c.test")->synchronous);
  auto b = start("b.test");
  EXPECT_FALSE(b->synchronous);
  EXPECT_TRUE(loop_.run_until([&] { return b->result.has_value(); }));
  EXPECT_EQ(resolver_->cache_entries(), 2u);
  EXPECT_EQ(server_.queries("b.test"), 4);
}

TEST_F(ResolverTest, SocketsAreUnwatchedWhenIdle) {
  make_resolver();
  ASSERT_TRUE(*resolve("a.test")->result);
  EXPECT_TRUE(loop_.watches().empty());
  EXPECT_GE(loop_.stop_watch_calls(), 1);
}

TEST_F(ResolverTest, DestructionWithAnOutstandingQueryIsSafe) {
  make_resolver();
  auto out = start("silent.test");
  EXPECT_TRUE(loop_.run_until([&] { return server_.queries("silent.test") >= 2; }, 1s));
  ASSERT_FALSE(loop_.watches().empty());
  resolver_.reset();
  loop_.set_resolver(nullptr);
  EXPECT_EQ(out->calls, 0);              // not called once destruction began
  EXPECT_TRUE(loop_.watches().empty());  // every socket was unwatched before closing
  loop_.run_for(50ms);
  EXPECT_EQ(out->calls, 0);
}

TEST_F(ResolverTest, FailsOverFromAnUnreachableServer) {
  // A UDP port nobody listens on: the kernel refuses what is sent there and
  // c-ares moves the lookup on to the next server.
  Endpoint dead;
  {
    FakeDnsServer closed;
    dead = closed.endpoint();
  }
  config_.servers = {dead, server_.endpoint()};
  make_resolver();
  auto out = resolve("a.test");
  ASSERT_TRUE(out->result && *out->result) << out->result->error().message;
  EXPECT_EQ(texts(*out->result), std::vector<std::string>{"192.0.2.41"});
}

TEST_F(ResolverTest, LookupThatCAresEndsAtOnceIsAnsweredSynchronously) {
  make_resolver();
  // c-ares refuses .onion names (RFC 7686) inside ares_getaddrinfo itself.
  auto out = start("hidden.onion");
  ASSERT_TRUE(out->result);
  EXPECT_TRUE(out->synchronous);
  ASSERT_FALSE(*out->result);
  EXPECT_EQ(out->result->error().message, "hidden.onion: no such domain (NXDOMAIN)");
  EXPECT_EQ(server_.total_queries(), 0);
  EXPECT_EQ(resolver_->stats().queries, 1u);
  EXPECT_TRUE(start("hidden.onion")->synchronous);
}

TEST_F(ResolverTest, ServerPortZeroIsRejected) {
  config_.servers = {Endpoint{IpAddress::v4(127, 0, 0, 1), 0}};
  auto created = Resolver::create(config_, loop_);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().message, "DNS server 127.0.0.1:0 has port 0");
}

TEST_F(ResolverTest, SystemConfigurationInitialises) {
  config_.servers.clear();  // /etc/resolv.conf; nothing is asked here
  auto created = Resolver::create(config_, loop_);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ((*created)->cache_entries(), 0u);
}

}  // namespace
}  // namespace sniproxy::dns
