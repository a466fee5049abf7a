#include "dns/cache.hpp"

#include <gtest/gtest.h>

#include <memory>

#include "answers.hpp"

namespace sniproxy::dns {
namespace {

using namespace std::chrono_literals;
using testing::answer_with;
using testing::t0;

CachedAnswer failure(const char* message) {
  return std::make_shared<const Result<Addresses>>(make_error(message));
}

TEST(DnsCache, FindsALiveEntry) {
  Cache cache(10);
  cache.insert("a.test", answer_with(1), t0 + 10s);
  CachedAnswer hit = cache.find("a.test", t0 + 9s);
  ASSERT_TRUE(hit);
  ASSERT_TRUE(*hit);
  EXPECT_EQ(hit->value().front(), IpAddress::v4(192, 0, 2, 1));
  EXPECT_FALSE(cache.find("b.test", t0));
}

TEST(DnsCache, AHitTellsItsExpiry) {
  Cache cache(10);
  cache.insert("a.test", answer_with(1), t0 + 10s);
  Cache::TimePoint expires{};
  ASSERT_TRUE(cache.find("a.test", t0 + 3s, &expires));
  EXPECT_EQ(expires, t0 + 10s);
  cache.insert("a.test", answer_with(2), t0 + 20s);
  ASSERT_TRUE(cache.find("a.test", t0 + 4s, &expires));
  EXPECT_EQ(expires, t0 + 20s);
}

TEST(DnsCache, ExpiredEntryIsDroppedOnLookup) {
  Cache cache(10);
  cache.insert("a.test", answer_with(1), t0 + 10s);
  EXPECT_FALSE(cache.find("a.test", t0 + 10s));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(DnsCache, HoldsNegativeAnswers) {
  Cache cache(10);
  cache.insert("gone.test", failure("gone.test: no such domain (NXDOMAIN)"), t0 + 5s);
  CachedAnswer hit = cache.find("gone.test", t0 + 1s);
  ASSERT_TRUE(hit);
  ASSERT_FALSE(*hit);
  EXPECT_EQ(hit->error().message, "gone.test: no such domain (NXDOMAIN)");
}

TEST(DnsCache, InsertReplacesAnEntryAndItsExpiry) {
  Cache cache(10);
  cache.insert("a.test", answer_with(1), t0 + 1s);
  cache.insert("a.test", answer_with(2), t0 + 20s);
  EXPECT_EQ(cache.size(), 1u);
  CachedAnswer hit = cache.find("a.test", t0 + 10s);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->value().front(), IpAddress::v4(192, 0, 2, 2));
}

TEST(DnsCache, EvictsTheLeastRecentlyUsedWhenFull) {
  Cache cache(2);
  cache.insert("a.test", answer_with(1), t0 + 60s);
  cache.insert("b.test", answer_with(2), t0 + 60s);
  EXPECT_TRUE(cache.find("a.test", t0));  // b is now the least recently used
  cache.insert("c.test", answer_with(3), t0 + 60s);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_TRUE(cache.find("a.test", t0));
  EXPECT_TRUE(cache.find("c.test", t0));
  EXPECT_FALSE(cache.find("b.test", t0));
}

TEST(DnsCache, ManyInsertsStayWithinCapacity) {
  Cache cache(100);
  for (int i = 0; i < 10'000; ++i)
    cache.insert("n" + std::to_string(i) + ".test", answer_with(static_cast<std::uint8_t>(i)),
                 t0 + 60s);
  EXPECT_EQ(cache.size(), 100u);
  EXPECT_TRUE(cache.find("n9999.test", t0));
  EXPECT_FALSE(cache.find("n9899.test", t0));
}

TEST(DnsCache, AnswerOutlivesItsEviction) {
  Cache cache(1);
  cache.insert("a.test", answer_with(1), t0 + 60s);
  CachedAnswer held = cache.find("a.test", t0);
  cache.insert("b.test", answer_with(2), t0 + 60s);
  ASSERT_TRUE(held);
  EXPECT_EQ(held->value().front(), IpAddress::v4(192, 0, 2, 1));
}

TEST(DnsCache, CapacityZeroStoresNothing) {
  Cache cache(0);
  cache.insert("a.test", answer_with(1), t0 + 60s);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.find("a.test", t0));
}

}  // namespace
}  // namespace sniproxy::dns
