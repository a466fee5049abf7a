// The cache tells its observer (the BPF mirror in the proxy) of every store,
// replacement, eviction and expiry, in the order they happen.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "answers.hpp"
#include "dns/cache.hpp"

namespace sniproxy::dns {
namespace {

using namespace std::chrono_literals;
using testing::answer_with;
using ::testing::ElementsAre;
using testing::t0;

// "stored NAME FIRST-ADDRESS|error" and "removed NAME", in call order.
class RecordingObserver : public CacheObserver {
 public:
  explicit RecordingObserver(std::vector<std::string>& events) : events_(events) {}
  void stored(std::string_view name, const Result<Addresses>& answer,
              std::chrono::steady_clock::time_point /*expires*/) override {
    events_.push_back("stored " + std::string(name) + " " +
                      (answer ? answer.value().front().to_string() : "error"));
  }
  void removed(std::string_view name) override {
    events_.push_back("removed " + std::string(name));
  }

 private:
  std::vector<std::string>& events_;
};

TEST(DnsCacheObserver, SeesStoresReplacementsEvictionsAndExpiries) {
  std::vector<std::string> events;
  Cache cache(2);
  cache.set_observer(std::make_unique<RecordingObserver>(events));
  cache.insert("a.test", answer_with(1), t0 + 10s);
  cache.insert("b.test", std::make_shared<const Result<Addresses>>(make_error("NXDOMAIN")),
               t0 + 5s);
  cache.insert("a.test", answer_with(2), t0 + 10s);  // replaced, a is now most recent
  cache.insert("c.test", answer_with(3), t0 + 10s);  // evicts b, the least recently used
  EXPECT_FALSE(cache.find("c.test", t0 + 10s));      // expired on lookup
  EXPECT_TRUE(cache.find("a.test", t0 + 9s));        // a hit changes nothing to mirror
  EXPECT_THAT(events, ElementsAre("stored a.test 192.0.2.1", "stored b.test error",
                                  "stored a.test 192.0.2.2", "removed b.test",
                                  "stored c.test 192.0.2.3", "removed c.test"));
}

TEST(DnsCacheObserver, ADisabledCacheStoresNothingToMirror) {
  std::vector<std::string> events;
  Cache cache(0);
  cache.set_observer(std::make_unique<RecordingObserver>(events));
  cache.insert("a.test", answer_with(1), t0 + 10s);
  EXPECT_TRUE(events.empty());
}

}  // namespace
}  // namespace sniproxy::dns
